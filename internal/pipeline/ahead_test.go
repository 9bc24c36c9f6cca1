package pipeline

import (
	"errors"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
)

// TestAlertEachIsAlertThenLearn: AlertEach on two cores gives the alerts,
// verdicts, counters and learned model of Alert and Learn one flow at a
// time, with a scan, a beacon and a flood held as evidence; also when the
// host table fills up in the middle (the rest is scored one by one) or is
// too small from the start, with most flows spilled. An error of fn stops it and comes back.
func TestAlertEachIsAlertThenLearn(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	rs := officeFlows(3, time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC), 90, true)
	type alerted struct {
		uid string
		v   detect.Verdict
	}
	run := func(maxHosts int, ahead bool) ([]alerted, detect.ScorerStats, *detect.Model) {
		cfg := detect.DefaultConfig()
		cfg.MaxHosts = maxHosts
		// most flows spilled: the records Each passes are reused
		b := NewBatch(BatchOptions{Behavior: new(behavior.DefaultConfig()), MemFlows: 1000, SpillDir: t.TempDir()})
		defer b.Close()
		for i := range rs {
			if err := b.Add(&rs[i]); err != nil {
				t.Fatal(err)
			}
		}
		b.End()
		m := trainedModel(t)
		d := b.Detector(m, cfg)
		var got []alerted
		keep := func(r *flow.Record, v *detect.Verdict) error {
			c := alerted{uid: r.UID, v: *v}
			c.v.Hits = append([]detect.Hit(nil), v.Hits...)
			c.v.Features = append([]detect.Feature(nil), v.Features...)
			c.v.Behaviors = append([]detect.Finding(nil), v.Behaviors...)
			got = append(got, c)
			return nil
		}
		if ahead {
			if err := d.AlertEach(b.Each, keep); err != nil {
				t.Fatal(err)
			}
		} else {
			var v detect.Verdict
			if err := b.Each(func(r *flow.Record) error {
				if !d.Alert(r, &v) {
					d.Learn(r, &v)
					return nil
				}
				return keep(r, &v)
			}); err != nil {
				t.Fatal(err)
			}
		}
		return got, d.Stats(), d.Learned()
	}
	for _, maxHosts := range []int{100000, 700, 200} {
		want, wst, wm := run(maxHosts, false)
		got, gst, gm := run(maxHosts, true)
		if len(want) == 0 || wst.OnlineUpdates == 0 {
			t.Fatalf("max hosts %d: %d alerts, %d online updates: the test tests nothing", maxHosts, len(want), wst.OnlineUpdates)
		}
		if !reflect.DeepEqual(want, got) {
			t.Errorf("max hosts %d: %d alerts one by one, %d from AlertEach, or different verdicts", maxHosts, len(want), len(got))
		}
		if wst != gst {
			t.Errorf("max hosts %d: stats one by one %+v, AlertEach %+v", maxHosts, wst, gst)
		}
		if !reflect.DeepEqual(wm, gm) {
			t.Errorf("max hosts %d: the learned models differ", maxHosts)
		}
		t.Logf("max hosts %d: %d flows, %d alerts, %d online updates, %d hosts evicted", maxHosts, len(rs), len(want), wst.OnlineUpdates, wst.HostsEvicted)
	}

	stop := errors.New("stop")
	b := NewBatch(BatchOptions{})
	defer b.Close()
	for i := range rs {
		if err := b.Add(&rs[i]); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	err := b.Detector(trainedModel(t), detect.DefaultConfig()).AlertEach(b.Each, func(*flow.Record, *detect.Verdict) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("fn failed: AlertEach returned %v after %d calls; want stop after 1", err, n)
	}
}

// BenchmarkAlertEach scores a kept batch of office flows with attacks
// (about one in five alerts) one flow at a time (Alert, Learn) and with
// AlertEach, the alerts discarded; ns/flow is per flow scored.
func BenchmarkAlertEach(b *testing.B) {
	rs := officeFlows(3, time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC), 240, true)
	bt := NewBatch(BatchOptions{Behavior: new(behavior.DefaultConfig())})
	defer bt.Close()
	for i := range rs {
		if err := bt.Add(&rs[i]); err != nil {
			b.Fatal(err)
		}
	}
	bt.End()
	discard := func(*flow.Record, *detect.Verdict) error { return nil }
	for _, ahead := range []bool{false, true} {
		name := map[bool]string{false: "one-by-one", true: "ahead"}[ahead]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d := bt.Detector(trainedModel(b), detect.DefaultConfig())
				if ahead {
					if err := d.AlertEach(bt.Each, discard); err != nil {
						b.Fatal(err)
					}
					continue
				}
				var v detect.Verdict
				if err := bt.Each(func(r *flow.Record) error {
					if !d.Alert(r, &v) {
						d.Learn(r, &v)
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rs)), "ns/flow")
		})
	}
}
