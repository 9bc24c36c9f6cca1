package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
)

// officeFlows makes n minutes of office traffic from start (a flow every
// ~2 s), and when attacks is set a vertical scan of 300 ports by 10.0.0.66
// from minute 10 (one probe every 0.5 s, so it runs 2.5 minutes), a
// beacon from 10.0.0.77 every minute, and a SYN flood on 10.0.0.9 from
// minute 20. Flows are in time order.
func officeFlows(seed uint64, start time.Time, minutes int, attacks bool) []flow.Record {
	rng := rand.New(rand.NewPCG(seed, 7))
	var rs []flow.Record
	span := time.Duration(minutes) * time.Minute
	i := 0
	for t := start; t.Before(start.Add(span)); t = t.Add(time.Duration(rng.ExpFloat64() * float64(2*time.Second))) {
		i++
		r := flow.Record{TS: t, UID: fmt.Sprintf("C%d-%06d", seed, i), OrigH: netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + rng.IntN(20))}),
			OrigP: uint16(40000 + rng.IntN(20000)), Source: flow.SourceZeek, ConnState: "SF"}
		if rng.IntN(2) == 0 {
			ob, rb := 300+rng.IntN(800), 2000+rng.IntN(60000)
			r.RespH, r.RespP, r.Proto, r.IPProto, r.Service = netip.AddrFrom4([4]byte{93, 184, 216, byte(rng.IntN(8))}), 443, flow.ProtoTCP, 6, "ssl"
			r.Duration = time.Duration((0.05 + rng.Float64()) * float64(time.Second))
			r.OrigBytes, r.RespBytes, r.History = uint64(ob), uint64(rb), "ShADadFf"
			r.OrigPkts, r.RespPkts = uint64(6+ob/1000), uint64(6+rb/1400)
			r.OrigIPBytes, r.RespIPBytes = uint64(ob)+40*r.OrigPkts, uint64(rb)+40*r.RespPkts
		} else {
			r.RespH, r.RespP, r.Proto, r.IPProto, r.Service = netip.MustParseAddr("10.0.0.1"), 53, flow.ProtoUDP, 17, "dns"
			r.Duration = time.Duration(rng.Float64() / 50 * float64(time.Second))
			r.OrigBytes, r.RespBytes, r.History, r.OrigPkts, r.RespPkts = uint64(30+rng.IntN(20)), uint64(80+rng.IntN(100)), "Dd", 1, 1
			r.OrigIPBytes, r.RespIPBytes = r.OrigBytes+28, r.RespBytes+28
		}
		rs = append(rs, r)
	}
	if attacks {
		for p := range 300 {
			rs = append(rs, flow.Record{TS: start.Add(10*time.Minute + time.Duration(p)*500*time.Millisecond), UID: fmt.Sprintf("Cscan%04d", p),
				OrigH: netip.MustParseAddr("10.0.0.66"), OrigP: 51234, RespH: netip.MustParseAddr("10.0.0.5"), RespP: uint16(1 + p*7),
				Proto: flow.ProtoTCP, IPProto: 6, ConnState: "S0", History: "S", OrigPkts: 1, OrigIPBytes: 44, Source: flow.SourceZeek})
		}
		for k := range minutes {
			rs = append(rs, flow.Record{TS: start.Add(time.Duration(k)*time.Minute + time.Duration(rng.IntN(400))*time.Millisecond),
				UID: fmt.Sprintf("Cbeacon%03d", k), OrigH: netip.MustParseAddr("10.0.0.77"), OrigP: uint16(40000 + rng.IntN(20000)),
				RespH: netip.MustParseAddr("198.51.100.7"), RespP: 8443, Proto: flow.ProtoTCP, IPProto: 6, Service: "ssl",
				Duration: 200 * time.Millisecond, OrigBytes: 310, RespBytes: 1200, ConnState: "SF", History: "ShADadFf",
				OrigPkts: 6, OrigIPBytes: 550, RespPkts: 5, RespIPBytes: 1400, Source: flow.SourceZeek})
		}
		for k := range 400 {
			rs = append(rs, flow.Record{TS: start.Add(20*time.Minute + time.Duration(k)*100*time.Millisecond),
				UID: fmt.Sprintf("Cflood%04d", k), OrigH: netip.AddrFrom4([4]byte{203, 0, 113, byte(k)}), OrigP: uint16(1024 + k),
				RespH: netip.MustParseAddr("10.0.0.9"), RespP: 80, Proto: flow.ProtoTCP, IPProto: 6, ConnState: "S0", History: "S",
				OrigPkts: 1, OrigIPBytes: 44, Source: flow.SourceZeek})
		}
	}
	slices.SortStableFunc(rs, func(a, b flow.Record) int { return a.TS.Compare(b.TS) })
	return rs
}

