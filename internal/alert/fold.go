package alert

import (
	"context"
	"time"
)

// Fold is the stage in front of the sinks that folds repeats of the same
// host and rule into incidents (see Incidents). It has two modes:
//
//   - batch (NewFold with live false), for analyze: alerts are folded and
//     each incident is written once, in its final state, in the order the
//     incidents opened. A batch command has no index to update in place,
//     so one document an incident reads best. An incident is final once
//     closed (its window over, or evicted): the closed incidents are
//     written during Write as soon as closedBatch of them lead the order
//     (every incident opened before them is closed too), the rest at
//     Flush, so their encoding overlaps the scoring and they are not held
//     to the end.
//   - live (live true), for the daemon: every alert is passed on as it
//     comes (alerts are immutable), followed by its incident document when
//     it opened a new incident. Incidents that later alerts changed are
//     written again, in their new state, at the next Flush: one update an
//     incident per flush, however many repeats came in between.
//
// Fold keeps state across calls, so a failed Write must not be retried
// through it: wrap the sinks behind it in Retry instead.
type Fold struct {
	next Sink
	inc  *Incidents
	live bool

	order []string // incident IDs with a version to write, in the order they opened
	// pending holds their latest versions: in live mode snapshots, in
	// batch mode the incidents' own documents, copied only when written
	pending map[string]*Alert
	buf     []*Alert
}

// NewFold returns the folding stage in front of next, with incidents of
// window length and at most maxOpen held (see NewIncidents).
func NewFold(next Sink, window time.Duration, maxOpen int, live bool) *Fold {
	return &Fold{next: next, inc: NewIncidents(window, maxOpen), live: live, pending: map[string]*Alert{}}
}

// Write folds docs into their incidents; in live mode it passes the alerts
// and the incidents they opened on to the next sink.
func (f *Fold) Write(ctx context.Context, docs []*Alert) (bool, error) {
	f.buf = f.buf[:0]
	for _, a := range docs {
		var snap *Alert
		isNew := false
		if f.live {
			snap, isNew = f.inc.Add(a)
		} else {
			snap, _ = f.inc.fold(a)
		}
		id := snap.ID()
		if f.live {
			f.buf = append(f.buf, a)
			if isNew {
				f.buf = append(f.buf, snap)
				continue // written now: no older version pending
			}
		}
		if _, ok := f.pending[id]; !ok {
			f.order = append(f.order, id)
		}
		f.pending[id] = snap
	}
	if !f.live {
		return f.writeClosed(ctx)
	}
	if len(f.buf) == 0 {
		return false, nil
	}
	return f.next.Write(ctx, f.buf)
}

// closedBatch is how many closed incidents a batch Fold writes at once.
const closedBatch = 256

// writeClosed writes the closed incidents at the head of the order, when
// there are closedBatch of them (batch mode). Closed, they no longer
// change: they are written as they are, and forgotten once written.
func (f *Fold) writeClosed(ctx context.Context) (bool, error) {
	k := 0
	for k < len(f.order) && !f.inc.isOpen(f.pending[f.order[k]]) {
		k++
	}
	if k < closedBatch {
		return false, nil
	}
	docs := make([]*Alert, k)
	for i, id := range f.order[:k] {
		docs[i] = f.pending[id]
	}
	if retry, err := f.next.Write(ctx, docs); err != nil {
		return retry, err
	}
	for _, id := range f.order[:k] {
		delete(f.pending, id)
	}
	f.order = append(f.order[:0], f.order[k:]...)
	return false, nil
}

// Flush writes the incidents with a version not yet written, then flushes
// the next sink. What could not be written stays pending.
func (f *Fold) Flush(ctx context.Context) (bool, error) {
	if len(f.order) > 0 {
		docs := make([]*Alert, len(f.order))
		for i, id := range f.order {
			docs[i] = f.pending[id]
			if !f.live {
				docs[i] = snapshot(docs[i]) // the incident may change after this Flush
			}
		}
		if retry, err := f.next.Write(ctx, docs); err != nil {
			return retry, err
		}
		f.order = f.order[:0]
		clear(f.pending)
	}
	return f.next.Flush(ctx)
}

// Stats returns the incident table's counters.
func (f *Fold) Stats() IncidentStats { return f.inc.Stats() }
