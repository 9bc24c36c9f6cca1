package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
)

// Peer is one peer detector's outcome on a set, as the peers script
// (bench/eval/peers.py) reports it.
type Peer struct {
	Name string `json:"name"`
	Metrics
	FitOn   int     `json:"fit_on"`  // training flows it was fit on (knn and lof are capped)
	Seconds float64 `json:"seconds"` // fit and score, wall clock
	Err     string  `json:"error"`   // why it did not run; its metrics are zero then
}

// peersOutput is the JSON object the peers script prints.
type peersOutput struct {
	Train int    `json:"n_train"`
	Test  int    `json:"n_test"`
	Peers []Peer `json:"peers"`
}

// runPeers fits every peer of the script on the same split and budget as
// mlads and returns their outcomes in the script's order.
func runPeers(ctx context.Context, opts Options, path string, alpha, split float64) ([]Peer, error) {
	py := opts.Python
	if py == "" {
		py = "python3"
	}
	cmd := exec.CommandContext(ctx, py, opts.Peers, "--alpha", fmt.Sprint(alpha), "--split", fmt.Sprint(split), path)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("peers %s: %w", opts.Peers, err)
	}
	var po peersOutput
	if err := json.Unmarshal(out, &po); err != nil {
		return nil, fmt.Errorf("peers %s: output %q: %w", opts.Peers, out, err)
	}
	if len(po.Peers) == 0 {
		return nil, fmt.Errorf("peers %s: no peer in output %q", opts.Peers, out)
	}
	return po.Peers, nil
}

// best returns the peer with the highest value of metric among those that
// ran, the earlier one on a tie; ok is false when none ran.
func best(peers []Peer, metric func(Metrics) float64) (best Peer, ok bool) {
	for _, p := range peers {
		if p.Err != "" {
			continue
		}
		if !ok || metric(p.Metrics) > metric(best.Metrics) {
			best, ok = p, true
		}
	}
	return best, ok
}

// Metric selectors for best.
func rocOf(m Metrics) float64    { return m.ROCAUC }
func prOf(m Metrics) float64     { return m.PRAUC }
func recallOf(m Metrics) float64 { return m.Recall }
