package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/eve"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/input"
	"github.com/mlads/mlads/internal/tail"
	"github.com/mlads/mlads/internal/zeek"
)

// Daemon is `mlads run`: it follows the configured logs and writes every
// flow read from them as a JSON line to the output, until its context ends.
// Each file's format is told from its first line (input.DetectBytes):
// Suricata EVE, else Zeek conn.log (TSV by its headers, CSV, or JSON).
//
//	tail.Tailer ──Line──▶ per-file parser ──▶ JSON lines (output file or stdout)
//	     ▲                                        │
//	     └───────── Commit: flush, fsync, then positions + output length
//
// Everything runs in the tailer's goroutine, so a commit sees exactly the
// lines handed over so far; a second goroutine only logs counters. When the
// output is a file, its committed length is saved with the positions and
// the output is cut back to it on start: a crash at any moment neither loses
// nor repeats a flow (see package tail).
//
// EVE netflow halves wait for their partner in one eve.Pairer shared by all
// the EVE files followed (a rotation may fall between two halves). The
// halves waiting at a commit, as their lines, and the Pairer's event-time
// clock are part of the checkpoint, and are put back into the Pairer on
// start before any line is read: the lines after the saved positions then
// pair as they would have without the crash. A half whose partner never
// comes is written one-sided once event time has moved a minute past it
// (eve.IdleTimeout), once no EVE line has come for a minute of wall-clock
// time (Tick), when 16,384 newer halves wait, or when the daemon stops. A pair split by a rotation merges, as the tailer reads files in
// the order they were written: the new files of one scan (several
// rotations while the daemon was down) oldest first by modification time.
// Only files whose times tie within the filesystem's timestamp granularity
// (a few ms) can be read out of order; a pair split between those comes
// out as two one-sided flows, or merged with its sides swapped.
type Daemon struct {
	cfg     config.Run
	stdout  io.Writer
	log     *slog.Logger
	tailLog *slog.Logger
}

// NewDaemon returns the daemon for cfg. stdout is where output "-" goes.
func NewDaemon(cfg config.Run, stdout io.Writer, log *slog.Logger) *Daemon {
	return &Daemon{cfg: cfg, stdout: stdout,
		log: log.With("component", "run"), tailLog: log.With("component", "tail")}
}

// Run follows the inputs until ctx ends, then drains, flushes and saves the
// positions and returns nil; or returns the first output or positions
// error.
func (d *Daemon) Run(ctx context.Context) (err error) {
	s := newRunSink(d.cfg, d.stdout, d.log)
	t, err := tail.New(tail.Config{
		Inputs:         d.cfg.Inputs,
		Positions:      d.cfg.Positions,
		MaxLineBytes:   d.cfg.MaxLineBytes,
		PollInterval:   d.cfg.PollInterval,
		CommitInterval: d.cfg.CommitInterval,
		StartAtEnd:     d.cfg.StartAt == config.StartAtEnd,
		Logger:         d.tailLog,
	}, s.open)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	defer func() {
		if cerr := s.close(); err == nil && cerr != nil {
			err = fmt.Errorf("run: %w", cerr)
		}
	}()
	d.log.Info("following", "inputs", d.cfg.Inputs, "output", d.cfg.Output, "positions", d.cfg.Positions)

	var wg sync.WaitGroup
	statsDone := make(chan struct{})
	if d.cfg.StatsInterval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(d.cfg.StatsInterval)
			defer tick.Stop()
			for {
				select {
				case <-statsDone:
					return
				case <-tick.C:
					d.logStats("stats", t, s)
				}
			}
		}()
	}
	err = t.Run(ctx)
	close(statsDone)
	wg.Wait()
	d.logStats("stopped", t, s)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}

func (d *Daemon) logStats(msg string, t *tail.Tailer, s *runSink) {
	st := t.Stats()
	d.log.Info(msg, "files", st.Files, "lines", st.Lines, "bytes", st.Bytes,
		"flows", s.flows.Load(), "bad_lines", s.bad.Load(), "skipped_lines", s.skipped.Load(),
		"netflow_halves_waiting", s.waiting.Load(),
		"long_lines", st.LongLines, "rotations", st.Rotations, "truncations", st.Truncations,
		"lost_truncations", st.LostTruncations, "commits", st.Commits)
}

