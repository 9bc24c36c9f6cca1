package tail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"syscall"
	"time"
)

// Config says what to follow and how.
type Config struct {
	// Inputs are files or globs (filepath.Match syntax).
	Inputs []string
	// Positions is the positions file; empty keeps positions in memory only.
	Positions string
	// MaxLineBytes is the longest line delivered; longer ones are skipped
	// and counted. Default 1 MiB.
	MaxLineBytes int
	// FingerprintBytes is how much of a file's head identifies it.
	// Default 1024.
	FingerprintBytes int
	// PollInterval is how often the globs are expanded again, and how long
	// the tailer sleeps when no file has new data. Default 200ms.
	PollInterval time.Duration
	// CommitInterval is how often the sink is committed and the positions
	// written. Default 1s.
	CommitInterval time.Duration
	// CloseIdle is how long a file at its end stays open without growing.
	// Default 5s. A closed file is opened again when it grows.
	CloseIdle time.Duration
	// MaxOpenFiles bounds the descriptors held; when reached, files at
	// their end are closed so that others can be read. Default 256.
	MaxOpenFiles int
	// ForgetAfter is how long the position of a file that no glob matches
	// any more is kept. Default 10m.
	ForgetAfter time.Duration
	// StartAtEnd makes a first start (no positions saved yet) skip what
	// the files found by the first scan already hold, as `tail -n0 -F`
	// does: reading begins after their last complete line, with their
	// header lines replayed. Files that appear later, rotations included,
	// and every start with saved positions, lose nothing.
	StartAtEnd bool
	// Logger receives warnings (throttled) and rotation notices; nil
	// discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.MaxLineBytes <= 0 {
		c.MaxLineBytes = 1 << 20
	}
	if c.FingerprintBytes <= 0 {
		c.FingerprintBytes = 1024
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 200 * time.Millisecond
	}
	if c.CommitInterval <= 0 {
		c.CommitInterval = time.Second
	}
	if c.CloseIdle <= 0 {
		c.CloseIdle = 5 * time.Second
	}
	if c.MaxOpenFiles <= 0 {
		c.MaxOpenFiles = 256
	}
	if c.ForgetAfter <= 0 {
		c.ForgetAfter = 10 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// File is one followed file. The same *File is handed to the sink for every
// line of the file, across renames, for as long as this process follows it.
type File struct {
	// Path is where the file was last seen.
	Path string
	// Value is the sink's per-file state (its parser); the tailer never
	// reads or writes it.
	Value any
}

// Line is one complete line handed to a Sink.
type Line struct {
	File *File
	// Num is the line's 1-based number in its file.
	Num int64
	// Bytes is the line without its newline. It points into the tailer's
	// buffer and is valid only until Sink.Line returns.
	Bytes []byte
	// Replay marks a header line (starting with '#') re-read from the top
	// of a file resumed mid-way after a restart, so that a parser sees the
	// header again. Nothing must be output for it.
	Replay bool
}

// Sink receives the lines. Both methods are called from the goroutine
// running Tailer.Run.
type Sink interface {
	// Line handles one line. An error stops the tailer without committing.
	Line(l *Line) error
	// Commit makes everything handed to Line so far durable and returns a
	// JSON value describing the downstream state (nil for none), saved with
	// the positions and given back to the sink's opener on restart.
	Commit() (checkpoint []byte, err error)
}

// A Drainer is a Sink that holds records back between lines (EVE netflow
// halves waiting for their partner). When the tailer stops, Drain is called
// once, before the last Commit, to write them out.
type Drainer interface {
	Drain() error
}

// A Ticker is a Sink that holds records back and wants to see time pass
// even when no line comes (to give up on what it holds once the inputs
// have been quiet long enough). Tick is called after every pass over the
// files, at least every PollInterval, with the time the pass began. It
// returns whether it handed anything downstream, so that the next commit
// saves it.
type Ticker interface {
	Tick(now time.Time) (wrote bool, err error)
}

// Stats are counters since the tailer started; safe to read from any
// goroutine.
type Stats struct {
	Files           int64 // files open now (descriptors held)
	Lines           int64 // lines delivered (replayed headers not counted)
	Bytes           int64 // bytes of delivered lines, newlines included
	LongLines       int64 // lines longer than MaxLineBytes, skipped
	Rotations       int64 // files renamed, deleted or copied away while followed
	Truncations     int64 // files truncated while followed
	LostTruncations int64 // truncations whose copy was not found among the inputs
	Commits         int64
}

// Tailer follows the configured inputs. Build it with New and call Run once.
type Tailer struct {
	cfg  Config
	sink Sink
	log  *slog.Logger
	lock *os.File // holds the positions file's lock from New to the end of Run

	files      []*state // reading order: first seen first
	checkpoint []byte
	seq        int64
	gen        int64
	deferred   map[devIno]int64 // unknown files held back one scan: gen first seen
	buf        []byte
	head       []byte
	line       Line
	dirty      bool
	lastCommit time.Time
	fdWait     bool            // a file could not be opened: MaxOpenFiles reached
	startAtEnd bool            // Config.StartAtEnd on a first start, until the first scan ends
	ignored    map[devIno]bool // compressed files: not followed
	lastWarn   map[string]time.Time
	suppressed map[string]int64

	stats struct {
		files, lines, bytes, long, rotations, truncations, lost, commits atomic.Int64
	}
}

type devIno struct{ dev, ino uint64 }

// state is what the tailer knows of one file.
type state struct {
	seq    int64
	file   *File
	id     devIno
	bound  bool // id names the file on disk that holds this position
	done   bool // deleted and read to its end: forget it
	f      *os.File
	fp     [sha256.Size]byte
	fpLen  int
	prefix []byte // the first fpLen bytes, when known

	offset int64 // start of the next undelivered line
	line   int64 // lines before offset

	skipping bool  // inside a line longer than MaxLineBytes
	skipPos  int64 // how far the long line has been scanned

	seenGen  int64     // last scan that found it at some path
	size     int64     // size at that scan
	mtime    time.Time // modification time at that scan
	lastSeen time.Time // time of that scan
	lastData time.Time // last time it grew
	replay   bool      // header lines must be replayed before offset
}

// New locks and reads the positions file (if any), then calls open with
// the checkpoint committed with those positions (nil if none) to build the
// sink. The lock (positions+".lock") is held until Run returns; a second
// process on the same positions file gets an error from New.
func New(cfg Config, open func(checkpoint []byte) (Sink, error)) (*Tailer, error) {
	cfg.setDefaults()
	if len(cfg.Inputs) == 0 {
		return nil, errors.New("tail: no inputs")
	}
	for _, in := range cfg.Inputs {
		if _, err := filepath.Match(in, ""); err != nil {
			return nil, fmt.Errorf("tail: input %q: %w", in, err)
		}
	}
	t := &Tailer{
		cfg:        cfg,
		log:        cfg.Logger,
		deferred:   map[devIno]int64{},
		ignored:    map[devIno]bool{},
		lastWarn:   map[string]time.Time{},
		suppressed: map[string]int64{},
		buf:        make([]byte, min(256<<10, cfg.MaxLineBytes+1)),
		head:       make([]byte, cfg.FingerprintBytes),
		startAtEnd: cfg.StartAtEnd,
	}
	if cfg.Positions != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.Positions), 0o755); err != nil {
			return nil, fmt.Errorf("tail: positions file: %w", err)
		}
		lock, err := lockPositions(cfg.Positions)
		if err != nil {
			return nil, err
		}
		t.lock = lock
		removeStaleTemps(cfg.Positions)
		saved, err := readPositions(cfg.Positions)
		if err != nil {
			t.unlock()
			return nil, err
		}
		now := time.Now()
		for _, p := range saved.Files {
			t.seq++
			t.files = append(t.files, &state{
				seq: t.seq, file: &File{Path: p.Path}, id: devIno{p.Dev, p.Ino}, bound: true,
				fp: p.fp, fpLen: p.FPLen, offset: p.Offset, line: p.Line,
				lastSeen: now, replay: p.Offset > 0,
			})
		}
		t.checkpoint = saved.Checkpoint
		if len(saved.Files) > 0 {
			t.startAtEnd = false // not a first start: resume, skip nothing
		}
	}
	sink, err := open(t.checkpoint)
	if err != nil {
		t.unlock()
		return nil, err
	}
	t.sink = sink
	return t, nil
}

