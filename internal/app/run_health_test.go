package app

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/capture"
	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/elastic"
	"github.com/mlads/mlads/internal/kafka"
)

// TestHealthReasons: /healthz's judgement of each problem, one reason
// each, from the loop's heartbeat and the snapshot it published.
func TestHealthReasons(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		beat     time.Time // zero: no pass yet
		snap     *runSnapshot
		notifier notifyStats
		want     []string
	}{
		{name: "starting", want: []string{"starting: the inputs have not been read yet"}},
		{name: "healthy", beat: now.Add(-time.Second), snap: &runSnapshot{Outputs: []outputState{{Name: "jsonlines"}}}},
		{name: "quiet a minute is not a stall", beat: now.Add(-time.Minute)},
		{name: "stalled", beat: now.Add(-2 * time.Minute),
			want: []string{"stalled: the daemon's loop has made no pass over the inputs for 2m0s (a sink or the disk hangs)"}},
		{name: "sink failing", beat: now, snap: &runSnapshot{Outputs: []outputState{{Name: "jsonlines"}, {Name: "notify", Errors: 3, Failing: "outbox: disk full"}}},
			want: []string{"output notify: last write or flush failed: outbox: disk full"}},
		{name: "spooled", beat: now, snap: &runSnapshot{Elastic: &elastic.Stats{Spool: elastic.SpoolStatus{Dir: "/var/lib/mlads/spool", Docs: 12}}},
			want: []string{"output elasticsearch: 12 documents spooled in /var/lib/mlads/spool, not in the cluster (it does not answer or refuses them)"}},
		{name: "spool empty", beat: now, snap: &runSnapshot{Elastic: &elastic.Stats{Spool: elastic.SpoolStatus{Dir: "/var/lib/mlads/spool"}}}},
		{name: "capture losing frames", beat: now, snap: &runSnapshot{Lossy: []captureLoss{
			{Name: "eth1", Kernel: 10, Ring: 5, Since: now.Add(-90 * time.Second), Last: now.Add(-3 * time.Second)},
			{Name: "eth2", Ring: 1, Since: now.Add(-2 * time.Minute), Last: now.Add(-time.Minute)}}},
			want: []string{"capture eth1: 15 frames lost since 2026-05-01T11:58:30Z (kernel 10, ring 5), the last 3s ago: the sensor does not see all the traffic"}},
		{name: "channels failing", beat: now, snap: &runSnapshot{}, notifier: fakeNotifier{},
			want: []string{"output notify: channel email failing since 0001-01-01T00:00:00Z", "output notify: channel sms failing since 0001-01-01T00:00:00Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newRunSink(config.Run{CommitInterval: time.Second}, nil, slog.New(slog.DiscardHandler))
			if !tc.beat.IsZero() {
				s.beat.Store(tc.beat.UnixNano())
			}
			if tc.snap != nil {
				s.snap.Store(tc.snap)
			}
			if diff := cmp.Diff(tc.want, s.health(now, tc.notifier)); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWatchedSink: the watch counts every failed call and keeps only the
// last call's error, so a sink that recovers is healthy again.
func TestWatchedSink(t *testing.T) {
	f := &flakySink{}
	w := &watchedSink{Sink: f, name: "flaky"}
	for _, fail := range []bool{true, true, false} {
		f.err = nil
		if fail {
			f.err = errors.New("down")
		}
		_, _ = w.Write(t.Context(), nil)
		_, _ = w.Flush(t.Context())
	}
	if w.errors != 4 || w.failing != nil {
		t.Errorf("errors %d, failing %v: want 4 and none", w.errors, w.failing)
	}
}

// flakySink fails every call with err while it is set.
type flakySink struct{ err error }

func (f *flakySink) Write(context.Context, []*alert.Alert) (bool, error) { return false, f.err }
func (f *flakySink) Flush(context.Context) (bool, error)                 { return false, f.err }

// TestKafkaMetricsAndHealth: a group member's families read its counters
// at scrape time, the alerts by detector among them, and /healthz is
// unhealthy while the brokers do not answer.
func TestKafkaMetricsAndHealth(t *testing.T) {
	st := &kafka.Stats{}
	var alerts atomic.Int64
	byRule := &ruleCounts{}
	reg := prometheus.NewRegistry()
	reg.MustRegister(kafkaMetrics(st, &alerts)...)
	reg.MustRegister(byRule.family())
	st.Records.Store(10)
	st.Partitions.Store(3)
	byRule.add("vertical_scan")
	byRule.add("vertical_scan")
	want := `# HELP mlads_alerts_total Alert documents made, by detector (rule.name); incident updates are not counted.
# TYPE mlads_alerts_total counter
mlads_alerts_total{detector="vertical_scan"} 2
# HELP mlads_kafka_partitions Partitions of the keyed topics this process detects now.
# TYPE mlads_kafka_partitions gauge
mlads_kafka_partitions 3
# HELP mlads_kafka_records_total Input records consumed and committed by stage 1.
# TYPE mlads_kafka_records_total counter
mlads_kafka_records_total 10
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "mlads_alerts_total", "mlads_kafka_partitions", "mlads_kafka_records_total"); err != nil {
		t.Error(err)
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	health := kafkaHealth(st, fakeNotifier{})
	channels := []string{"output notify: channel email failing since 0001-01-01T00:00:00Z", "output notify: channel sms failing since 0001-01-01T00:00:00Z"}
	if why := health(now); !slices.Equal(why, channels) {
		t.Errorf("brokers up: %q", why)
	}
	st.BrokerDownSince.Store(now.Add(-90 * time.Second).UnixNano())
	why := health(now)
	if len(why) != 3 || !strings.HasPrefix(why[0], "kafka: broker unreachable since 2026-05-01T11:58:30Z") || !slices.Equal(why[1:], channels) {
		t.Errorf("brokers down: %q", why)
	}
}

// TestDropWatch: an interface's losses since the capture opened make an
// episode that /healthz reports until dropHold has passed without a loss;
// a later loss starts a new episode.
func TestDropWatch(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	stats := func(kernel, ring uint64) capture.Stats {
		return capture.Stats{Interfaces: []capture.InterfaceStats{{Name: "eth0", KernelDrops: kernel, RingDrops: ring}, {Name: "eth1"}}}
	}
	var w dropWatch
	steps := []struct {
		at           time.Duration
		kernel, ring uint64 // totals
		want         []captureLoss
	}{
		{at: 0, kernel: 2, ring: 0, want: []captureLoss{{Name: "eth0", Kernel: 2, Since: t0, Last: t0}}}, // lost before the first look
		{at: time.Second, kernel: 2, ring: 3, want: []captureLoss{{Name: "eth0", Kernel: 2, Ring: 3, Since: t0, Last: t0.Add(time.Second)}}},
		{at: 30 * time.Second, kernel: 2, ring: 3, want: []captureLoss{{Name: "eth0", Kernel: 2, Ring: 3, Since: t0, Last: t0.Add(time.Second)}}},
		{at: time.Second + dropHold, kernel: 2, ring: 3},
		{at: 2 * dropHold, kernel: 2, ring: 4, want: []captureLoss{{Name: "eth0", Ring: 1, Since: t0.Add(2 * dropHold), Last: t0.Add(2 * dropHold)}}},
	}
	for _, st := range steps {
		got := w.look(t0.Add(st.at), stats(st.kernel, st.ring))
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("at +%s (-want +got):\n%s", st.at, diff)
		}
	}
}
