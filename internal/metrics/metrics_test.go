package metrics

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

// TestFuncs: NewFunc's samples and NewHistogramFunc's buckets, as the
// exposition format gives them.
func TestFuncs(t *testing.T) {
	var n atomic.Int64
	n.Store(7)
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewFunc("mlads_things_total", "Things.", prometheus.CounterValue, nil, func(emit Emit) { emit(float64(n.Load())) }),
		NewFunc("mlads_drops_total", "Drops.", prometheus.CounterValue, []string{"reason"}, func(emit Emit) {
			emit(2, "full")
			emit(3, "evicted")
		}),
		NewHistogramFunc("mlads_score", "Scores.", func() (Histogram, bool) {
			return Histogram{Bounds: []float64{1, 5}, Counts: []uint64{4, 2}, Count: 7, Sum: 30}, true
		}),
		NewHistogramFunc("mlads_nothing", "Nothing yet.", func() (Histogram, bool) { return Histogram{}, false }),
	)
	want := `# HELP mlads_drops_total Drops.
# TYPE mlads_drops_total counter
mlads_drops_total{reason="evicted"} 3
mlads_drops_total{reason="full"} 2
# HELP mlads_score Scores.
# TYPE mlads_score histogram
mlads_score_bucket{le="1"} 4
mlads_score_bucket{le="5"} 6
mlads_score_bucket{le="+Inf"} 7
mlads_score_sum 30
mlads_score_count 7
# HELP mlads_things_total Things.
# TYPE mlads_things_total counter
mlads_things_total 7
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	n.Store(9) // read at each scrape
	want = "# HELP mlads_things_total Things.\n# TYPE mlads_things_total counter\nmlads_things_total 9\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "mlads_things_total"); err != nil {
		t.Error(err)
	}
}

func get(tb testing.TB, url string) (int, string) {
	tb.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := c.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// TestServer: /metrics and /healthz answer while Run runs (200 with
// {"status":"ok"}, 503 with the reasons), Run returns nil when its context
// ends and leaves nothing running, and a bound address is an error at
// Listen.
func TestServer(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var why atomic.Pointer[[]string]
	why.Store(&[]string{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewFunc("mlads_up_things", "Things up.", prometheus.GaugeValue, nil, func(emit Emit) { emit(1) }))
	s, err := Listen("127.0.0.1:0", reg, func(time.Time) []string { return *why.Load() }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(s.Addr().String(), reg, nil, slog.New(slog.DiscardHandler)); err == nil ||
		!strings.Contains(err.Error(), "metrics: listen on "+s.Addr().String()) {
		t.Errorf("second Listen on %s: %v, want an error naming the address", s.Addr(), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	url := "http://" + s.Addr().String()

	if code, body := get(t, url+"/metrics"); code != 200 || !strings.Contains(body, "mlads_up_things 1\n") {
		t.Errorf("/metrics: %d %s", code, body)
	}
	tests := []struct {
		why  []string
		code int
		want HealthReport
	}{
		{nil, 200, HealthReport{Status: "ok"}},
		{[]string{"output elasticsearch: 3 documents spooled"}, 503, HealthReport{Status: "unhealthy", Reasons: []string{"output elasticsearch: 3 documents spooled"}}},
		{[]string{}, 200, HealthReport{Status: "ok"}},
	}
	for _, tc := range tests {
		why.Store(&tc.why)
		code, body := get(t, url+"/healthz")
		var got HealthReport
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("/healthz: %v: %s", err, body)
		}
		if code != tc.code || !cmp.Equal(got, tc.want) {
			t.Errorf("/healthz with %q: %d %s, want %d %+v", tc.why, code, body, tc.code, tc.want)
		}
	}
	if code, _ := get(t, url+"/nothing"); code != 404 {
		t.Errorf("/nothing: %d, want 404", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("the server still answers after Run returned")
	}
}
