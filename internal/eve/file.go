package eve

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/logline"
)

// Stats counts what a read saw. The embedded logline.Stats holds the line,
// record and bad-line counts (Headers stays 0: EVE has none).
type Stats struct {
	logline.Stats
	Events   map[string]int64 // lines by event_type, flow and netflow included
	Skipped  int64            // events of types that carry no flow
	Merged   int64            // netflow records built from two halves
	Unpaired int64            // netflow records built from one half
}

// Add adds the counts of o to s.
func (s *Stats) Add(o Stats) {
	s.Stats.Add(o.Stats)
	for k, v := range o.Events {
		if s.Events == nil {
			s.Events = make(map[string]int64)
		}
		s.Events[k] += v
	}
	s.Skipped += o.Skipped
	s.Merged += o.Merged
	s.Unpaired += o.Unpaired
}

// ReadFile reads a whole EVE file (plain or gzip) and calls emit for each
// flow record. Netflow halves are paired within the file; those given up
// on (Pairer.FlushIdle) are emitted alone as the read goes, and those still
// waiting at the end are flushed. Bad lines are counted in Stats (by kind,
// with the first few errors naming file and line) and skipped. emit's
// error stops the read and is returned as is; so is the context's.
//
// emit receives a record that ReadFile reuses: it must copy *r to keep it.
func ReadFile(ctx context.Context, path string, emit func(*flow.Record) error) (Stats, error) {
	return ReadFileWith(ctx, path, logline.ReadOptions{}, emit)
}

// ReadFileWith is ReadFile with options (progress reports, as for Zeek logs).
func ReadFileWith(ctx context.Context, path string, opts logline.ReadOptions, emit func(*flow.Record) error) (Stats, error) {
	var st Stats
	var nread int64
	rc, err := logline.OpenCounting(path, &nread)
	if err != nil {
		return st, fmt.Errorf("eve: %w", err)
	}
	defer func() { _ = rc.Close() }() // read only: nothing to lose
	st.Files = 1
	pr := NewPairer()
	p := pr.NewParser(filepath.Base(path))
	var r flow.Record
	// out counts and emits a record; emit's error is marked to come back
	// as is.
	out := func(r *flow.Record) error {
		st.Records++
		if err := emit(r); err != nil {
			return logline.EmitError{Err: err}
		}
		return nil
	}
	err = logline.EachLine(ctx, rc, func(line []byte, tooLong bool) error {
		st.Lines++
		if opts.Progress != nil && st.Lines%logline.ProgressLines == 0 {
			opts.Progress(nread)
		}
		if tooLong {
			p.line++
			st.AddBad(logline.NewLineError("eve", p.name, p.line, logline.KindTooLong, "", nil,
				fmt.Errorf("line longer than %d bytes", logline.MaxLineBytes)))
			return nil
		}
		ok, err := p.ParseLine(line, &r)
		if err != nil {
			st.AddBad(err)
			return nil
		}
		if ok {
			if err := out(&r); err != nil {
				return err
			}
		}
		return pr.FlushIdle(out)
	})
	if err == nil {
		err = pr.Flush(out)
	}
	st.Events, st.Skipped, st.Merged, st.Unpaired = p.Events(), p.Skipped, pr.Merged, pr.Unpaired
	if opts.Progress != nil {
		opts.Progress(nread)
	}
	var ee logline.EmitError
	switch {
	case err == nil:
		return st, nil
	case errors.As(err, &ee):
		return st, ee.Err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return st, err
	}
	return st, fmt.Errorf("eve: %s: %w", path, err)
}
