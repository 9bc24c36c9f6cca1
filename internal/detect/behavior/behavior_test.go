package behavior

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fl builds a flow; state sets conn_state and the packet counts that go
// with it.
func fl(at time.Duration, src, dst string, dport uint16, proto, state string) flow.Record {
	r := flow.Record{
		TS: t0.Add(at), UID: fmt.Sprintf("C%d%s%d", at, dst, dport),
		OrigH: netip.MustParseAddr(src), OrigP: 40000, RespH: netip.MustParseAddr(dst), RespP: dport,
		Proto: proto, ConnState: state, OrigPkts: 1,
	}
	switch state {
	case "S0":
		r.History = "S"
	case "REJ":
		r.History, r.RespPkts = "Sr", 1
	case "SF":
		r.History, r.OrigPkts, r.RespPkts, r.OrigBytes, r.RespBytes = "ShADadFf", 6, 6, 300, 5000
		r.Duration = 200 * time.Millisecond
	case "S1":
		r.History, r.OrigPkts, r.RespPkts = "ShADad", 10, 10
	}
	return r
}

func ip4(a, b, c, d int) string { return fmt.Sprintf("%d.%d.%d.%d", a, b, c, d) }

// run feeds flows through a fresh engine and returns every finding,
// including Flush's.
func run(tb testing.TB, cfg Config, rs []flow.Record) ([]detect.Finding, *Engine) {
	tb.Helper()
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	e := New(cfg)
	var out []detect.Finding
	for i := range rs {
		out = append(out, e.Observe(&rs[i])...)
	}
	return append(out, e.Flush()...), e
}

func findings(fs []detect.Finding, detector, host string) []detect.Finding {
	var out []detect.Finding
	for _, f := range fs {
		if f.Detector == detector && (host == "" || f.Host == host) {
			out = append(out, f)
		}
	}
	return out
}

func describe(fs []detect.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s %s→%s p=%.2g %s", f.Detector, f.Host, f.Peer, f.PValue, f.Summary)
	}
	return b.String()
}

func TestSynthetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name     string
		flows    func() []flow.Record
		detector string
		host     string // "" with detector "" means: no finding at all but those in allow
		peer     string
		allow    []string // detectors tolerated besides the expected one
		updates  bool     // the finding may be reported early and updated (floods)
		check    func(t *testing.T, f detect.Finding)
	}{
		{
			name: "horizontal scan: 30 hosts on 22/tcp, unanswered",
			flows: func() (rs []flow.Record) {
				for i := range 30 {
					rs = append(rs, fl(time.Duration(i)*time.Second, "10.0.0.5", ip4(10, 1, 0, i+1), 22, "tcp", "S0"))
				}
				return rs
			},
			detector: HorizontalScan, host: "10.0.0.5", allow: []string{TRWScan},
			check: func(t *testing.T, f detect.Finding) {
				if f.Evidence["port"] != 22 || f.Evidence["hosts_tried"] != 30 || f.Evidence["proto"] != "tcp" {
					t.Errorf("evidence = %v", f.Evidence)
				}
				if len(f.UIDs) != 10 {
					t.Errorf("uids = %d, want the bounded sample of 10", len(f.UIDs))
				}
			},
		},
		{
			name: "20 hosts is below Zeek's 25",
			flows: func() (rs []flow.Record) {
				for i := range 20 {
					rs = append(rs, fl(time.Duration(i)*time.Second, "10.0.0.5", ip4(10, 1, 0, i+1), 22, "tcp", "S0"))
				}
				return rs
			},
			allow: []string{TRWScan},
		},
		{
			name: "browser: 60 servers on 443, all answering",
			flows: func() (rs []flow.Record) {
				for i := range 60 {
					rs = append(rs, fl(time.Duration(i)*time.Second, "10.0.0.7", ip4(93, 184, i/250, i%250+1), 443, "tcp", "SF"))
				}
				return rs
			},
		},
		{
			name: "vertical scan: 100 ports rejected",
			flows: func() (rs []flow.Record) {
				for i := range 100 {
					rs = append(rs, fl(time.Duration(i)*100*time.Millisecond, "10.0.0.5", "10.1.0.9", uint16(i+1), "tcp", "REJ"))
				}
				return rs
			},
			detector: VerticalScan, host: "10.0.0.5", peer: "10.1.0.9",
			check: func(t *testing.T, f detect.Finding) {
				if f.Evidence["ports_tried"] != 100 || f.PValue > 1e-20 {
					t.Errorf("evidence = %v p=%g", f.Evidence, f.PValue)
				}
			},
		},
		{
			name: "TRW: five failed first contacts",
			flows: func() (rs []flow.Record) {
				for i := range 5 {
					rs = append(rs, fl(time.Duration(i)*time.Second, "10.0.0.5", ip4(10, 1, 1, i+1), uint16(1000+i), "tcp", "S0"))
				}
				return rs
			},
			detector: TRWScan, host: "10.0.0.5",
			check: func(t *testing.T, f detect.Finding) {
				if f.PValue > 0.01 || f.Evidence["failed_contacts"] != 4 {
					t.Errorf("p=%g evidence=%v", f.PValue, f.Evidence)
				}
			},
		},
		{
			name: "TRW: successes keep a host benign",
			flows: func() (rs []flow.Record) {
				for i := range 40 {
					st := "SF"
					if i%5 == 0 {
						st = "S0"
					}
					rs = append(rs, fl(time.Duration(i)*time.Second, "10.0.0.5", ip4(10, 1, 1, i+1), 80, "tcp", st))
				}
				return rs
			},
		},
		{
			name: "SYN flood: 1000 spoofed SYNs to one victim",
			flows: func() (rs []flow.Record) {
				for i := range 1000 {
					src := ip4(int(rng.IntN(200))+1, int(rng.IntN(256)), int(rng.IntN(256)), int(rng.IntN(254))+1)
					rs = append(rs, fl(time.Duration(i)*10*time.Millisecond, src, "192.0.2.80", 80, "tcp", "S0"))
				}
				return rs
			},
			detector: SYNFlood, host: "192.0.2.80", updates: true,
			check: func(t *testing.T, f detect.Finding) {
				if f.Evidence["half_open_flows"] != 1000 {
					t.Errorf("evidence = %v", f.Evidence)
				}
				if n := f.Evidence["distinct_sources"].(int); n < 900 || n > 1100 {
					t.Errorf("distinct sources ≈ %d, want about 1000", n)
				}
				if top := f.Evidence["top_sources"].([]map[string]any); len(top) != 0 || f.Peer != "" {
					t.Errorf("spoofed sources listed as top sources: %v, peer %q", top, f.Peer)
				}
			},
		},
		{
			name: "SYN flood from one source to one port names the source",
			flows: func() (rs []flow.Record) {
				for i := range 300 {
					r := fl(time.Duration(i)*10*time.Millisecond, "198.51.100.66", "192.0.2.82", 443, "tcp", "S0")
					r.OrigP = uint16(1024 + i)
					rs = append(rs, r)
				}
				for i := range 50 {
					rs = append(rs, fl(time.Duration(i)*20*time.Millisecond, ip4(203, 0, 113, i+1), "192.0.2.82", 443, "tcp", "S0"))
				}
				return rs
			},
			detector: SYNFlood, host: "192.0.2.82", peer: "198.51.100.66", updates: true, allow: []string{TRWScan},
			check: func(t *testing.T, f detect.Finding) {
				top := f.Evidence["top_sources"].([]map[string]any)
				if len(top) == 0 || top[0]["ip"] != "198.51.100.66" || top[0]["flows"].(int) < 150 {
					t.Errorf("top sources = %v", top)
				}
			},
		},
		{
			name: "reflected SYN-ACKs: the victim is the silent originator",
			flows: func() (rs []flow.Record) {
				for i := range 500 {
					r := fl(time.Duration(i)*10*time.Millisecond, "192.0.2.81", ip4(198, 51, i/250, i%250+1), 80, "tcp", "OTH")
					r.OrigPkts, r.RespPkts, r.History = 0, 1, "^h"
					rs = append(rs, r)
				}
				return rs
			},
			detector: HalfOpenSurge, host: "192.0.2.81", updates: true,
		},
		{
			name: "a vertical scan is not a flood",
			flows: func() (rs []flow.Record) {
				for i := range 400 {
					rs = append(rs, fl(time.Duration(i)*50*time.Millisecond, "10.0.0.5", "10.1.0.9", uint16(i+1), "tcp", "REJ"))
				}
				return rs
			},
			detector: VerticalScan, host: "10.0.0.5",
		},
		{
			name: "beacon: every 60 s ± 1 s, same size",
			flows: func() (rs []flow.Record) {
				for i := range 50 {
					at := time.Duration(i)*time.Minute + time.Duration(rng.IntN(2000)-1000)*time.Millisecond
					r := fl(at, "10.0.0.8", "203.0.113.5", 443, "tcp", "SF")
					r.OrigBytes = uint64(200 + rng.IntN(10))
					rs = append(rs, r)
				}
				return rs
			},
			detector: Beacon, host: "10.0.0.8", peer: "203.0.113.5",
			check: func(t *testing.T, f detect.Finding) {
				if m := f.Evidence["interval_median_s"].(float64); m < 58 || m > 62 {
					t.Errorf("interval median %v, want about 60", m)
				}
				if f.PValue > 1e-10 {
					t.Errorf("p = %g", f.PValue)
				}
			},
		},
		{
			name: "beacon reported out of order (by end time)",
			flows: func() (rs []flow.Record) {
				for i := range 40 {
					r := fl(time.Duration(i)*30*time.Second, "10.0.0.8", "203.0.113.6", 8443, "tcp", "SF")
					r.OrigBytes = 120
					rs = append(rs, r)
				}
				// Every third flow is long and so reported after the next two.
				for i := 0; i+2 < len(rs); i += 3 {
					rs[i], rs[i+1], rs[i+2] = rs[i+1], rs[i+2], rs[i]
				}
				return rs
			},
			detector: Beacon, host: "10.0.0.8", peer: "203.0.113.6",
			check: func(t *testing.T, f detect.Finding) {
				if m := f.Evidence["interval_median_s"].(float64); m != 30 {
					t.Errorf("interval median %v, want 30", m)
				}
			},
		},
		{
			name: "Poisson arrivals are not a beacon",
			flows: func() (rs []flow.Record) {
				at := time.Duration(0)
				for range 120 {
					at += time.Duration(rng.ExpFloat64() * float64(time.Minute))
					r := fl(at, "10.0.0.8", "203.0.113.5", 443, "tcp", "SF")
					r.OrigBytes = 200
					rs = append(rs, r)
				}
				return rs
			},
		},
		{
			name: "long connection, still open",
			flows: func() []flow.Record {
				r := fl(0, "10.0.0.9", "198.51.100.7", 22, "tcp", "S1")
				r.Duration = 2 * time.Hour
				return []flow.Record{r}
			},
			detector: LongConnection, host: "10.0.0.9", peer: "198.51.100.7",
			check: func(t *testing.T, f detect.Finding) {
				if f.Evidence["still_open"] != true {
					t.Errorf("evidence = %v", f.Evidence)
				}
			},
		},
		{
			name: "volume against the host's own baseline",
			flows: func() (rs []flow.Record) {
				for w := range 30 {
					for j := range 3 {
						r := fl(time.Duration(w)*5*time.Minute+time.Duration(j)*time.Second, "10.0.0.10", ip4(10, 9, 0, j+1), 443, "tcp", "SF")
						r.OrigBytes = uint64(1000 + rng.IntN(500))
						rs = append(rs, r)
					}
				}
				r := fl(30*5*time.Minute, "10.0.0.10", "10.9.0.1", 443, "tcp", "SF")
				r.OrigBytes = 2 << 30
				return append(rs, r)
			},
			detector: Volume, host: "10.0.0.10", allow: []string{Beacon}, // every 5 min: a beacon too
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs, _ := run(t, DefaultConfig(), tc.flows())
			var rest []detect.Finding
			var got []detect.Finding
			for _, f := range fs {
				switch {
				case f.Detector == tc.detector && f.Host == tc.host && (tc.peer == "" || f.Peer == tc.peer):
					got = append(got, f)
				case !contains(tc.allow, f.Detector):
					rest = append(rest, f)
				}
			}
			if tc.updates && len(got) > 1 {
				got = got[len(got)-1:] // the final report
			}
			if tc.detector != "" && len(got) != 1 {
				t.Fatalf("want one %s finding for %s, got %d; all:%s", tc.detector, tc.host, len(got), describe(fs))
			}
			if len(rest) > 0 {
				t.Errorf("unexpected findings:%s", describe(rest))
			}
			for _, f := range got {
				if f.Summary == "" || f.Score <= 0 || f.PValue <= 0 || f.PValue > 0.01 || f.Start.IsZero() {
					t.Errorf("incomplete finding %+v", f)
				}
				if tc.check != nil {
					tc.check(t, f)
				}
			}
		})
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func TestDeterministic(t *testing.T) {
	var rs []flow.Record
	for i := range 40 {
		rs = append(rs, fl(time.Duration(i)*time.Second, ip4(10, 0, 0, i%3+1), ip4(10, 1, 0, i+1), uint16(20+i%2), "tcp", "S0"))
	}
	a, _ := run(t, DefaultConfig(), rs)
	b, _ := run(t, DefaultConfig(), rs)
	if len(a) == 0 || !reflect.DeepEqual(a, b) {
		t.Errorf("two runs differ or found nothing:%s\n---%s", describe(a), describe(b))
	}
}

