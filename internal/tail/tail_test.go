package tail

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// memSink records the lines it is given.
type memSink struct {
	mu      sync.Mutex
	lines   []string // "path-base:num:text"
	replays []string
	commits int
}

func (m *memSink) Line(l *Line) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l.Replay {
		m.replays = append(m.replays, string(l.Bytes))
		return nil
	}
	m.lines = append(m.lines, string(l.Bytes))
	return nil
}

func (m *memSink) Commit() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.commits++
	return fmt.Appendf(nil, "%d", len(m.lines)), nil
}

func (m *memSink) got() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.lines)
}

// follow starts a tailer on cfg; stop ends it and returns the error of Run.
func follow(tb testing.TB, cfg Config, sink Sink) (t *Tailer, stop func() error) {
	tb.Helper()
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 5 * time.Millisecond
	}
	if cfg.CommitInterval == 0 {
		cfg.CommitInterval = 20 * time.Millisecond
	}
	t, err := New(cfg, func([]byte) (Sink, error) { return sink, nil })
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- t.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	tb.Cleanup(func() { _ = stop() })
	return t, stop
}

// waitLines waits until the sink holds want lines, and fails with what it
// holds if that takes more than 5 s.
func waitLines(tb testing.TB, sink *memSink, want int) []string {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := sink.got()
		if len(got) >= want {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("got %d lines, want %d: %q", len(got), want, got)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func appendFile(tb testing.TB, path, s string) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// numbered returns lines prefix-from .. prefix-to-1, each with a newline,
// padded so that a file of them passes the fingerprint size quickly.
func numbered(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s-%06d %s\n", prefix, i, strings.Repeat("x", 40))
	}
	return b.String()
}

func wantNumbered(prefix string, from, to int) []string {
	return strings.Split(strings.TrimSuffix(numbered(prefix, from, to), "\n"), "\n")
}

func checkLines(tb testing.TB, got, want []string) {
	tb.Helper()
	if slices.Equal(got, want) {
		return
	}
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			tb.Fatalf("line %d: -got %q +want %q (got %d lines, want %d)", i, g, w, len(got), len(want))
		}
	}
}

