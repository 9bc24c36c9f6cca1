package config

import "fmt"

// Run configures the daemon (`mlads run`): which logs it follows and where
// its output goes.
type Run struct {
	// Inputs are the files or globs to follow; each one's format is
	// detected from its content.
	Inputs []string `mapstructure:"inputs"`
	// Output is the file flows are written to as JSON lines; "-" is stdout.
	Output string `mapstructure:"output"`
	// Positions is the file where read positions are kept across restarts.
	Positions string `mapstructure:"positions"`
	// MaxLineBytes is the longest line read; longer lines are reported and skipped.
	MaxLineBytes int `mapstructure:"max_line_bytes"`
}

func defaultRun() Run {
	return Run{
		Output:       "-",
		Positions:    "mlads.positions.json",
		MaxLineBytes: 1 << 20,
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
	return errs
}
