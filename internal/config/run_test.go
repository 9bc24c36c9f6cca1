package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRunSection(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "configs", "mlads.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Run.PollInterval != 200*time.Millisecond || c.Run.CommitInterval != time.Second || c.Run.StatsInterval != time.Minute {
		t.Errorf("run section: got %+v", c.Run)
	}
}

// TestRunMetricsListen: the listen addresses that load.
func TestRunMetricsListen(t *testing.T) {
	for _, addr := range []string{"", "127.0.0.1:9464", "[::1]:9464", ":9464", "localhost:0", "sensor-1.example.org:9464"} {
		c, err := Load("", []string{"MLADS_RUN_METRICS_LISTEN=" + addr})
		if err != nil || c.Run.MetricsListen != addr {
			t.Errorf("%q: got %q, %v", addr, c.Run.MetricsListen, err)
		}
	}
}

func TestRunValidate(t *testing.T) {
	tests := []struct {
		env  string
		want string
	}{
		{"MLADS_RUN_MAX_LINE_BYTES=10", "run.max_line_bytes: 10 must be at least 256"},
		{"MLADS_RUN_OUTPUT=", `run.output: must not be empty`},
		{"MLADS_RUN_POSITIONS=", `run.positions: must not be empty`},
		{"MLADS_RUN_POLL_INTERVAL=0s", "run.poll_interval: 0s must be at least 1ms"},
		{"MLADS_RUN_COMMIT_INTERVAL=0s", "run.commit_interval: 0s must be at least 1ms"},
		{"MLADS_RUN_STATS_INTERVAL=-1s", "run.stats_interval: -1s must not be negative"},
		{"MLADS_RUN_METRICS_LISTEN=127.0.0.1", `run.metrics_listen: "127.0.0.1" is not host:port`},
		{"MLADS_RUN_METRICS_LISTEN=127.0.0.1:http", `run.metrics_listen: "127.0.0.1:http" has port "http", want a number from 0 to 65535`},
		{"MLADS_RUN_METRICS_LISTEN=[::1]:70000", `run.metrics_listen: "[::1]:70000" has port "70000"`},
		{"MLADS_RUN_METRICS_LISTEN=my host:9464", `run.metrics_listen: "my host:9464" has host "my host", want an IP address or a host name`},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			_, err := Load("", []string{tc.env})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestDiff names the changed keys by their dotted paths, nested sections
// included, and nothing when the configurations are equal.
func TestDiff(t *testing.T) {
	a := Default()
	if d := Diff(a, a); len(d) != 0 {
		t.Errorf("Diff of equal configs: %v", d)
	}
	b := Default()
	b.Run.Inputs = []string{"x"}
	b.Log.Level = "debug"
	b.Detect.Behavior.ScanWindow *= 2
	want := []string{"log.level", "run.inputs", "detect.behavior.scan_window"}
	if d := Diff(a, b); !slices.Equal(d, want) {
		t.Errorf("Diff = %v, want %v", d, want)
	}
}
