package app

import (
	"context"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/detect"
)

func TestRankMetrics(t *testing.T) {
	tests := []struct {
		name     string
		scores   []float64
		truth    []bool
		roc, apr float64
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1, 1},
		{"inverted", []float64{0.9, 0.8, 0.2, 0.1}, []bool{false, false, true, true}, 0, 5.0 / 12},
		{"all tied", []float64{1, 1, 1, 1}, []bool{false, true, false, true}, 0.5, 0.5},
		// scikit-learn docs: roc_auc_score([0,0,1,1],[.1,.4,.35,.8]) = 0.75, average_precision_score = 0.8333
		{"sklearn example", []float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75, 0.8333333},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rocAUC(tc.scores, tc.truth); math.Abs(got-tc.roc) > 1e-6 {
				t.Errorf("ROC-AUC %g, want %g", got, tc.roc)
			}
			if got := averagePrecision(tc.scores, tc.truth); math.Abs(got-tc.apr) > 1e-6 {
				t.Errorf("PR-AUC %g, want %g", got, tc.apr)
			}
		})
	}
}

func TestMaliciousLabel(t *testing.T) {
	for label, want := range map[string]bool{
		"Malicious": true, "malicious/C&C": true, "Malicious   PartOfAHorizontalPortScan": true,
		"Benign": false, "benign": false, "Background": false, "": false, "Unknown": false,
	} {
		if got := malicious(label); got != want {
			t.Errorf("malicious(%q) = %v", label, got)
		}
	}
}

// TestEvalFloors runs the evaluation on the labelled sets of the shared
// data, with scikit-learn's IsolationForest when Python has it, and checks
// the floors (see Floor) and the benign alert rate on the benign-only
// sets. It is the regression guard of the README's table.
func TestEvalFloors(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluation skipped in -short mode")
	}
	data := filepath.Join("..", "..", "..", "shared", "data")
	sets := DefaultEvalSets(data)
	if len(sets) == 0 {
		t.Skipf("no labelled sets under %s (shared data absent)", data)
	}
	opts := EvalOptions{Detect: detect.DefaultConfig()}
	script := filepath.Join("..", "..", "bench", "eval", "iforest.py")
	if err := exec.Command("python3", "-c", "import numpy, sklearn").Run(); err == nil {
		opts.Baseline = script
	} else {
		t.Logf("no baseline: python3 lacks numpy/scikit-learn (%v); checking mlads alone", err)
	}
	res, err := Eval(context.Background(), sets, opts)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	if err := WriteEvalTable(&table, res); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
	for _, r := range res {
		switch {
		case r.Skipped != "":
			continue
		case r.BaseErr != "":
			t.Errorf("%s: baseline failed: %s", r.Set, r.BaseErr)
		case r.Baseline != nil && Floor(r) == "FAIL":
			t.Errorf("%s: floors not met: ROC-AUC %.4f vs IF %.4f, PR-AUC %.4f vs IF %.4f",
				r.Set, r.MLADS.ROCAUC, r.Baseline.ROCAUC, r.MLADS.PRAUC, r.Baseline.PRAUC)
		case r.MLADS.ROCAUC < 0.95:
			t.Errorf("%s: ROC-AUC %.4f below 0.95", r.Set, r.MLADS.ROCAUC)
		}
	}
}
