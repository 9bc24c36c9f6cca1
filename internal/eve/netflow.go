package eve

import (
	"github.com/mlads/mlads/internal/flow"
)

// orderEntry remembers when a half was queued; seq tells a stale entry
// (its flow_id since merged, or reused) from the live one.
type orderEntry struct {
	id  uint64
	seq uint64
}

// netflow handles one netflow half: hold it, merge it with its partner, or
// (table full) emit the oldest held half to make room.
func (p *Parser) netflow(r *flow.Record) (bool, error) {
	ev := &p.ev
	h := p.newHalf()
	if err := p.common(&h.r); err != nil {
		p.release(h)
		return false, err
	}
	h.r.OrigPkts, h.r.OrigIPBytes = ev.netPkts, ev.netBytes
	h.flags = ev.flags | ev.tcpBools
	h.start, h.end = h.r.TS, h.r.TS.Add(h.r.Duration)
	if !ev.haveFlowID {
		p.single(h, r)
		p.release(h)
		return true, nil
	}
	if first, ok := p.pending[ev.flowID]; ok {
		delete(p.pending, ev.flowID)
		p.merge(first, h, r)
		p.release(first)
		p.release(h)
		return true, nil
	}
	emitted := false
	if len(p.pending) >= MaxPending {
		if old := p.popOldest(); old != nil {
			p.single(old, r)
			p.release(old)
			emitted = true
		}
	}
	p.seq++
	h.seq = p.seq
	p.pending[ev.flowID] = h
	p.order = append(p.order, orderEntry{id: ev.flowID, seq: h.seq})
	return emitted, nil
}

func (p *Parser) newHalf() *half {
	if n := len(p.free); n > 0 {
		h := p.free[n-1]
		p.free = p.free[:n-1]
		return h
	}
	return new(half)
}

func (p *Parser) release(h *half) {
	*h = half{}
	if len(p.free) < 1024 {
		p.free = append(p.free, h)
	}
}

// popOldest removes and returns the oldest pending half, or nil.
func (p *Parser) popOldest() *half {
	for p.head < len(p.order) {
		e := p.order[p.head]
		p.head++
		if h, ok := p.pending[e.id]; ok && h.seq == e.seq {
			delete(p.pending, e.id)
			p.compactOrder()
			return h
		}
	}
	p.compactOrder()
	return nil
}

// compactOrder drops consumed and stale entries once they are the larger
// part of the queue, keeping it bounded by about twice MaxPending.
func (p *Parser) compactOrder() {
	if p.head < 1024 || p.head < len(p.order)/2 {
		if len(p.order) <= 4*MaxPending {
			return
		}
	}
	live := p.order[:0]
	for _, e := range p.order[p.head:] {
		if h, ok := p.pending[e.id]; ok && h.seq == e.seq {
			live = append(live, e)
		}
	}
	p.order, p.head = live, 0
}

// merge builds the record of a pair: first is the to-server half.
func (p *Parser) merge(first, second *half, r *flow.Record) {
	p.Merged++
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
	p.finishState(r, first.flags, second.flags, first.flags|second.flags != 0, nil)
}

// single builds the record of a half without partner.
func (p *Parser) single(h *half, r *flow.Record) {
	p.Unpaired++
	*r = h.r
	p.finishState(r, h.flags, 0, h.flags != 0, nil)
}

// Flush emits the netflow halves still waiting for a partner, oldest first,
// each as a one-sided record, and empties the table. Call it at the end of
// a file, or when a followed file has been idle for a while.
func (p *Parser) Flush(emit func(*flow.Record) error) error {
	var r flow.Record
	for _, e := range p.order[p.head:] {
		h, ok := p.pending[e.id]
		if !ok || h.seq != e.seq {
			continue
		}
		delete(p.pending, e.id)
		p.single(h, &r)
		p.release(h)
		if err := emit(&r); err != nil {
			p.compactOrder()
			return err
		}
	}
	p.order, p.head = p.order[:0], 0
	return nil
}
