package eve

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mlads/mlads/internal/flow"
)

// MaxPending bounds the netflow halves waiting for their partner. When it
// is full the oldest half is emitted alone (and counted) to make room.
const MaxPending = 16384

// IdleTimeout is how far event time must move past the moment a netflow
// half was read before the half is given up on and emitted alone (see the
// package comment). Suricata writes both halves of a flow together, so a
// half still alone after a minute of later events is a one-way flow.
const IdleTimeout = 60 * time.Second

// maxKeptLine is the longest line buffer a recycled half keeps.
const maxKeptLine = 4 << 10

// Pairer holds the netflow halves waiting for their partner, by flow_id,
// and builds the records of pairs and of halves given up on (see the
// package comment). Parsers made by its NewParser method share it, so that
// a pair split across files (by a rotation) still meets; the package's
// NewParser gives each parser a Pairer of its own. Each waiting half keeps
// a copy of its line, for State: at most MaxPending lines.
//
// The files sharing a Pairer should be at about the same event time (one
// sensor's log and its rotations): halves waiting from a file read far
// behind the others are given up on as soon as the others move event time
// past them. And the half read first is taken as the to-server one, so a
// pair whose to-client half is read first (from a newer file, read before
// the end of the older one) comes out with its sides swapped.
//
// A Pairer is not safe for concurrent use; its parsers must be called from
// one goroutine.
type Pairer struct {
	pending map[uint64]*half
	order   []orderEntry // pending flow_ids in arrival order, for eviction and flushing
	head    int          // order[:head] is consumed
	seq     uint64
	free    []*half
	clock   time.Time   // event time: the newest end of the halves read
	future  time.Time   // wall clock + maxAhead when last looked at: ends beyond it are garbage
	rec     flow.Record // the record FlushIdle emits

	// Merged counts netflow records built from two halves; Unpaired those
	// emitted from one half (without flow_id, idle, evicted from a full
	// table, or flushed).
	Merged, Unpaired int64

	// Now is the wall clock, read only to bound how far ahead of it an
	// event's end may lie (see maxAhead); nil means time.Now. Event time
	// itself always comes from the events. Set it before the first line.
	Now func() time.Time
}

// maxAhead is how far past the wall clock an event's end may lie and still
// move event time: a garbage timestamp years ahead would otherwise flush
// every waiting half at once and stop idle flushing until real events
// caught up with it.
const maxAhead = 24 * time.Hour

// plausible reports whether t is at most maxAhead past the wall clock. The
// wall clock is read only when t passes the bound last computed, so
// monotonically advancing event time costs one comparison per half.
func (pr *Pairer) plausible(t time.Time) bool {
	if t.After(pr.future) {
		now := time.Now
		if pr.Now != nil {
			now = pr.Now
		}
		pr.future = now().Add(maxAhead)
	}
	return !t.After(pr.future)
}

// half is a netflow half waiting for its partner.
type half struct {
	r       flow.Record
	flags   uint8
	start   time.Time
	end     time.Time
	arrived time.Time // the Pairer's clock when the half was read
	seq     uint64
	line    []byte // the line it was read from, for State
}

// orderEntry remembers when a half was queued; seq tells a stale entry
// (its flow_id since merged, or reused) from the live one.
type orderEntry struct {
	id  uint64
	seq uint64
}

// NewPairer returns an empty Pairer.
func NewPairer() *Pairer {
	return &Pairer{pending: make(map[uint64]*half)}
}

// NewParser returns a parser for the file called name (used in errors)
// whose netflow halves wait in pr.
func (pr *Pairer) NewParser(name string) *Parser {
	return &Parser{name: name, pair: pr, events: make(map[string]int64)}
}

// Pending returns how many netflow halves wait for their partner.
func (pr *Pairer) Pending() int { return len(pr.pending) }

