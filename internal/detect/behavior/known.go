package behavior

import (
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

// The behaviours a baseline already has. A timer that polled the same
// server in clean traffic (NTP, an update check, a keepalive) is what that
// network does, not evidence: regularity alone must not alert. So training
// runs the behavioural detectors over the clean flows (Learner) and keeps
// keys of what they found; an Engine given those keys (SetKnown) does not
// report the same behaviour again, and counts it in Stats.Known instead.
//
// The keys, per detector:
//
//	beacon            the pair (client, server), and the service (server,
//	                  port): any client polling a server that clients polled
//	                  in the baseline
//	long_connection   the pair and the server's port
//	reconnect         the pair and the server's port (a client of a dead
//	                  service keeps failing the same way)
//
// A new server, even on a port the baseline used (a beacon to a new host
// over 443), is not known. Scans, floods and the host baselines are never
// learned: a scan in the training data is contamination, not normal.

// knownKeys returns the keys of a finding (none for the detectors that are
// not learned).
func knownKeys(f *detect.Finding) []uint64 {
	switch f.Detector {
	case Beacon:
		keys := []uint64{knownKey(f.Detector, "pair", f.Host, f.Peer)}
		if ports, ok := f.Evidence["ports"].([]int); ok {
			for _, p := range ports {
				keys = append(keys, knownKey(f.Detector, "service", f.Peer, strconv.Itoa(p)))
			}
		}
		return keys
	case LongConnection, Reconnect:
		port, _ := f.Evidence["port"].(int)
		return []uint64{knownKey(f.Detector, "pair", f.Host, f.Peer, strconv.Itoa(port))}
	}
	return nil
}

func knownKey(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// SetKnown gives the Engine the keys of the behaviours the baseline
// already has (Learner.Keys, kept in the model): it will not report them.
func (e *Engine) SetKnown(keys []uint64) {
	e.known = make(map[uint64]struct{}, len(keys))
	for _, k := range keys {
		e.known[k] = struct{}{}
	}
}

// isKnown reports whether the baseline already had f.
func (e *Engine) isKnown(f *detect.Finding) bool {
	if len(e.known) == 0 {
		return false
	}
	for _, k := range knownKeys(f) {
		if _, ok := e.known[k]; ok {
			return true
		}
	}
	return false
}

// Learner runs the behavioural detectors over clean training flows and
// keeps the keys of what they find.
type Learner struct {
	e    *Engine
	keys map[uint64]struct{}
}

// NewLearner returns a Learner with the detectors of cfg.
func NewLearner(cfg Config) *Learner {
	return &Learner{e: New(cfg), keys: map[uint64]struct{}{}}
}

// Add takes the next training flow (in roughly increasing time).
func (l *Learner) Add(r *flow.Record) { l.add(l.e.Observe(r)) }

func (l *Learner) add(fs []detect.Finding) {
	for i := range fs {
		for _, k := range knownKeys(&fs[i]) {
			l.keys[k] = struct{}{}
		}
	}
}

// Finish ends the training input and returns the keys learned and how
// often each detector fired, both sorted (so that a model file is the same
// for the same input).
func (l *Learner) Finish() (keys []uint64, rates []detect.BehaviorRate) {
	l.add(l.e.Flush())
	keys = make([]uint64, 0, len(l.keys))
	for k := range l.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	st := l.e.Stats()
	for d, n := range st.Trials {
		rates = append(rates, detect.BehaviorRate{Detector: d, Findings: st.Findings[d], Trials: n})
	}
	slices.SortFunc(rates, func(a, b detect.BehaviorRate) int { return strings.Compare(a.Detector, b.Detector) })
	return keys, rates
}
