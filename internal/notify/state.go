package notify

import (
	"slices"
	"time"
)

// state is everything the notifier remembers across restarts (outbox.go
// keeps it on disk). Times are event time unless they say otherwise.
type state struct {
	Version int       `json:"version"`
	Now     time.Time `json:"now"` // the event clock
	// Incidents are the alerts and incidents seen, by ID.
	Incidents map[string]*incident `json:"incidents"`
	// Targets are the (route, contact) pairs with throttle and digest state.
	Targets map[string]*target `json:"targets"`
	// Pending messages, oldest first.
	Pending []*Message `json:"pending"`
	// Done holds the keys of messages delivered or given up, with the
	// wall-clock time, so a message queued again is not sent twice.
	Done map[string]time.Time `json:"done"`
	// Threads maps threadKey(incident, channel) to the Slack ts of the
	// message that opened the incident's thread there.
	Threads map[string]string `json:"threads"`

	pendingKeys map[string]bool
}

// incident is what the notifier knows of one alert or incident ID.
type incident struct {
	ID          string        `json:"id"`
	Detector    string        `json:"detector"`
	Host        string        `json:"host"`
	Summary     string        `json:"summary"`
	Severity    int           `json:"severity"`
	First       time.Time     `json:"first"`
	Last        time.Time     `json:"last"`
	Count       int           `json:"count"`
	Targets     []string      `json:"targets"` // every target routed to
	Told        []string      `json:"told"`    // the targets sent the alert itself
	RepliedAt   time.Time     `json:"replied_at,omitzero"`
	Replied     int           `json:"replied"` // the count the last thread reply gave
	RepeatEvery time.Duration `json:"repeat_every"`
	Resolve     time.Duration `json:"resolve"`
	Resolved    bool          `json:"resolved,omitempty"`
}

// target is one contact on one route: its throttle, and what waits for
// its digest.
type target struct {
	Route   int            `json:"route"`
	Contact string         `json:"contact"`
	Sent    []time.Time    `json:"sent,omitempty"` // alerts sent, for the throttle
	Held    []held         `json:"held,omitempty"`
	Dropped int            `json:"dropped,omitempty"` // held alerts beyond maxHeld, counted
	Repeats map[string]int `json:"repeats,omitempty"` // incident ID → repeats since the last digest
	Since   time.Time      `json:"since,omitzero"`    // when the first thing now waiting arrived
	Seq     int            `json:"seq"`               // digests sent
}

// held is an alert a throttle or quiet hours held back for the digest.
type held struct {
	Incident string    `json:"incident"`
	Severity int       `json:"severity"`
	Title    string    `json:"title"`
	Summary  string    `json:"summary"`
	When     time.Time `json:"when"`
	Why      string    `json:"why"` // "quiet hours" or "throttled"
}

// maxHeld bounds the alerts one digest lists; the rest are counted.
const maxHeld = 50

func newState() *state {
	s := &state{Version: 1}
	s.fill()
	return s
}

// fill makes the maps of a decoded state.
func (s *state) fill() {
	if s.Incidents == nil {
		s.Incidents = map[string]*incident{}
	}
	if s.Targets == nil {
		s.Targets = map[string]*target{}
	}
	if s.Done == nil {
		s.Done = map[string]time.Time{}
	}
	if s.Threads == nil {
		s.Threads = map[string]string{}
	}
	s.pendingKeys = map[string]bool{}
	for _, m := range s.Pending {
		s.pendingKeys[m.Key] = true
	}
	for _, t := range s.Targets {
		if t.Repeats == nil {
			t.Repeats = map[string]int{}
		}
	}
}

// applySent records a delivered (or abandoned) message.
func (s *state) applySent(l sentLine) {
	s.Done[l.Key] = l.At
	if s.pendingKeys[l.Key] {
		delete(s.pendingKeys, l.Key)
		s.Pending = slices.DeleteFunc(s.Pending, func(m *Message) bool { return m.Key == l.Key })
	}
	if l.Thread != "" && l.TS != "" {
		s.Threads[l.Thread] = l.TS
	}
}

// sentWithin counts the alerts sent in the window before now, dropping
// older ones.
func (t *target) sentWithin(now time.Time, per time.Duration) int {
	cut := now.Add(-per)
	i, _ := slices.BinarySearchFunc(t.Sent, cut, func(s, c time.Time) int {
		if s.After(c) {
			return 1
		}
		return -1
	})
	t.Sent = t.Sent[i:]
	return len(t.Sent)
}

// sent records an alert sent at now; only the last max are kept, all a
// throttle of max per window needs.
func (t *target) sent(now time.Time, max int) {
	if max <= 0 {
		return
	}
	if len(t.Sent) >= max {
		t.Sent = append(t.Sent[:0], t.Sent[len(t.Sent)-max+1:]...)
	}
	t.Sent = append(t.Sent, now)
}

func (t *target) hold(h held, now time.Time) {
	if len(t.Held) >= maxHeld {
		t.Dropped++
	} else {
		t.Held = append(t.Held, h)
	}
	if t.Since.IsZero() {
		t.Since = now
	}
}

func (t *target) waiting() bool { return len(t.Held) > 0 || t.Dropped > 0 || len(t.Repeats) > 0 }
