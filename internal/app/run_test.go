package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/eve"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/shareddata"
	"github.com/mlads/mlads/internal/tail"
	"github.com/mlads/mlads/internal/zeek"
)

const connHeader = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n" +
	"#open\t2026-11-25-16-00-00\n" +
	"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n" +
	"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n"

// appendConnLine appends a conn.log TSV line whose uid is C followed by i
// in nine digits.
func appendConnLine(b []byte, i int) []byte {
	b = strconv.AppendInt(b, 1764086400+int64(i/1000), 10)
	b = append(b, '.')
	b = fmt.Appendf(b, "%06d", i%1000*1000)
	b = fmt.Appendf(b, "\tC%09d\t10.0.%d.%d\t%d\t192.168.1.1\t443\ttcp\tssl\t1.500000\t100\t200\tSF\tT\tF\t0\tShADadFf\t10\t600\t12\t900\t-\n",
		i, i>>8&255, i&255, 1024+i%60000)
	return b
}

// daemonConfig writes a configuration for a daemon following
// dir/logs/conn.log*.
func daemonConfig(tb testing.TB, dir string, extra string) string {
	tb.Helper()
	return followConfig(tb, dir, "conn.log*", extra)
}

// followConfig writes a configuration for a daemon following the files of
// dir/logs that match glob, writing dir/out.ndjson. The metrics server is
// off: daemons of tests running side by side would want the same port.
func followConfig(tb testing.TB, dir, glob, extra string) string {
	tb.Helper()
	p := filepath.Join(dir, "mlads.yaml")
	y := fmt.Sprintf(`log:
  level: warn
run:
  inputs: [%q]
  output: %q
  positions: %q
  poll_interval: 20ms
  commit_interval: 100ms
  stats_interval: 0s
  metrics_listen: ""
%s`, filepath.Join(dir, "logs", glob), filepath.Join(dir, "out.ndjson"), filepath.Join(dir, "positions.json"), extra)
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestRunChild is the daemon process of the kill tests (killRestart): the
// test binary run again with MLADSTEST_CHILD_CONFIG set. It stops on
// SIGTERM.
func TestRunChild(t *testing.T) {
	path := os.Getenv("MLADSTEST_CHILD_CONFIG")
	if path == "" {
		t.Skip("helper process of TestRunKillRestart")
	}
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	level := new(slog.LevelVar)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	d := NewDaemon(cfg, os.Stdout, log)
	d.SetReload(Reload{Signals: hup, Load: func() (config.Config, error) { return config.Load(path, os.Environ()) }, Level: level})
	if err := d.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// connWriter writes conn.log lines at full speed into dir, rotating every
// few thousand lines, by rename+create and by copytruncate in turn.
func connWriter(dir string, n int, rng *rand.Rand) (rotations int, err error) {
	p := filepath.Join(dir, "conn.log")
	open := func() (*os.File, *bufio.Writer, error) {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, err
		}
		w := bufio.NewWriterSize(f, 64<<10)
		_, err = w.WriteString(connHeader)
		return f, w, err
	}
	f, w, err := open()
	if err != nil {
		return 0, err
	}
	var line []byte
	next := 2000 + rng.IntN(4000)
	for i := range n {
		line = appendConnLine(line[:0], i)
		if _, err := w.Write(line); err != nil {
			return rotations, err
		}
		if i+1 < next || i+1 == n {
			continue
		}
		next = i + 1 + 2000 + rng.IntN(4000)
		if err := w.Flush(); err != nil {
			return rotations, err
		}
		rotations++
		rotated := fmt.Sprintf("%s.%06d", p, rotations)
		if rotations%2 == 1 { // rename+create
			if err := f.Close(); err != nil {
				return rotations, err
			}
			if err := os.Rename(p, rotated); err != nil {
				return rotations, err
			}
			if f, w, err = open(); err != nil {
				return rotations, err
			}
			continue
		}
		// copytruncate
		src, err := os.Open(p)
		if err != nil {
			return rotations, err
		}
		dst, err := os.Create(rotated)
		if err != nil {
			return rotations, err
		}
		_, err = io.Copy(dst, src)
		src.Close()
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return rotations, err
		}
		if err := f.Truncate(0); err != nil {
			return rotations, err
		}
		if _, err := w.WriteString(connHeader); err != nil {
			return rotations, err
		}
	}
	if err := w.Flush(); err != nil {
		return rotations, err
	}
	return rotations, f.Close()
}