// checkpoint is what the daemon commits with the positions: the output
// file and its length (none for stdout), and the EVE netflow halves waiting
// for their partner (absent before any netflow was read, and in the
// checkpoints of versions that did not save them).
type checkpoint struct {
	Output  string          `json:"output"`
	Offset  int64           `json:"offset"`
	Netflow eve.PairerState `json:"netflow,omitzero"`
}

// lineParser turns one log line into a record: zeek.Parser (TSV and JSON)
// or eve.Parser.
type lineParser interface {
	ParseLine(line []byte, r *flow.Record) (ok bool, err error)
	SetLineNumber(n int64)
}

// runFile is the sink's state for one followed file.
type runFile struct {
	p    lineParser
	eve  bool // p is an eve.Parser of the sink's Pairer
	skip bool // not a conn log or a capture: lines counted, not parsed
}

// runSink parses lines and writes flows; it is the tailer's tail.Sink.
type runSink struct {
	cfg    config.Run
	stdout io.Writer
	log    *slog.Logger

	f    *os.File // nil for stdout
	path string   // absolute output path
	w    *bufio.Writer
	off  int64 // bytes written to f, buffered ones included
	rec  flow.Record
	buf  []byte

	pairer *eve.Pairer // netflow halves of all EVE files, committed with the positions

	eveLines      int64     // EVE lines handed over, for Tick
	eveLinesSeen  int64     // eveLines at the last Tick that saw it change
	eveQuietSince time.Time // when that was

	flows, bad, skipped atomic.Int64
	waiting             atomic.Int64 // netflow halves in the last checkpoint
	warned              time.Time
	badSince            int64
}

// newRunSink returns the sink for cfg; open must be called before use.
func newRunSink(cfg config.Run, stdout io.Writer, log *slog.Logger) *runSink {
	return &runSink{cfg: cfg, stdout: stdout, log: log, pairer: eve.NewPairer()}
}

// open puts the committed netflow halves back into the Pairer, opens the
// output and cuts it back to the committed length: the bytes after it
// belong to lines after the saved positions, read again.
func (s *runSink) open(cp []byte) (tail.Sink, error) {
	var c checkpoint
	if len(cp) > 0 {
		if err := json.Unmarshal(cp, &c); err != nil {
			return nil, fmt.Errorf("positions file %s: checkpoint %.200s: %w", s.cfg.Positions, cp, err)
		}
	}
	if err := s.pairer.Restore(c.Netflow); err != nil {
		return nil, fmt.Errorf("positions file %s: checkpoint: netflow halves: %w", s.cfg.Positions, err)
	}
	if n := s.pairer.Pending(); n > 0 {
		s.log.Info("EVE netflow halves waiting for their partner restored from the positions file", "halves", n)
	}
	if s.cfg.Output == "-" {
		s.w = bufio.NewWriterSize(s.stdout, 256<<10)
		return s, nil
	}
	abs, err := filepath.Abs(s.cfg.Output)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", s.cfg.Output, err)
	}
	s.path = abs
	f, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
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
	case c.Output != abs:
		if size > 0 {
			s.log.Info("output has no committed length in the positions file; appending", "output", abs, "bytes", size)
		}
	case c.Offset < size:
		if err := f.Truncate(c.Offset); err != nil {
			_ = f.Close() // the first error is the one to report
			return nil, fmt.Errorf("output: cut %s back to the committed %d bytes: %w", abs, c.Offset, err)
		}
		s.log.Info("output cut back to its committed length; the lines after the saved positions are read again",
			"output", abs, "dropped_bytes", size-c.Offset)
		size = c.Offset
	case c.Offset > size:
		s.log.Warn("output is shorter than at the last commit (truncated or replaced by someone else); appending",
			"output", abs, "committed", c.Offset, "bytes", size)
	}
	s.f, s.off = f, size
	s.w = bufio.NewWriterSize(f, 256<<10)
	return s, nil
}

