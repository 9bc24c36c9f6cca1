package eval

import (
	"fmt"
	"io"
	"strings"
)

// Floor checks one set against the floors: ROC-AUC at least the
// baseline's + 0.02, and PR-AUC at least 1.2 × the baseline's where the
// baseline's is below 0.8. Where the baseline's ROC-AUC is above 0.98 the
// first floor is out of reach (an AUC cannot pass 1); there the set passes
// as "saturated" when mlads is at least as good as the baseline.
func Floor(r Result) string {
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

// WriteTable prints the results as a Markdown table with the floors
// checked (see Floor). Sets whose test half holds only benign flows are
// listed with their benign alert rate against the budget.
func WriteTable(w io.Writer, results []Result) error {
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
