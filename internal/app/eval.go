package app

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

// EvalSet is one labelled log to evaluate on.
type EvalSet struct {
	Name string
	Path string
}

// DefaultEvalSets lists the labelled sets of the shared data folder that
// the evaluation uses (Stratosphere 001, 008, 010, 011, 012 and the IoT-23
// scenarios); the ones missing under data are skipped.
func DefaultEvalSets(data string) []EvalSet {
	sd := filepath.Join(data, "stratosphere-labeled", "security-datasets-for-testing")
	sets := []EvalSet{
		{"strat-001", filepath.Join(sd, "001-zeek-scenario-malicious", "labeled-conn.log")},
		{"strat-008", filepath.Join(sd, "008-zeek-mixed", "data", "conn.log.labeled")},
		{"strat-010", filepath.Join(sd, "010-zeek-mixed", "data", "conn.log.labeled")},
		{"strat-011", filepath.Join(sd, "011-zeek-mixed", "data", "conn.log.labeled")},
		{"strat-012", filepath.Join(sd, "012-zeek-mixed", "data", "conn.log.labeled")},
	}
	iot, _ := filepath.Glob(filepath.Join(data, "iot23-csv", "*-labeled.csv"))
	slices.Sort(iot)
	for _, p := range iot {
		name := strings.TrimSuffix(filepath.Base(p), "-labeled.csv")
		name = "iot23-" + strings.TrimPrefix(strings.TrimPrefix(name, "CTU-"), "Malware-Capture-")
		sets = append(sets, EvalSet{name, p})
	}
	var out []EvalSet
	for _, s := range sets {
		if _, err := os.Stat(s.Path); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// EvalOptions configures Eval.
type EvalOptions struct {
	Detect detect.Config
	// Baseline is the path of the IsolationForest script (bench/eval/iforest.py);
	// empty skips the baseline.
	Baseline string
	Python   string // interpreter, "python3" when empty
	// Split is the share of each log (in time) used for training; 0 means
	// one half.
	Split float64
}

// Metrics are the quality numbers of one detector on one set.
type Metrics struct {
	ROCAUC          float64 `json:"roc_auc"`
	PRAUC           float64 `json:"pr_auc"`
	Recall          float64 `json:"recall"`            // malicious test flows alerted at the budget
	BenignAlertRate float64 `json:"benign_alert_rate"` // benign test flows alerted at the budget
}

// EvalResult is the outcome on one set.
type EvalResult struct {
	Set       string
	Train     int // benign flows of the first half
	Test      int // all flows of the second half
	Malicious int // malicious flows in the test half
	Alpha     float64
	MLADS     Metrics
	Baseline  *Metrics // nil when the baseline did not run
	BaseErr   string
	Skipped   string // why the set was not evaluated
	TrainTime time.Duration
	ScoreRate float64 // flows/s while scoring
}

// Eval runs the time-ordered protocol on each set: train on the benign
// flows of the first half (labels pick them and nothing else), score all
// flows of the second half, and measure; then the same for the baseline.
func Eval(ctx context.Context, sets []EvalSet, opts EvalOptions) ([]EvalResult, error) {
	var out []EvalResult
	for _, s := range sets {
		res, err := evalSet(ctx, s, opts)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

func evalSet(ctx context.Context, s EvalSet, opts EvalOptions) (EvalResult, error) {
	res := EvalResult{Set: s.Name}
	recs, err := readLabelled(ctx, s.Path)
	if err != nil {
		return res, err
	}
	slices.SortStableFunc(recs, func(a, b flow.Record) int { return a.TS.Compare(b.TS) })
	split := opts.Split
	if split <= 0 || split >= 1 {
		split = 0.5
	}
	half := int(split * float64(len(recs)))
	train, test := recs[:half], recs[half:]

	t0 := time.Now()
	tr := detect.NewTrainer(opts.Detect)
	for i := range train {
		if malicious(train[i].Label) {
			continue
		}
		r := train[i]
		r.Label = "" // the detector never sees labels
		tr.Add(&r)
	}
	res.Train = tr.Len()
	m, err := tr.Fit()
	if errors.Is(err, detect.ErrTooFewFlows) {
		res.Skipped = err.Error()
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("eval: %s: %w", s.Name, err)
	}
	res.TrainTime = time.Since(t0)
	res.Alpha = m.Alpha

	sc := m.NewScorer(opts.Detect)
	scores := make([]float64, len(test))
	alerts := make([]bool, len(test))
	truth := make([]bool, len(test))
	var v detect.Verdict
	t1 := time.Now()
	for i := range test {
		truth[i] = malicious(test[i].Label)
		r := test[i]
		r.Label = ""
		sc.Score(&r, &v)
		scores[i] = v.Score
		alerts[i] = v.Alert
	}
	if el := time.Since(t1).Seconds(); el > 0 {
		res.ScoreRate = float64(len(test)) / el
	}
	res.Test = len(test)
	for _, t := range truth {
		if t {
			res.Malicious++
		}
	}
	if res.Malicious == 0 || res.Malicious == len(test) {
		res.Skipped = fmt.Sprintf("test half has one class (%d malicious of %d)", res.Malicious, len(test))
	}
	res.MLADS = measure(scores, alerts, truth)

	if opts.Baseline != "" && res.Skipped == "" {
		b, err := runBaseline(ctx, opts, s.Path, m.Alpha, split)
		if err != nil {
			res.BaseErr = err.Error()
		} else {
			res.Baseline = b
		}
	}
	return res, nil
}

func measure(scores []float64, alerts, truth []bool) Metrics {
	var m Metrics
	m.ROCAUC = rocAUC(scores, truth)
	m.PRAUC = averagePrecision(scores, truth)
	var pos, neg, tp, fp int
	for i := range truth {
		if truth[i] {
			pos++
			if alerts[i] {
				tp++
			}
		} else {
			neg++
			if alerts[i] {
				fp++
			}
		}
	}
	if pos > 0 {
		m.Recall = float64(tp) / float64(pos)
	}
	if neg > 0 {
		m.BenignAlertRate = float64(fp) / float64(neg)
	}
	return m
}

// rocAUC is the Mann–Whitney statistic with ties counted half.
func rocAUC(scores []float64, truth []bool) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(scores[a], scores[b]) })
	var pos, neg, rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // average 1-based rank of the tie block
		for k := i; k < j; k++ {
			if truth[idx[k]] {
				pos++
				rankSum += avg
			} else {
				neg++
			}
		}
		i = j
	}
	if pos == 0 || neg == 0 {
		return 0
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

// averagePrecision is scikit-learn's average_precision_score: the sum over
// distinct thresholds of (recall step) × precision.
func averagePrecision(scores []float64, truth []bool) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	var pos float64
	for _, t := range truth {
		if t {
			pos++
		}
	}
	if pos == 0 {
		return 0
	}
	var tp, fp, ap, lastRecall float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			if truth[idx[j]] {
				tp++
			} else {
				fp++
			}
			j++
		}
		rec := tp / pos
		ap += (rec - lastRecall) * tp / (tp + fp)
		lastRecall = rec
		i = j
	}
	return ap
}

