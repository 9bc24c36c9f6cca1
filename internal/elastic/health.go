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
	// Capture has one entry per interface captured (run.interfaces); none
	// when the daemon only follows logs. Each becomes a document of its own
	// (see WriteHealth).
	Capture []CaptureHealth
}

// CaptureHealth is one captured interface's counters, totals since the
// capture opened: the frames that reached mlads's sockets (those dropped in
// a full ring included), what was lost before mlads read it (by the kernel
// before any socket, or in a full ring because the reader fell behind),
// and what the decoder dropped.
type CaptureHealth struct {
	Interface                                   string
	Packets, KernelDrops, RingDrops, DecodeErrs uint64
}

// healthDoc is a sensor-health document: the sensor's report
// (mlads.health.*), or one captured interface's
// (observer.ingress.interface.name and mlads.health.capture.*, nothing
// else).
type healthDoc struct {
	Timestamp time.Time `json:"@timestamp"`
	Event     struct {
		Kind    string `json:"kind"`
		Dataset string `json:"dataset"`
		Module  string `json:"module"`
	} `json:"event"`
	Observer struct {
		Name    string   `json:"name,omitempty"`
		Type    string   `json:"type"`
		Vendor  string   `json:"vendor"`
		Product string   `json:"product"`
		Ingress *ingress `json:"ingress,omitempty"`
	} `json:"observer"`
	MLADS struct {
		Health any `json:"health"` // healthFields or captureFields
	} `json:"mlads"`
}

// ingress is ECS's observer.ingress: the interface the observer captured on.
type ingress struct {
	Interface struct {
		Name string `json:"name"`
	} `json:"interface"`
}

type captureFields struct {
	Capture struct {
		Packets      uint64 `json:"packets"`
		KernelDrops  uint64 `json:"kernel_drops"`
		RingDrops    uint64 `json:"ring_drops"`
		DecodeErrors uint64 `json:"decode_errors"`
	} `json:"capture"`
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
//
// Each captured interface (Health.Capture) gets a document of its own, at
// the same time, with the interface in observer.ingress.interface.name
// (ECS's field for the interface an observer captured on) and its counters
// in mlads.health.capture.*. One document per interface, as Metricbeat's
// system.network writes, keeps each counter beside its interface: Kibana
// splits any of them by interface with a terms bucket. A list of objects
// in one document could not: Lens cannot chart nested fields, and plain
// object arrays are flattened, which loses which counter belongs to which
// interface.
func (s *Sink) WriteHealth(ctx context.Context, h Health) (bool, error) {
	st := s.Stats()
	d := newHealthDoc(h)
	d.MLADS.Health = healthFields{
		Inputs: h.Inputs, LagSeconds: h.LagSeconds, Flows: h.Flows, BadLines: h.BadLines, Drops: h.Drops, Alerts: h.Alerts,
		OutputErrors: st.DeadLetters + st.AuthFailures + st.SpoolDropped,
		SpoolBytes:   st.Spool.Bytes, SpoolDocs: st.Spool.Docs, SpoolDropped: st.SpoolDropped, DeadLetters: st.DeadLetters,
		ChannelsFailing: h.ChannelsFailing, NotifyPending: h.NotifyPending,
	}
	if err := s.queueHealth(ctx, &d, fmt.Appendf(nil, "mlads-health-v1\x00%s\x00%d", h.Observer, d.Timestamp.UnixNano())); err != nil {
		return false, err
	}
	for _, c := range h.Capture {
		d := newHealthDoc(h)
		d.Observer.Ingress = &ingress{}
		d.Observer.Ingress.Interface.Name = c.Interface
		var f captureFields
		f.Capture.Packets, f.Capture.KernelDrops, f.Capture.RingDrops, f.Capture.DecodeErrors = c.Packets, c.KernelDrops, c.RingDrops, c.DecodeErrs
		d.MLADS.Health = f
		key := fmt.Appendf(nil, "mlads-health-capture-v1\x00%s\x00%d\x00%s", h.Observer, d.Timestamp.UnixNano(), c.Interface)
		if err := s.queueHealth(ctx, &d, key); err != nil {
			return false, err
		}
	}
	return false, nil
}

// newHealthDoc returns a health document of h's sensor and time, without
// its mlads.health fields.
func newHealthDoc(h Health) healthDoc {
	var d healthDoc
	d.Timestamp = h.Time.UTC()
	d.Event.Kind, d.Event.Dataset, d.Event.Module = "metric", "mlads.health", "mlads"
	d.Observer.Name, d.Observer.Type, d.Observer.Vendor, d.Observer.Product = h.Observer, "ids", "mlads", "mlads"
	return d
}

// queueHealth queues one health document, with an ID derived from key,
// behind the spool when it holds documents.
func (s *Sink) queueHealth(ctx context.Context, d *healthDoc, key []byte) error {
	doc, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("elastic: health: %w", err)
	}
	sum := sha256.Sum256(key)
	e := &entry{Op: "create", Index: s.c.names.Health, ID: hex.EncodeToString(sum[:16]), Doc: doc}
	if !s.spool.Empty() {
		return s.toSpool(e)
	}
	return s.add(ctx, e)
}