func (s *runSink) close() error {
	if s.f == nil {
		return nil
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	return nil
}

// Line parses one line and writes its flow, if any. Bad lines are counted
// and reported (throttled); they never stop the daemon.
func (s *runSink) Line(l *tail.Line) error {
	rf, _ := l.File.Value.(*runFile)
	if rf == nil {
		rf = s.newFile(l)
		l.File.Value = rf
	}
	if rf.skip {
		if !l.Replay {
			s.skipped.Add(1)
		}
		return nil
	}
	rf.p.SetLineNumber(l.Num - 1)
	ok, err := rf.p.ParseLine(l.Bytes, &s.rec)
	if err != nil {
		if errors.Is(err, zeek.ErrNotConnLog) {
			rf.skip = true
			s.log.Warn("not a conn log; its lines are skipped", "path", l.File.Path, "err", err)
			return nil
		}
		if !l.Replay {
			s.bad.Add(1)
			s.warnBad(err)
		}
		return nil
	}
	if ok && !l.Replay {
		if err := s.write(&s.rec); err != nil {
			return err
		}
	}
	if rf.eve {
		s.eveLines++
		return s.pairer.FlushIdle(s.write)
	}
	return nil
}

// write writes one flow as a JSON line.
func (s *runSink) write(r *flow.Record) error {
	s.buf = flow.AppendJSON(s.buf[:0], r)
	s.buf = append(s.buf, '\n')
	n, err := s.w.Write(s.buf)
	s.off += int64(n)
	if err != nil {
		return fmt.Errorf("output %s: %w", s.cfg.Output, err)
	}
	s.flows.Add(1)
	return nil
}

// Drain writes the EVE netflow halves still waiting for their partner, each
// as a one-sided flow, when the daemon stops (tail.Drainer).
func (s *runSink) Drain() error { return s.pairer.Flush(s.write) }

// Tick writes out the netflow halves still waiting, one-sided, once no EVE
// line has come for eve.IdleTimeout of wall-clock time (tail.Ticker).
// Suricata writes both halves of a flow together, so after a quiet minute
// none of them has a partner coming; event time alone, which only moves
// with new halves, would hold them until traffic resumes.
func (s *runSink) Tick(now time.Time) (wrote bool, err error) {
	if s.eveLines != s.eveLinesSeen || s.eveQuietSince.IsZero() {
		s.eveLinesSeen, s.eveQuietSince = s.eveLines, now
		return false, nil
	}
	if s.pairer.Pending() == 0 || now.Sub(s.eveQuietSince) <= eve.IdleTimeout {
		return false, nil
	}
	before := s.flows.Load()
	err = s.pairer.Flush(s.write)
	return s.flows.Load() > before, err
}

// newFile picks the parser for a file from its first line, with
// input.DetectBytes: EVE, or Zeek (TSV, CSV or JSON; also the fallback, so
// that a file nobody recognises gets its bad lines reported). Captures are
// not followed.
func (s *runSink) newFile(l *tail.Line) *runFile {
	switch f := input.DetectBytes(l.Bytes); f {
	case input.EVE:
		return &runFile{p: s.pairer.NewParser(l.File.Path), eve: true}
	case input.Pcap, input.Pcapng:
		s.log.Warn("a capture matches the inputs; captures are read by `mlads flows`, not followed", "path", l.File.Path, "format", f)
		return &runFile{skip: true}
	}
	return &runFile{p: zeek.NewParser(l.File.Path)}
}

// warnBad reports a bad line at most every 10 s, with how many were not
// reported since.
func (s *runSink) warnBad(err error) {
	s.badSince++
	now := time.Now()
	if now.Sub(s.warned) < 10*time.Second {
		return
	}
	s.log.Warn("bad line skipped", "err", err, "bad_lines_since_last_warning", s.badSince, "bad_lines", s.bad.Load())
	s.warned, s.badSince = now, 0
}

// Commit flushes and syncs the output and returns its length with the
// netflow halves waiting; for stdout, only the halves (if any).
func (s *runSink) Commit() ([]byte, error) {
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("output %s: %w", s.cfg.Output, err)
	}
	c := checkpoint{Netflow: s.pairer.State()}
	s.waiting.Store(int64(len(c.Netflow.Held)))
	if s.f != nil {
		if err := s.f.Sync(); err != nil {
			return nil, fmt.Errorf("output %s: sync: %w", s.path, err)
		}
		c.Output, c.Offset = s.path, s.off
	} else if c.Netflow.IsZero() {
		return nil, nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return b, nil
}
