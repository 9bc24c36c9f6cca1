package app

import (
	"context"
	"slices"

	"github.com/mlads/mlads/internal/alert"
)

// writeAside is a batch command's last stage on a core of its own: the
// scoring loop hands each batch of alert documents over and goes on, while
// a goroutine folds, marks, encodes and writes them to the sink. Flush
// waits until every batch handed over is written, then flushes the sink.
//
//	scoring ──[]*alert.Alert (batches, 4 in flight)──▶ sink.Write
//
// A write error stops the stage: it comes back from the next Write or
// from Flush, and what was handed over after it is not written. Retrying
// is the sinks' own business (alert.Retry, the Elasticsearch spool): a
// batch handed over cannot be handed again, so writeAside never asks for
// it. Close stops the goroutine; call it once, after the last Flush.
type writeAside struct {
	sink    alert.Sink
	batches chan writeReq
	done    chan error // the goroutine's answer to a flush request
	err     error      // the first write error, once seen by the caller
}

type writeReq struct {
	docs  []*alert.Alert
	flush bool
}

func newWriteAside(ctx context.Context, sink alert.Sink) *writeAside {
	w := &writeAside{sink: sink, batches: make(chan writeReq, 4), done: make(chan error)}
	go w.run(ctx)
	return w
}

func (w *writeAside) run(ctx context.Context) {
	var err error
	for req := range w.batches {
		switch {
		case req.flush:
			if err == nil {
				_, err = w.sink.Flush(ctx)
			}
			w.done <- err
		case err == nil:
			_, err = w.sink.Write(ctx, req.docs)
		}
	}
	close(w.done)
}

// Write hands docs over; the slice is copied (the caller reuses it), the
// documents are kept. Its error is an earlier batch's.
func (w *writeAside) Write(ctx context.Context, docs []*alert.Alert) (bool, error) {
	if w.err != nil {
		return false, w.err
	}
	select {
	case w.batches <- writeReq{docs: slices.Clone(docs)}:
		return false, nil
	case <-ctx.Done():
		return false, context.Cause(ctx)
	}
}

// Flush returns once every batch handed over is written and the sink is
// flushed, with the first error of either.
func (w *writeAside) Flush(ctx context.Context) (bool, error) {
	if w.err != nil {
		return false, w.err
	}
	select {
	case w.batches <- writeReq{flush: true}:
	case <-ctx.Done():
		return false, context.Cause(ctx)
	}
	w.err = <-w.done
	return false, w.err
}

// Close ends the goroutine, after what was handed over is written (it is
// not flushed: Flush first).
func (w *writeAside) Close() error {
	close(w.batches)
	for range w.done { // drains the answer to a flush nobody waits for
	}
	return nil
}

var _ alert.Sink = (*writeAside)(nil)
