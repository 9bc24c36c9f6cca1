package zeek

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mlads/mlads/internal/flow"
)

// MaxLineBytes is the longest line ReadFile accepts; a longer one is
// counted as a bad line of kind KindTooLong and skipped. Real conn.log lines
// are a few hundred bytes.
const MaxLineBytes = 1 << 20

// ctxCheckEvery is how many lines ReadFile reads between context checks.
const ctxCheckEvery = 4096

// Open opens path for reading, decompressing it when it starts with the gzip
// magic. The caller closes the returned reader.
func Open(path string) (io.ReadCloser, error) { return OpenCounting(path, nil) }

// OpenCounting is Open that also adds the number of bytes read from the
// file (before decompression) to *n as reading goes, for progress reports.
// n may be nil. Only the reading goroutine updates *n.
func OpenCounting(path string, n *int64) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var raw io.Reader = f
	if n != nil {
		raw = &countingReader{r: f, n: n}
	}
	br := bufio.NewReaderSize(raw, 256<<10)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			_ = f.Close() // the gzip error is the one to report
			return nil, fmt.Errorf("%s: gzip: %w", path, err)
		}
		return &readCloser{Reader: bufio.NewReaderSize(zr, 256<<10), close: func() error {
			_ = zr.Close() // only reports a checksum error already seen by Read
			return f.Close()
		}}, nil
	}
	return &readCloser{Reader: br, close: f.Close}, nil
}

type countingReader struct {
	r io.Reader
	n *int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	*c.n += int64(k)
	return k, err
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

// LineFunc is called for each line read by EachLine, without its newline.
// The slice is valid only during the call. tooLong is set, and line holds
// the line's first MaxLineBytes, for a line longer than the limit.
type LineFunc func(line []byte, tooLong bool) error

// EachLine reads r line by line, calling fn for each; a last line without a
// newline is read too. It is shared with the eve package.
func EachLine(ctx context.Context, r io.Reader, fn LineFunc) error {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 256<<10)
	}
	var long []byte
	var n int
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it up to the limit.
			if long == nil {
				long = make([]byte, 0, 2*len(line))
			}
			if len(long) < MaxLineBytes {
				long = append(long, line[:min(len(line), MaxLineBytes-len(long))]...)
			}
			continue
		}
		if long != nil {
			tooLong := len(long)+len(line) > MaxLineBytes
			if !tooLong {
				long = append(long, line...)
			}
			line = bytes.TrimSuffix(long, []byte("\n"))
			if ferr := fn(line, tooLong); ferr != nil {
				return ferr
			}
			long = nil
		} else if len(line) > 0 {
			if ferr := fn(bytes.TrimSuffix(line, []byte("\n")), false); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if n++; n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
}

// ReadOptions are the optional settings of ReadFileWith and ReadDirWith.
type ReadOptions struct {
	// Progress, when set, is called with the number of bytes read so far
	// (from the files, before decompression; summed over a folder's files)
	// about every ProgressLines lines and at the end of each file. It runs
	// on the reading goroutine: keep it short.
	Progress func(bytesRead int64)
}

// ProgressLines is how many lines pass between ReadOptions.Progress calls.
const ProgressLines = 1 << 16

// ReadFile reads a whole conn.log (plain or gzip, TSV or JSON) and calls
// emit for each record. Bad lines are counted in Stats (by kind, with the
// first few errors naming file and line) and skipped. emit's error stops the
// read and is returned as is; so is the context's. A path that is a
// directory is read with ReadDir.
//
// emit receives a record that ReadFile reuses for the next line: it must
// copy *r (a shallow copy is independent) to keep it.
func ReadFile(ctx context.Context, path string, emit func(*flow.Record) error) (Stats, error) {
	return ReadFileWith(ctx, path, ReadOptions{}, emit)
}

// ReadFileWith is ReadFile with options.
func ReadFileWith(ctx context.Context, path string, opts ReadOptions, emit func(*flow.Record) error) (Stats, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return ReadDirWith(ctx, path, opts, emit)
	}
	var st Stats
	var nread int64
	rc, err := OpenCounting(path, &nread)
	if err != nil {
		return st, fmt.Errorf("zeek: %w", err)
	}
	defer func() { _ = rc.Close() }() // read only: nothing to lose
	st.Files = 1
	p := NewParser(filepath.Base(path))
	var r flow.Record
	err = EachLine(ctx, rc, func(line []byte, tooLong bool) error {
		st.Lines++
		if opts.Progress != nil && st.Lines%ProgressLines == 0 {
			opts.Progress(nread)
		}
		if tooLong {
			p.line++
			st.AddBad(&LineError{File: p.name, Line: p.line, Kind: KindTooLong,
				Err: fmt.Errorf("line longer than %d bytes", MaxLineBytes)})
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
				return emitError{err}
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

// emitError carries an error from the caller's emit through EachLine, so it
// can be returned unwrapped.
type emitError struct{ err error }

func (e emitError) Error() string { return e.err.Error() }

// readErr turns what EachLine returned into ReadFile's error: emit's error
// and the context's as they are, a #path that is not conn as its LineError,
// and read failures wrapped with the file name.
func readErr(path string, err error) error {
	var ee emitError
	var le *LineError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return ee.err
	case errors.As(err, &le), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("zeek: %s: %w", path, err)
}

// ReadDir reads a Zeek log folder: the conn logs ConnFiles finds in it, in
// time order, as one stream.
func ReadDir(ctx context.Context, dir string, emit func(*flow.Record) error) (Stats, error) {
	return ReadDirWith(ctx, dir, ReadOptions{}, emit)
}

// ReadDirWith is ReadDir with options.
func ReadDirWith(ctx context.Context, dir string, opts ReadOptions, emit func(*flow.Record) error) (Stats, error) {
	var total Stats
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
