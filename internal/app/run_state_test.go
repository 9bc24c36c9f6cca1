package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/zeek"
)

// stateFixture trains the office model and writes a daemon config
// following dir/logs; extra is added under run:.
func stateFixture(t *testing.T, extra string) (dir, conf, model string) {
	t.Helper()
	dir = t.TempDir()
	model, _ = trainOffice(t, dir)
	conf = followConfig(t, dir, "conn.log*", fmt.Sprintf("  model: %q\n  observer: state\n%s", model, extra))
	return dir, conf, model
}

// followingDaemon starts a daemon on the office model (stateFixture, then
// daemonChild), gives it first as the start of dir/logs/conn.log and
// waits until it has read it.
func followingDaemon(t *testing.T, extra, first string) (dir, conf, model string, child *exec.Cmd) {
	t.Helper()
	dir, conf, model = stateFixture(t, extra)
	child = daemonChild(t, dir, conf, 1)
	appendLog(t, connLog(dir), connHeader+first)
	caughtUpWithin(t, dir, 30*time.Second)
	return dir, conf, model, child
}

// daemonChild starts the daemon of conf in a child process, its log in
// dir/child-N.log; the test's cleanup kills it if the test left it running.
func daemonChild(t *testing.T, dir, conf string, n int) *exec.Cmd {
	t.Helper()
	stderr, err := os.Create(filepath.Join(dir, fmt.Sprintf("child-%d.log", n)))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunChild$")
	cmd.Env = append(os.Environ(), "MLADSTEST_CHILD_CONFIG="+conf)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// connLog is the log the daemons of these tests follow.
func connLog(dir string) string { return filepath.Join(dir, "logs", "conn.log") }

// scanAlerts returns the evidence of the vertical_scan alerts (not
// incident documents) in the daemon's output.
func scanAlerts(t *testing.T, out string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(out)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var ev []map[string]any
	b = b[:bytes.LastIndexByte(b, '\n')+1] // a line still being written is not read
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var d struct {
			Rule struct {
				Name string `json:"name"`
			} `json:"rule"`
			MLADS struct {
				Evidence map[string]any  `json:"evidence"`
				Incident json.RawMessage `json:"incident"`
			} `json:"mlads"`
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		if d.Rule.Name == "vertical_scan" && d.MLADS.Incident == nil {
			ev = append(ev, d.MLADS.Evidence)
		}
	}
	return ev
}

// TestRunKilledMidScanStillOneScan: the daemon reads the first half of a
// vertical scan (100 of 200 ports) and commits; it is then SIGKILLed, and
// a restarted daemon reads the second half. The scan window was restored
// from the state file committed with the positions, so the output holds
// one scan alert of all 200 ports; a daemon that started from the model
// alone would report the second half only (100 ports), or nothing of the
// first.
func TestRunKilledMidScanStillOneScan(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon in child processes")
	}
	lines := connLines("k", 2, time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), time.Hour, 10*time.Minute, false)
	cut := strings.Index(lines, "Cscank0100\t")
	cut = strings.LastIndexByte(lines[:cut], '\n') + 1
	dir, conf, _, first := followingDaemon(t, "", lines[:cut])
	out := filepath.Join(dir, "out.ndjson")
	if ev := scanAlerts(t, out); len(ev) != 0 {
		t.Fatalf("a scan alert before the scan's window closed: %v", ev)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	if _, err := os.Stat(filepath.Join(dir, "positions.json.state.0")); err != nil {
		if _, err := os.Stat(filepath.Join(dir, "positions.json.state.1")); err != nil {
			t.Fatalf("no state file beside the positions: %v", err)
		}
	}

	second := daemonChild(t, dir, conf, 2)
	appendLog(t, connLog(dir), lines[cut:])
	caughtUpWithin(t, dir, 30*time.Second)
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.Wait(); err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, "child-2.log"))
		t.Fatalf("second run: %v\n%s", err, b)
	}
	log2, _ := os.ReadFile(filepath.Join(dir, "child-2.log"))
	if !strings.Contains(string(log2), "detector state restored") {
		t.Errorf("the restarted daemon did not say it restored the state:\n%s", log2)
	}
	ev := scanAlerts(t, out)
	if len(ev) != 1 || ev[0]["ports_tried"] != float64(200) {
		t.Fatalf("scan alerts %v; want one of 200 ports", ev)
	}
}