// caughtUp reports whether the positions file has every file in logs read
// to its end.
func caughtUp(tb testing.TB, positions, logs string) bool {
	tb.Helper()
	b, err := os.ReadFile(positions)
	if err != nil {
		return false
	}
	var p struct {
		Files []struct {
			Path   string `json:"path"`
			Offset int64  `json:"offset"`
		} `json:"files"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		tb.Fatalf("positions file: %v", err)
	}
	at := map[string]int64{}
	for _, f := range p.Files {
		at[f.Path] = f.Offset
	}
	ents, err := os.ReadDir(logs)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			return false
		}
		if off, ok := at[filepath.Join(logs, e.Name())]; !ok || off != fi.Size() {
			return false
		}
	}
	return true
}

// countUIDs counts each uid C%09d in the output, and the flows.
func countUIDs(tb testing.TB, path string, n int) (seen []uint8, flows int) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	seen = make([]uint8, n)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	key := []byte(`"uid":"C`)
	for sc.Scan() {
		line := sc.Bytes()
		flows++
		i := bytes.Index(line, key)
		if i < 0 || len(line) < i+len(key)+9 {
			tb.Fatalf("output line %d has no uid: %q", flows, line)
		}
		u, err := strconv.Atoi(string(line[i+len(key) : i+len(key)+9]))
		if err != nil || u >= n {
			tb.Fatalf("output line %d: bad uid: %q", flows, line)
		}
		if seen[u] < 255 {
			seen[u]++
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return seen, flows
}

// TestRunKillRestart is the no-loss, no-duplicate test: a writer appends
// conn.log lines at full speed, rotating both ways every few thousand
// lines, while the daemon is killed with SIGKILL at random moments and
// restarted; at the end every uid came out exactly once.
// MLADSTEST_KILL_LINES changes the number of lines (default 1,000,000).
func TestRunKillRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("long: writes and follows a million lines")
	}
	n := 1_000_000
	if s := os.Getenv("MLADSTEST_KILL_LINES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d lines", seed, n)
	rng := rand.New(rand.NewPCG(seed, 1))

	dir := t.TempDir()
	cfg := daemonConfig(t, dir, "")
	wdone := make(chan error, 1)
	var rotations int // set before wdone is sent on
	go func() {
		var err error
		rotations, err = connWriter(filepath.Join(dir, "logs"), n, rand.New(rand.NewPCG(seed, 2)))
		wdone <- err
	}()
	runs := killRestart(t, dir, cfg, wdone, rng)
	t.Logf("%d lines written, %d rotations", n, rotations)

	seen, flows := countUIDs(t, filepath.Join(dir, "out.ndjson"), n)
	var missing, dup []int
	for i, c := range seen {
		switch {
		case c == 0:
			missing = append(missing, i)
		case c > 1:
			dup = append(dup, i)
		}
	}
	if len(missing) > 0 || len(dup) > 0 || flows != n {
		t.Errorf("%d flows for %d uids: %d missing (first %v), %d duplicated (first %v)",
			flows, n, len(missing), missing[:min(len(missing), 5)], len(dup), dup[:min(len(dup), 5)])
		showChildLogs(t, dir, runs)
	}
}

// killRestart is the loop of the kill tests: it runs the daemon of cfg in a
// child process (TestRunChild) again and again, killing each run with
// SIGKILL after a random 30-430 ms, until the writer is done (wdone gives
// its error) and at least 10 runs were killed; it then lets one last run
// read dir/logs to its end and stops it with SIGTERM. It returns the
// number of runs; the stderr of run i is dir/child-<i>.log.
func killRestart(t *testing.T, dir, cfg string, wdone <-chan error, rng *rand.Rand) (runs int) {
	t.Helper()
	const minKills = 10
	logs := filepath.Join(dir, "logs")
	start := time.Now()
	startChild := func() (*exec.Cmd, string) {
		runs++
		errPath := filepath.Join(dir, fmt.Sprintf("child-%02d.log", runs))
		stderr, err := os.Create(errPath)
		if err != nil {
			t.Fatal(err)
		}
		defer stderr.Close()
		cmd := exec.Command(os.Args[0], "-test.run=^TestRunChild$")
		cmd.Env = append(os.Environ(), "MLADSTEST_CHILD_CONFIG="+cfg)
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, errPath
	}
	showLog := func(path string) {
		b, _ := os.ReadFile(path)
		t.Logf("%s:\n%s", filepath.Base(path), b)
	}

	written, kills := false, 0
	for {
		cmd, errPath := startChild()
		time.Sleep(time.Duration(30+rng.IntN(400)) * time.Millisecond)
		if !written {
			select {
			case err := <-wdone:
				if err != nil {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
					t.Fatalf("writer: %v", err)
				}
				written = true
			default:
			}
		}
		if written && kills >= minKills {
			// The last run: wait until everything is read, then stop it.
			deadline := time.Now().Add(2 * time.Minute)
			for !caughtUp(t, filepath.Join(dir, "positions.json"), logs) {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
					showLog(errPath)
					t.Fatal("the daemon did not catch up within 2 minutes")
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				showLog(errPath)
				t.Fatalf("final run: %v", err)
			}
			break
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			showLog(errPath)
			t.Fatalf("run %d ended before it was killed: %v", runs, err)
		}
		kills++
	}
	t.Logf("%d runs, %d killed with SIGKILL, caught up after %s", runs, kills, time.Since(start).Round(time.Millisecond))
	return runs
}

// showChildLogs logs the stderr of the runs of killRestart.
func showChildLogs(t *testing.T, dir string, runs int) {
	t.Helper()
	for i := 1; i <= runs; i++ {
		b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("child-%02d.log", i)))
		t.Logf("child-%02d.log:\n%s", i, b)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runDaemon runs the daemon on cfg until the output holds want lines (or
// stdout does, for output "-"), then stops it and returns its log.
func runDaemon(tb testing.TB, cfg config.Run, stdout *syncBuffer, want int) string {
	tb.Helper()
	var logBuf syncBuffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewDaemon(config.Config{Run: cfg}, stdout, log).Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if cfg.Output == "-" {
			n = strings.Count(stdout.String(), "\n")
		} else {
			b, _ := os.ReadFile(cfg.Output)
			n = bytes.Count(b, []byte("\n"))
		}
		if n >= want {
			break
		}
		select {
		case err := <-done:
			tb.Fatalf("daemon stopped early: %v\n%s", err, logBuf.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			tb.Fatalf("output has %d lines, want %d; log:\n%s", n, want, logBuf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // nothing more may come
	cancel()
	if err := <-done; err != nil {
		tb.Fatalf("daemon: %v\n%s", err, logBuf.String())
	}
	return logBuf.String()
}

// TestRunBadLinesAndRestart follows a conn.log with bad lines among good
// ones, stops, appends, and starts again: the good lines come out once,
// the bad ones are counted and reported with file and line, and the
// header is read again for the lines after the restart.
func TestRunBadLinesAndRestart(t *testing.T) {
	dir := t.TempDir()
	c, err := config.Load(daemonConfig(t, dir, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "logs", "conn.log")
	b := []byte(connHeader)                                                                           // lines 1-8
	b = appendConnLine(b, 1)                                                                          // 9
	b = append(b, "only\tthree\tcolumns\n"...)                                                        // 10
	b = appendConnLine(b, 2)                                                                          // 11
	b = append(b, bytes.Replace(appendConnLine(nil, 99), []byte("\t600\t"), []byte("\tsix\t"), 1)...) // 12
	b = append(b, "\x00\x01\x02\xff garbage\n"...)                                                    // 13
	b = appendConnLine(b, 3)                                                                          // 14
	if err := os.WriteFile(logPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	log := runDaemon(t, c.Run, nil, 3)
	for _, want := range []string{logPath + " line 10", "bad_lines=3", "flows=3"} {
		if !strings.Contains(log, want) {
			t.Errorf("log does not mention %q:\n%s", want, log)
		}
	}

	appendLog(t, logPath, string(appendConnLine(nil, 4)))
	log = runDaemon(t, c.Run, nil, 4)
	if !strings.Contains(log, "bad_lines=0") {
		t.Errorf("the restart read bad lines again (or the header was not replayed):\n%s", log)
	}
	seen, flows := countUIDs(t, c.Run.Output, 100)
	if flows != 4 || seen[1] != 1 || seen[2] != 1 || seen[3] != 1 || seen[4] != 1 {
		t.Errorf("output: %d flows, uids 1-4 seen %v", flows, seen[1:5])
	}
}

func TestRunToStdout(t *testing.T) {
	dir := t.TempDir()
	c, err := config.Load(daemonConfig(t, dir, ""), []string{"MLADS_RUN_OUTPUT=-"})
	if err != nil {
		t.Fatal(err)
	}
	b := appendConnLine([]byte(connHeader), 7)
	if err := os.WriteFile(filepath.Join(dir, "logs", "conn.log"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	runDaemon(t, c.Run, &out, 1)
	if !strings.Contains(out.String(), `"uid":"C000000007"`) {
		t.Errorf("stdout: %s", out.String())
	}
}

// TestRunAgreesWithBatch follows real sensor logs from ../shared/data and
// checks the daemon writes exactly the flows the batch readers give.
func TestRunAgreesWithBatch(t *testing.T) {
	data := shareddata.Dir(t)
	tests := []struct {
		name, path string
		read       func(context.Context, string, func(*flow.Record) error) error
	}{
		{"eve", "suricata-eve/menna-islam-zeus/eve.json", func(ctx context.Context, p string, emit func(*flow.Record) error) error {
			_, err := eve.ReadFile(ctx, p, emit)
			return err
		}},
		{"zeek-json", "stratosphere-labeled/security-datasets-for-testing/002-zeek-scenario-port-scanning/conn.log", func(ctx context.Context, p string, emit func(*flow.Record) error) error {
			_, err := zeek.ReadFile(ctx, p, emit)
			return err
		}},
		{"zeek-tsv", "zeek-ics-pairs/S7-1200-timer-sync/conn.log", func(ctx context.Context, p string, emit func(*flow.Record) error) error {
			_, err := zeek.ReadFile(ctx, p, emit)
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(data, tc.path)
			b, err := os.ReadFile(src)
			if err != nil {
				t.Skipf("shared data not available: %v", err)
			}
			var want []string
			err = tc.read(context.Background(), src, func(r *flow.Record) error {
				want = append(want, string(flow.AppendJSON(nil, r)))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			c, err := config.Load(daemonConfig(t, dir, ""), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "logs", "conn.log"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			runDaemon(t, c.Run, nil, len(want))
			out, err := os.ReadFile(c.Run.Output)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			if len(got) != len(want) {
				t.Fatalf("daemon wrote %d flows, the batch reader gives %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("flow %d:\n-got  %s\n+want %s", i, got[i], want[i])
				}
			}
		})
	}
}

// TestRunDrainsNetflowHalves: an EVE netflow half still waiting for its
// partner when the daemon stops is written out one-sided, not dropped.
func TestRunDrainsNetflowHalves(t *testing.T) {
	half := `{"timestamp":"2016-05-27T06:56:11.900923+0000","flow_id":7,"event_type":"netflow","src_ip":"10.16.1.11","src_port":46652,"dest_ip":"82.165.177.154","dest_port":80,"proto":"TCP","app_proto":"http","netflow":{"pkts":6,"bytes":425,"start":"2016-05-27T06:56:11.304062+0000","end":"2016-05-27T06:56:11.900923+0000","age":0},"tcp":{"tcp_flags":"1b","syn":true,"fin":true,"psh":true,"ack":true}}` + "\n"
	dir := t.TempDir()
	c, err := config.Load(daemonConfig(t, dir, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "logs", "conn.log"), []byte(half), 0o644); err != nil {
		t.Fatal(err)
	}
	var logBuf syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := NewDaemon(c, nil, slog.New(slog.NewTextHandler(&logBuf, nil))).Run(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(c.Run.Output)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"id.orig_h":"10.16.1.11"`)) || bytes.Count(out, []byte("\n")) != 1 {
		t.Errorf("output: %s\nlog:\n%s", out, logBuf.String())
	}
}

// TestRunStartAtEnd: with run.start_at: end, a first start writes only the
// flows logged after it; the header of the file is still read (the lines
// after it parse), and a restart resumes without skipping.
func TestRunStartAtEnd(t *testing.T) {
	dir := t.TempDir()
	c, err := config.Load(daemonConfig(t, dir, ""), []string{"MLADS_RUN_START_AT=end"})
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "logs", "conn.log")
	if err := os.WriteFile(logPath, appendConnLine(appendConnLine([]byte(connHeader), 1), 2), 0o644); err != nil {
		t.Fatal(err)
	}
	appendLine := func(i int) { appendLog(t, logPath, string(appendConnLine(nil, i))) }

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewDaemon(c, nil, slog.New(slog.DiscardHandler)).Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for { // once the positions name the log, its existing lines are behind them
		// (the commit made before the first scan names no file yet)
		if b, err := os.ReadFile(c.Run.Positions); err == nil && strings.Contains(string(b), "conn.log") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no positions file after 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	appendLine(3)
	for {
		if _, flows := countUIDs(t, c.Run.Output, 10); flows >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the appended line did not come out in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	appendLine(4) // while stopped: the restart resumes, it skips nothing
	runDaemon(t, c.Run, nil, 2)
	seen, flows := countUIDs(t, c.Run.Output, 10)
	if flows != 2 || seen[1] != 0 || seen[2] != 0 || seen[3] != 1 || seen[4] != 1 {
		t.Errorf("output: %d flows, uids 1-4 seen %v; want only 3 and 4, once each", flows, seen[1:5])
	}
}

// TestRunTickFlushesQuietHalves: a netflow half waits while EVE lines keep
// coming, and is written one-sided once no EVE line has come for
// eve.IdleTimeout of wall-clock time (event time alone would hold it until
// traffic resumed). Tick is driven with made-up times.
func TestRunTickFlushesQuietHalves(t *testing.T) {
	dir := t.TempDir()
	c, err := config.Load(daemonConfig(t, dir, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newRunSink(c.Run, nil, slog.New(slog.DiscardHandler))
	if _, err := s.open(nil); err != nil {
		t.Fatal(err)
	}
	defer s.close()
	file := &tail.File{Path: "eve.json"}
	end := time.Date(2026, 11, 25, 16, 0, 0, 0, time.UTC)
	line := func(num int64, id uint64) {
		t.Helper()
		b := appendNetflowHalf(nil, id, true, end, 3)
		if err := s.Line(&tail.Line{File: file, Num: num, Bytes: b[:len(b)-1]}); err != nil {
			t.Fatal(err)
		}
	}
	tick := func(at time.Duration, want bool) {
		t.Helper()
		wrote, err := s.Tick(end.Add(at))
		if err != nil || wrote != want {
			t.Fatalf("Tick at +%s: wrote %v (%v), want %v; %d halves waiting", at, wrote, err, want, s.pairer.Pending())
		}
	}
	line(1, 1)
	tick(0, false)
	tick(eve.IdleTimeout, false) // a quiet minute, not more
	line(2, 2)                   // EVE lines again: the minute starts over
	tick(eve.IdleTimeout+time.Second, false)
	tick(2*eve.IdleTimeout+time.Second, false)
	tick(2*eve.IdleTimeout+2*time.Second, true) // both halves, one-sided
	if got := s.flows.Load(); got != 2 || s.pairer.Pending() != 0 {
		t.Errorf("%d flows written, %d halves waiting; want 2 and 0", got, s.pairer.Pending())
	}
	tick(3*eve.IdleTimeout, false) // nothing left to write
}
