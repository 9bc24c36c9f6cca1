package alert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// foldState is a Fold's state as the daemon checkpoints it: the open
// incidents in the order they opened (with their queue entries, some of
// which may name an incident replaced since), the incident versions not
// written yet, the newest time seen and the counters. Alerts are kept as
// the JSON documents they are; numbers in their evidence come back as
// json.Number, which encodes to the same document.
type foldState struct {
	Now     time.Time      `json:"now"`
	Open    []openIncident `json:"open"`
	Queue   []queuedState  `json:"queue"`
	Stats   IncidentStats  `json:"stats"`
	Pending []*Alert       `json:"pending,omitempty"`
}

type openIncident struct {
	Rule  string `json:"rule"`
	Host  string `json:"host"`
	Alert *Alert `json:"alert"`
}

type queuedState struct {
	Rule  string    `json:"rule"`
	Host  string    `json:"host"`
	First time.Time `json:"first"`
}

// MarshalState encodes the Fold's open incidents and the versions not yet
// written (see RestoreState). It does not change the Fold.
func (f *Fold) MarshalState() ([]byte, error) {
	i := f.inc
	s := foldState{Now: i.now, Stats: i.st}
	for _, q := range i.order[i.head:] {
		s.Queue = append(s.Queue, queuedState{q.key.rule, q.key.host, q.first})
		if cur, ok := i.open[q.key]; ok && cur.MLADS.Incident.FirstSeen.Equal(q.first) {
			s.Open = append(s.Open, openIncident{q.key.rule, q.key.host, cur})
		}
	}
	for _, id := range f.order {
		s.Pending = append(s.Pending, f.pending[id])
	}
	b, err := json.Marshal(&s)
	if err != nil {
		return nil, fmt.Errorf("alert: encode incidents: %w", err)
	}
	return b, nil
}

// RestoreState replaces the Fold's incidents with those MarshalState
// encoded. Beyond the Fold's maxOpen, the oldest are closed as if evicted.
func (f *Fold) RestoreState(b []byte) error {
	var s foldState
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&s); err != nil {
		return fmt.Errorf("alert: decode incidents: %w", err)
	}
	inc := NewIncidents(f.inc.window, f.inc.maxOpen)
	inc.now, inc.st = s.Now, s.Stats
	for _, o := range s.Open {
		if o.Alert == nil || o.Alert.MLADS.Incident == nil {
			return fmt.Errorf("alert: incidents: %s of %s has no incident", o.Rule, o.Host)
		}
		inc.open[incidentKey{o.Rule, o.Host}] = o.Alert
	}
	for _, q := range s.Queue {
		inc.order = append(inc.order, queued{incidentKey{q.Rule, q.Host}, q.First})
	}
	for len(inc.open) > inc.maxOpen {
		inc.evictOldest()
	}
	pending := make(map[string]*Alert, len(s.Pending))
	order := make([]string, 0, len(s.Pending))
	for _, a := range s.Pending {
		if a == nil || a.MLADS.Incident == nil {
			return fmt.Errorf("alert: incidents: a pending version without an incident")
		}
		id := a.ID()
		if _, dup := pending[id]; !dup {
			order = append(order, id)
		}
		pending[id] = a
	}
	f.inc, f.pending, f.order = inc, pending, order
	return nil
}
