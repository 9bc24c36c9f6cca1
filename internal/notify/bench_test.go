package notify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/benchmeter"
)

// burstContacts routes like the shipped example: a paging route that
// continues, a throttled route, a default.
const burstContacts = `
channels:
  email: {host: localhost, from: mlads@example.org}
  sms: {gateway: {domain: sms.example.net}}
  slack: {token_env: BOT}
contacts:
  - {name: alice, email: [alice@example.org], phone: ["+15550000001"], slack: ["U1"]}
  - {name: bob, email: [bob@example.org]}
groups:
  - {name: soc, members: [alice, bob], slack: ["#soc"]}
routes:
  - name: page
    match: {min_severity: critical}
    notify: [alice]
    channels: [sms]
    continue: true
    throttle: {max: 5, per: 1h}
  - name: scans
    match: {detectors: [horizontal_scan, vertical_scan], src: [10.0.0.0/8]}
    notify: [soc]
    throttle: {max: 10, per: 1h}
    digest: 1h
default_route:
  notify: [soc]
  throttle: {max: 20, per: 1h}
  digest: 1h
`

func burst(n int) []*alert.Alert {
	out := make([]*alert.Alert, n)
	dets := []string{"horizontal_scan", "vertical_scan", "beacon", "volume"}
	for i := range out {
		a := explained(dets[i%4], 2+i%3, fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), t0.Add(time.Duration(i)*time.Millisecond))
		out[i] = a
	}
	return out
}

func benchNotifier(tb testing.TB, contacts string) *Notifier {
	c, err := Parse("burst.yaml", []byte(contacts), fakeEnv)
	if err != nil {
		tb.Fatal(err)
	}
	r := &recorder{}
	n, err := New(c, Senders{"smtp": r, "gateway": r, "bot": r}, Options{Outbox: tb.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// BenchmarkRouteRender is the cost per alert of routing it, checking
// throttles and quiet hours, and rendering and queuing its messages
// (email text and HTML, SMS, Slack blocks). Goal: under 20 µs.
// "burst" is the example's routes under a burst, where the throttles hold
// most alerts for the digest; "every-alert-sent" has no throttle, so
// every alert is rendered for every channel and queued for three people.
func BenchmarkRouteRender(b *testing.B) {
	unthrottled := strings.ReplaceAll(burstContacts, "max: 10,", "max: 1000000,")
	unthrottled = strings.ReplaceAll(unthrottled, "max: 20,", "max: 1000000,")
	unthrottled = strings.ReplaceAll(unthrottled, "max: 5,", "max: 1000000,")
	for _, bc := range []struct{ name, contacts string }{{"burst", burstContacts}, {"every-alert-sent", unthrottled}} {
		b.Run(bc.name, func(b *testing.B) {
			alerts := burst(10000)
			b.ReportAllocs()
			cpu0 := benchmeter.CPU()
			var n *Notifier
			for i := 0; i < b.N; i++ {
				if i%len(alerts) == 0 {
					b.StopTimer()
					n = benchNotifier(b, bc.contacts) // a fresh notifier: every alert is new
					b.StartTimer()
				}
				n.Write(context.Background(), alerts[i%len(alerts):i%len(alerts)+1])
			}
			b.StopTimer()
			cpu := benchmeter.CPU() - cpu0
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/1000, "cpu-µs/alert")
			benchmeter.ReportRates(b, cpu0, "alerts")
		})
	}
}

// TestBurst routes and digests 10,000 alerts in one burst: it takes well
// under a second, and the throttles keep what goes out bounded, the rest
// in one digest per contact and route.
func TestBurst(t *testing.T) {
	n := benchNotifier(t, burstContacts)
	alerts := burst(10000)
	start := time.Now()
	n.Write(context.Background(), alerts)
	n.Tick()
	n.mu.Lock()
	n.tick(t0.Add(2 * time.Hour)) // the digests are due
	n.mu.Unlock()
	if _, err := n.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	counts := map[string]int{}
	for _, m := range n.Pending() {
		counts[m.Kind+" "+m.Channel]++
	}
	t.Logf("10,000 alerts routed, digested and flushed in %s: %v", took, counts)
	// scans: 10 an hour to alice and bob (email, and slack for alice, #soc
	// for the group); default: 20; pages: every critical alert by SMS.
	if counts["alert email"] > 2*(10+20) || counts["alert sms"] > 5+10+20 || counts["digest email"] != 4 {
		t.Errorf("messages not bounded by the throttles: %v", counts)
	}
	if took > 2*time.Second {
		t.Errorf("the burst took %s", took)
	}
}
