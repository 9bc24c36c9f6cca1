package elastic

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The writer process of TestKillRestartNoLoss, run as this test binary
// with MLADS_TEST_WRITER set. Like the daemon, it writes a batch, flushes,
// and only then commits how far it got; a restart resumes after the last
// commit, so batches after it are written again.
const (
	envWriter   = "MLADS_TEST_WRITER"
	writerDocs  = 100_000
	writerBatch = 1000
)

func TestWriterProcess(t *testing.T) {
	if os.Getenv(envWriter) == "" {
		t.Skip("the writer process of TestKillRestartNoLoss")
	}
	url, dir := os.Getenv("MLADS_TEST_URL"), os.Getenv(envWriter)
	c, err := New(Options{URL: url, Namespace: "killrestart", Retention: "30d", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSink(c, SinkOptions{SpoolDir: filepath.Join(dir, "spool"), DeadLetter: filepath.Join(dir, "dead"),
		RetryInitial: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond, RetryTimeout: 2 * time.Second,
		ReplayInterval: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		t.Fatal(err)
	}
	progress := filepath.Join(dir, "committed")
	next := 0
	if b, err := os.ReadFile(progress); err == nil {
		next, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	docs := testAlerts(nil, writerDocs)
	ctx := context.Background()
	for next < len(docs) {
		end := min(next+writerBatch, len(docs))
		if _, err := s.Write(ctx, docs[next:end]); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		next = end
		if err := commit(progress, next); err != nil {
			t.Fatal(err)
		}
	}
	// Done reading; wait for the spool to drain, as a daemon would keep
	// doing.
	deadline := time.Now().Add(5 * time.Minute)
	for last := time.Now(); s.Stats().Spool.Docs > 0 && time.Now().Before(deadline); {
		if time.Since(last) > 10*time.Second {
			fmt.Fprintf(os.Stderr, "writer draining: %+v\n", s.Stats())
			last = time.Now()
		}
		time.Sleep(200 * time.Millisecond)
		if _, err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "writer: %+v\n", s.Stats())
	if n := s.Stats().Spool.Docs; n > 0 {
		t.Fatalf("%d documents still spooled", n)
	}
}

// commit saves n atomically, like the daemon's positions file.
func commit(path string, n int) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, n); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// TestKillRestartNoLoss writes 100 k alerts (and their incidents) from a
// child process while the cluster goes away in the middle of the run and
// comes back later, kills the writer with SIGKILL once while the cluster
// is away (documents in the spool, some half-written), restarts it, and
// checks that every alert is stored exactly once, counted by _id, and
// every incident at its latest version.
func TestKillRestartNoLoss(t *testing.T) {
	direct := testClient(t, "killrestart")
	resetNamespace(t, direct)
	p := newFaultProxy(t)
	dir := t.TempDir()
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWriterProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), envWriter+"="+dir, "MLADS_TEST_URL="+p.srv.URL)
		out, err := os.OpenFile(filepath.Join(dir, "writer.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	committed := func() int {
		b, _ := os.ReadFile(filepath.Join(dir, "committed"))
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(3 * time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(dir, "writer.log"))
				t.Fatalf("timed out waiting for %s; writer log:\n%s", what, log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))

	cmd := start()
	// The cluster goes away a quarter to a half into the run.
	at := writerDocs/4 + rng.IntN(writerDocs/4)
	waitFor("progress", func() bool { return committed() >= at })
	p.set(func(p *faultProxy) { p.down = true })
	downAt := committed()
	// SIGKILL while documents are being spooled.
	waitFor("spooling", func() bool { return committed() >= downAt+5*writerBatch+rng.IntN(10*writerBatch) })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killedAt := committed()
	if st, err := ReadSpoolStatus(filepath.Join(dir, "spool"), 1<<30); err != nil || st.Docs == 0 {
		t.Fatalf("nothing spooled when the writer was killed: %+v %v", st, err)
	} else {
		t.Logf("killed with %d documents in the spool", st.Docs)
	}
	cmd = start()
	waitFor("more spooling", func() bool { return committed() >= killedAt+3*writerBatch })
	p.set(func(p *faultProxy) { p.down = false })
	if err := cmd.Wait(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "writer.log"))
		t.Fatalf("writer: %v\n%s", err, log)
	}
	docs := testAlerts(t, writerDocs)
	t.Logf("cluster away after %d, writer killed after %d of %d documents (%d alerts and their incident versions)",
		downAt, killedAt, len(docs), writerDocs)
	checkExactlyOnce(t, direct, docs)
	checkIncidentsLatest(t, direct, docs)
}