// netflow handles one netflow half read from line: hold it, merge it with
// its partner, or (table full) emit the oldest held half to make room.
func (p *Parser) netflow(line []byte, r *flow.Record) (bool, error) {
	ev := &p.ev
	pr := p.pair
	h := pr.newHalf()
	if err := p.common(&h.r); err != nil {
		pr.release(h)
		return false, err
	}
	h.r.OrigPkts, h.r.OrigIPBytes = ev.netPkts, ev.netBytes
	h.flags = ev.flags | ev.tcpBools
	h.start, h.end = h.r.TS, h.r.TS.Add(h.r.Duration)
	if h.end.After(pr.clock) && h.end.Year() >= 1970 && pr.plausible(h.end) {
		pr.clock = h.end // earlier years are garbage, and State could not save them
	}
	if !ev.haveFlowID {
		pr.single(h, r)
		pr.release(h)
		return true, nil
	}
	if first, ok := pr.pending[ev.flowID]; ok {
		delete(pr.pending, ev.flowID)
		pr.merge(first, h, r)
		pr.release(first)
		pr.release(h)
		return true, nil
	}
	emitted := false
	if len(pr.pending) >= MaxPending {
		if old := pr.popOldest(); old != nil {
			pr.single(old, r)
			pr.release(old)
			emitted = true
		}
	}
	pr.seq++
	h.seq, h.arrived = pr.seq, pr.clock
	h.line = append(h.line, line...)
	pr.pending[ev.flowID] = h
	pr.order = append(pr.order, orderEntry{id: ev.flowID, seq: h.seq})
	return emitted, nil
}

func (pr *Pairer) newHalf() *half {
	if n := len(pr.free); n > 0 {
		h := pr.free[n-1]
		pr.free = pr.free[:n-1]
		return h
	}
	return new(half)
}

// release recycles h, keeping its line buffer unless it is large.
func (pr *Pairer) release(h *half) {
	line := h.line[:0]
	if cap(line) > maxKeptLine {
		line = nil
	}
	*h = half{line: line}
	if len(pr.free) < 1024 {
		pr.free = append(pr.free, h)
	}
}

// live returns the pending half e stands for, or nil if e is stale.
func (pr *Pairer) live(e orderEntry) *half {
	if h, ok := pr.pending[e.id]; ok && h.seq == e.seq {
		return h
	}
	return nil
}

// popOldest removes and returns the oldest pending half, or nil.
func (pr *Pairer) popOldest() *half {
	for pr.head < len(pr.order) {
		e := pr.order[pr.head]
		pr.head++
		if h := pr.live(e); h != nil {
			delete(pr.pending, e.id)
			pr.compactOrder()
			return h
		}
	}
	pr.compactOrder()
	return nil
}

// compactOrder drops consumed and stale entries once they are the larger
// part of the queue, keeping it bounded by about twice MaxPending.
func (pr *Pairer) compactOrder() {
	if pr.head < 1024 || pr.head < len(pr.order)/2 {
		if len(pr.order) <= 4*MaxPending {
			return
		}
	}
	live := pr.order[:0]
	for _, e := range pr.order[pr.head:] {
		if pr.live(e) != nil {
			live = append(live, e)
		}
	}
	pr.order, pr.head = live, 0
}

// merge builds the record of a pair: first is the to-server half.
func (pr *Pairer) merge(first, second *half, r *flow.Record) {
	pr.Merged++
	*r = first.r
	r.RespPkts, r.RespIPBytes = second.r.OrigPkts, second.r.OrigIPBytes
	if r.Service == "" {
		r.Service = second.r.Service
	}
	start, end := first.start, first.end
	if !second.start.IsZero() && (start.IsZero() || second.start.Before(start)) {
		start = second.start
	}
	if second.end.After(end) {
		end = second.end
	}
	r.TS, r.Duration = start, max(end.Sub(start), 0)
	finishState(r, first.flags, second.flags, first.flags|second.flags != 0, nil)
}

// single builds the record of a half without partner.
func (pr *Pairer) single(h *half, r *flow.Record) {
	pr.Unpaired++
	*r = h.r
	finishState(r, h.flags, 0, h.flags != 0, nil)
}

