package zeek

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/logline"
)

// ErrNotConnLog is wrapped by the error for a `#path` header naming another
// log (dns, http, ...): ReadFile stops there instead of reporting every line.
var ErrNotConnLog = errors.New("not a conn log")

// ReadFile reads a whole conn.log (plain or gzip, TSV or JSON) and calls
// emit for each record. Bad lines are counted in logline.Stats (by kind, with the
// first few errors naming file and line) and skipped. emit's error stops the
// read and is returned as is; so is the context's. A path that is a
// directory is read with ReadDir.
//
// emit receives a record that ReadFile reuses for the next line: it must
// copy *r (a shallow copy is independent) to keep it.
func ReadFile(ctx context.Context, path string, emit func(*flow.Record) error) (logline.Stats, error) {
	return ReadFileWith(ctx, path, logline.ReadOptions{}, emit)
}

// ReadFileWith is ReadFile with options.
func ReadFileWith(ctx context.Context, path string, opts logline.ReadOptions, emit func(*flow.Record) error) (logline.Stats, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return ReadDirWith(ctx, path, opts, emit)
	}
	var st logline.Stats
	var nread int64
	rc, err := logline.OpenCounting(path, &nread)
	if err != nil {
		return st, fmt.Errorf("zeek: %w", err)
	}
	defer func() { _ = rc.Close() }() // read only: nothing to lose
	st.Files = 1
	p := NewParser(filepath.Base(path))
	var r flow.Record
	err = logline.EachLine(ctx, rc, func(line []byte, tooLong bool) error {
		st.Lines++
		if opts.Progress != nil && st.Lines%logline.ProgressLines == 0 {
			opts.Progress(nread)
		}
		if tooLong {
			p.line++
			st.AddBad(&logline.LineError{File: p.name, Line: p.line, Kind: logline.KindTooLong,
				Err: fmt.Errorf("line longer than %d bytes", logline.MaxLineBytes)})
			return nil
		}
		ok, err := p.ParseLine(line, &r)
		switch {
		case err != nil:
			if errors.Is(err, ErrNotConnLog) {
				return err
			}
			st.AddBad(err)
		case ok:
			st.Records++
			if err := emit(&r); err != nil {
				return logline.EmitError{Err: err}
			}
		default:
			st.Headers++
		}
		return nil
	})
	st.Skipped = p.Skipped()
	st.Headers -= st.Skipped
	if opts.Progress != nil {
		opts.Progress(nread)
	}
	return st, readErr(path, err)
}

// readErr turns what logline.EachLine returned into ReadFile's error: emit's error
// and the context's as they are, a #path that is not conn as its logline.LineError,
// and read failures wrapped with the file name.
func readErr(path string, err error) error {
	var ee logline.EmitError
	var le *logline.LineError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return ee.Err
	case errors.As(err, &le), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("zeek: %s: %w", path, err)
}

// ReadDir reads a Zeek log folder: the conn logs ConnFiles finds in it, in
// time order, as one stream.
func ReadDir(ctx context.Context, dir string, emit func(*flow.Record) error) (logline.Stats, error) {
	return ReadDirWith(ctx, dir, logline.ReadOptions{}, emit)
}

// ReadDirWith is ReadDir with options.
func ReadDirWith(ctx context.Context, dir string, opts logline.ReadOptions, emit func(*flow.Record) error) (logline.Stats, error) {
	var total logline.Stats
	files, err := ConnFiles(dir)
	if err != nil {
		return total, err
	}
	if len(files) == 0 {
		return total, fmt.Errorf("zeek: %s: no conn.log in the folder", dir)
	}
	var before int64 // bytes of the folder's files already read
	for _, f := range files {
		o := opts
		if opts.Progress != nil {
			base := before
			o.Progress = func(n int64) { opts.Progress(base + n) }
		}
		st, err := ReadFileWith(ctx, f, o, emit)
		if fi, serr := os.Stat(f); serr == nil {
			before += fi.Size()
		}
		total.Add(st)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// ConnFiles lists the conn logs of a Zeek log folder in time order: rotated
// files first, oldest first, and the current conn.log last. It understands
// Zeek's own rotation names (conn.2024-01-31-10-00-00.log[.gz]) and
// zeekctl's archive (2024-01-31/conn.10:00:00-11:00:00.log.gz, one level of
// dated sub-folders); other conn.*.log[.gz] names are ordered by their
// modification time.
func ConnFiles(dir string) ([]string, error) {
	type entry struct {
		path string
		t    time.Time
		cur  bool
	}
	var out []entry
	add := func(sub, name string, dayDir time.Time) {
		full := filepath.Join(dir, sub, name)
		base := strings.TrimSuffix(name, ".gz")
		switch {
		case base == "conn.log" || base == "conn.log.labeled":
			if sub == "" {
				out = append(out, entry{path: full, cur: true})
				return
			}
		case strings.HasPrefix(base, "conn.") && strings.HasSuffix(base, ".log"):
		default:
			return
		}
		mid := strings.TrimSuffix(strings.TrimPrefix(base, "conn."), ".log")
		var t time.Time
		if tt, err := time.Parse("2006-01-02-15-04-05", mid); err == nil {
			t = tt
		} else if start, _, ok := strings.Cut(mid, "-"); ok && !dayDir.IsZero() {
			if tt, err := time.Parse("15:04:05", start); err == nil {
				t = dayDir.Add(time.Duration(tt.Hour())*time.Hour + time.Duration(tt.Minute())*time.Minute +
					time.Duration(tt.Second())*time.Second)
			}
		}
		if t.IsZero() {
			if fi, err := os.Stat(full); err == nil {
				t = fi.ModTime()
			}
		}
		out = append(out, entry{path: full, t: t})
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("zeek: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() {
			day, err := time.Parse("2006-01-02", e.Name())
			if err != nil {
				continue
			}
			subs, err := os.ReadDir(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("zeek: %w", err)
			}
			for _, s := range subs {
				if !s.IsDir() {
					add(e.Name(), s.Name(), day)
				}
			}
			continue
		}
		add("", e.Name(), time.Time{})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].cur != out[j].cur {
			return !out[i].cur
		}
		if !out[i].t.Equal(out[j].t) {
			return out[i].t.Before(out[j].t)
		}
		return out[i].path < out[j].path
	})
	paths := make([]string, len(out))
	for i, e := range out {
		paths[i] = e.path
	}
	return paths, nil
}