var (
	testModel    *detect.Model
	testModelErr error
)

// trainedModel fits a model on three hours of clean office traffic, once.
func trainedModel(tb testing.TB) *detect.Model {
	tb.Helper()
	if testModel == nil && testModelErr == nil {
		cfg := detect.DefaultConfig()
		cfg.Trees = 16
		tr := detect.NewTrainer(cfg)
		for _, r := range officeFlows(1, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), 180, false) {
			tr.Add(&r)
		}
		testModel, testModelErr = tr.Fit()
	}
	if testModelErr != nil {
		tb.Fatal(testModelErr)
	}
	return testModel
}

// testOnline is a daemon's pipeline writing JSON lines to out through a
// live incident fold.
func testOnline(tb testing.TB, out *bytes.Buffer) *Online {
	tb.Helper()
	m := trainedModel(tb)
	cfg := detect.DefaultConfig()
	fold := alert.NewFold(alert.NewJSONLines(out, "test", nil), time.Hour, 0, true)
	eng := behavior.New(behavior.DefaultConfig())
	eng.SetKnown(m.KnownBehaviors)
	o := NewOnline(NewDetector(m, cfg), eng, NewAlerter(fold, "test"))
	o.SetFold(fold)
	return o
}

func feed(tb testing.TB, o *Online, rs []flow.Record) {
	tb.Helper()
	ctx := context.Background()
	for i := range rs {
		if err := o.Flow(ctx, &rs[i]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := o.Flush(ctx); err != nil {
		tb.Fatal(err)
	}
}

// TestSnapshotContinuesAsIfNeverStopped feeds a stream with a scan, a
// beacon and a flood to one Online, committing (Flush) at a cut; and the
// same stream to an Online that is snapshotted at the cut and a fresh
// Online restored from the snapshot, which takes the rest. The documents
// written and the counters are the same, for cuts in the middle of the
// scan, of the flood, and in between.
func TestSnapshotContinuesAsIfNeverStopped(t *testing.T) {
	rs := officeFlows(2, time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC), 40, true)
	cutAt := func(ts time.Time) int {
		return slices.IndexFunc(rs, func(r flow.Record) bool { return !r.TS.Before(ts) })
	}
	day := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		cut  int
	}{
		{"mid-scan", cutAt(day.Add(11 * time.Minute))},
		{"mid-flood", cutAt(day.Add(20*time.Minute + 20*time.Second))},
		{"quiet", cutAt(day.Add(30 * time.Minute))},
		{"first-flow", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want, got bytes.Buffer
			one := testOnline(t, &want)
			feed(t, one, rs[:tc.cut])
			feed(t, one, rs[tc.cut:])

			first := testOnline(t, &got)
			feed(t, first, rs[:tc.cut])
			var snap bytes.Buffer
			if err := first.Snapshot(&snap); err != nil {
				t.Fatal(err)
			}
			second := testOnline(t, &got)
			if err := second.Restore(bytes.NewReader(snap.Bytes())); err != nil {
				t.Fatal(err)
			}
			feed(t, second, rs[tc.cut:])

			if d := cmp.Diff(strings.Split(want.String(), "\n"), strings.Split(got.String(), "\n")); d != "" {
				t.Errorf("documents (-uninterrupted +restored):\n%s", d)
			}
			ws, gs := one.Stats(), second.Stats()
			ws.Behavior.Bytes, gs.Behavior.Bytes, ws.Behavior.BytesPerHost, gs.Behavior.BytesPerHost = 0, 0, 0, 0
			if d := cmp.Diff(ws, gs); d != "" {
				t.Errorf("stats (-uninterrupted +restored):\n%s", d)
			}
			if !strings.Contains(want.String(), `"vertical_scan"`) || !strings.Contains(want.String(), `"syn_flood"`) {
				t.Errorf("the stream made no scan or flood alert:\n%.2000s", want.String())
			}
			t.Logf("%d flows, cut at %d; snapshot %d bytes for %d behavioural sources, %d scored hosts",
				len(rs), tc.cut, snap.Len(), gs.Behavior.Hosts, gs.Scorer.Hosts)
		})
	}
}

