package pipeline

import (
	"runtime"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

// aheadBlock is how many flows AlertEach featurizes before handing them
// to the other core: enough that the handing over costs nothing next to
// scoring them.
const aheadBlock = 512

// aheadFlows is a block of flows featurized ahead of their verdicts.
type aheadFlows struct {
	rs []flow.Record
	ps []detect.Pending
	n  int // flows in rs and ps
}

func newAheadFlows() *aheadFlows {
	return &aheadFlows{rs: make([]flow.Record, aheadBlock), ps: make([]detect.Pending, aheadBlock)}
}

// AlertEach scores every flow each yields, in order, exactly as Alert and
// then, when it did not alert, Learn would one flow at a time, and calls
// fn with each flow that alerts and its verdict (read, not kept).
//
// It uses two cores: the stateful steps stay in the flows' order on the
// calling goroutine (the host statistics as each block is featurized;
// the verdicts, online updates and fn as each block is finished), while
// the detectors, which read only the model, score the next block on
// another goroutine (detect.Scorer.Featurize, Pending.Score, Finish).
// Finish scores a flow again when an online update of an earlier flow
// changed the known counts it read, and when the host table could evict
// before a block is finished (detect.Scorer.Ahead) the rest is scored one
// flow at a time: the verdicts are those of Alert and Learn, byte for
// byte.
//
// each is a Batch's or a Store's Each: the record it passes may be reused
// after the call.
func (d *Detector) AlertEach(each func(fn func(*flow.Record) error) error, fn func(*flow.Record, *detect.Verdict) error) error {
	var v detect.Verdict
	one := func(r *flow.Record) error {
		if !d.Alert(r, &v) {
			d.Learn(r, &v)
			return nil
		}
		return fn(r, &v)
	}
	if runtime.GOMAXPROCS(0) < 2 {
		return each(one)
	}

	todo, scored := make(chan *aheadFlows, 1), make(chan *aheadFlows, 1)
	go func() {
		defer close(scored)
		for b := range todo {
			for i := range b.n {
				b.ps[i].Score(d.sc)
			}
			scored <- b
		}
	}()
	defer func() {
		close(todo)
		for range scored { // a block sent but not finished when fn failed
		}
	}()
	inFlight := 0
	// finish takes the oldest block sent back from the other goroutine and
	// completes its verdicts, as Alert and Learn would
	finish := func() error {
		b := <-scored
		inFlight--
		for i := range b.n {
			r := &b.rs[i]
			d.sc.Finish(r, &b.ps[i], &v)
			if !v.Alert {
				d.Learn(r, &v)
				continue
			}
			d.ev.Attach(r, &v)
			if err := fn(r, &v); err != nil {
				return err
			}
		}
		return nil
	}
	// send hands cur over, finishes the block before it when there is one
	// and returns the buffer to fill next
	blocks := [2]*aheadFlows{newAheadFlows(), newAheadFlows()}
	send := func(cur *aheadFlows) (*aheadFlows, error) {
		todo <- cur
		inFlight++
		if inFlight == 2 {
			if err := finish(); err != nil {
				return nil, err
			}
		}
		next := blocks[0]
		if next == cur {
			next = blocks[1]
		}
		next.n = 0
		return next, nil
	}
	cur := blocks[0]
	sequential := false
	err := each(func(r *flow.Record) error {
		if sequential {
			return one(r)
		}
		if cur.n == 0 && !d.sc.Ahead(aheadBlock) {
			// the host table could evict: finish what was sent and score
			// the rest one flow at a time
			sequential = true
			for inFlight > 0 {
				if err := finish(); err != nil {
					return err
				}
			}
			return one(r)
		}
		c := &cur.rs[cur.n]
		parents := c.TunnelParents[:0]
		*c = *r
		parents = append(parents, r.TunnelParents...) // r's backing array may be reused
		c.TunnelParents = parents
		d.sc.Featurize(c, &cur.ps[cur.n])
		cur.n++
		if cur.n < aheadBlock {
			return nil
		}
		var err error
		cur, err = send(cur)
		return err
	})
	if err != nil {
		return err
	}
	if cur.n > 0 {
		if _, err := send(cur); err != nil {
			return err
		}
	}
	for inFlight > 0 {
		if err := finish(); err != nil {
			return err
		}
	}
	return nil
}
