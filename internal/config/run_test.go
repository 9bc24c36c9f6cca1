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