func TestPartialLineWaitsForNewline(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	appendFile(t, p, "one\ntw")
	sink := &memSink{}
	_, stop := follow(t, Config{Inputs: []string{p}}, sink)
	waitLines(t, sink, 1)
	time.Sleep(30 * time.Millisecond)
	if got := sink.got(); len(got) != 1 {
		t.Fatalf("half a line was delivered: %q", got)
	}
	appendFile(t, p, "o\nthree\n")
	checkLines(t, waitLines(t, sink, 3), []string{"one", "two", "three"})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestLongLinesSkippedAndCounted(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.log")
	long := strings.Repeat("L", 5000)
	// One long line whole, and one whose end arrives later.
	appendFile(t, p, "a\n"+long+"\nb\n"+long[:3000])
	sink := &memSink{}
	var logBuf strings.Builder
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	tl, stop := follow(t, Config{Inputs: []string{p}, MaxLineBytes: 1000, Logger: log}, sink)
	waitLines(t, sink, 2)
	appendFile(t, p, long[3000:]+"\nc\n")
	checkLines(t, waitLines(t, sink, 3), []string{"a", "b", "c"})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := tl.Stats().LongLines; got != 2 {
		t.Errorf("LongLines = %d, want 2", got)
	}
	// The first is reported with its file and line; the second falls in
	// the same 10 s and is only counted.
	if want := fmt.Sprintf("path=%s line=2 max_line_bytes=1000", p); !strings.Contains(logBuf.String(), want) {
		t.Errorf("log does not report %q:\n%s", want, logBuf.String())
	}
}

func TestRotation(t *testing.T) {
	tests := []struct {
		name   string
		glob   string
		rotate func(tb testing.TB, p string)
	}{
		{"rename+create", "a.log*", func(tb testing.TB, p string) {
			if err := os.Rename(p, p+".1"); err != nil {
				tb.Fatal(err)
			}
		}},
		{"rename out of the glob", "a.log", func(tb testing.TB, p string) {
			if err := os.Rename(p, p+".1"); err != nil {
				tb.Fatal(err)
			}
		}},
		// The new content is as long as what had been read before the
		// rotation: only the head tells the file was rewritten.
		{"copytruncate", "a.log*", func(tb testing.TB, p string) {
			b, err := os.ReadFile(p)
			if err != nil {
				tb.Fatal(err)
			}
			if err := os.WriteFile(p+".1", b, 0o644); err != nil {
				tb.Fatal(err)
			}
			if err := os.Truncate(p, 0); err != nil {
				tb.Fatal(err)
			}
		}},
		{"deletion", "a.log", func(tb testing.TB, p string) {
			if err := os.Remove(p); err != nil {
				tb.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "a.log")
			appendFile(t, p, numbered("old", 0, 100))
			sink := &memSink{}
			tl, stop := follow(t, Config{Inputs: []string{filepath.Join(dir, tc.glob)}}, sink)
			waitLines(t, sink, 50)
			// Lines written just before the rotation are read from the
			// rotated file.
			appendFile(t, p, numbered("old", 100, 120))
			tc.rotate(t, p)
			appendFile(t, p, numbered("new", 0, 100))
			want := append(wantNumbered("old", 0, 120), wantNumbered("new", 0, 100)...)
			checkLines(t, waitLines(t, sink, len(want)), want)
			time.Sleep(50 * time.Millisecond)
			checkLines(t, sink.got(), want)
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if st := tl.Stats(); st.LostTruncations != 0 {
				t.Errorf("stats: %+v", st)
			}
		})
	}
}

// TestRestart stops and starts the tailer with the same positions file,
// rotating in between, and checks no line is lost or read twice.
func TestRestart(t *testing.T) {
	tests := []struct {
		name      string
		whileDown func(tb testing.TB, p string)
	}{
		{"nothing", func(testing.TB, string) {}},
		{"rename+create", func(tb testing.TB, p string) {
			if err := os.Rename(p, p+".1"); err != nil {
				tb.Fatal(err)
			}
		}},
		{"copytruncate", func(tb testing.TB, p string) {
			b, err := os.ReadFile(p)
			if err != nil {
				tb.Fatal(err)
			}
			if err := os.WriteFile(p+".1", b, 0o644); err != nil {
				tb.Fatal(err)
			}
			if err := os.Truncate(p, 0); err != nil {
				tb.Fatal(err)
			}
		}},
		// A move across filesystems: a new inode, the same bytes. Only
		// the fingerprint tells it is the file already half read.
		{"copied and removed", func(tb testing.TB, p string) {
			b, err := os.ReadFile(p)
			if err != nil {
				tb.Fatal(err)
			}
			if err := os.WriteFile(p+".1", b, 0o644); err != nil {
				tb.Fatal(err)
			}
			if err := os.Remove(p); err != nil {
				tb.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "a.log")
			pos := filepath.Join(dir, "positions.json")
			cfg := Config{Inputs: []string{p + "*"}, Positions: pos}
			appendFile(t, p, "#fields\tx\n#types\tstring\n"+numbered("a", 0, 100))
			sink := &memSink{}
			_, stop := follow(t, cfg, sink)
			waitLines(t, sink, 102)
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			appendFile(t, p, numbered("a", 100, 150)) // written while down, before the rotation
			tc.whileDown(t, p)
			appendFile(t, p, numbered("b", 0, 10))

			var checkpoint string
			sink2 := &memSink{}
			tl, err := New(cfg, func(cp []byte) (Sink, error) { checkpoint = string(cp); return sink2, nil })
			if err != nil {
				t.Fatal(err)
			}
			if checkpoint != "102" {
				t.Errorf("checkpoint = %q, want the one committed last (102)", checkpoint)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- tl.Run(ctx) }()
			want := append(wantNumbered("a", 100, 150), wantNumbered("b", 0, 10)...)
			waitLines(t, sink2, len(want))
			time.Sleep(50 * time.Millisecond) // nothing more may come
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			checkLines(t, sink2.got(), want)
			if tc.name == "nothing" && !slices.Equal(sink2.replays, []string{"#fields\tx", "#types\tstring"}) {
				t.Errorf("header replayed: %q", sink2.replays)
			}
		})
	}
}

func TestGlobPicksUpNewFiles(t *testing.T) {
	dir := t.TempDir()
	appendFile(t, filepath.Join(dir, "a.log"), "a1\n")
	sink := &memSink{}
	_, stop := follow(t, Config{Inputs: []string{filepath.Join(dir, "*.log")}}, sink)
	waitLines(t, sink, 1)
	appendFile(t, filepath.Join(dir, "b.log"), "b1\n")
	appendFile(t, filepath.Join(dir, "b.txt"), "not matched\n")
	waitLines(t, sink, 2)
	appendFile(t, filepath.Join(dir, "a.log"), "a2\n")
	got := waitLines(t, sink, 3)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	checkLines(t, got, []string{"a1", "a2", "b1"})
}

func TestPositionsFileIsReplacedAtomically(t *testing.T) {
	dir := t.TempDir()
	pos := filepath.Join(dir, "positions.json")
	p := &positions{Files: []savedFile{{Path: "x", Offset: 7, Line: 1, FPLen: 3}}}
	if err := writePositions(pos, p); err != nil {
		t.Fatal(err)
	}
	got, err := readPositions(pos)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Files) != 1 || got.Files[0].Offset != 7 || got.Files[0].FPLen != 3 {
		t.Errorf("read back %+v", got)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	if err := os.WriteFile(pos, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readPositions(pos); err == nil || !strings.Contains(err.Error(), pos) {
		t.Errorf("corrupt positions file: err = %v, want one naming the file", err)
	}
}

// stepper drives a tailer by hand, one scan and read at a time, so a test
// can put a scan at any point of a rotation.
type stepper struct {
	tb   testing.TB
	t    *Tailer
	sink *memSink
	gen  time.Time
}

func newStepper(tb testing.TB, cfg Config) *stepper {
	tb.Helper()
	sink := &memSink{}
	t, err := New(cfg, func([]byte) (Sink, error) { return sink, nil })
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		for _, s := range t.files {
			t.closeFile(s)
		}
	})
	return &stepper{tb: tb, t: t, sink: sink, gen: time.Now()}
}

