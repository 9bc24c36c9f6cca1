package notify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/alert"
)

// killAlerts are the alerts of the kill test: the first half is flushed
// before the kill, the second half is written but not flushed.
func killAlerts() (flushed, unflushed []*alert.Alert) {
	for i := range 6 {
		flushed = append(flushed, explained("horizontal_scan", 3, fmt.Sprintf("10.2.0.%d", i), t0.Add(time.Duration(i)*time.Minute)))
		unflushed = append(unflushed, explained("syn_flood", 3, fmt.Sprintf("10.3.0.%d", i), t0.Add(time.Duration(10+i)*time.Minute)))
	}
	return flushed, unflushed
}

// TestKillRestart is the exactly-once test with a real SIGKILL: a child
// process notifies through mailpit while it is down, flushes half its
// alerts, writes the rest, and is killed. mailpit comes up; a new child
// starts on the same outbox, is handed every alert again (as the daemon
// does after a crash) and drains. Every mail arrives exactly once.
func TestKillRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	mp := newMailpit(t)
	dir := t.TempDir()
	contacts := filepath.Join(dir, "contacts.yaml")
	if err := os.WriteFile(contacts, fmt.Appendf(nil, `
channels:
  email: {host: 127.0.0.1, port: %d, from: mlads@example.org, ca_file: %s}
contacts:
  - {name: alice, email: [alice@example.org]}
  - {name: bob, email: [bob@example.org]}
default_route: {notify: [alice, bob]}
`, mp.smtpPort, mp.cert), 0o600); err != nil {
		t.Fatal(err)
	}
	child := func(phase string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.v")
		cmd.Env = append(os.Environ(), "MLADS_NOTIFY_CHILD="+phase, "MLADS_NOTIFY_CHILD_DIR="+dir)
		cmd.Stderr = os.Stderr
		return cmd
	}
	marker := filepath.Join(dir, "written")

	first := child("first")
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = first.Process.Kill()
			t.Fatal("the first child never wrote its alerts")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	if n := len(mp.messages0()); n != 0 {
		t.Fatalf("%d mails before the server was up", n)
	}

	mp.start()
	out, err := child("second").Output()
	if err != nil {
		t.Fatalf("second child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "pending 0") {
		t.Fatalf("second child did not drain:\n%s", out)
	}
	flushed, unflushed := killAlerts()
	want := 2 * (len(flushed) + len(unflushed))
	msgs := mp.messages()
	count := map[string]int{}
	for _, m := range msgs {
		count[m.To[0].Address+" "+m.Subject]++
	}
	for k, v := range count {
		if v != 1 {
			t.Errorf("%q arrived %d times", k, v)
		}
	}
	if len(msgs) != want || len(count) != want {
		t.Errorf("%d mails (%d distinct), want %d", len(msgs), len(count), want)
	}
}

// messages0 is messages for a server that may not run: none then.
func (m *mailpit) messages0() []mpSummary {
	if m.cmd == nil {
		return nil
	}
	return m.messages()
}

// TestKillChild is the child of TestKillRestart; it does nothing unless
// MLADS_NOTIFY_CHILD says which phase to play.
func TestKillChild(t *testing.T) {
	phase := os.Getenv("MLADS_NOTIFY_CHILD")
	if phase == "" {
		t.Skip("run by TestKillRestart")
	}
	dir := os.Getenv("MLADS_NOTIFY_CHILD_DIR")
	c, err := Load(filepath.Join(dir, "contacts.yaml"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSenders(c)
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(c, s, Options{Outbox: filepath.Join(dir, "outbox"), RetryInitial: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	flushed, unflushed := killAlerts()
	switch phase {
	case "first":
		n.Write(ctx, flushed)
		if _, err := n.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		n.Deliver(ctx) // the server is down
		n.Write(ctx, unflushed)
		if err := os.WriteFile(filepath.Join(dir, "written"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		for { // delivering, failing, until killed
			n.Deliver(ctx)
			time.Sleep(10 * time.Millisecond)
		}
	case "second":
		n.Write(ctx, append(flushed, unflushed...))
		if _, err := n.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		fmt.Printf("pending %d\n", n.Drain(dctx))
	}
}
