package elastic

import (
	"context"
	"fmt"
	"math/rand/v2"
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
		ReplayInterval: 200 * time.Millisecond})
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
	deadline := time.Now().Add(2 * time.Minute)
	for s.Stats().Spool.Docs > 0 && time.Now().Before(deadline) {
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
