package app

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

// outFile is one of the daemon's JSON-lines outputs (run.output,
// run.flows_output): a file whose committed length is saved with the
// positions, or stdout. It counts the bytes that reach the file; callers
// buffer in front of it and flush before they commit.
type outFile struct {
	name string // as configured: a path, or "-" for stdout
	path string // absolute path; "" for stdout
	f    *os.File
	w    io.Writer // f, or stdout
	off  int64     // bytes written to f
}

// openOut opens the output name ("-" is stdout) and cuts it back to the
// length committed for it (committedPath and committedOff, from the
// checkpoint): the bytes after that belong to lines after the saved
// positions, which are read again.
func openOut(name string, stdout io.Writer, committedPath string, committedOff int64, log *slog.Logger) (*outFile, error) {
	if name == "-" {
		return &outFile{name: name, w: stdout}, nil
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", name, err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644) // read too: cutPartialLine
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close() // the first error is the one to report
		return nil, fmt.Errorf("output: %w", err)
	}
	size := fi.Size()
	switch {
	case committedPath != abs:
		if size > 0 {
			log.Info("output has no committed length in the positions file; appending", "output", abs, "bytes", size)
		}
	case committedOff < size:
		if err := f.Truncate(committedOff); err != nil {
			_ = f.Close() // the first error is the one to report
			return nil, fmt.Errorf("output: cut %s back to the committed %d bytes: %w", abs, committedOff, err)
		}
		log.Info("output cut back to its committed length; the lines after the saved positions are read again",
			"output", abs, "dropped_bytes", size-committedOff)
		size = committedOff
	case committedOff > size:
		log.Warn("output is shorter than at the last commit (truncated or replaced by someone else); appending",
			"output", abs, "committed", committedOff, "bytes", size)
	}
	return &outFile{name: name, path: abs, f: f, w: f, off: size}, nil
}

// Write writes p and counts what reached the file.
func (o *outFile) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	o.off += int64(n)
	if err != nil {
		return n, fmt.Errorf("output %s: %w", o.name, err)
	}
	return n, nil
}

// Sync syncs the file (nothing for stdout).
func (o *outFile) Sync() error {
	if o.f == nil {
		return nil
	}
	if err := o.f.Sync(); err != nil {
		return fmt.Errorf("output %s: sync: %w", o.path, err)
	}
	return nil
}

// committed returns the path and length to save with the positions ("" and
// 0 for stdout).
func (o *outFile) committed() (string, int64) {
	if o == nil || o.f == nil {
		return "", 0
	}
	return o.path, o.off
}

func (o *outFile) close() error {
	if o == nil || o.f == nil {
		return nil
	}
	if err := o.f.Close(); err != nil {
		return fmt.Errorf("output %s: %w", o.path, err)
	}
	return nil
}

// cutPartialLine cuts the file back to its last newline: a process killed
// while writing leaves a partial last line, whose alert comes again with
// the work that was not committed. A consumer group's output has no
// committed length (its positions are Kafka's offsets), so this is how it
// keeps its JSON lines whole.
func (o *outFile) cutPartialLine(log *slog.Logger) error {
	if o.f == nil || o.off == 0 {
		return nil
	}
	buf := make([]byte, 64<<10)
	end := o.off
	for end > 0 {
		start := max(0, end-int64(len(buf)))
		n, err := o.f.ReadAt(buf[:end-start], start)
		if err != nil {
			return fmt.Errorf("output %s: %w", o.path, err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = start + int64(i) + 1
			break
		}
		end = start
	}
	if end == o.off {
		return nil
	}
	if err := o.f.Truncate(end); err != nil {
		return fmt.Errorf("output %s: cut a partial last line: %w", o.path, err)
	}
	log.Info("output's partial last line cut (written by a process that was killed)", "output", o.path, "dropped_bytes", o.off-end)
	o.off = end
	return nil
}