// FlushIdle emits, one-sided and oldest first, the halves read while event
// time was more than IdleTimeout behind what it is now. Call it after each
// line; it costs a look at the oldest half when none is due. emit receives
// a record that FlushIdle reuses; its error stops the flush and is returned.
func (pr *Pairer) FlushIdle(emit func(*flow.Record) error) error {
	defer pr.compactOrder()
	for pr.head < len(pr.order) {
		e := pr.order[pr.head]
		h := pr.live(e)
		if h != nil && pr.clock.Sub(h.arrived) <= IdleTimeout {
			return nil // the halves after it arrived later still
		}
		pr.head++
		if h == nil {
			continue
		}
		delete(pr.pending, e.id)
		pr.single(h, &pr.rec)
		pr.release(h)
		if err := emit(&pr.rec); err != nil {
			return err
		}
	}
	return nil
}

// Flush emits the netflow halves still waiting for a partner, oldest first,
// each as a one-sided record, and empties the table. Call it at the end of
// the input. emit's error stops the flush and is returned.
func (pr *Pairer) Flush(emit func(*flow.Record) error) error {
	var r flow.Record
	for pr.head < len(pr.order) {
		e := pr.order[pr.head]
		pr.head++
		h := pr.live(e)
		if h == nil {
			continue
		}
		delete(pr.pending, e.id)
		pr.single(h, &r)
		pr.release(h)
		if err := emit(&r); err != nil {
			pr.compactOrder()
			return err
		}
	}
	pr.order, pr.head = pr.order[:0], 0
	return nil
}

// PairerState is what a Pairer holds, in a form to save (as JSON) with the
// read positions and give back to Restore: whatever happens to the process
// after the save, the halves read before it are not lost.
type PairerState struct {
	// Clock is the event time: the newest end of the halves read.
	Clock time.Time `json:"clock"`
	// Held are the halves waiting for their partner, oldest first.
	Held []Held `json:"held,omitempty"`
}

// Held is one netflow half waiting for its partner.
type Held struct {
	// Line is the EVE line the half was read from, byte for byte (base64
	// in JSON: a JSON string would not keep invalid UTF-8).
	Line []byte `json:"line"`
	// Arrived is the Pairer's clock when the half was read.
	Arrived time.Time `json:"arrived"`
}

// IsZero reports whether s is the state of a Pairer that has read no
// netflow half with a time (so that encoding/json's omitzero leaves it out).
func (s PairerState) IsZero() bool { return s.Clock.IsZero() && len(s.Held) == 0 }

// State returns the clock and a copy of the halves waiting, oldest first.
func (pr *Pairer) State() PairerState {
	s := PairerState{Clock: pr.clock}
	for _, e := range pr.order[pr.head:] {
		if h := pr.live(e); h != nil {
			s.Held = append(s.Held, Held{Line: slices.Clone(h.line), Arrived: h.arrived})
		}
	}
	return s
}

var errNotHeld = errors.New("not a netflow half that waits for its partner")

// Restore puts back the halves and the clock of a State into an empty
// Pairer, before any line is parsed. An error names the position of the
// bad half in s.Held ("checkpoint line N", counted from 1).
func (pr *Pairer) Restore(s PairerState) error {
	if len(pr.pending) > 0 {
		return fmt.Errorf("eve: restore into a pairer that holds %d halves", len(pr.pending))
	}
	p := pr.NewParser("checkpoint")
	var r flow.Record
	for _, hs := range s.Held {
		n := len(pr.pending)
		ok, err := p.ParseLine(hs.Line, &r)
		if err != nil {
			return err
		}
		if ok || len(pr.pending) != n+1 {
			return fmt.Errorf("eve: checkpoint line %d: %w", p.LineNumber(), errNotHeld)
		}
		pr.pending[p.ev.flowID].arrived = hs.Arrived
	}
	pr.clock = s.Clock
	return nil
}