// TestRestoreRefusesBadSnapshots: a snapshot cut short, with a flipped
// byte, of another version or not a snapshot at all gives an error that
// says which, never a panic.
func TestRestoreRefusesBadSnapshots(t *testing.T) {
	var out bytes.Buffer
	o := testOnline(t, &out)
	feed(t, o, officeFlows(3, time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC), 15, true))
	var snap bytes.Buffer
	if err := o.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	good := snap.Bytes()
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrNotSnapshot},
		{"model file", []byte("MLADSMDL\x00\x00\x00\x02"), ErrNotSnapshot},
		{"cut", good[:len(good)/2], ErrSnapshotCorrupt},
		{"flipped", mutate(func(b []byte) []byte { b[len(b)/2] ^= 1; return b }), ErrSnapshotCorrupt},
		{"version", mutate(func(b []byte) []byte { b[11] = 99; return b }), ErrSnapshotVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := testOnline(t, &out).Restore(bytes.NewReader(tc.b))
			if !errors.Is(err, tc.want) {
				t.Errorf("Restore: %v; want %v", err, tc.want)
			}
		})
	}
}

// BenchmarkSnapshot measures the checkpoint's cost for a daemon tracking
// many sources: each of hosts sources makes a few flows to a handful of
// destinations (so each has an open window, a first-contact memory and
// pending beacon destinations, and host statistics in the scorer), then
// one snapshot is written per iteration. The pipeline has no Fold: what is
// measured is the per-host state, not open incidents (a JSON document
// each, which these made-up hosts would open by the thousand). It reports
// the snapshot's bytes per tracked source and the time of one Restore;
// ns/op is one Snapshot.
func BenchmarkSnapshot(b *testing.B) {
	for _, hosts := range []int{1000, 10000, 50000} {
		b.Run(fmt.Sprint(hosts), func(b *testing.B) {
			o := benchOnline(b)
			t0 := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
			rs := officeFlows(4, t0, 4, false)
			ctx := context.Background()
			for i := range hosts * 4 {
				r := rs[i%len(rs)]
				h := i % hosts
				r.TS = t0.Add(time.Duration(i) * time.Millisecond)
				r.OrigH = netip.AddrFrom4([4]byte{10, byte(h >> 16), byte(h >> 8), byte(h)})
				r.RespH = netip.AddrFrom4([4]byte{93, 184, byte(i % 5), byte(i % 7)})
				if err := o.Flow(ctx, &r); err != nil {
					b.Fatal(err)
				}
			}
			if err := o.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			var snap bytes.Buffer
			for b.Loop() {
				snap.Reset()
				if err := o.Snapshot(&snap); err != nil {
					b.Fatal(err)
				}
			}
			st := o.Stats()
			b.ReportMetric(float64(snap.Len())/float64(st.Behavior.Hosts), "bytes/source")
			b.ReportMetric(float64(snap.Len()), "bytes")
			t1 := time.Now()
			if err := benchOnline(b).Restore(bytes.NewReader(snap.Bytes())); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(time.Since(t1).Milliseconds()), "restore-ms")
		})
	}
}

// benchOnline is the daemon's pipeline without a Fold, alerts discarded.
func benchOnline(tb testing.TB) *Online {
	m := trainedModel(tb)
	eng := behavior.New(behavior.DefaultConfig())
	eng.SetKnown(m.KnownBehaviors)
	return NewOnline(NewDetector(m, detect.DefaultConfig()), eng, NewAlerter(alert.Discard{}, "bench"))
}

// TestSetModelKeepsState: switching to a model in the middle of a scan
// (here the same model, loaded again) changes nothing in what is written:
// the windows, host statistics and evidence carry over.
func TestSetModelKeepsState(t *testing.T) {
	rs := officeFlows(2, time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC), 40, true)
	cut := slices.IndexFunc(rs, func(r flow.Record) bool {
		return !r.TS.Before(time.Date(2026, 3, 3, 8, 11, 0, 0, time.UTC))
	})
	var want, got bytes.Buffer
	one := testOnline(t, &want)
	feed(t, one, rs[:cut])
	feed(t, one, rs[cut:])

	two := testOnline(t, &got)
	feed(t, two, rs[:cut])
	b, err := trainedModel(t).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m, err := detect.UnmarshalModel(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := two.SetModel(m, detect.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	feed(t, two, rs[cut:])
	if d := cmp.Diff(strings.Split(want.String(), "\n"), strings.Split(got.String(), "\n")); d != "" {
		t.Errorf("documents (-one model +switched):\n%s", d)
	}
}