func (s *stepper) step() {
	s.tb.Helper()
	s.gen = s.gen.Add(time.Second)
	s.t.scan(s.gen)
	for {
		progressed, err := s.t.readAll(context.Background(), s.gen)
		if err != nil {
			s.tb.Fatal(err)
		}
		if !progressed {
			return
		}
	}
}

// TestCopyTruncateSeenMidway puts a scan at each point of a copytruncate:
// the copy empty, half written, whole; the original truncated, rewritten.
func TestCopyTruncateSeenMidway(t *testing.T) {
	for _, stage := range []string{"empty", "half", "whole", "none"} {
		t.Run(stage, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "a.log")
			appendFile(t, p, numbered("old", 0, 100))
			st := newStepper(t, Config{Inputs: []string{p + "*"}})
			st.step()
			appendFile(t, p, numbered("old", 100, 120))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			switch stage {
			case "empty":
				appendFile(t, p+".1", "")
				st.step()
				appendFile(t, p+".1", string(b))
			case "half":
				appendFile(t, p+".1", string(b[:500]))
				st.step()
				appendFile(t, p+".1", string(b[500:]))
			case "whole":
				appendFile(t, p+".1", string(b))
				st.step()
			case "none":
				appendFile(t, p+".1", string(b))
			}
			if err := os.Truncate(p, 0); err != nil {
				t.Fatal(err)
			}
			appendFile(t, p, numbered("new", 0, 30))
			for range 2 * deferScans {
				st.step()
			}
			want := append(wantNumbered("old", 0, 120), wantNumbered("new", 0, 30)...)
			got := st.sink.got()
			slices.Sort(got)
			slices.Sort(want)
			checkLines(t, got, want)
		})
	}
}

