package app

import (
	"context"
	"math"
	"os"
	"path/filepath"
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

// TestEvalSharedData runs the protocol (without the Python baseline) on
// the Stratosphere 011 day of the shared data: a regression guard for the
// detection quality documented in the README.
func TestEvalSharedData(t *testing.T) {
	data := filepath.Join("..", "..", "..", "shared", "data")
	if _, err := os.Stat(data); err != nil {
		t.Skipf("shared data not found at %s: %v", data, err)
	}
	var sets []EvalSet
	for _, s := range DefaultEvalSets(data) {
		if s.Name == "strat-011" {
			sets = append(sets, s)
		}
	}
	if len(sets) == 0 {
		t.Skip("strat-011 not in the shared data")
	}
	res, err := Eval(context.Background(), sets, EvalOptions{Detect: detect.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	if r.MLADS.ROCAUC < 0.97 || r.MLADS.PRAUC < 0.95 {
		t.Errorf("strat-011: ROC-AUC %.4f, PR-AUC %.4f; README says 0.997 and 0.986", r.MLADS.ROCAUC, r.MLADS.PRAUC)
	}
	if r.MLADS.BenignAlertRate > 2*r.Alpha {
		t.Errorf("strat-011: benign alert rate %.4f over twice the budget %.4f", r.MLADS.BenignAlertRate, r.Alpha)
	}
}
