package elastic

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Health is a sensor-health report: what the daemon writes on a schedule
// into metrics-mlads.health-<namespace>. The sink adds its own numbers
// (output errors, spool, dead letters).
type Health struct {
	Time     time.Time // when the counters were read
	Observer string    // the sensor (observer.name of its alerts)
	// Inputs is the number of files followed; LagSeconds how far the
	// newest record read is behind Time.
	Inputs     int
	LagSeconds float64
	// Flows, BadLines, Drops and Alerts are totals since the start.
	Flows, BadLines, Drops, Alerts uint64
	// ChannelsFailing names the notification channels failing now (email,
	// sms, slack); NotifyPending counts the messages waiting in the outbox.
	ChannelsFailing []string
	NotifyPending   uint64
}

type healthDoc struct {
	Timestamp time.Time `json:"@timestamp"`
	Event     struct {
		Kind    string `json:"kind"`
		Dataset string `json:"dataset"`
		Module  string `json:"module"`
	} `json:"event"`
	Observer struct {
		Name    string `json:"name,omitempty"`
		Type    string `json:"type"`
		Vendor  string `json:"vendor"`
		Product string `json:"product"`
	} `json:"observer"`
	MLADS struct {
		Health healthFields `json:"health"`
	} `json:"mlads"`
}

type healthFields struct {
	Inputs       int     `json:"inputs"`
	LagSeconds   float64 `json:"lag_seconds"`
	Flows        uint64  `json:"flows"`
	BadLines     uint64  `json:"bad_lines"`
	Drops        uint64  `json:"drops"`
	Alerts       uint64  `json:"alerts"`
	OutputErrors uint64  `json:"output_errors"`
	SpoolBytes   int64   `json:"spool_bytes"`
	SpoolDocs    int     `json:"spool_docs"`
	SpoolDropped uint64  `json:"spool_dropped"`
	DeadLetters  uint64  `json:"dead_letters"`

	ChannelsFailing []string `json:"channels_failing,omitempty"`
	NotifyPending   uint64   `json:"notify_pending"`
}

// WriteHealth queues a health report like any other document: it is
// stored, spooled or dead-lettered by the next Flush. Its ID is derived
// from the sensor and the time, so a report sent twice is stored once.
func (s *Sink) WriteHealth(ctx context.Context, h Health) (bool, error) {
	st := s.Stats()
	var d healthDoc
	d.Timestamp = h.Time.UTC()
	d.Event.Kind, d.Event.Dataset, d.Event.Module = "metric", "mlads.health", "mlads"
	d.Observer.Name, d.Observer.Type, d.Observer.Vendor, d.Observer.Product = h.Observer, "ids", "mlads", "mlads"
	d.MLADS.Health = healthFields{
		Inputs: h.Inputs, LagSeconds: h.LagSeconds, Flows: h.Flows, BadLines: h.BadLines, Drops: h.Drops, Alerts: h.Alerts,
		OutputErrors: st.DeadLetters + st.AuthFailures + st.SpoolDropped,
		SpoolBytes:   st.Spool.Bytes, SpoolDocs: st.Spool.Docs, SpoolDropped: st.SpoolDropped, DeadLetters: st.DeadLetters,
		ChannelsFailing: h.ChannelsFailing, NotifyPending: h.NotifyPending,
	}
	doc, err := json.Marshal(&d)
	if err != nil {
		return false, fmt.Errorf("elastic: health: %w", err)
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "mlads-health-v1\x00%s\x00%d", h.Observer, d.Timestamp.UnixNano()))
	e := &entry{Op: "create", Index: s.c.names.Health, ID: hex.EncodeToString(sum[:16]), Doc: doc}
	if !s.spool.Empty() {
		if err := s.toSpool(e); err != nil {
			return false, err
		}
		return false, nil
	}
	return false, s.add(ctx, e)
}
