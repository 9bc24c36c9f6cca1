package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/alert"
)

// fakeEnv gives every environment variable a made-up value.
func fakeEnv(k string) (string, bool) { return "value-of-" + k, true }

func noEnv(string) (string, bool) { return "", false }

// TestExampleContacts loads the shipped configs/contacts.yaml.
func TestExampleContacts(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "configs", "contacts.yaml"), fakeEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) != 3 || c.Default == nil || c.Email == nil || c.Twilio == nil || c.Gateway == nil || c.Slack == nil {
		t.Fatalf("example contacts incomplete: %+v", c)
	}
	if got := names(c.People["alice"], c.Routes[0].People...); !slices.Equal(got, []string{"soc", "alice", "bob"}) {
		t.Errorf("critical-page people = %v", got)
	}
	if c.People["bob"].SMSVia != "gateway" || c.People["alice"].SMSVia != "twilio" {
		t.Errorf("sms_via: alice %q bob %q", c.People["alice"].SMSVia, c.People["bob"].SMSVia)
	}
}

func names(_ *Contact, cs ...*Contact) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// TestBadContacts loads each testdata/contacts/*.bad.yaml and checks the
// exact error: file, line, key and problem.
func TestBadContacts(t *testing.T) {
	want := map[string]string{
		"unknown-key.bad.yaml":     `unknown-key.bad.yaml:7: contacts[0].emial: unknown key`,
		"bad-cidr.bad.yaml":        `bad-cidr.bad.yaml:11: routes[0].match.src[1]: "192.168.1.0/16" has host bits set (did you mean 192.168.0.0/16?)`,
		"unknown-contact.bad.yaml": `unknown-contact.bad.yaml:11: routes[0].notify[1]: no contact or group named "bobb"`,
		"missing-secret.bad.yaml":  `missing-secret.bad.yaml:5: channels.email.password_env: environment variable TEST_UNSET_SMTP_PASSWORD is not set`,
		"bad-timezone.bad.yaml":    `bad-timezone.bad.yaml:7: schedules.nights.timezone: "Europe/Berlln" is not a time zone (an IANA name: Europe/Berlin, UTC)`,
		"bad-severity.bad.yaml":    `bad-severity.bad.yaml:10: routes[0].match.min_severity: "urgent" must be low, medium, high or critical`,
		"bad-phone.bad.yaml":       `bad-phone.bad.yaml:10: contacts[0].phone[0]: "555-1234" is not an E.164 phone number (+15551234567)`,
		"no-default.bad.yaml":      `no-default.bad.yaml:1: default_route: missing: alerts that no route matches need a default route`,
		"bad-duration.bad.yaml":    "bad-duration.bad.yaml:10: default_route.digest: cannot unmarshal !!str `hourly` into time.Duration",
		"group-cycle.bad.yaml":     `group-cycle.bad.yaml:14: default_route.notify: group "a" contains itself (a → b → a)`,
		"not-yaml.bad.yaml":        `not-yaml.bad.yaml:2: did not find expected ',' or ']'`, // where yaml.v3 places it
		"quiet-hours.bad.yaml":     `quiet-hours.bad.yaml:10: schedules.nights.quiet_hours[0].to: "7:00" is not a time of day (HH:MM, 24:00 for midnight)`,
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "contacts", "*.bad.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(want) {
		t.Errorf("found %d bad contacts files, the test knows %d: keep them in step", len(files), len(want))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := Load(f, noEnv)
			if err == nil {
				t.Fatal("loaded without error")
			}
			w, ok := want[filepath.Base(f)]
			if !ok {
				t.Fatalf("no expected error for %s; got %v", f, err)
			}
			// exactly one problem, exactly this one
			if got := strings.TrimPrefix(err.Error(), "contacts: "+filepath.Dir(f)+"/"); got != w {
				t.Errorf("error:\n-got  %s\n+want %s", got, w)
			}
		})
	}
}

const routingContacts = `
channels:
  email: {host: localhost, from: mlads@example.org}
  slack:
    token_env: BOT
contacts:
  - {name: alice, email: [alice@example.org]}
  - {name: bob, email: [bob@example.org]}
  - {name: carol, email: [carol@example.org], slack: ["U1"]}
  - {name: dave, email: [dave@example.org]}
groups:
  - {name: soc, members: [alice, bob], slack: ["#soc"]}
routes:
  - name: critical
    match: {min_severity: critical}
    notify: [carol]
    continue: true
  - name: lan-scans
    match: {detectors: [horizontal_scan, vertical_scan], src: [10.0.0.0/8]}
    notify: [soc]
  - name: dc
    match: {dst: [172.16.0.0/12, "2001:db8::/32"], sensors: [dc1]}
    notify: [dave]
  - name: dns
    match: {tags: [dns], rules: [mlads.flow.anomaly]}
    notify: [bob]
default_route:
  notify: [alice]
`

