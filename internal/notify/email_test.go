package notify

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/alert"
)

// syncBuffer is a log destination safe for the notifier's goroutines.
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

func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// explained is an alert with an explanation worth reading.
func explained(detector string, severity int, src string, ts time.Time) *alert.Alert {
	a := at(mk(detector, severity, src, "10.0.0.1", "sensor-1"), ts, 0)
	a.Event.ID = fmt.Sprintf("%s-%s-%d", detector, src, ts.Unix())
	a.Rule.Description = "One source probed many hosts on the same port within a window"
	a.MLADS.Summary = src + " probed 120 hosts on tcp/445 in 5 minutes"
	a.MLADS.Features = []alert.Feature{{Name: "resp_bytes", Value: 48e6, Median: 2048, Spread: 1024, Z: 12.3,
		Text: "resp_bytes 48 MB, typical 2 KB ± 1 KB"}}
	a.MLADS.Evidence = map[string]any{"hosts": 120, "port": 445}
	return a
}

// TestEmailExactlyOnce: the SMTP server (mailpit, STARTTLS required) is
// down; alerts are written and flushed, more are written and the process
// "dies" before its next flush (the notifier is abandoned). The server
// comes back, the notifier is rebuilt from its outbox, and the daemon
// hands it every alert again. Each notification arrives exactly once, and
// a further restart sends nothing.
func TestEmailExactlyOnce(t *testing.T) {
	mp := newMailpit(t)
	const password = "s3cret-smtp-pw"
	c, err := Parse("contacts.yaml", fmt.Appendf(nil, `
channels:
  email:
    host: 127.0.0.1
    port: %d
    tls: starttls
    username: mlads
    password_env: SMTP_PASSWORD
    from: "mlads <mlads@example.org>"
    ca_file: %s
contacts:
  - {name: alice, email: [alice@example.org]}
  - {name: bob, email: [bob@example.org]}
routes:
  - name: high
    match: {min_severity: high}
    notify: [alice, bob]
default_route: {notify: [alice]}
`, mp.smtpPort, mp.cert), mapEnv(map[string]string{"SMTP_PASSWORD": password}))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var logs syncBuffer
	open := func() *Notifier {
		t.Helper()
		s, err := NewSenders(c)
		if err != nil {
			t.Fatal(err)
		}
		n, err := New(c, s, Options{Outbox: dir, KibanaURL: "https://kibana.example.org:5601", RetryInitial: 20 * time.Millisecond,
			RetryMax: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	ctx := context.Background()
	var batch1, batch2 []*alert.Alert
	for i := range 4 {
		batch1 = append(batch1, explained("horizontal_scan", 2+i%2, fmt.Sprintf("10.0.0.%d", i+10), t0.Add(time.Duration(i)*time.Minute)))
		batch2 = append(batch2, explained("vertical_scan", 2+i%2, fmt.Sprintf("10.0.1.%d", i+10), t0.Add(time.Duration(10+i)*time.Minute)))
	}
	// 4 high alerts to alice and bob, 4 medium to alice
	const wantMails = 4*2 + 4

	n := open()
	n.Write(ctx, batch1)
	if _, err := n.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if sent := n.Deliver(ctx); sent != 0 {
		t.Fatalf("sent %d with the server down", sent)
	}
	if st := n.Stats(); st.ChannelsFailing["smtp"].IsZero() {
		t.Errorf("smtp not reported failing: %+v", st)
	}
	n.Write(ctx, batch2) // never flushed: the process dies here
	_ = n.box.sent.Close()

	mp.start()
	n = open()
	n.Write(ctx, append(append([]*alert.Alert{}, batch1...), batch2...)) // handed again after the crash
	if _, err := n.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if left := n.Drain(dctx); left != 0 {
		t.Fatalf("%d messages still pending: %s", left, logs.String())
	}
	n.Close()

	// a restart after everything went out sends nothing
	n = open()
	n.Write(ctx, append(append([]*alert.Alert{}, batch1...), batch2...))
	n.Flush(ctx)
	if left := n.Drain(dctx); left != 0 {
		t.Fatalf("%d pending after the second restart", left)
	}
	n.Close()

	msgs := mp.messages()
	seen := map[string]int{}
	for _, m := range msgs {
		seen[m.To[0].Address+" "+m.Subject]++
	}
	for k, v := range seen {
		if v != 1 {
			t.Errorf("%q arrived %d times", k, v)
		}
	}
	if len(msgs) != wantMails {
		t.Fatalf("mailpit got %d messages, want %d: %v", len(msgs), wantMails, seen)
	}

	// What one message says, and how it came.
	var high mpSummary
	for _, m := range msgs {
		if m.To[0].Address == "bob@example.org" && strings.Contains(m.Subject, "10.0.0.11") {
			high = m
		}
	}
	if high.ID == "" {
		t.Fatalf("no mail to bob about 10.0.0.11: %v", seen)
	}
	if want := "[mlads HIGH] horizontal_scan 10.0.0.11 on sensor-1"; high.Subject != want || high.From.Address != "mlads@example.org" {
		t.Errorf("subject %q from %q, want %q from mlads@example.org", high.Subject, high.From.Address, want)
	}
	full := mp.message(high.ID)
	for _, w := range []string{"10.0.0.11 probed 120 hosts on tcp/445 in 5 minutes", "resp_bytes 48 MB, typical 2 KB ± 1 KB",
		"hosts: 120", "Why it is unusual", "https://kibana.example.org:5601/app/discover#/"} {
		if !strings.Contains(full.Text, w) {
			t.Errorf("text body lacks %q:\n%s", w, full.Text)
		}
	}
	if !strings.Contains(full.HTML, "<li>resp_bytes 48 MB, typical 2 KB ± 1 KB (z 12.3)</li>") || !strings.Contains(full.HTML, `>Open in Kibana</a>`) {
		t.Errorf("HTML body lacks the explanation or the Kibana link:\n%s", full.HTML)
	}
	// mailpit runs with --smtp-require-starttls, so what arrived came over
	// TLS (its Received header does not say); the same server refuses a
	// plain-text client, which proves the requirement holds.
	h := mp.headers(high.ID)
	if rcv := strings.Join(h["Received"], " "); !strings.Contains(rcv, "Mailpit") {
		t.Errorf("Received %q", rcv)
	}
	plain, err := NewEmail(&EmailConfig{Host: "127.0.0.1", Port: mp.smtpPort, TLS: "none", From: "mlads@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Send(ctx, &Message{Key: "plain", To: "alice@example.org", Subject: "plain", Text: "x"}, ""); err == nil {
		t.Error("a plain-text client got through a server that requires STARTTLS")
	} else if !strings.Contains(strings.ToLower(err.Error()), "starttls") && !strings.Contains(err.Error(), "530") {
		t.Errorf("plain-text client refused, but not for STARTTLS: %v", err)
	}
	assertNoSecret(t, password, logs.String(), dir)
}

// assertNoSecret fails when secret is in the logs or any outbox file.
func assertNoSecret(t testing.TB, secret, logs, dir string) {
	t.Helper()
	if strings.Contains(logs, secret) {
		t.Errorf("a secret is in the logs:\n%s", logs)
	}
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("a secret is in %s", p)
		}
		return nil
	})
}