// TestRunDamagedStateStartsClean: a state file that no longer matches the
// positions (a flipped byte), or is gone, is reported with its name and
// the daemon detects from the model alone, reading on; it never stops.
func TestRunDamagedStateStartsClean(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon in child processes")
	}
	day := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	dir, conf, _, first := followingDaemon(t, "", connLines("a", 2, day, 10*time.Minute, 0, false))
	stopChild(t, dir, 1, first)

	var pos struct {
		Checkpoint struct {
			State stateRef `json:"state"`
		} `json:"checkpoint"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "positions.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pos); err != nil {
		t.Fatal(err)
	}
	state := pos.Checkpoint.State.File
	sb, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	sb[len(sb)/2] ^= 0x40
	if err := os.WriteFile(state, sb, 0o600); err != nil {
		t.Fatal(err)
	}
	for n, damage := range []string{"do not match generation", "no such file"} {
		if n == 1 {
			if err := os.Remove(state); err != nil {
				t.Fatal(err)
			}
		}
		child := daemonChild(t, dir, conf, n+2)
		waitLog(t, dir, n+2, "detector state not restored; detecting from the model alone", 10*time.Second)
		waitLog(t, dir, n+2, state, time.Second)
		waitLog(t, dir, n+2, damage, time.Second)
		appendLog(t, connLog(dir), connLines(fmt.Sprint("b", n), 3, day.Add(time.Duration(n+1)*10*time.Minute), 10*time.Minute, 0, false))
		caughtUpWithin(t, dir, 30*time.Second)
		stopChild(t, dir, n+2, child)
		// the stop commits a new state of its own; damage the new one again
		if err := json.Unmarshal(mustRead(t, filepath.Join(dir, "positions.json")), &pos); err != nil {
			t.Fatal(err)
		}
		state = pos.Checkpoint.State.File
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkStateCommit measures what the detector state adds to a commit
// of the daemon: the snapshot of the pipeline and its durable write
// (atomicfile: write, fsync, rename, fsync of the folder), for a daemon
// that has read a day's office log with 30 clients, a scan and a beacon
// and then a sweep of sources (each of hosts sources one flow). ns/op is
// one state commit; bytes/source divides the state by the tracked sources.
func BenchmarkStateCommit(b *testing.B) {
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	model, _ := trainOffice(b, b.TempDir())
	m, err := detect.ReadFile(model)
	if err != nil {
		b.Fatal(err)
	}
	for _, hosts := range []int{1000, 20000} {
		b.Run(fmt.Sprint(hosts), func(b *testing.B) {
			c := config.Default()
			c.Run.Output, c.Run.Positions = filepath.Join(b.TempDir(), "out.ndjson"), filepath.Join(b.TempDir(), "positions.json")
			s := newRunSink(c.Run, nil, slog.New(slog.DiscardHandler))
			s.model = &runModel{m: m, dc: detect.DefaultConfig(), bcfg: c.Detect.Behavior, observer: "bench", ctx: context.Background()}
			if _, err := s.open(nil); err != nil {
				b.Fatal(err)
			}
			defer s.close()
			p := zeek.NewParser("bench")
			var r flow.Record
			for _, l := range strings.Split(connLines("day", 2, start.Add(24*time.Hour), 2*time.Hour, time.Hour, true), "\n") {
				if ok, _ := p.ParseLine([]byte(l), &r); ok {
					if err := s.write(&r); err != nil {
						b.Fatal(err)
					}
				}
			}
			for i := range hosts {
				r.OrigH = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
				r.TS = r.TS.Add(time.Millisecond)
				if err := s.write(&r); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := s.Commit(); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				s.state = nil // as after new flows
				if _, err := s.saveState(); err != nil {
					b.Fatal(err)
				}
			}
			st := s.model.online.Stats()
			b.ReportMetric(float64(s.stateBytes.Load())/float64(st.Behavior.Hosts), "bytes/source")
			b.ReportMetric(float64(s.stateBytes.Load()), "bytes")
		})
	}
}