// TestRouting checks which routes, and so which people, each alert reaches.
func TestRouting(t *testing.T) {
	c, err := Parse("routing.yaml", []byte(routingContacts), fakeEnv)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		alert  *alert.Alert
		routes []string
	}{
		{"lan scan", mk("horizontal_scan", 3, "10.1.2.3", "10.9.9.9", "s1"), []string{"lan-scans"}},
		{"critical lan scan continues", mk("horizontal_scan", 4, "10.1.2.3", "", "s1"), []string{"critical", "lan-scans"}},
		{"critical elsewhere falls to nothing after continue", mk("volume", 4, "8.8.8.8", "", "s1"), []string{"critical"}},
		{"wan scan goes to default", mk("horizontal_scan", 3, "8.8.8.8", "10.0.0.1", "s1"), []string{"default"}},
		{"dc needs dst and sensor", mk("volume", 2, "8.8.8.8", "172.20.0.1", "dc1"), []string{"dc"}},
		{"dc ipv6", mk("volume", 2, "2001:db8::1", "2001:db8::2", "dc1"), []string{"dc"}},
		{"dc wrong sensor", mk("volume", 2, "8.8.8.8", "172.20.0.1", "dc2"), []string{"default"}},
		{"dns tag and rule", withProto(mk(alert.FlowAnomaly, 1, "10.0.0.1", "10.0.0.53", "s1"), "udp", "dns"), []string{"dns"}},
		{"dns tag wrong rule", withProto(mk("beacon", 1, "10.0.0.1", "10.0.0.53", "s1"), "udp", "dns"), []string{"default"}},
		{"no source endpoint", mk("horizontal_scan", 3, "", "", "s1"), []string{"default"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range c.Match(nil, tt.alert) {
				got = append(got, r.Name)
			}
			if !slices.Equal(got, tt.routes) {
				t.Errorf("routes: -got %v +want %v", got, tt.routes)
			}
		})
	}
}

func TestQuietHours(t *testing.T) {
	c, err := Parse("q.yaml", []byte(`
channels:
  email: {host: localhost, from: mlads@example.org}
schedules:
  berlin:
    timezone: Europe/Berlin
    quiet_hours:
      - {from: "22:00", to: "07:00"}
      - {days: [sat, sun], from: "00:00", to: "24:00"}
    except_severity: critical
  tokyo:
    timezone: Asia/Tokyo
    quiet_hours: [{from: "09:00", to: "17:00", days: [mon]}]
contacts:
  - {name: a, email: [a@example.org], schedule: berlin}
  - {name: b, email: [b@example.org], schedule: tokyo}
default_route: {notify: [a]}
`), fakeEnv)
	if err != nil {
		t.Fatal(err)
	}
	berlin, tokyo := c.People["a"].Schedule, c.People["b"].Schedule
	tests := []struct {
		s     *Schedule
		utc   string
		sev   int
		quiet bool
	}{
		{berlin, "2026-12-02T20:59:00Z", 3, false}, // Wed 21:59 CET
		{berlin, "2026-12-02T21:00:00Z", 3, true},  // Wed 22:00 CET
		{berlin, "2026-12-03T05:59:00Z", 3, true},  // Thu 06:59 CET, from Wednesday's night
		{berlin, "2026-12-03T06:00:00Z", 3, false}, // Thu 07:00 CET
		{berlin, "2026-07-01T20:30:00Z", 3, true},  // Wed 22:30 CEST (summer time)
		{berlin, "2026-07-01T19:30:00Z", 3, false}, // Wed 21:30 CEST
		{berlin, "2026-12-05T12:00:00Z", 3, true},  // Saturday
		{berlin, "2026-12-05T12:00:00Z", 4, false}, // critical breaks through
		{tokyo, "2026-11-30T00:00:00Z", 3, true},   // Mon 09:00 JST
		{tokyo, "2026-11-29T23:59:00Z", 3, false},  // Sun 08:59 JST
		{tokyo, "2026-11-30T08:00:00Z", 3, false},  // Mon 17:00 JST
	}
	for _, tt := range tests {
		ts, _ := time.Parse(time.RFC3339, tt.utc)
		if got := tt.s.Quiet(ts, tt.sev); got != tt.quiet {
			t.Errorf("%s %s severity %d: quiet %v, want %v", tt.s.Name, tt.utc, tt.sev, got, tt.quiet)
		}
	}
	wed, _ := time.Parse(time.RFC3339, "2026-12-02T21:30:00Z")
	if got := berlin.QuietUntil(wed, 3); !got.Equal(time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)) {
		t.Errorf("quiet until %v, want 07:00 CET", got)
	}
}

