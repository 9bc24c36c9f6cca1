package app

import (
	"context"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/pipeline"
)

// alertAside is a batch command's last stage on a core of its own: the
// scoring loop hands each alerting flow over, with a copy of its verdict,
// and goes on scoring, while a goroutine turns them into alert documents
// and writes them through the Alerter (fold, rules, encoding, sinks).
//
//	scoring ──[]asideItem (blocks of 256, 4 in flight)──▶ Alerter.Flow
//
// The Alerter belongs to the goroutine from newAlertAside until Close.
// A write error stops the stage: it comes back from the next Flow or from
// Flush, and what was handed over after it is not written.
type alertAside struct {
	al   *pipeline.Alerter
	reqs chan asideReq
	free chan []asideItem
	done chan error // the goroutine's answer to a flush
	cur  []asideItem
	err  error // the first error, once the caller has seen it
}

type asideItem struct {
	r flow.Record
	v detect.Verdict
}

type asideReq struct {
	items []asideItem
	flush bool
}

const asideBlock, asideInFlight = 256, 4

func newAlertAside(ctx context.Context, al *pipeline.Alerter) *alertAside {
	a := &alertAside{al: al, reqs: make(chan asideReq, asideInFlight), free: make(chan []asideItem, asideInFlight+2),
		done: make(chan error)}
	for range asideInFlight + 1 {
		a.free <- make([]asideItem, 0, asideBlock)
	}
	a.cur = make([]asideItem, 0, asideBlock)
	go a.run(ctx)
	return a
}

func (a *alertAside) run(ctx context.Context) {
	var err error
	for req := range a.reqs {
		if req.flush {
			if err == nil {
				err = a.al.Flush(ctx)
			}
			a.done <- err
			continue
		}
		for i := range req.items {
			if err == nil {
				err = a.al.Flow(ctx, &req.items[i].r, &req.items[i].v)
			}
		}
		a.free <- req.items[:0]
	}
	close(a.done)
}

// Flow hands over a flow whose verdict alerted; r and v are copied (the
// buffers of earlier blocks are reused). Its error is an earlier write's.
func (a *alertAside) Flow(ctx context.Context, r *flow.Record, v *detect.Verdict) error {
	if a.err != nil {
		return a.err
	}
	n := len(a.cur)
	a.cur = a.cur[:n+1]
	it := &a.cur[n]
	parents := it.r.TunnelParents
	it.r = *r
	it.r.TunnelParents = reuse(parents, r.TunnelParents)
	hits, feats, behs := it.v.Hits, it.v.Features, it.v.Behaviors
	it.v = *v
	it.v.Hits = reuse(hits, v.Hits)
	it.v.Features = reuse(feats, v.Features)
	it.v.Behaviors = reuse(behs, v.Behaviors)
	if len(a.cur) < asideBlock {
		return nil
	}
	return a.send(ctx, asideReq{items: a.cur})
}

// reuse returns a copy of src in buf's storage when it is large enough.
func reuse[T any](buf, src []T) []T { return append(buf[:0], src...) }

func (a *alertAside) send(ctx context.Context, req asideReq) error {
	select {
	case a.reqs <- req:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	if req.flush {
		return nil
	}
	select {
	case a.cur = <-a.free:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Flush returns once every flow handed over is written and the Alerter
// flushed, with the first error.
func (a *alertAside) Flush(ctx context.Context) error {
	if a.err != nil {
		return a.err
	}
	if len(a.cur) > 0 {
		if err := a.send(ctx, asideReq{items: a.cur}); err != nil {
			return err
		}
	}
	if err := a.send(ctx, asideReq{flush: true}); err != nil {
		return err
	}
	a.err = <-a.done
	return a.err
}

// Close ends the goroutine once it has written what was handed over (not
// flushed: Flush first). The Alerter is the caller's again.
func (a *alertAside) Close() {
	close(a.reqs)
	for range a.done { // the answer to a flush nobody waits for
	}
}