// TestEngineStopRestartNoLoss is TestKillRestartNoLoss with the engine
// itself killed (SIGKILL) and started again instead of a proxy resetting
// connections: a node of its own, from the esnode build in $ESNODE_WORK
// (.ci/run sets it), on a data folder that survives the restart.
func TestEngineStopRestartNoLoss(t *testing.T) {
	work := os.Getenv("ESNODE_WORK")
	if work == "" {
		t.Skip("ESNODE_WORK is unset: this test starts and stops a node of its own from an esnode build (.ci/run sets it)")
	}
	if _, err := os.Stat(filepath.Join(work, "target", "classpath.txt")); err != nil {
		t.Skipf("no esnode build in ESNODE_WORK=%s: %v", work, err)
	}
	dir := t.TempDir()
	home := filepath.Join(dir, "es-home")
	port := freePort(t)
	var node *exec.Cmd
	startNode := func(clean bool) string {
		ready := filepath.Join(dir, "ready")
		_ = os.Remove(ready)
		args := []string{"--port", strconv.Itoa(port), "--home", home, "--ready-file", ready}
		if clean {
			args = append(args, "--clean")
		}
		node = exec.Command(filepath.Join(work, "run-esnode.sh"), args...)
		node.Dir = work
		logf, err := os.OpenFile(filepath.Join(dir, "es.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		node.Stdout, node.Stderr = logf, logf
		if err := node.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(3 * time.Minute)
		for {
			if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
				return strings.TrimSpace(string(b))
			}
			if time.Now().After(deadline) {
				t.Fatal("the node did not start; see es.log")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	stopNode := func(sig syscall.Signal) {
		_ = node.Process.Signal(sig)
		done := make(chan struct{})
		go func() { _ = node.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = node.Process.Kill()
			<-done
		}
	}
	url := startNode(true)
	t.Cleanup(func() { stopNode(syscall.SIGTERM) })
	t.Setenv("ES_URL", url) // for the checks' helpers
	c, err := New(Options{URL: url, Namespace: "killrestart", Retention: "30d"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Setup(context.Background(), false, os.Stderr); err != nil {
		t.Fatal(err)
	}

	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWriterProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), envWriter+"="+dir, "MLADS_TEST_URL="+url)
		out, err := os.OpenFile(filepath.Join(dir, "writer.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	committed := func() int {
		b, _ := os.ReadFile(filepath.Join(dir, "committed"))
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(5 * time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(dir, "writer.log"))
				t.Fatalf("timed out waiting for %s; writer log:\n%s", what, log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	cmd := start()
	// Stopped late in the run, so that CI does not spend minutes on the
	// replay: tens of thousands of documents still pass through the spool.
	at := writerDocs*7/10 + rng.IntN(writerDocs/10)
	waitFor("progress", func() bool { return committed() >= at })
	// A crash, not a shutdown: what the node acknowledged is in its
	// translog, and the writer sees the connections refused at once.
	stopNode(syscall.SIGKILL)
	stoppedAt := committed()
	// The writer may finish reading while the node shuts down; it then
	// waits for the spool to drain, and is killed there.
	total := len(testAlerts(nil, writerDocs))
	waitFor("spooling", func() bool { return committed() >= min(stoppedAt+5*writerBatch, total) })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killedAt := committed()
	if st, err := ReadSpoolStatus(filepath.Join(dir, "spool"), 1<<30); err != nil || st.Docs == 0 {
		t.Fatalf("nothing spooled when the writer was killed: %+v %v", st, err)
	} else {
		t.Logf("writer killed with %d documents in the spool", st.Docs)
	}
	cmd = start()
	waitFor("more spooling", func() bool { return committed() >= min(killedAt+3*writerBatch, total) })
	startNode(false)
	if err := cmd.Wait(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "writer.log"))
		t.Fatalf("writer: %v\n%s", err, log)
	}
	docs := testAlerts(t, writerDocs)
	t.Logf("engine stopped after %d, writer killed after %d of %d documents", stoppedAt, killedAt, len(docs))
	checkExactlyOnce(t, c, docs)
	checkIncidentsLatest(t, c, docs)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
