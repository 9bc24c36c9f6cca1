package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/detect"
)

// waitLog waits until the child's log dir/child-N.log holds want.
func waitLog(t *testing.T, dir string, n int, want string, within time.Duration) {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("child-%d.log", n))
	deadline := time.Now().Add(within)
	for {
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(want)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not log %q within %s; its log:\n%s", want, within, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopChild sends SIGTERM and waits for a clean exit.
func stopChild(t *testing.T, dir string, n int, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("child-%d.log", n)))
		t.Fatalf("daemon %d: %v\n%s", n, err, b)
	}
}

// TestRunHangup: SIGHUP with a broken configuration file is refused, with
// the reason in the log, and the daemon goes on reading with the old one;
// SIGHUP with a good file applies its hot keys and names the changed keys
// that need a restart.
func TestRunHangup(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon in a child process")
	}
	day := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	dir, conf, model, child := followingDaemon(t, "", connLines("a", 2, day, 10*time.Minute, 0, false))

	if err := os.WriteFile(conf, []byte("run:\n  inputs: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := child.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, dir, 1, "SIGHUP: configuration not reloaded; the running one stays in force", 10*time.Second)
	appendLog(t, connLog(dir), connLines("b", 3, day.Add(10*time.Minute), 10*time.Minute, 0, false))
	caughtUpWithin(t, dir, 30*time.Second) // still reading, on the old configuration

	// a good file: health_interval is hot, poll_interval needs a restart
	followConfig(t, dir, "conn.log*", fmt.Sprintf("  model: %q\n  observer: state\n  health_interval: 2m\n", model))
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, bytes.Replace(b, []byte("poll_interval: 20ms"), []byte("poll_interval: 30ms"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := child.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, dir, 1, "SIGHUP: configuration reloaded", 10*time.Second)
	waitLog(t, dir, 1, "applied=[run.health_interval]", time.Second)
	waitLog(t, dir, 1, "take effect only after a restart; their running values stay in force", time.Second)
	waitLog(t, dir, 1, "keys=[run.poll_interval]", time.Second)
	appendLog(t, connLog(dir), connLines("c", 4, day.Add(20*time.Minute), 10*time.Minute, 0, false))
	caughtUpWithin(t, dir, 30*time.Second)
	stopChild(t, dir, 1, child)
}

// TestRunSwitchesModel: a model file that does not load is reported and
// the running model stays; a new model written by mlads train (train
// writes atomically) is picked up without a restart; and the model
// checkpoint, with what the gated online updates taught, is written on its
// schedule beside the trained model, which it does not replace.
func TestRunSwitchesModel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon in a child process")
	}
	day := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	dir, _, model, child := followingDaemon(t, "  model_checkpoint_interval: 100ms\n", connLines("a", 2, day, 30*time.Minute, 0, false))
	waitLog(t, dir, 1, "model checkpoint written", 10*time.Second)
	learned, err := detect.ReadFile(model + ".learned")
	if err != nil {
		t.Fatal(err)
	}
	trained, err := detect.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	if sumCounts(learned.KnownCounts) <= sumCounts(trained.KnownCounts) {
		t.Errorf("the checkpoint counts %d sightings, the trained model %d: nothing learned", sumCounts(learned.KnownCounts), sumCounts(trained.KnownCounts))
	}

	// a damaged model: refused, the running one stays
	if err := os.WriteFile(model, []byte("MLADSMDL not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitLog(t, dir, 1, "new model file not loaded; the running model stays in force", 10*time.Second)
	appendLog(t, connLog(dir), connLines("b", 3, day.Add(30*time.Minute), 10*time.Minute, 0, false))
	caughtUpWithin(t, dir, 30*time.Second)

	// a new model from mlads train
	base := filepath.Join(dir, "base2.conn.log")
	if err := os.WriteFile(base, []byte(connHeader+connLines("base2", 7, day.Add(-4*time.Hour), 2*time.Hour, 0, true)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := detect.DefaultConfig()
	cfg.Trees = 8
	if _, err := Train(context.Background(), TrainOptions{Paths: []string{base}, Out: model, Detect: cfg}); err != nil {
		t.Fatal(err)
	}
	waitLog(t, dir, 1, `why="model file changed"`, 10*time.Second)
	appendLog(t, connLog(dir), connLines("c", 4, day.Add(40*time.Minute), 10*time.Minute, 0, false))
	caughtUpWithin(t, dir, 30*time.Second)
	stopChild(t, dir, 1, child)
}

func sumCounts(xs []uint32) (n int) {
	for _, x := range xs {
		n += int(x)
	}
	return n
}

// TestRunSIGTERMGraceful: SIGTERM while a log is being written, after a
// scan alert went to a contact whose mail server is down, stops the daemon
// cleanly: every flow read before the saved positions is in the flows
// output exactly once (nothing seen is lost), the undelivered mail is in
// the synced outbox for the next start, and the state file the positions
// name is whole.
func TestRunSIGTERMGraceful(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon in a child process")
	}
	dir := t.TempDir()
	flowsOut, outbox, contacts := filepath.Join(dir, "flows.ndjson"), filepath.Join(dir, "outbox"), downMailContacts(t, dir)
	_, conf, _ := stateFixture(t, fmt.Sprintf("  flows_output: %q\nnotify:\n  contacts: %q\n  outbox: %q\n  drain_timeout: 200ms\n",
		flowsOut, contacts, outbox))
	dir = filepath.Dir(conf)
	child := daemonChild(t, dir, conf, 1)
	lines := strings.SplitAfter(connLines("t", 5, time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), 8*time.Hour, 10*time.Minute, false), "\n")
	appendLog(t, connLog(dir), connHeader)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // the log grows while the daemon stops
		defer close(done)
		for i := 0; i < len(lines); i += 40 {
			select {
			case <-stop:
				return
			default:
			}
			f, err := os.OpenFile(connLog(dir), os.O_WRONLY|os.O_APPEND, 0)
			if err == nil {
				_, err = f.WriteString(strings.Join(lines[i:min(i+40, len(lines))], ""))
				err = errors.Join(err, f.Close())
			}
			if err != nil {
				t.Error(err)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	out := filepath.Join(dir, "out.ndjson")
	for deadline := time.Now().Add(30 * time.Second); len(scanAlerts(t, out)) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			close(stop)
			<-done
			t.Fatal("no scan alert within 30 s")
		}
	}
	t0 := time.Now()
	stopChild(t, dir, 1, child)
	t.Logf("stopped %s after SIGTERM", time.Since(t0).Round(time.Millisecond))
	close(stop)
	<-done

	var pos struct {
		Files []struct {
			Path   string `json:"path"`
			Offset int64  `json:"offset"`
		} `json:"files"`
		Checkpoint struct {
			State stateRef `json:"state"`
		} `json:"checkpoint"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "positions.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pos); err != nil || len(pos.Files) != 1 {
		t.Fatalf("positions file: %v\n%s", err, b)
	}
	log, err := os.ReadFile(pos.Files[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	for _, l := range strings.Split(string(log[:pos.Files[0].Offset]), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			read++
		}
	}
	fb, err := os.ReadFile(flowsOut)
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Count(fb, []byte("\n")); got != read || read == 0 {
		t.Errorf("%d flows in the flows output, %d lines before the saved position", got, read)
	}
	ref := pos.Checkpoint.State
	sb, err := os.ReadFile(ref.File)
	if err != nil {
		t.Fatalf("state file named by the positions: %v", err)
	}
	if sum := sha256.Sum256(sb); hex.EncodeToString(sum[:]) != ref.SHA256 {
		t.Errorf("state file %s does not match the positions' checksum", ref.File)
	}
	ob, err := os.ReadFile(filepath.Join(outbox, "state.json"))
	if err != nil || !bytes.Contains(ob, []byte(`"to":"alice@example.org"`)) || !bytes.Contains(ob, []byte("vertical_scan")) {
		t.Errorf("the undelivered scan mail is not in the outbox: %v %.500s", err, ob)
	}
	t.Logf("%d of %d lines read before SIGTERM, state generation %d of %d bytes", read, len(lines), ref.Gen, ref.Bytes)
}