// unlock releases the positions file for another process.
func (t *Tailer) unlock() {
	if t.lock != nil {
		_ = t.lock.Close() // closing drops the flock
		t.lock = nil
	}
}

// Stats returns the counters.
func (t *Tailer) Stats() Stats {
	return Stats{
		Files: t.stats.files.Load(), Lines: t.stats.lines.Load(), Bytes: t.stats.bytes.Load(),
		LongLines: t.stats.long.Load(), Rotations: t.stats.rotations.Load(),
		Truncations: t.stats.truncations.Load(), LostTruncations: t.stats.lost.Load(),
		Commits: t.stats.commits.Load(),
	}
}

// Run follows the inputs until ctx ends, then commits a last time and
// returns nil; or until the sink or the positions file fails, returning
// that error without committing.
func (t *Tailer) Run(ctx context.Context) (err error) {
	defer func() {
		for _, s := range t.files {
			t.closeFile(s)
		}
		t.unlock()
	}()
	// Commit before reading anything, so that the positions file always
	// holds the sink's checkpoint: a crash before the first periodic
	// commit then cuts the output back to where this run found it.
	if err := t.commit(); err != nil {
		return err
	}
	var lastScan time.Time
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := time.Now()
		if now.Sub(lastScan) >= t.cfg.PollInterval {
			t.scan(now)
			lastScan = now
		}
		progressed, err := t.readAll(ctx, now)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return t.stop()
		}
		if tk, ok := t.sink.(Ticker); ok {
			wrote, err := tk.Tick(now)
			if err != nil {
				return fmt.Errorf("tail: tick: %w", err)
			}
			t.dirty = t.dirty || wrote
		}
		if err := t.commitDue(); err != nil {
			return err
		}
		if progressed {
			continue
		}
		timer.Reset(t.cfg.PollInterval)
		select {
		case <-ctx.Done():
			return t.stop()
		case <-timer.C:
		}
	}
}

