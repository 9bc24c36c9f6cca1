package elastic

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Policies when the spool is full.
const (
	WhenFullBlock      = "block"
	WhenFullDropNewest = "drop_newest"
	WhenFullDropOldest = "drop_oldest"
)

// ErrSpoolFull is returned (wrapped) when the spool is full and its policy
// is to block: the caller should try again later.
var ErrSpoolFull = errors.New("spool full")

// entry is one document ready to send, and one line of a spool segment.
type entry struct {
	Op      string          `json:"op"` // create or index
	Index   string          `json:"index"`
	ID      string          `json:"id"`
	Version int64           `json:"version,omitempty"` // incidents: external_gte version
	Doc     json.RawMessage `json:"doc"`
}

// size is what the entry costs in a bulk request, roughly.
func (e *entry) size() int { return len(e.Doc) + len(e.ID) + len(e.Index) + 48 }

// Spool is a bounded on-disk queue of documents: JSON-lines segment files
// named spool-<seq>.ndjson in one directory, appended to and replayed in
// order of their sequence numbers. Appends reach the disk at Sync
// (fsync). A torn last line (a crash between a write and its Sync) is
// skipped on reading: that document was never reported as spooled, so its
// writer hands it over again.
//
// Spool is not safe for concurrent use.
type Spool struct {
	dir      string
	maxBytes int64
	whenFull string
	segMax   int64

	segs  []segment // oldest first; the last is the one appended to, when open
	cur   *os.File
	curW  *bufio.Writer
	dirty bool

	dropped uint64
	lock    *os.File // held open while the spool is: an flock on dir/lock
}

type segment struct {
	seq   int
	bytes int64
	docs  int
}

func (s segment) name() string { return fmt.Sprintf("spool-%08d.ndjson", s.seq) }

// SpoolStatus says what waits in a spool.
type SpoolStatus struct {
	Dir      string
	Segments int
	Docs     int
	Bytes    int64
	MaxBytes int64
	// Dropped counts documents dropped since the spool was opened
	// because it was full.
	Dropped uint64
}

// OpenSpool opens (creating it when needed) the spool in dir.
func OpenSpool(dir string, maxBytes int64, whenFull string) (*Spool, error) {
	switch whenFull {
	case WhenFullBlock, WhenFullDropNewest, WhenFullDropOldest:
	default:
		return nil, fmt.Errorf("spool %s: unknown policy when full %q", dir, whenFull)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{dir: dir, maxBytes: maxBytes, whenFull: whenFull, segMax: min(max(maxBytes/64, 64<<10), 8<<20)}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s.lock = lock
	if err := s.load(); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// ReadSpoolStatus returns what waits in the spool in dir without locking
// or changing it, so it can be used while a daemon writes to it.
func ReadSpoolStatus(dir string, maxBytes int64) (SpoolStatus, error) {
	s := &Spool{dir: dir, maxBytes: maxBytes}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return s.Status(), nil
	}
	err := s.load()
	return s.Status(), err
}

// load finds the segments in the directory and counts their documents.
func (s *Spool) load() error {
	dir := s.dir
	names, err := filepath.Glob(filepath.Join(dir, "spool-*.ndjson"))
	if err != nil {
		return fmt.Errorf("spool %s: %w", dir, err)
	}
	for _, n := range names {
		seq, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(n), "spool-"), ".ndjson"))
		if err != nil {
			continue
		}
		seg := segment{seq: seq}
		if err := s.scan(seg, func(*entry) error { seg.docs++; return nil }); err != nil {
			return err
		}
		fi, err := os.Stat(n)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		seg.bytes = fi.Size()
		s.segs = append(s.segs, seg)
	}
	slices.SortFunc(s.segs, func(a, b segment) int { return a.seq - b.seq })
	return nil
}

// Empty reports whether no document waits.
func (s *Spool) Empty() bool {
	for _, g := range s.segs {
		if g.docs > 0 {
			return false
		}
	}
	return true
}

// Status returns what waits in the spool.
func (s *Spool) Status() SpoolStatus {
	st := SpoolStatus{Dir: s.dir, Segments: len(s.segs), MaxBytes: s.maxBytes, Dropped: s.dropped}
	for _, g := range s.segs {
		st.Docs += g.docs
		st.Bytes += g.bytes
	}
	return st
}

