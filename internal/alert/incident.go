package alert

import (
	"slices"
	"time"
)

// Incidents folds repeats of the same host and detector into one incident:
// the first alert opens it for window (measured from its first alert), and
// alerts of the same rule and host inside that window raise its count and
// move its last-seen time instead of making new documents. After the
// window a new incident starts, so a long attack yields one document per
// window. At most maxOpen incidents are held; when full, the oldest is
// closed early and counted in Stats().Evicted. Time comes from the alerts.
// Incidents is not safe for concurrent use.
type Incidents struct {
	window  time.Duration
	maxOpen int
	now     time.Time
	open    map[incidentKey]*Alert
	order   []queued // creation order, for expiry and eviction
	head    int
	st      IncidentStats
}

// IncidentStats counts what Incidents did.
type IncidentStats struct {
	Open    int    // incidents held now
	New     uint64 // incidents opened
	Merged  uint64 // alerts folded into an open incident
	Expired uint64 // incidents closed because their window ended
	Evicted uint64 // incidents closed early because maxOpen were open
}

type incidentKey struct{ rule, host string }

type queued struct {
	key   incidentKey
	first time.Time
}

// maxIncidentUIDs bounds the flow uids an incident collects.
const maxIncidentUIDs = 50

// NewIncidents returns an empty incident table. window ≤ 0 means one hour,
// maxOpen ≤ 0 means 10,000.
func NewIncidents(window time.Duration, maxOpen int) *Incidents {
	if window <= 0 {
		window = time.Hour
	}
	if maxOpen <= 0 {
		maxOpen = 10000
	}
	return &Incidents{window: window, maxOpen: maxOpen, open: make(map[incidentKey]*Alert)}
}

// Add folds a into its incident. It returns a snapshot of the incident
// (to be written under inc.ID(), replacing the earlier version) and
// whether a opened a new incident. a is not retained or modified.
func (i *Incidents) Add(a *Alert) (inc *Alert, isNew bool) {
	cur, isNew := i.fold(a)
	return snapshot(cur), isNew
}

// fold is Add without the snapshot: it returns the incident's own
// document, which later alerts of the incident change.
func (i *Incidents) fold(a *Alert) (cur *Alert, isNew bool) {
	seen := a.Timestamp
	if a.Event.End.After(seen) {
		seen = a.Event.End
	}
	// The clock is the newest alert's start, not its end: a flow that
	// lasted ten hours ends ten hours after it began, and letting its end
	// move the clock would close every open incident at once and make
	// each later alert of those hours an incident of its own.
	if a.Timestamp.After(i.now) {
		i.now = a.Timestamp
	}
	i.expire()

	k := incidentKey{a.Rule.ID, a.MLADS.Host}
	if cur, ok := i.open[k]; ok && a.Timestamp.Before(cur.MLADS.Incident.FirstSeen.Add(i.window)) {
		i.st.Merged++
		ci := cur.MLADS.Incident
		ci.Count++
		if seen.After(ci.LastSeen) {
			ci.LastSeen = seen
			cur.Event.End = seen
			cur.Event.Duration = int64(seen.Sub(cur.Event.Start))
		}
		for _, u := range a.MLADS.FlowUIDs {
			if len(cur.MLADS.FlowUIDs) >= maxIncidentUIDs {
				break
			}
			if !slices.Contains(cur.MLADS.FlowUIDs, u) {
				cur.MLADS.FlowUIDs = append(cur.MLADS.FlowUIDs, u)
			}
		}
		for _, ip := range a.Related.IP {
			if !slices.Contains(cur.Related.IP, ip) && len(cur.Related.IP) < maxIncidentUIDs {
				cur.Related.IP = append(cur.Related.IP, ip)
				slices.Sort(cur.Related.IP)
			}
		}
		if a.MLADS.Score > cur.MLADS.Score {
			// The incident is as significant as its strongest alert.
			cur.MLADS.Score, cur.MLADS.PValue = a.MLADS.Score, a.MLADS.PValue
			cur.Event.RiskScore = a.Event.RiskScore
			cur.Event.Severity, cur.MLADS.Severity = a.Event.Severity, a.MLADS.Severity
		}
		cur.MLADS.Summary = a.MLADS.Summary
		cur.Message, cur.Event.Reason = a.Message, a.Event.Reason
		cur.MLADS.Evidence = a.MLADS.Evidence
		return cur, false
	} else if ok {
		i.st.Expired++ // its window ended; this alert starts the next incident
		delete(i.open, k)
	}

	if len(i.open) >= i.maxOpen {
		i.evictOldest()
	}
	c := snapshot(a)
	c.MLADS.Incident = &Incident{ID: a.ID(), Count: 1, FirstSeen: a.Timestamp, LastSeen: seen}
	i.open[k] = c
	i.order = append(i.order, queued{k, a.Timestamp})
	i.st.New++
	return c, true
}

// isOpen reports whether inc, an incident document fold returned, is still
// open: later alerts may still change it.
func (i *Incidents) isOpen(inc *Alert) bool {
	return i.open[incidentKey{inc.Rule.ID, inc.MLADS.Host}] == inc
}

// Stats returns the counters.
func (i *Incidents) Stats() IncidentStats {
	s := i.st
	s.Open = len(i.open)
	return s
}

// expire closes incidents whose window ended before the newest time seen.
func (i *Incidents) expire() {
	for i.head < len(i.order) {
		q := i.order[i.head]
		if i.now.Before(q.first.Add(i.window)) {
			break
		}
		i.pop(q, &i.st.Expired)
	}
	i.compact()
}

// evictOldest closes the oldest open incident.
func (i *Incidents) evictOldest() {
	for i.head < len(i.order) {
		q := i.order[i.head]
		if i.pop(q, &i.st.Evicted) {
			break
		}
	}
	i.compact()
}

// pop removes the queue head and, when it still names the open incident
// (not one replaced since), that incident; it reports whether it did.
func (i *Incidents) pop(q queued, counter *uint64) bool {
	i.order[i.head] = queued{}
	i.head++
	if cur, ok := i.open[q.key]; ok && cur.MLADS.Incident.FirstSeen.Equal(q.first) {
		delete(i.open, q.key)
		*counter++
		return true
	}
	return false
}

// compact drops the consumed front of the queue once it is half of it.
func (i *Incidents) compact() {
	if i.head > 64 && i.head*2 >= len(i.order) {
		i.order = slices.Clone(i.order[i.head:])
		i.head = 0
	}
}

// snapshot copies a with its own slices, so later merges do not show
// through.
func snapshot(a *Alert) *Alert {
	c := *a
	c.Related.IP = slices.Clone(a.Related.IP)
	c.MLADS.FlowUIDs = slices.Clone(a.MLADS.FlowUIDs)
	if a.MLADS.Incident != nil {
		in := *a.MLADS.Incident
		c.MLADS.Incident = &in
	}
	return &c
}