// stop drains the sink and commits a last time.
func (t *Tailer) stop() error {
	if d, ok := t.sink.(Drainer); ok {
		if err := d.Drain(); err != nil {
			return fmt.Errorf("tail: drain: %w", err)
		}
		t.dirty = true
	}
	return t.commit()
}

// commitDue commits if CommitInterval has passed since the last commit.
func (t *Tailer) commitDue() error {
	if time.Since(t.lastCommit) < t.cfg.CommitInterval {
		return nil
	}
	return t.commit()
}

// commit flushes the sink and saves the positions with its checkpoint.
func (t *Tailer) commit() error {
	t.lastCommit = time.Now()
	if !t.dirty && t.stats.commits.Load() > 0 {
		return nil
	}
	cp, err := t.sink.Commit()
	if err != nil {
		return fmt.Errorf("tail: commit: %w", err)
	}
	t.checkpoint = cp
	if t.cfg.Positions != "" {
		var p positions
		p.Checkpoint = cp
		for _, s := range t.files {
			p.Files = append(p.Files, savedFile{
				Path: s.file.Path, Dev: s.id.dev, Ino: s.id.ino, fp: s.fp, FPLen: s.fpLen,
				Offset: s.offset, Line: s.line,
			})
		}
		if err := writePositions(t.cfg.Positions, &p); err != nil {
			return err
		}
	}
	t.dirty = false
	t.stats.commits.Add(1)
	return nil
}

// candidate is a file found by a scan.
type candidate struct {
	path  string
	id    devIno
	size  int64
	mtime time.Time
}

