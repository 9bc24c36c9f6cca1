package notify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/rules"
)

// recorder is a Sender that keeps what it was given; fail, when set,
// decides per message whether to fail.
type recorder struct {
	mu   sync.Mutex
	got  []Message
	ts   int
	fail func(m *Message) error
}

func (r *recorder) Send(_ context.Context, m *Message, thread string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(m); err != nil {
			return "", err
		}
	}
	c := *m
	if thread != "" {
		c.Route = "thread:" + thread // the test reads the thread from here
	}
	r.got = append(r.got, c)
	r.ts++
	return fmt.Sprintf("ts-%d", r.ts), nil
}

func (r *recorder) take() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.got
	r.got = nil
	return g
}

// lines summarises messages as "kind channel to", sorted.
func lines(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Kind+" "+m.Channel+" "+m.To)
	}
	slices.Sort(out)
	return out
}

const noiseContacts = `
channels:
  email: {host: localhost, from: mlads@example.org}
  sms: {gateway: {domain: sms.example.net}}
  slack: {token_env: BOT}
schedules:
  nights:
    timezone: Europe/Berlin
    quiet_hours: [{from: "22:00", to: "07:00"}]
    except_severity: critical
contacts:
  - {name: alice, email: [alice@example.org], phone: ["+15550000001"], slack: ["U1"]}
  - {name: night, email: [night@example.org], schedule: nights}
routes:
  - name: scans
    match: {detectors: [horizontal_scan]}
    notify: [alice]
    repeat_interval: 10m
    resolve_after: 30m
  - name: beacons
    match: {detectors: [beacon]}
    notify: [alice]
    channels: [email]
    throttle: {max: 2, per: 1h}
    digest: 1h
  - name: nights
    match: {detectors: [volume]}
    notify: [night]
    digest: 1h
default_route: {notify: [alice], channels: [email]}
`

type harness struct {
	t   testing.TB
	c   *Contacts
	rec *recorder
	n   *Notifier
	dir string
	mu  sync.Mutex
	now time.Time // the wall clock
}

