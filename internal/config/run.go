package config

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Run configures the daemon (`mlads run`): which logs it follows, the model
// it scores with and where its output goes.
type Run struct {
	// Model is the model file (from mlads train) the daemon scores with.
	// Empty: the daemon does not detect, and writes the flows it reads to
	// Output.
	Model string `mapstructure:"model"`
	// ModelCheckpoint is where the daemon writes the model with what its
	// gated online updates taught (the known hosts and services), every
	// ModelCheckpointInterval. Empty: run.model with ".learned" appended,
	// so the trained model is not replaced unless this names it.
	ModelCheckpoint string `mapstructure:"model_checkpoint"`
	// ModelCheckpointInterval is how often the model checkpoint is
	// written (when something was learned since); 0 turns it off.
	ModelCheckpointInterval time.Duration `mapstructure:"model_checkpoint_interval"`
	// Observer is the alerts' observer.name (the sensor); empty takes the
	// host name.
	Observer string `mapstructure:"observer"`
	// FlowsOutput, when set, is where the daemon also writes every flow as
	// a JSON line while it detects ("-" is stdout). Flows and alerts never
	// share a file.
	FlowsOutput string `mapstructure:"flows_output"`
	// Inputs are the files or globs to follow; each one's format is
	// detected from its content. Include the rotated names (conn.log*) so
	// that a copytruncate rotation loses nothing and a restart finishes a
	// file rotated while mlads was down.
	Inputs []string `mapstructure:"inputs"`
	// Interfaces are the network interfaces to capture (read as the
	// capture section says), in any mix with Inputs.
	Interfaces []string `mapstructure:"interfaces"`
	// Output is the file the alert documents are written to as JSON lines
	// (the flows, when there is no model); "-" is stdout. A file gets
	// exactly-once output across crashes; stdout at least once.
	Output string `mapstructure:"output"`
	// Positions is the file where read positions are kept across restarts.
	Positions string `mapstructure:"positions"`
	// MaxLineBytes is the longest line read; longer lines are reported and skipped.
	MaxLineBytes int `mapstructure:"max_line_bytes"`
	// PollInterval is how often the inputs are looked at again when idle
	// (new files, growth, rotation).
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// CommitInterval is how often the output is flushed and synced and the
	// positions saved: at most this much work is redone after a crash.
	CommitInterval time.Duration `mapstructure:"commit_interval"`
	// StatsInterval is how often counters are logged; 0 turns that off.
	StatsInterval time.Duration `mapstructure:"stats_interval"`
	// HealthInterval is how often the sensor-health documents (the
	// sensor's, and one per captured interface) go to Elasticsearch (when
	// elasticsearch.url is set); 0 turns that off.
	HealthInterval time.Duration `mapstructure:"health_interval"`
	// StartAt is where a first start (no positions saved yet) begins in
	// the files already there: "beginning" reads them whole, "end" only
	// what is written from now on. Later files and restarts lose nothing
	// either way.
	StartAt string `mapstructure:"start_at"`
	// MetricsListen is the host:port where the daemon serves Prometheus
	// metrics (/metrics) and its health (/healthz); empty turns the
	// server off. The default is loopback: the metrics name hosts and
	// files, so exposing them is a choice.
	MetricsListen string `mapstructure:"metrics_listen"`
}

// Values of Run.StartAt.
const (
	StartAtBeginning = "beginning"
	StartAtEnd       = "end"
)

func defaultRun() Run {
	return Run{
		Output:         "-",
		Positions:      "mlads.positions.json",
		MaxLineBytes:   1 << 20,
		PollInterval:   200 * time.Millisecond,
		CommitInterval: time.Second,
		StatsInterval:  time.Minute,
		HealthInterval: time.Minute,
		StartAt:        StartAtBeginning,
		MetricsListen:  "127.0.0.1:9464",

		ModelCheckpointInterval: time.Hour,
	}
}

func (r *Run) validate() []error {
	var errs []error
	if r.MaxLineBytes < 256 {
		errs = append(errs, fmt.Errorf("run.max_line_bytes: %d must be at least 256", r.MaxLineBytes))
	}
	if r.Output == "" {
		errs = append(errs, fmt.Errorf("run.output: must not be empty (use \"-\" for stdout)"))
	}
	if r.FlowsOutput != "" && r.FlowsOutput == r.Output {
		errs = append(errs, fmt.Errorf("run.flows_output: %q is run.output too; flows and alerts need files of their own", r.FlowsOutput))
	}
	seen := map[string]bool{}
	for _, i := range r.Interfaces {
		if i == "" || seen[i] {
			errs = append(errs, fmt.Errorf("run.interfaces: %q is empty or given twice", i))
		}
		seen[i] = true
	}
	if r.Positions == "" {
		errs = append(errs, fmt.Errorf("run.positions: must not be empty"))
	}
	if r.PollInterval < time.Millisecond {
		errs = append(errs, fmt.Errorf("run.poll_interval: %s must be at least 1ms", r.PollInterval))
	}
	if r.CommitInterval < time.Millisecond {
		errs = append(errs, fmt.Errorf("run.commit_interval: %s must be at least 1ms", r.CommitInterval))
	}
	if r.StartAt != StartAtBeginning && r.StartAt != StartAtEnd {
		errs = append(errs, fmt.Errorf("run.start_at: %q must be %q or %q", r.StartAt, StartAtBeginning, StartAtEnd))
	}
	if r.HealthInterval < 0 {
		errs = append(errs, fmt.Errorf("run.health_interval: %s must not be negative", r.HealthInterval))
	}
	if r.ModelCheckpointInterval < 0 {
		errs = append(errs, fmt.Errorf("run.model_checkpoint_interval: %s must not be negative", r.ModelCheckpointInterval))
	}
	if cp := r.ModelCheckpoint; cp != "" {
		for _, o := range []struct{ key, path string }{{"run.output", r.Output}, {"run.flows_output", r.FlowsOutput}, {"run.positions", r.Positions}} {
			if cp == o.path {
				errs = append(errs, fmt.Errorf("run.model_checkpoint: %q is %s too", cp, o.key))
			}
		}
	}
	if r.StatsInterval < 0 {
		errs = append(errs, fmt.Errorf("run.stats_interval: %s must not be negative", r.StatsInterval))
	}
	if err := validListen(r.MetricsListen); err != nil {
		errs = append(errs, fmt.Errorf("run.metrics_listen: %q %w (host:port, e.g. 127.0.0.1:9464; empty turns the server off)", r.MetricsListen, err))
	}
	return errs
}

// ModelCheckpointPath is where the model checkpoint goes: ModelCheckpoint,
// or the model's path with ".learned" appended; "" without a model.
func (r *Run) ModelCheckpointPath() string {
	switch {
	case r.ModelCheckpoint != "":
		return r.ModelCheckpoint
	case r.Model != "":
		return r.Model + ".learned"
	}
	return ""
}

// validListen checks a listen address: empty, or host:port with a port
// number (0 picks a free one) and a host that is empty (every address),
// an IP address or a name.
func validListen(addr string) error {
	if addr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("is not host:port")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (port != "0" && n == 0) {
		return fmt.Errorf("has port %q, want a number from 0 to 65535", port)
	}
	if host != "" && net.ParseIP(host) == nil {
		for _, c := range host {
			if c != '-' && c != '.' && (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
				return fmt.Errorf("has host %q, want an IP address or a host name", host)
			}
		}
	}
	return nil
}