// Append adds e at the end. When the spool is full it blocks (returns an
// error wrapping ErrSpoolFull), or drops e or the oldest segment, as its
// policy says; dropped reports how many documents that dropped.
func (s *Spool) Append(e *entry) (dropped int, err error) {
	line, err := json.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	line = append(line, '\n')
	for s.Status().Bytes+int64(len(line)) > s.maxBytes {
		switch s.whenFull {
		case WhenFullBlock:
			return 0, fmt.Errorf("spool %s: %w (%d bytes, elasticsearch.spool.max_bytes)", s.dir, ErrSpoolFull, s.maxBytes)
		case WhenFullDropNewest:
			s.dropped++
			return 1, nil
		}
		// Drop the oldest segment; when it is the one being written, close
		// it first (the next append starts a new one).
		if len(s.segs) == 0 {
			s.dropped++
			return dropped + 1, nil
		}
		if len(s.segs) == 1 && s.cur != nil {
			if err := s.closeCurrent(); err != nil {
				return dropped, err
			}
		}
		n := s.segs[0].docs
		if err := s.remove(0); err != nil {
			return dropped, err
		}
		s.dropped += uint64(n)
		dropped += n
	}
	if s.cur == nil || s.segs[len(s.segs)-1].bytes >= s.segMax {
		if err := s.rotate(); err != nil {
			return dropped, err
		}
	}
	if _, err := s.curW.Write(line); err != nil {
		return dropped, fmt.Errorf("spool %s: %w", s.dir, err)
	}
	g := &s.segs[len(s.segs)-1]
	g.bytes += int64(len(line))
	g.docs++
	s.dirty = true
	return dropped, nil
}

// rotate closes the segment being written and starts a new one.
func (s *Spool) rotate() error {
	if err := s.closeCurrent(); err != nil {
		return err
	}
	seq := 1
	if len(s.segs) > 0 {
		seq = s.segs[len(s.segs)-1].seq + 1
	}
	g := segment{seq: seq}
	f, err := os.OpenFile(filepath.Join(s.dir, g.name()), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.cur, s.curW = f, bufio.NewWriterSize(f, 64<<10)
	s.segs = append(s.segs, g)
	return syncDir(s.dir)
}

// Sync makes every append durable.
func (s *Spool) Sync() error {
	if !s.dirty || s.cur == nil {
		return nil
	}
	if err := s.curW.Flush(); err != nil {
		return fmt.Errorf("spool %s: %w", s.dir, err)
	}
	if err := s.cur.Sync(); err != nil {
		return fmt.Errorf("spool %s: %w", s.dir, err)
	}
	s.dirty = false
	return nil
}

// closeCurrent syncs and closes the segment being written; the next
// Append starts a new one.
func (s *Spool) closeCurrent() error {
	if s.cur == nil {
		return nil
	}
	err := s.Sync()
	if cerr := s.cur.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("spool %s: %w", s.dir, cerr)
	}
	s.cur, s.curW = nil, nil
	return err
}

// Close syncs and closes the spool, and releases its lock.
func (s *Spool) Close() error {
	err := s.closeCurrent()
	if s.lock != nil {
		_ = s.lock.Close() // closing releases the flock
		s.lock = nil
	}
	return err
}

// replay calls send with the entries of each segment, oldest first.
// send returns whether every entry of the segment is stored; the segment
// is then deleted, otherwise replay stops. It returns the number of
// documents whose segments were deleted.
func (s *Spool) replay(send func(seg []*entry) (bool, error)) (int, error) {
	if err := s.closeCurrent(); err != nil {
		return 0, err
	}
	done := 0
	for len(s.segs) > 0 {
		var batch []*entry
		if err := s.scan(s.segs[0], func(e *entry) error { batch = append(batch, e); return nil }); err != nil {
			return done, err
		}
		ok, err := send(batch)
		if err != nil || !ok {
			return done, err
		}
		done += s.segs[0].docs
		if err := s.remove(0); err != nil {
			return done, err
		}
	}
	return done, nil
}

// remove deletes segment i.
func (s *Spool) remove(i int) error {
	if err := os.Remove(filepath.Join(s.dir, s.segs[i].name())); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: %w", err)
	}
	s.segs = slices.Delete(s.segs, i, i+1)
	return syncDir(s.dir)
}

// scan reads a segment's entries in order. A line that does not decode is
// skipped when it is the last one (torn by a crash) and an error otherwise.
func (s *Spool) scan(g segment, fn func(*entry) error) error {
	path := filepath.Join(s.dir, g.name())
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	line := 0
	for len(data) > 0 {
		line++
		raw, rest, found := bytes.Cut(data, []byte{'\n'})
		data = rest
		if len(raw) == 0 {
			continue
		}
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil || e.ID == "" || e.Index == "" {
			if !found {
				break // torn last line
			}
			return fmt.Errorf("spool: %s line %d: not a spooled document", path, line)
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	return nil
}

// syncDir makes file creations and removals in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: sync %s: %w", dir, err)
	}
	return nil
}