// TestManyFilesFewDescriptors follows more files than MaxOpenFiles allows.
func TestManyFilesFewDescriptors(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for i := range 6 {
		prefix := fmt.Sprintf("f%d", i)
		appendFile(t, filepath.Join(dir, prefix+".log"), numbered(prefix, 0, 30))
		want = append(want, wantNumbered(prefix, 0, 30)...)
	}
	sink := &memSink{}
	tl, stop := follow(t, Config{Inputs: []string{filepath.Join(dir, "*.log")}, MaxOpenFiles: 2, CloseIdle: time.Hour}, sink)
	got := waitLines(t, sink, len(want))
	if n := tl.Stats().Files; n > 2 {
		t.Errorf("%d files open, MaxOpenFiles is 2", n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	checkLines(t, got, want)
}

// TestCompressedFilesIgnored: a rotated and gzipped log matching the glob
// is not read as text.
func TestCompressedFilesIgnored(t *testing.T) {
	dir := t.TempDir()
	appendFile(t, filepath.Join(dir, "conn.log.2.gz"), "\x1f\x8b\x08\x00binary\nstuff\n")
	appendFile(t, filepath.Join(dir, "conn.log"), "a\n")
	sink := &memSink{}
	_, stop := follow(t, Config{Inputs: []string{filepath.Join(dir, "conn.log*")}}, sink)
	waitLines(t, sink, 1)
	time.Sleep(30 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkLines(t, sink.got(), []string{"a"})
}

func TestStaleTempPositionsRemoved(t *testing.T) {
	dir := t.TempDir()
	pos := filepath.Join(dir, "positions.json")
	stale := tempPrefix(pos) + "12345"
	appendFile(t, stale, "{half")
	appendFile(t, filepath.Join(dir, "a.log"), "a\n")
	tl, err := New(Config{Inputs: []string{filepath.Join(dir, "a.log")}, Positions: pos},
		func([]byte) (Sink, error) { return &memSink{}, nil })
	if err != nil {
		t.Fatal(err)
	}
	tl.unlock()
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("%s left in place", stale)
	}
}

func TestPositionsFileLocked(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Inputs: []string{filepath.Join(dir, "*.log")}, Positions: filepath.Join(dir, "positions.json")}
	sink := &memSink{}
	_, stop := follow(t, cfg, sink)
	_, err := New(cfg, func([]byte) (Sink, error) { t.Error("second sink opened"); return sink, nil })
	if err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("second tailer on the same positions file: err = %v", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	_, stop2 := follow(t, cfg, sink) // free again once Run returned
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
}

// numSink records "num:text" of each line, replayed ones marked "R".
type numSink struct {
	mu    sync.Mutex
	lines []string
}

func (n *numSink) Line(l *Line) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	mark := ""
	if l.Replay {
		mark = "R"
	}
	n.lines = append(n.lines, fmt.Sprintf("%s%d:%s", mark, l.Num, l.Bytes))
	return nil
}

func (n *numSink) Commit() ([]byte, error) { return nil, nil }

func (n *numSink) got() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.lines)
}