// scan expands the globs, binds each file found to a known position or a
// new one, and forgets positions of files gone for ForgetAfter.
func (t *Tailer) scan(now time.Time) {
	t.gen++
	t.fdWait = false
	var cands []candidate
	seen := map[devIno]bool{}
	for _, in := range t.cfg.Inputs {
		paths, _ := filepath.Glob(in) // the pattern was checked in New
		sort.Strings(paths)
		for _, p := range paths {
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			id := fileID(fi)
			if seen[id] {
				continue
			}
			seen[id] = true
			cands = append(cands, candidate{path: p, id: id, size: fi.Size(), mtime: fi.ModTime()})
		}
	}

	for id := range t.ignored {
		if !seen[id] {
			delete(t.ignored, id)
		}
	}

	// Pass 1: files whose inode is known and whose head still matches.
	byID := map[devIno]*state{}
	for _, s := range t.files {
		if s.bound {
			byID[s.id] = s
		}
	}
	var unknown []candidate
	for _, c := range cands {
		s := byID[c.id]
		if s == nil {
			unknown = append(unknown, c)
			continue
		}
		// The head is checked through the open descriptor (a pread), or
		// for a closed file when its size or time changed (or on first
		// sight), so idle rotated files cost a stat per scan.
		unchanged := s.seenGen > 0 && c.size == s.size && c.mtime.Equal(s.mtime)
		if s.f != nil || !unchanged {
			head, err := t.readHead(c.path, s.f)
			if err != nil {
				continue
			}
			if !s.matches(head) {
				t.detach(s, "truncated")
				unknown = append(unknown, c)
				continue
			}
		}
		s.size, s.mtime = c.size, c.mtime
		if s.file.Path != c.path && s.seenGen > 0 {
			t.stats.rotations.Add(1)
		}
		s.file.Path = c.path
		s.seenGen, s.lastSeen = t.gen, now
		if s.f == nil && (c.size > s.offset || s.skipping) {
			t.open(s, c.path, now)
		}
	}

	// Pass 2: unknown files: a detached or saved position whose head they
	// match, or else new. New files are taken oldest first (by
	// modification time), so that files rotated while mlads was down are
	// read before their successors whatever their names.
	sort.SliceStable(unknown, func(i, j int) bool { return unknown[i].mtime.Before(unknown[j].mtime) })
	for _, c := range unknown {
		if t.ignored[c.id] {
			continue
		}
		head, err := t.readHead(c.path, nil)
		if err != nil {
			continue
		}
		if s := t.match(head, false); s != nil {
			s.id, s.bound = c.id, true
			s.file.Path = c.path
			s.seenGen, s.lastSeen = t.gen, now
			if s.prefix == nil {
				s.prefix = append([]byte(nil), head[:s.fpLen]...)
			}
			delete(t.deferred, c.id)
			t.open(s, c.path, now)
			continue
		}
		if len(head) == 0 {
			continue // nothing to know it by yet (a copy just created?)
		}
		if isCompressed(head) {
			t.ignored[c.id] = true
			t.log.Info("compressed file matches the inputs; not followed", "path", c.path)
			continue
		}
		if live := t.match(head, true); live != nil {
			// A copy of a file still followed, or one being written, or a
			// new file that starts like it (the same header): a full
			// match is a copy; a short one is looked at again for a few
			// scans, while a copy would grow past the shared bytes.
			full := len(head) == t.cfg.FingerprintBytes && live.fpLen == t.cfg.FingerprintBytes
			first, ok := t.deferred[c.id]
			if !ok {
				first = t.gen
				t.deferred[c.id] = first
			}
			if full || t.gen-first < deferScans {
				continue
			}
		}
		delete(t.deferred, c.id)
		t.seq++
		s := &state{seq: t.seq, file: &File{Path: c.path}, id: c.id, bound: true,
			seenGen: t.gen, lastSeen: now}
		s.setHead(head)
		if t.startAtEnd {
			if err := t.skipExisting(s, c.path); err != nil {
				t.warn("cannot skip to the end; reading from the beginning", "path", c.path, "err", err)
			}
		}
		t.files = append(t.files, s)
		t.open(s, c.path, now)
		t.dirty = true
	}
	t.startAtEnd = false
	for id, g := range t.deferred {
		if g < t.gen-2*deferScans {
			delete(t.deferred, id)
		}
	}

	// Forget positions of files gone for long.
	kept := t.files[:0]
	for _, s := range t.files {
		if s.done {
			t.dirty = true
			continue
		}
		if s.f == nil && s.seenGen != t.gen && now.Sub(s.lastSeen) > t.cfg.ForgetAfter {
			if !s.bound {
				t.stats.lost.Add(1)
				t.warn("file truncated and its rotated copy not found among the inputs; lines between the last read and the truncation may be lost",
					"path", s.file.Path, "offset", s.offset, "line", s.line)
			}
			t.dirty = true
			continue
		}
		kept = append(kept, s)
	}
	clear(t.files[len(kept):])
	t.files = kept
	sort.SliceStable(t.files, func(i, j int) bool { return t.files[i].seq < t.files[j].seq })
}

// match finds the position whose fingerprint head matches: among detached
// or not yet bound positions (live=false), or among positions bound to a
// file (live=true, comparing the bytes both have).
func (t *Tailer) match(head []byte, live bool) *state {
	var best *state
	for _, s := range t.files {
		if live {
			if !s.bound || s.prefix == nil {
				continue
			}
			n := min(len(head), len(s.prefix))
			if n > 0 && bytes.Equal(head[:n], s.prefix[:n]) {
				return s
			}
			continue
		}
		// Free positions: detached by a truncation, or saved and not
		// found at their inode by this process.
		free := !s.bound || s.seenGen == 0
		if !free || s.done || s.f != nil || s.fpLen > len(head) {
			continue
		}
		if sha256.Sum256(head[:s.fpLen]) != s.fp {
			continue
		}
		// Prefer the longest fingerprint, then the oldest.
		if best == nil || s.fpLen > best.fpLen {
			best = s
		}
	}
	return best
}

