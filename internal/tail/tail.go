package tail

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/mlads/mlads/internal/throttle"
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
	// NoInputsOK lets Inputs be empty: the sink has a source of its own
	// (the daemon's live capture), which it takes in at each Tick, and the
	// tailer only commits and keeps time.
	NoInputsOK bool
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
	fdWait     bool                         // a file could not be opened: MaxOpenFiles reached
	startAtEnd bool                         // Config.StartAtEnd on a first start, until the first scan ends
	ignored    map[devIno]bool              // compressed files: not followed
	warns      map[string]*throttle.Counter // by message

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
	if len(cfg.Inputs) == 0 && !cfg.NoInputsOK {
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
		warns:      map[string]*throttle.Counter{},
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

// warn logs msg at most every 10 s, with the number of occurrences
// suppressed since the last time.
func (t *Tailer) warn(msg string, args ...any) {
	c := t.warns[msg]
	if c == nil {
		c = &throttle.Counter{Interval: 10 * time.Second}
		t.warns[msg] = c
	}
	n, due := c.Due(time.Now())
	if !due {
		return
	}
	if n > 1 {
		args = append(args, "suppressed_since_last_warning", n-1)
	}
	t.log.Warn(msg, args...)
}
