package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/elastic"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/notify"
	"github.com/mlads/mlads/internal/pipeline"
)

type fakeHealth struct{ got []elastic.Health }

func (f *fakeHealth) WriteHealth(_ context.Context, h elastic.Health) (bool, error) {
	f.got = append(f.got, h)
	return false, nil
}

type fakeNotifier struct{}

func (fakeNotifier) Stats() notify.Stats {
	return notify.Stats{Pending: 3, ChannelsFailing: map[string]time.Time{"sms": {}, "email": {}}}
}

// TestHealthReports: the daemon's Tick sends a health report every
// run.health_interval, with its counters and the notifier's failing
// channels, and asks for a commit so that it is flushed.
func TestHealthReports(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	base := filepath.Join(dir, "base.conn.log")
	if err := os.WriteFile(base, []byte(connHeader+connLines("h", 1, start, time.Hour, 0, false)), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "m.model")
	if _, err := Train(context.Background(), TrainOptions{Paths: []string{base}, Out: model, Detect: detect.DefaultConfig()}); err != nil {
		t.Fatal(err)
	}
	m, err := detect.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	h := &fakeHealth{}
	s := newRunSink(config.Run{Output: "-", HealthInterval: time.Minute}, nil, slog.New(slog.DiscardHandler))
	s.model = &runModel{m: m, dc: detect.DefaultConfig(), bcfg: behavior.DefaultConfig(),
		observer: "sensor-1", ctx: context.Background(), health: h, notifier: fakeNotifier{}}
	s.model.online = pipeline.NewOnline(pipeline.NewDetector(m, detect.DefaultConfig()), behavior.New(behavior.DefaultConfig()), pipeline.NewAlerter(alert.Discard{}, "sensor-1"))
	s.inputs = func() int { return 2 }
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	r := flow.Record{TS: t0.Add(-time.Minute), Proto: flow.ProtoTCP, ConnState: "SF"}
	if err := s.write(&r); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{0, 30 * time.Second, time.Minute, 90 * time.Second} {
		wrote, err := s.Tick(t0.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		if due := at == 0 || at == time.Minute; wrote != due {
			t.Errorf("Tick at +%s: wrote %v, want %v", at, wrote, due)
		}
	}
	if len(h.got) != 2 {
		t.Fatalf("%d health reports, want 2", len(h.got))
	}
	g := h.got[0]
	if g.Observer != "sensor-1" || g.Inputs != 2 || g.Flows != 1 || g.LagSeconds != 60 || g.NotifyPending != 3 ||
		!slices.Equal(g.ChannelsFailing, []string{"email", "sms"}) {
		t.Errorf("health report %+v", g)
	}
}
