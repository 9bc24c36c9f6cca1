package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/metrics"
)

// scrape reads url's /metrics with the Prometheus text parser.
func scrape(tb testing.TB, c *http.Client, url string) map[string]*dto.MetricFamily {
	tb.Helper()
	res, err := c.Get(url + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		tb.Fatalf("GET /metrics: %s", res.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		tb.Fatalf("GET /metrics: the text parser: %v", err)
	}
	return fams
}

// sample returns the value of the sample of family name whose labels
// include labels (name=value pairs), and whether there is one. A
// histogram's value is its count.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// healthz returns /healthz's status code and report.
func healthz(tb testing.TB, c *http.Client, url string) (int, metrics.HealthReport) {
	tb.Helper()
	res, err := c.Get(url + "/healthz")
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var rep metrics.HealthReport
	if err := json.NewDecoder(res.Body).Decode(&rep); err != nil {
		tb.Fatalf("GET /healthz: %v", err)
	}
	return res.StatusCode, rep
}

// TestRunMetrics runs the daemon with a model on a growing conn.log, its
// alerts going to the JSON lines and to an Elasticsearch that does not
// answer, and scrapes /metrics with the Prometheus text parser: the
// counters move with the traffic (flows, scores, alerts by detector, the
// spool), and /healthz, 200 while nothing is waiting, turns 503 naming
// Elasticsearch once alerts are spooled instead of stored. No goroutine
// is left behind.
func TestRunMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon for seconds")
	}
	ignore := goleak.IgnoreCurrent() // what runs already is not ours
	dir := t.TempDir()
	modelPath, start := trainOffice(t, dir)
	// nothing listens on dead: Elasticsearch is down from the start
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	extra := fmt.Sprintf(`  model: %q
  observer: metrics-test
  health_interval: 0s
elasticsearch:
  url: "http://%s"
  timeout: 1s
  retry_timeout: 1s
  dead_letter: %q
  spool:
    dir: %q
`, modelPath, dead, filepath.Join(dir, "dead.ndjson"), filepath.Join(dir, "spool"))
	cfg, err := config.Load(followConfig(t, dir, "conn.log*", extra), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Run.MetricsListen = "127.0.0.1:0" // followConfig turns it off; port 0 picks a free one
	var logBuf syncBuffer
	log := slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewDaemon(cfg, nil, log).Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	}
	defer stop()

	// the address the daemon bound, from its log
	addrRE := regexp.MustCompile(`"msg":"serving /metrics and /healthz"[^\n]*"addr":"([^"]+)"`)
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == ""; time.Sleep(10 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(logBuf.String()); m != nil {
			url = "http://" + m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not say where it serves; log:\n%s", logBuf.String())
		}
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	// waitFor scrapes until ok says the metrics are there.
	waitFor := func(what string, ok func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			fams := scrape(t, client, url)
			if ok(fams) {
				return fams
			}
			if time.Now().After(deadline) {
				f, _ := sample(fams, "mlads_flows_total")
				t.Fatalf("%s: not within 30 s (flows %v); log:\n%s", what, f, logBuf.String())
			}
		}
	}

	// Nothing to read yet: healthy once the loop has come round.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		code, rep := healthz(t, client, url)
		if code == http.StatusOK && rep.Status == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz before any input: %d %+v", code, rep)
		}
	}
	fams := scrape(t, client, url)
	if v, ok := sample(fams, "mlads_build_info"); !ok || v != 1 {
		t.Errorf("mlads_build_info = %v, %v", v, ok)
	}
	if v, _ := sample(fams, "mlads_flows_total"); v != 0 {
		t.Errorf("mlads_flows_total = %v before any input", v)
	}
	for _, name := range []string{"go_goroutines", "mlads_process_resident_memory_bytes", "mlads_model_age_seconds", "mlads_loop_last_pass_timestamp_seconds"} {
		if _, ok := sample(fams, name); !ok {
			t.Errorf("%s is missing", name)
		}
	}
	// the model can alert: its smallest reachable p-value is below the threshold
	minP, ok1 := sample(fams, "mlads_model_min_p_value")
	alpha, ok2 := sample(fams, "mlads_model_alert_threshold")
	if !ok1 || !ok2 || !(minP > 0 && minP < alpha) {
		t.Errorf("mlads_model_min_p_value %v (%v), mlads_model_alert_threshold %v (%v): want 0 < min p < threshold", minP, ok1, alpha, ok2)
	}

	// An hour of traffic with a vertical scan.
	one := connLines("one", 2, start.Add(4*time.Hour), time.Hour, 10*time.Minute, false)
	logPath := filepath.Join(dir, "logs", "conn.log")
	if err := os.WriteFile(logPath, []byte(connHeader+one), 0o644); err != nil {
		t.Fatal(err)
	}
	flows1 := float64(strings.Count(one, "\n"))
	fams = waitFor("the first hour's flows and the scan alert", func(f map[string]*dto.MetricFamily) bool {
		n, _ := sample(f, "mlads_flows_total")
		scored, _ := sample(f, "mlads_flow_score")
		scans, _ := sample(f, "mlads_alerts_total", "detector", "vertical_scan")
		return n == flows1 && scored == flows1 && scans == 1
	})
	if v, _ := sample(fams, "mlads_input_lines_total"); v < flows1 {
		t.Errorf("mlads_input_lines_total = %v, want at least %v", v, flows1)
	}
	if v, _ := sample(fams, "mlads_flows_scored_total"); v != flows1 {
		t.Errorf("mlads_flows_scored_total = %v, want %v", v, flows1)
	}
	if v, _ := sample(fams, "mlads_findings_total", "detector", "vertical_scan"); v < 1 {
		t.Errorf("mlads_findings_total{detector=vertical_scan} = %v", v)
	}
	if v, _ := sample(fams, "mlads_input_files"); v != 1 {
		t.Errorf("mlads_input_files = %v, want 1", v)
	}

	// Elasticsearch does not answer: the alerts are spooled, and the
	// daemon says it is unhealthy, and why.
	fams = waitFor("alerts spooled", func(f map[string]*dto.MetricFamily) bool {
		v, _ := sample(f, "mlads_elasticsearch_spool_documents")
		return v > 0
	})
	if v, _ := sample(fams, "mlads_elasticsearch_documents_total", "result", "spooled"); v < 1 {
		t.Errorf("mlads_elasticsearch_documents_total{result=spooled} = %v", v)
	}
	code, rep := healthz(t, client, url)
	if code != http.StatusServiceUnavailable || rep.Status != "unhealthy" || len(rep.Reasons) == 0 ||
		!strings.HasPrefix(rep.Reasons[0], "output elasticsearch: ") || !strings.Contains(rep.Reasons[0], "spooled") {
		t.Errorf("/healthz with alerts spooled: %d %+v", code, rep)
	}
	t.Logf("/healthz: %d %+v", code, rep)

	// The log grows by an hour with a beacon: the counters move on.
	two := connLines("two", 3, start.Add(5*time.Hour), time.Hour, 0, true)
	appendLog(t, logPath, two)
	flows2 := flows1 + float64(strings.Count(two, "\n"))
	fams = waitFor("the second hour's flows and the beacon alert", func(f map[string]*dto.MetricFamily) bool {
		n, _ := sample(f, "mlads_flows_total")
		beacons, _ := sample(f, "mlads_alerts_total", "detector", "beacon")
		return n == flows2 && beacons == 1
	})
	if v, _ := sample(fams, "mlads_alerts_total", "detector", "vertical_scan"); v != 1 {
		t.Errorf("mlads_alerts_total{detector=vertical_scan} = %v after the second hour, want 1", v)
	}
	if v, ok := sample(fams, "mlads_input_lag_seconds"); !ok || v < 1 {
		t.Errorf("mlads_input_lag_seconds = %v, %v: the newest flow is months old", v, ok)
	}
	if v, _ := sample(fams, "mlads_output_errors_total", "sink", "jsonlines"); v != 0 {
		t.Errorf("mlads_output_errors_total{sink=jsonlines} = %v", v)
	}
	if _, ok := sample(fams, "mlads_drops_total", "reason", "long_line"); !ok {
		t.Error("mlads_drops_total{reason=long_line} is missing")
	}

	stop()
	// the server is gone with the daemon
	if _, err := client.Get(url + "/healthz"); err == nil {
		t.Error("/healthz still answers after the daemon stopped")
	}
	client.CloseIdleConnections()
	goleak.VerifyNone(t, ignore)
}