func TestBounds(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxHosts, cfg.MaxScanPairs, cfg.MaxVictims, cfg.MaxPairsPerHost = 8, 50, 4, 4
	ms := time.Millisecond
	tests := []struct {
		name  string
		flows func() []flow.Record
		check func(st Stats) bool
	}{
		{"sources", func() (rs []flow.Record) {
			for i := range 200 {
				rs = append(rs, fl(time.Duration(i)*ms, ip4(10, 0, 0, i%100+1), ip4(10, 1, i%7, i+1), 80, "tcp", "S0"))
			}
			return rs
		}, func(st Stats) bool { return st.Hosts <= 8 && st.HostEvictions > 0 }},
		{"victims", func() (rs []flow.Record) {
			for i := range 200 {
				rs = append(rs, fl(time.Duration(i)*ms, "10.0.0.1", ip4(10, 1, 0, i+1), 80, "tcp", "S0"))
			}
			return rs
		}, func(st Stats) bool { return st.Victims <= 4 && st.VictimEvictions > 0 }},
		{"scan targets", func() (rs []flow.Record) {
			for i := range 200 {
				rs = append(rs, fl(time.Duration(i)*ms, "10.0.0.200", "10.2.0.1", uint16(i+1), "tcp", "REJ"))
			}
			return rs
		}, func(st Stats) bool { return st.ScanTargetDrops == 150 }},
		{"beacon pairs", func() (rs []flow.Record) {
			for i := range 30 { // ten destinations, three connections each: pairs start at the third
				rs = append(rs, fl(time.Duration(i)*ms, "10.0.0.201", ip4(10, 3, 0, i%10+1), 443, "tcp", "SF"))
			}
			return rs
		}, func(st Stats) bool { return st.Pairs == 4 && st.PairDrops == 6 }},
		{"pending destinations", func() (rs []flow.Record) {
			for i := range 100 {
				rs = append(rs, fl(time.Duration(i)*ms, "10.0.0.202", ip4(10, 4, 0, i+1), 443, "tcp", "SF"))
			}
			return rs
		}, func(st Stats) bool { return st.PendingEvictions == 100-maxPending }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := tc.flows()
			e := New(cfg)
			for i := range rs {
				e.Observe(&rs[i])
			}
			st := e.Stats() // before Flush, which may forget state
			if !tc.check(st) || st.Flows != uint64(len(rs)) {
				t.Errorf("limit not kept or drop not counted: %+v", st)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.TRWSuccessScanner, c.HorizontalHosts = 0.9, -1
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "trw_success_scanner") || !strings.Contains(err.Error(), "horizontal_hosts") {
		t.Errorf("Validate() = %v", err)
	}
}

func TestTails(t *testing.T) {
	tests := []struct {
		name      string
		got, want float64
	}{
		{"poisson P(X>=0)", poissonTail(0, 3), 1},
		{"poisson P(X>=3|2)", poissonTail(3, 2), 0.3233235838},
		{"poisson P(X>=25|4)", poissonTail(25, 4), 1.5693138e-12},
		{"binom P(X>=2|4,.5)", binomTail(2, 4, 0.5), 0.6875},
		{"binom P(X>=10|25,.1)", binomTail(10, 25, 0.1), 7.8981901e-05},
		{"normal P(Z>=1.96)", normalTail(1.96), 0.0249979},
	}
	for _, tc := range tests {
		if d := tc.got/tc.want - 1; d > 1e-3 || d < -1e-3 {
			t.Errorf("%s = %.6g, want %.6g", tc.name, tc.got, tc.want)
		}
	}
}