// readHead reads the first FingerprintBytes of a file (fewer if shorter),
// through f when open. The result is valid until the next call.
func (t *Tailer) readHead(path string, f *os.File) ([]byte, error) {
	if f == nil {
		var err error
		f, err = os.Open(path)
		if err != nil {
			return nil, err
		}
		defer func() { _ = f.Close() }() // read-only
	}
	n, err := f.ReadAt(t.head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return t.head[:n], nil
}

// matches reports whether head starts with this position's fingerprint.
func (s *state) matches(head []byte) bool {
	if len(head) < s.fpLen {
		return false
	}
	if s.prefix != nil {
		return bytes.Equal(head[:s.fpLen], s.prefix)
	}
	if sha256.Sum256(head[:s.fpLen]) != s.fp {
		return false
	}
	s.prefix = append([]byte(nil), head[:s.fpLen]...)
	return true
}

// setHead makes head (the file's first bytes, up to FingerprintBytes) the
// fingerprint.
func (s *state) setHead(head []byte) {
	s.prefix = append(s.prefix[:0], head...)
	s.fpLen = len(head)
	s.fp = sha256.Sum256(head)
}

// detach separates a position from the file it was bound to, whose head no
// longer matches: the file was truncated (copytruncate). A copy matching
// the fingerprint takes the position over at the next scan.
func (t *Tailer) detach(s *state, why string) {
	t.closeFile(s)
	s.bound = false
	s.id = devIno{}
	s.seenGen = 0
	s.lastSeen = time.Now()
	s.skipping = false
	t.stats.truncations.Add(1)
	t.dirty = true
	t.log.Info("file "+why+"; looking for its rotated copy", "path", s.file.Path, "offset", s.offset, "line", s.line)
}

func (t *Tailer) open(s *state, path string, now time.Time) {
	if s.f != nil {
		return
	}
	if t.stats.files.Load() >= int64(t.cfg.MaxOpenFiles) {
		t.fdWait = true // a file at its end gives its descriptor up
		return
	}
	f, err := os.Open(path)
	if err != nil {
		return // gone again; the next scan decides
	}
	fi, err := f.Stat()
	if err != nil || fileID(fi) != s.id {
		_ = f.Close() // read-only
		return
	}
	s.f = f
	s.lastData = now
	t.stats.files.Add(1)
}

func (t *Tailer) closeFile(s *state) {
	if s.f != nil {
		_ = s.f.Close() // read-only
		s.f = nil
		t.stats.files.Add(-1)
	}
}

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

// headUnchanged reports whether the file's first fpLen bytes are still the
// fingerprinted ones.
func (t *Tailer) headUnchanged(s *state) bool {
	if s.fpLen == 0 {
		return true
	}
	head, err := t.readHead("", s.f)
	if err != nil {
		return false
	}
	return s.matches(head)
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

// warn logs msg at most every 10 s, with the number of occurrences
// suppressed since the last time.
func (t *Tailer) warn(msg string, args ...any) {
	now := time.Now()
	if now.Sub(t.lastWarn[msg]) < 10*time.Second {
		t.suppressed[msg]++
		return
	}
	t.lastWarn[msg] = now
	if n := t.suppressed[msg]; n > 0 {
		args = append(args, "suppressed_since_last_warning", n)
	}
	t.suppressed[msg] = 0
	t.log.Warn(msg, args...)
}

func fileID(fi os.FileInfo) devIno {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return devIno{dev: uint64(st.Dev), ino: st.Ino} //nolint:unconvert // Dev is uint32 on some platforms
	}
	return devIno{}
}

// isCompressed reports whether head starts like a gzip, bzip2, xz or zstd
// file: a rotated and compressed log, which the batch readers handle and
// which is never appended to.
func isCompressed(head []byte) bool {
	for _, magic := range [][]byte{{0x1f, 0x8b}, []byte("BZh"), {0xfd, '7', 'z', 'X', 'Z', 0}, {0x28, 0xb5, 0x2f, 0xfd}} {
		if bytes.HasPrefix(head, magic) {
			return true
		}
	}
	return false
}
