package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/config"
)

func exampleEnv(k string) (string, bool) {
	switch k {
	case "SMTP_PASSWORD", "TWILIO_AUTH_TOKEN", "SLACK_BOT_TOKEN":
		return "secret-" + k, true
	case "SLACK_NETOPS_WEBHOOK":
		return "http://127.0.0.1:1/services/x", true
	}
	return "", false
}

func testAlert(detector, host string, sev int, ts time.Time) *alert.Alert {
	a := &alert.Alert{Timestamp: ts, Message: detector + " by " + host}
	a.Event.Severity, a.Event.Start, a.Event.End, a.Event.ID = sev, ts, ts, detector+host
	a.Rule = alert.Rule{ID: "mlads.behavior." + detector, Name: detector, Category: "behavior"}
	a.Source = &alert.Endpoint{IP: host}
	a.Observer.Name = "sensor-1"
	a.MLADS.Detector, a.MLADS.Host, a.MLADS.Summary = detector, host, detector+" by "+host
	return a
}

// TestContactsCheckDryRun routes alerts in a JSON-lines file through the
// shipped contacts file and prints who would get what.
func TestContactsCheckDryRun(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	noon := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC) // 13:00 in Berlin, 07:00 in New York
	for _, a := range []*alert.Alert{
		testAlert("horizontal_scan", "10.1.2.3", 3, noon),
		testAlert("beacon", "192.0.2.7", 4, noon.Add(time.Minute)),
	} {
		if err := enc.Encode(a); err != nil {
			t.Fatal(err)
		}
	}
	alerts := filepath.Join(dir, "alerts.jsonl")
	if err := os.WriteFile(alerts, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := ContactsCheck(ContactsCheckOptions{Path: filepath.Join("..", "..", "configs", "contacts.yaml"), DryRun: alerts, Out: &out, Getenv: exampleEnv})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"5 people, 3 routes and a default",
		"high     alert           email smtp    alice@example.org              [mlads HIGH] horizontal_scan 10.1.2.3 on sensor-1 (route scans-and-floods)",
		"high     alert           email smtp    bob@example.org",
		"critical alert           sms   twilio  +15551230001                   [mlads CRITICAL] beacon 192.0.2.7 on sensor-1 (route critical-page)",
		"critical alert           sms   gateway +15551230002",
		"2 alerts: 8 messages", // the critical beacon matches only the paging route: no default after a match
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run lacks %q:\n%s", want, out.String())
		}
	}
}

// downMailContacts writes dir/contacts.yaml: alice, by email through a
// mail server that is not there (127.0.0.1:1), so messages wait in the
// outbox; it returns the file's path.
func downMailContacts(tb testing.TB, dir string) string {
	tb.Helper()
	p := filepath.Join(dir, "contacts.yaml")
	if err := os.WriteFile(p, []byte(`
channels:
  email: {host: 127.0.0.1, port: 1, tls: implicit, from: mlads@example.org}
contacts:
  - {name: alice, email: [alice@example.org]}
default_route: {notify: [alice]}
`), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestNotifySink: no sink without notify.contacts; with one, alerts are
// queued, flushed to the outbox, and what cannot go out by Close stays
// there.
func TestNotifySink(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Default()
	if s, c, err := NotifySink(cfg, log); s != nil || c != nil || err != nil {
		t.Fatalf("without notify.contacts: %v %v %v", s, c, err)
	}
	dir := t.TempDir()
	contacts := downMailContacts(t, dir)
	cfg.Notify.Contacts, cfg.Notify.Outbox, cfg.Notify.DrainTimeout = contacts, filepath.Join(dir, "outbox"), 200*time.Millisecond
	s, c, err := NotifySink(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Write(ctx, []*alert.Alert{testAlert("beacon", "10.0.0.1", 3, time.Now())}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "outbox", "state.json"))
	if err != nil || !bytes.Contains(b, []byte(`"to":"alice@example.org"`)) {
		t.Fatalf("the undelivered mail is not in the outbox: %v %s", err, b)
	}

	// a bad contacts file stops the start, naming file, line and key
	if err := os.WriteFile(contacts, []byte("contacts:\n  - name: alice\n    mail: [a@example.org]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := NotifySink(cfg, log); err == nil || !strings.Contains(err.Error(), "contacts.yaml:3: contacts[0].mail: unknown key") {
		t.Fatalf("bad file: %v", err)
	}
}

func TestRulesCheck(t *testing.T) {
	var out bytes.Buffer
	if err := RulesCheck([]string{filepath.Join("..", "..", "rules")}, time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "vuln-scanner             suppress secops@example.org           EXPIRED 2027-02-01T00:00:00Z") ||
		!strings.Contains(out.String(), "3 rules, 1 expired") {
		t.Errorf("rules check:\n%s", out.String())
	}
}
