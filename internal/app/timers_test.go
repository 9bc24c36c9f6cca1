package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/detect"
)

// timerLog writes a day of Zeek conn.log lines from start: office browsing
// and DNS (a flow every ~3 s), the timers every network has (an NTP client
// polling its server every 64 s, an agent checking an update server every
// 60 s, a keepalive every 30 s), and the extra beacons given, each
// (client, server, port, period).
func timerLog(t *testing.T, path string, seed uint64, start time.Time, span time.Duration, beacons [][4]string) {
	t.Helper()
	type line struct {
		t time.Time
		s string
	}
	rng := rand.New(rand.NewPCG(seed, 9))
	var ls []line
	add := func(at time.Time, uid, orig string, op int, resp string, rp int, proto, svc, state, hist string, ob, rb int) {
		ls = append(ls, line{at, fmt.Sprintf("%d.%06d\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t0.1\t%d\t%d\t%s\tT\tF\t0\t%s\t3\t%d\t3\t%d\t-",
			at.Unix(), at.Nanosecond()/1000, uid, orig, op, resp, rp, proto, svc, ob, rb, state, hist, ob+120, rb+120)})
	}
	i := 0
	for at := start; at.Before(start.Add(span)); at = at.Add(time.Duration(rng.ExpFloat64() * float64(3*time.Second))) {
		i++
		client := fmt.Sprintf("10.0.0.%d", 10+rng.IntN(20))
		if rng.IntN(2) == 0 {
			add(at, fmt.Sprintf("Cw%d", i), client, 40000+rng.IntN(20000), fmt.Sprintf("93.184.216.%d", rng.IntN(8)), 443, "tcp", "ssl", "SF", "ShADadFf", 300+rng.IntN(800), 2000+rng.IntN(60000))
		} else {
			add(at, fmt.Sprintf("Cd%d", i), client, 40000+rng.IntN(20000), "10.0.0.1", 53, "udp", "dns", "SF", "Dd", 40, 120)
		}
	}
	timers := append([][4]string{
		{"10.0.0.50", "10.0.0.1", "123", "64s"},       // NTP
		{"10.0.0.51", "198.51.100.20", "443", "60s"},  // update checks
		{"10.0.0.52", "198.51.100.30", "5228", "30s"}, // a push-service keepalive
	}, beacons...)
	for k, tm := range timers {
		period, _ := time.ParseDuration(tm[3])
		var port int
		fmt.Sscan(tm[2], &port)
		proto, svc, state, hist := "tcp", "ssl", "SF", "ShADadFf"
		if port == 123 {
			proto, svc, state, hist = "udp", "ntp", "SF", "Dd"
		}
		for n, at := 0, start.Add(time.Duration(rng.IntN(30))*time.Second); at.Before(start.Add(span)); n, at = n+1, at.Add(period+time.Duration(rng.IntN(200))*time.Millisecond) {
			add(at, fmt.Sprintf("Ct%d_%d", k, n), tm[0], 30000+rng.IntN(30000), tm[1], port, proto, svc, state, hist, 200, 400)
		}
	}
	slices.SortStableFunc(ls, func(a, b line) int { return a.t.Compare(b.t) })
	var b strings.Builder
	b.WriteString(connHeader)
	for _, l := range ls {
		b.WriteString(l.s)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBeaconsAmongTimers: a model trained on a day of an office's traffic
// with its timers (NTP, update checks, a keepalive) is used on the next day,
// where the same timers run and two beacons start: one to a new server on an
// odd port, one from the update agent's host to a new server over 443, the
// port of its known timer. Only the two new beacons are reported; the timers
// of the baseline raise nothing.
func TestBeaconsAmongTimers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	start := time.Date(2026, 4, 6, 0, 0, 0, 0, time.UTC)
	train, test := filepath.Join(dir, "train.log"), filepath.Join(dir, "test.log")
	timerLog(t, train, 1, start, 12*time.Hour, nil)
	timerLog(t, test, 2, start.Add(24*time.Hour), 6*time.Hour, [][4]string{
		{"10.0.0.60", "203.0.113.66", "8443", "45s"},
		{"10.0.0.51", "203.0.113.99", "443", "90s"},
	})
	model := filepath.Join(dir, "m.model")
	rep, err := Train(ctx, TrainOptions{Paths: []string{train}, Out: model, Detect: detect.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.KnownBehaviors == 0 {
		t.Fatal("training learned no behaviour: the timers should be known")
	}
	var out bytes.Buffer
	if _, err := Analyze(ctx, AnalyzeOptions{Paths: []string{test}, Model: model, Detect: detect.DefaultConfig(), EveryAlert: true, Out: &out}); err != nil {
		t.Fatal(err)
	}
	var beacons []string
	for line := range strings.Lines(out.String()) {
		var a struct {
			Rule        struct{ Name string }
			Source      struct{ IP string }
			Destination struct{ IP string }
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatal(err)
		}
		if a.Rule.Name == "beacon" {
			beacons = append(beacons, a.Source.IP+"→"+a.Destination.IP)
		}
	}
	slices.Sort(beacons)
	want := []string{"10.0.0.51→203.0.113.99", "10.0.0.60→203.0.113.66"}
	if !slices.Equal(beacons, want) {
		t.Errorf("beacon alerts %v, want %v (the baseline's timers raise nothing, the new beacons are found)", beacons, want)
	}
}
