package app

import (
	"context"
	"io"
	"os"
	"slices"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/input"
	"github.com/mlads/mlads/internal/pcap"
)

// Input says how the detection commands (train, score, analyze) read their
// files. The zero value reads with pcap.DefaultConfig and reports nothing.
type Input struct {
	// Pcap configures the flow meter for captures; nil means the defaults.
	Pcap *pcap.Config
	// Status, when set, gets a progress line while a pass reads (on a
	// terminal only) and the one-line summary of the inputs after the last
	// pass.
	Status io.Writer
}

// readFlows reads the flows of every file in order (pcap/pcapng, Zeek conn
// logs, EVE; format from content) and calls emit for each; emit must copy
// the record to keep it. summary prints the inputs' summary line to Status
// (the last pass over the inputs does). It returns the number of records
// and of bad lines skipped. A bad input does not stop the others.
func (in Input) readFlows(ctx context.Context, paths []string, summary bool, emit func(*flow.Record) error) (records, bad int64, err error) {
	var prog *Progress
	if f, ok := in.Status.(*os.File); ok {
		var total int64
		for _, p := range paths {
			if st, err := os.Stat(p); err == nil {
				total += st.Size()
			}
		}
		prog = NewProgress(f, total)
	}
	opts := input.Options{Pcap: in.Pcap, Progress: func(p input.Progress) {
		prog.Update(p.BytesRead, p.Packets, uint64(p.Records))
	}}
	sum, err := input.ReadFiles(ctx, paths, opts, emit)
	prog.Done()
	if summary && in.Status != nil {
		writeSummary(in.Status, &sum)
	}
	return sum.Records, sum.Bad, err
}

// readFlowsAside is readFlows with the reading in a goroutine of its own:
// the readers and the flow meter run on one core while emit runs on
// another (a batch command's first pass: keeping the flows, the
// behavioural detectors, the trainer). Records cross in blocks of
// copies, so emit may keep the record it is given until it returns, like
// readFlows's. An error from emit stops the reading.
//
//	readFlows ──[]flow.Record (blocks of 512, 4 in flight)──▶ emit
func (in Input) readFlowsAside(ctx context.Context, paths []string, summary bool, emit func(*flow.Record) error) (records, bad int64, err error) {
	const blockLen, inFlight = 512, 4
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	blocks := make(chan []flow.Record, inFlight)
	free := make(chan []flow.Record, inFlight+2)
	for range inFlight + 2 {
		free <- make([]flow.Record, 0, blockLen)
	}
	type result struct {
		records, bad int64
		err          error
	}
	done := make(chan result, 1)
	go func() {
		defer close(blocks)
		cur := <-free
		r, b, err := in.readFlows(ctx, paths, summary, func(r *flow.Record) error {
			c := *r
			c.TunnelParents = slices.Clone(r.TunnelParents) // the reader reuses its slice
			cur = append(cur, c)
			if len(cur) < blockLen {
				return nil
			}
			select {
			case blocks <- cur:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			select {
			case cur = <-free:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			return nil
		})
		if len(cur) > 0 && ctx.Err() == nil {
			blocks <- cur
		}
		done <- result{r, b, err}
	}()
	var emitErr error
	for blk := range blocks {
		for i := range blk {
			if emitErr == nil {
				if emitErr = emit(&blk[i]); emitErr != nil {
					cancel(emitErr)
				}
			}
		}
		clear(blk) // drop the strings the block held
		free <- blk[:0]
	}
	res := <-done
	if emitErr != nil {
		return res.records, res.bad, emitErr
	}
	return res.records, res.bad, res.err
}
