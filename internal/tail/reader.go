package tail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// readAll reads every open file to its end (or a budget), in order.
func (t *Tailer) readAll(ctx context.Context, now time.Time) (progressed bool, err error) {
	for _, s := range t.files {
		if s.f == nil {
			continue
		}
		if ctx.Err() != nil {
			return progressed, nil
		}
		n, err := t.read(s, now)
		if err != nil {
			return progressed, err
		}
		if err := t.commitDue(); err != nil {
			return progressed, err
		}
		if n > 0 {
			progressed = true
			s.lastData = now
			continue
		}
		t.atEnd(s, now)
	}
	return progressed, nil
}

// atEnd handles a file that had nothing new: truncated, deleted, or idle.
func (t *Tailer) atEnd(s *state, now time.Time) {
	fi, err := s.f.Stat()
	if err != nil {
		return
	}
	if fi.Size() < s.offset || fi.Size() < int64(s.fpLen) {
		t.detach(s, "truncated")
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink == 0 {
		// Deleted and read to its end: done.
		t.log.Info("file deleted; finished reading it", "path", s.file.Path, "line", s.line)
		t.stats.rotations.Add(1)
		t.closeFile(s)
		s.done = true // forgotten at the next scan
		t.dirty = true
		return
	}
	if t.fdWait || now.Sub(s.lastData) >= t.cfg.CloseIdle {
		t.closeFile(s)
	}
}

// deferScans is how many scans a new file whose short head matches a
// followed file waits before it is read as new.
const deferScans = 5

const readBudget = 8 << 20 // bytes read from one file before moving to the next

// read delivers the complete lines appended to s since its offset.
func (t *Tailer) read(s *state, now time.Time) (int64, error) {
	var total int64
	max := t.cfg.MaxLineBytes
	for total < readBudget {
		pos := s.offset
		if s.skipping {
			pos = s.skipPos
		}
		n, rerr := s.f.ReadAt(t.buf, pos)
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return total, fmt.Errorf("tail: %s: read at offset %d: %w", s.file.Path, pos, rerr)
		}
		if n == 0 {
			return total, nil
		}
		// The bytes just read belong to this file only if its head is
		// unchanged: otherwise it was truncated and rewritten meanwhile.
		if !t.headUnchanged(s) {
			t.detach(s, "truncated")
			return total, nil
		}
		chunk := t.buf[:n]
		if s.skipping {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				s.skipPos += int64(n)
				total += int64(n)
				continue
			}
			s.line++
			s.offset = s.skipPos + int64(i) + 1
			s.skipping = false
			t.dirty = true
			total += int64(i) + 1
			t.longLine(s)
			continue
		}
		if s.replay {
			s.replay = false
			if err := t.replayHeader(s); err != nil {
				return total, err
			}
		}
		start := 0
		for {
			i := bytes.IndexByte(chunk[start:], '\n')
			if i < 0 {
				break
			}
			line := chunk[start : start+i]
			s.line++
			if len(line) > max {
				t.longLine(s)
			} else {
				t.line = Line{File: s.file, Num: s.line, Bytes: line}
				if err := t.sink.Line(&t.line); err != nil {
					return total, err
				}
				t.stats.lines.Add(1)
				t.stats.bytes.Add(int64(i) + 1)
			}
			start += i + 1
		}
		s.offset += int64(start)
		total += int64(start)
		if start > 0 {
			t.dirty = true
			if s.fpLen < t.cfg.FingerprintBytes {
				if head, err := t.readHead("", s.f); err == nil && len(head) > s.fpLen {
					s.setHead(head)
				}
			}
		}
		if start == 0 {
			// No newline in what was read.
			if n > max {
				s.skipping = true
				s.skipPos = s.offset + int64(n)
				total += int64(n)
				continue
			}
			if n < len(t.buf) {
				return total, nil // a partial last line: wait for its end
			}
			t.buf = make([]byte, min(2*len(t.buf), max+1))
			continue
		}
		if n < len(t.buf) {
			return total, nil // at the end; any partial line waits
		}
	}
	return total, nil
}

// skipExisting moves a new file's position past its last complete line
// (Config.StartAtEnd), counting the lines skipped so that later line
// numbers stay true, and marks its header for replay.
func (t *Tailer) skipExisting(s *state, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read-only
	var pos, lines, end int64
	for {
		n, err := f.ReadAt(t.buf, pos)
		chunk := t.buf[:n]
		lines += int64(bytes.Count(chunk, []byte{'\n'}))
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			end = pos + int64(i) + 1
		}
		pos += int64(n)
		if errors.Is(err, io.EOF) || n == 0 {
			break
		}
		if err != nil {
			return fmt.Errorf("tail: %s: %w", path, err)
		}
	}
	s.offset, s.line, s.replay = end, lines, end > 0
	t.log.Info("starting at the end of the file (run.start_at: end)", "path", path, "skipped_bytes", end, "skipped_lines", lines)
	return nil
}

// replayHeader hands the header lines at the top of a file resumed mid-way
// to the sink, marked Replay.
func (t *Tailer) replayHeader(s *state) error {
	var pos int64
	var num int64
	buf := make([]byte, 64<<10)
	for pos < s.offset {
		n, err := s.f.ReadAt(buf, pos)
		if n == 0 {
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("tail: %s: reading header: %w", s.file.Path, err)
			}
			return nil
		}
		chunk := buf[:n]
		start := 0
		for {
			i := bytes.IndexByte(chunk[start:], '\n')
			if i < 0 || pos+int64(start+i) >= s.offset {
				break
			}
			line := chunk[start : start+i]
			if len(line) == 0 || line[0] != '#' {
				return nil
			}
			num++
			t.line = Line{File: s.file, Num: num, Bytes: line, Replay: true}
			if err := t.sink.Line(&t.line); err != nil {
				return err
			}
			start += i + 1
		}
		if start == 0 {
			return nil // a header line longer than the buffer: give up
		}
		pos += int64(start)
	}
	return nil
}

// longLine counts a skipped long line and warns (throttled).
func (t *Tailer) longLine(s *state) {
	t.stats.long.Add(1)
	t.warn("line longer than max_line_bytes skipped", "path", s.file.Path, "line", s.line,
		"max_line_bytes", t.cfg.MaxLineBytes)
}