// TestStartAtEnd: on a first start, the files already there are read from
// their last complete line on, with their headers replayed and true line
// numbers; a file that appears later is read whole; and a restart with
// saved positions skips nothing written while it was down.
func TestStartAtEnd(t *testing.T) {
	dir := t.TempDir()
	conn := filepath.Join(dir, "conn.log")
	positions := filepath.Join(dir, "pos.json")
	appendFile(t, conn, "#separator \\x09\n#fields\tts\tuid\nold-1\nold-2\npartial")
	cfg := Config{Inputs: []string{filepath.Join(dir, "*.log")}, Positions: positions, StartAtEnd: true}

	run := func(until func(got []string) bool) []string {
		t.Helper()
		sink := &numSink{}
		_, stop := follow(t, cfg, sink)
		deadline := time.Now().Add(5 * time.Second)
		for !until(sink.got()) {
			if time.Now().After(deadline) {
				t.Fatalf("lines so far: %q", sink.got())
			}
			time.Sleep(2 * time.Millisecond)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		return sink.got()
	}
	has := func(want string) func([]string) bool {
		return func(got []string) bool { return slices.Contains(got, want) }
	}

	appendedOnce := false
	got := run(func(got []string) bool {
		if !appendedOnce && slices.Contains(got, "R2:#fields\tts\tuid") {
			appendedOnce = true
			appendFile(t, conn, "-end\nnew-1\n")
			appendFile(t, filepath.Join(dir, "later.log"), "later-1\n")
		}
		return slices.Contains(got, "6:new-1") && slices.Contains(got, "1:later-1")
	})
	// old-1 and old-2 (lines 3 and 4) are skipped; the partial line 5 was not complete.
	want := []string{"R1:#separator \\x09", "R2:#fields\tts\tuid", "5:partial-end", "6:new-1", "1:later-1"}
	if !slices.Equal(got, want) {
		t.Errorf("first start: got %q\nwant %q", got, want)
	}

	// Written while stopped: a restart resumes, it does not skip.
	appendFile(t, conn, "while-down\n")
	got = run(has("7:while-down"))
	if want := []string{"R1:#separator \\x09", "R2:#fields\tts\tuid", "7:while-down"}; !slices.Equal(got, want) {
		t.Errorf("restart: got %q\nwant %q", got, want)
	}
}

// TestNewFilesOldestFirst: files found in one scan are read oldest first
// by modification time, not by name, so a file rotated while mlads was
// down ("eve.json" renamed to "eve.json.1") is finished before the newer
// "eve.json" that sorts before it.
func TestNewFilesOldestFirst(t *testing.T) {
	dir := t.TempDir()
	older, newer := filepath.Join(dir, "eve.json.1"), filepath.Join(dir, "eve.json")
	appendFile(t, older, numbered("old", 0, 30))
	appendFile(t, newer, numbered("new", 0, 30))
	base := time.Now().Add(-time.Hour)
	if err := os.Chtimes(older, base, base); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(newer, base.Add(time.Minute), base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	follow(t, Config{Inputs: []string{filepath.Join(dir, "eve.json*")}}, sink)
	checkLines(t, waitLines(t, sink, 60), append(wantNumbered("old", 0, 30), wantNumbered("new", 0, 30)...))
}

// tickSink is a memSink that is a Ticker: it reports a write on its
// third tick.
type tickSink struct {
	memSink
	ticks int
}

func (s *tickSink) Tick(time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ticks++
	return s.ticks == 3, nil
}

// TestTickerTicksWhileIdle: a Ticker sink is ticked while no line comes,
// and what it reports writing is committed.
func TestTickerTicksWhileIdle(t *testing.T) {
	dir := t.TempDir()
	appendFile(t, filepath.Join(dir, "a.log"), "one\n")
	sink := &tickSink{}
	_, stop := follow(t, Config{Inputs: []string{filepath.Join(dir, "*.log")}, CommitInterval: time.Millisecond}, sink)
	waitLines(t, &sink.memSink, 1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		sink.mu.Lock()
		ticks, commits := sink.ticks, sink.commits
		sink.mu.Unlock()
		if ticks >= 5 {
			// Commits: the one at start, the one after line "one", and the
			// one after tick 3 reported a write; idle ticks commit nothing.
			if commits != 3 {
				t.Errorf("%d commits after %d ticks, want 3", commits, ticks)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d ticks in 5 s", ticks)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