func newHarness(t testing.TB, contacts string) *harness {
	t.Helper()
	c, err := Parse("noise.yaml", []byte(contacts), fakeEnv)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, c: c, rec: &recorder{}, dir: t.TempDir(), now: t0}
	h.open()
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) open() {
	h.t.Helper()
	s := Senders{"smtp": h.rec, "gateway": h.rec, "twilio": h.rec, "bot": h.rec, "webhook": h.rec}
	n, err := New(h.c, s, Options{Outbox: h.dir, Clock: h.clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		h.t.Fatal(err)
	}
	h.n = n
}

// write writes docs and flushes, as the pipeline does.
func (h *harness) write(docs ...*alert.Alert) {
	h.t.Helper()
	if _, err := h.n.Write(context.Background(), docs); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.n.Flush(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

// deliver ticks and sends, and returns what went out.
func (h *harness) deliver() []string {
	h.n.Tick()
	if _, err := h.n.Flush(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.n.Deliver(context.Background())
	return lines(h.rec.take())
}

// at returns a copy of a at event time ts (an incident snapshot when
// count > 0).
func at(a *alert.Alert, ts time.Time, count int) *alert.Alert {
	c := *a
	c.Timestamp, c.Event.Start, c.Event.End = ts, ts, ts
	if count > 0 {
		first := a.Timestamp
		c.MLADS.Incident = &alert.Incident{ID: a.ID(), Count: count, FirstSeen: first, LastSeen: ts}
		c.Timestamp, c.Event.Start = first, first
	}
	return &c
}

func want(t testing.TB, step string, got []string, w ...string) {
	t.Helper()
	slices.Sort(w)
	if !slices.Equal(got, w) {
		t.Errorf("%s:\n-got  %q\n+want %q", step, got, w)
	}
}

// TestNoiseControl walks one contacts file through a day of alerts:
// routing, repeats counted and threaded, throttle and digest, quiet
// hours across time zones, and resolved notices.
func TestNoiseControl(t *testing.T) {
	h := newHarness(t, noiseContacts)
	scan := mk("horizontal_scan", 3, "10.0.0.5", "", "s1")

	// A new incident reaches alice by every channel of the route.
	h.write(at(scan, t0, 1))
	want(t, "new incident", h.deliver(),
		"alert email alice@example.org", "alert sms +15550000001", "alert slack U1")

	// Its repeats are counted, not re-sent: one thread reply in Slack,
	// then nothing until repeat_interval has passed.
	h.write(at(scan, t0.Add(time.Minute), 2), at(scan, t0.Add(2*time.Minute), 3))
	h.n.Deliver(context.Background())
	got := h.rec.take()
	if len(got) != 1 || got[0].Kind != KindRepeat || got[0].Route != "thread:ts-3" || !strings.Contains(got[0].Subject, "1 more, 2 in all") {
		t.Fatalf("repeat: want one thread reply to ts-3 saying 1 more, 2 in all; got %q", lines(got))
	}
	h.write(at(scan, t0.Add(5*time.Minute), 4))
	want(t, "repeat inside repeat_interval", h.deliver())
	h.write(at(scan, t0.Add(13*time.Minute), 5))
	want(t, "repeat after repeat_interval", h.deliver(), "repeat slack U1")
	// The same document handed again (a restart) is a duplicate.
	h.write(at(scan, t0.Add(13*time.Minute), 5))
	want(t, "duplicate", h.deliver())

	// Throttle: two beacons an hour to alice; the third waits for the digest.
	for i := range 3 {
		b := mk("beacon", 2, fmt.Sprintf("10.0.1.%d", i), "8.8.8.8", "s1")
		h.write(at(b, t0.Add(20*time.Minute+time.Duration(i)*time.Minute), 0))
	}
	want(t, "throttle", h.deliver(), "alert email alice@example.org", "alert email alice@example.org")

	// 30 minutes after the scan's last alert it is resolved: email and the
	// Slack thread, no SMS.
	h.write(mk("unrouted", 1, "10.9.9.9", "", "s1")) // moves event time to t0
	h.write(at(mk("other", 1, "10.9.9.8", "", "s1"), t0.Add(42*time.Minute), 0))
	want(t, "before resolve_after", h.deliver(), "alert email alice@example.org", "alert email alice@example.org")
	h.write(at(mk("other", 1, "10.9.9.7", "", "s1"), t0.Add(43*time.Minute+30*time.Minute), 0))
	got = h.rec.take()
	h.n.Tick()
	h.n.Flush(context.Background())
	h.n.Deliver(context.Background())
	got = append(got, h.rec.take()...)
	// The scan's repeats since its alert also make alice's hourly digest
	// of that route (by email and Slack: SMS only pages).
	want(t, "resolved", lines(got), "alert email alice@example.org", "resolved email alice@example.org", "resolved slack U1",
		"digest email alice@example.org", "digest slack U1")
	for _, m := range got {
		if m.Kind == KindResolved && m.Channel == "slack" && m.Route != "thread:ts-3" {
			t.Errorf("resolved notice not in the incident's thread: %+v", m)
		}
	}

	// An hour after the throttled beacon was held, the digest goes out.
	h.write(at(mk("other", 1, "10.9.9.6", "", "s1"), t0.Add(22*time.Minute+time.Hour), 0))
	got = h.rec.take()
	h.n.Tick()
	h.n.Flush(context.Background())
	h.n.Deliver(context.Background())
	got = append(got, h.rec.take()...)
	var digest *Message
	for i := range got {
		if got[i].Kind == KindDigest {
			digest = &got[i]
		}
	}
	if digest == nil || !strings.Contains(digest.Text, "beacon by 10.0.1.2 (throttled)") {
		t.Fatalf("digest with the held beacon: %q", lines(got))
	}

	// Quiet hours in Berlin: 22:30 CET is 21:30 UTC. The alert waits;
	// the digest goes at 07:00 CET, a critical alert breaks through.
	night := t0.Truncate(24 * time.Hour).Add(21*time.Hour + 30*time.Minute)
	h.write(at(mk("volume", 3, "10.0.2.1", "", "s1"), night, 0))
	h.write(at(mk("volume", 4, "10.0.2.2", "", "s1"), night.Add(time.Minute), 0))
	want(t, "quiet hours", h.deliver(), "alert email night@example.org")
	h.write(at(mk("other", 1, "10.9.9.5", "", "s1"), night.Add(8*time.Hour), 0)) // 06:30 CET: still quiet
	want(t, "still quiet", h.deliver(), "alert email alice@example.org")
	h.write(at(mk("other", 1, "10.9.9.4", "", "s1"), night.Add(8*time.Hour+31*time.Minute), 0)) // 07:01 CET
	want(t, "quiet hours over", h.deliver(), "alert email alice@example.org", "digest email night@example.org")
}

// TestRules: an allowed or suppressed alert is not notified (counted);
// a severity override routes and renders at the rule's severity.
func TestRules(t *testing.T) {
	h := newHarness(t, noiseContacts)
	rs, err := rules.Parse("r.yaml", []byte(`
rules:
  - {id: scanner, kind: suppress, owner: a, reason: r, expires: 2030-01-01, match: {src: [10.0.9.5]}}
  - {id: calm, kind: severity, severity: low, owner: a, reason: r, expires: 2030-01-01, match: {detectors: [horizontal_scan], src: [10.0.8.0/24]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	h.n.opt.Rules = &rules.Set{Rules: rs}
	h.write(mk("horizontal_scan", 3, "10.0.9.5", "", "s1"), mk("horizontal_scan", 3, "10.0.8.1", "", "s1"))
	h.n.Tick()
	h.n.Flush(context.Background())
	h.n.Deliver(context.Background())
	got := h.rec.take()
	want(t, "rules", lines(got), "alert email alice@example.org", "alert sms +15550000001", "alert slack U1")
	if len(got) > 0 && !strings.HasPrefix(got[0].Subject, "[mlads LOW] horizontal_scan 10.0.8.1") {
		t.Errorf("override not applied: %q", got[0].Subject)
	}
	if st := h.n.Stats(); st.Suppressed != 1 {
		t.Errorf("suppressed %d, want 1", st.Suppressed)
	}
}

// TestMarkedSuppressed: an alert the rules stage marked suppressed is not
// notified.
func TestMarkedSuppressed(t *testing.T) {
	h := newHarness(t, noiseContacts)
	a := mk("horizontal_scan", 3, "10.0.9.5", "", "s1")
	a.MLADS.SuppressedBy = "vuln-scanner"
	h.write(a)
	want(t, "marked suppressed", h.deliver())
	if st := h.n.Stats(); st.Suppressed != 1 || st.Alerts != 0 {
		t.Errorf("stats %+v", st)
	}
}