func runBaseline(ctx context.Context, opts EvalOptions, path string, alpha, split float64) (*Metrics, error) {
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

// Floor checks one set against the floors: ROC-AUC at least the
// baseline's + 0.02, and PR-AUC at least 1.2 × the baseline's where the
// baseline's is below 0.8. Where the baseline's ROC-AUC is above 0.98 the
// first floor is out of reach (an AUC cannot pass 1); there the set passes
// as "saturated" when mlads is at least as good as the baseline.
func Floor(r EvalResult) string {
	if r.Baseline == nil {
		return "n/a"
	}
	b := *r.Baseline
	prOK := b.PRAUC >= 0.8 || r.MLADS.PRAUC >= 1.2*b.PRAUC
	switch {
	case r.MLADS.ROCAUC >= b.ROCAUC+0.02 && prOK:
		return "pass"
	case b.ROCAUC+0.02 > 1 && r.MLADS.ROCAUC >= b.ROCAUC && prOK:
		return "pass (saturated)"
	}
	return "FAIL"
}

// WriteEvalTable prints the results as a Markdown table with the floors
// checked (see Floor). Sets whose test half holds only benign flows are
// listed with their benign alert rate against the budget.
func WriteEvalTable(w io.Writer, results []EvalResult) error {
	var b strings.Builder
	b.WriteString("| set | train benign | test (malicious) | ROC-AUC mlads | ROC-AUC IF | PR-AUC mlads | PR-AUC IF | recall@budget mlads | recall@budget IF | benign alert rate mlads | benign alert rate IF | budget | floors |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, r := range results {
		switch {
		case r.Skipped != "" && r.Test > 0 && r.Malicious == 0:
			fmt.Fprintf(&b, "| %s | %d | %d (0) | | | | | | | %.4f | | %.4f | benign only |\n",
				r.Set, r.Train, r.Test, r.MLADS.BenignAlertRate, r.Alpha)
			continue
		case r.Skipped != "":
			fmt.Fprintf(&b, "| %s | %d | %d (%d) | | | | | | | | | | skipped: %s |\n", r.Set, r.Train, r.Test, r.Malicious, r.Skipped)
			continue
		}
		bl := Metrics{}
		floor := "n/a: " + r.BaseErr
		if r.Baseline != nil {
			bl = *r.Baseline
			floor = Floor(r)
		}
		fmt.Fprintf(&b, "| %s | %d | %d (%d) | %.4f | %.4f | %.4f | %.4f | %.3f | %.3f | %.4f | %.4f | %.4f | %s |\n",
			r.Set, r.Train, r.Test, r.Malicious, r.MLADS.ROCAUC, bl.ROCAUC, r.MLADS.PRAUC, bl.PRAUC,
			r.MLADS.Recall, bl.Recall, r.MLADS.BenignAlertRate, bl.BenignAlertRate, r.Alpha, floor)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