// mk builds an alert the way alert.FromFinding does, enough for routing.
func mk(detector string, severity int, src, dst, sensor string) *alert.Alert {
	a := &alert.Alert{Timestamp: t0}
	a.Event.Severity = severity
	a.MLADS.Severity = []string{"", "low", "medium", "high", "critical"}[severity]
	a.Event.Start, a.Event.End = t0, t0
	a.MLADS.Detector, a.MLADS.Host = detector, src
	a.Rule.Name = detector
	a.Rule.Category = "behavior"
	a.Rule.ID = "mlads.behavior." + detector
	if detector == alert.FlowAnomaly {
		a.Rule.Category, a.Rule.ID = "flow", "mlads.flow.anomaly"
	}
	if src != "" {
		a.Source = &alert.Endpoint{IP: src}
	}
	if dst != "" {
		a.Destination = &alert.Endpoint{IP: dst, Port: 443}
	}
	a.Observer.Name = sensor
	a.MLADS.Summary = detector + " by " + src
	a.Message = a.MLADS.Summary
	a.MLADS.PValue = 1e-6
	a.MLADS.Score = 6
	a.Event.RiskScore = 60
	a.Event.ID = detector + "-" + src + "-" + dst
	return a
}

func withProto(a *alert.Alert, transport, service string) *alert.Alert {
	a.Network = &alert.Network{Transport: transport, Protocol: service}
	return a
}

var t0 = time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)

// TestReload: a changed contacts file takes effect; a bad one is refused
// with its error and the last good one stays in force.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "contacts.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		// a new modification time even on a coarse clock
		later := time.Now().Add(time.Duration(len(s)) * time.Second)
		if err := os.Chtimes(path, later, later); err != nil {
			t.Fatal(err)
		}
	}
	const good = `
channels: {email: {host: localhost, from: mlads@example.org}}
contacts: [{name: alice, email: [alice@example.org]}]
default_route: {notify: [alice]}
`
	write(good)
	c, err := Load(path, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	n, err := New(c, Senders{"smtp": rec}, Options{Outbox: filepath.Join(dir, "outbox"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if ok, err := n.Reload(noEnv); ok || err != nil {
		t.Fatalf("unchanged file reloaded: %v %v", ok, err)
	}
	write(strings.Replace(good, "alice@example.org]", "alice@example.org, alice@home.example.org]", 1))
	if ok, err := n.Reload(noEnv); !ok || err != nil {
		t.Fatalf("changed file not reloaded: %v %v", ok, err)
	}
	write(strings.Replace(good, "default_route: {notify: [alice]}", "default_route:\n  notify: [alice]\n  bogus: 1", 1))
	if ok, err := n.Reload(noEnv); ok || err == nil || !strings.Contains(err.Error(), "contacts.yaml:6: default_route.bogus: unknown key") {
		t.Fatalf("bad file: %v %v", ok, err)
	}
	n.Write(context.Background(), []*alert.Alert{mk("beacon", 2, "10.0.0.1", "", "s1")})
	var to []string
	for _, m := range n.Pending() {
		to = append(to, m.To)
	}
	if !slices.Equal(to, []string{"alice@example.org", "alice@home.example.org"}) {
		t.Errorf("after a refused reload the last good file should route: %v", to)
	}
}

// TestSecretsHidden: a loaded file's secrets do not show when its
// configuration is printed or encoded, however it is done.
func TestSecretsHidden(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "configs", "contacts.yaml"), fakeEnv)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", *c.Email, *c.Twilio, *c.Slack, c.Slack.Token), string(js)} {
		if strings.Contains(s, "value-of-") {
			t.Errorf("a secret shows: %s", s)
		}
	}
}
