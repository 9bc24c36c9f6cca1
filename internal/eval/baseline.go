package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
)

func runBaseline(ctx context.Context, opts Options, path string, alpha, split float64) (*Metrics, error) {
	py := opts.Python
	if py == "" {
		py = "python3"
	}
	cmd := exec.CommandContext(ctx, py, opts.Baseline, "--alpha", fmt.Sprint(alpha), "--split", fmt.Sprint(split), path)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", opts.Baseline, err)
	}
	var m Metrics
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("baseline %s: output %q: %w", opts.Baseline, out, err)
	}
	return &m, nil
}
