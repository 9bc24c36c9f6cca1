package eval

import (
	"fmt"
	"io"
	"strings"
)

// ROCSlack is how far below the best peer's ROC-AUC mlads's may be on a
// set (issue 12): less is noise between detectors of equal quality.
const ROCSlack = 0.005

// tie absorbs floating-point noise when mlads and a peer rank the test
// flows the same way (both 1.0, say).
const tie = 1e-9

// Floor checks one set against issue 12's floors: ROC-AUC at least the
// best peer's − ROCSlack, and PR-AUC at least the best peer's, the best
// taken per metric over the peers that ran. Both floors are reachable
// whatever the peers score (an AUC is at most 1), so unlike the old
// IsolationForest + 0.02 floor there is no "saturated" case: where a peer
// is perfect, mlads must be too. ok is false when a floor is missed or no
// peer ran; why is "pass", or says what fell short and by how much.
func Floor(r Result) (ok bool, why string) {
	roc, okR := best(r.Peers, rocOf)
	pr, okP := best(r.Peers, prOf)
	if !okR || !okP {
		return false, "n/a: no peer ran"
	}
	var short []string
	if d := r.MLADS.ROCAUC - roc.ROCAUC; d < -ROCSlack-tie {
		short = append(short, fmt.Sprintf("ROC-AUC %+.4f vs %s", d, roc.Name))
	}
	if d := r.MLADS.PRAUC - pr.PRAUC; d < -tie {
		short = append(short, fmt.Sprintf("PR-AUC %+.4f vs %s", d, pr.Name))
	}
	if len(short) > 0 {
		return false, "FAIL: " + strings.Join(short, ", ")
	}
	return true, "pass"
}

// WriteTable prints the results as a Markdown table: mlads next to the
// best peer per metric, named, and the floors checked (see Floor). The
// benign alert rate of the peers is that of the peer with the best recall,
// so that the two read as one operating point. Sets whose test half holds
// only benign flows are listed with mlads's benign alert rate against the
// budget. Peers that failed are listed under the table.
func WriteTable(w io.Writer, results []Result) error {
	var b strings.Builder
	b.WriteString("| set | train benign | test (malicious) | ROC-AUC mlads | ROC-AUC best peer | PR-AUC mlads | PR-AUC best peer | recall mlads | recall best peer | benign alert rate mlads | benign alert rate, that peer | budget | floors |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	var errs []string
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
		if r.PeerErr != "" {
			errs = append(errs, fmt.Sprintf("%s: %s", r.Set, r.PeerErr))
		}
		for _, p := range r.Peers {
			if p.Err != "" {
				errs = append(errs, fmt.Sprintf("%s: %s: %s", r.Set, p.Name, p.Err))
			}
		}
		var roc, pr, rec, benign string
		if p, ok := best(r.Peers, rocOf); ok {
			roc = fmt.Sprintf("%.4f (%s)", p.ROCAUC, p.Name)
		}
		if p, ok := best(r.Peers, prOf); ok {
			pr = fmt.Sprintf("%.4f (%s)", p.PRAUC, p.Name)
		}
		if p, ok := best(r.Peers, recallOf); ok {
			rec = fmt.Sprintf("%.3f (%s)", p.Recall, p.Name)
			benign = fmt.Sprintf("%.4f", p.BenignAlertRate)
		}
		_, floor := Floor(r)
		fmt.Fprintf(&b, "| %s | %d | %d (%d) | %.4f | %s | %.4f | %s | %.3f | %s | %.4f | %s | %.4f | %s |\n",
			r.Set, r.Train, r.Test, r.Malicious, r.MLADS.ROCAUC, roc, r.MLADS.PRAUC, pr,
			r.MLADS.Recall, rec, r.MLADS.BenignAlertRate, benign, r.Alpha, floor)
	}
	for _, e := range errs {
		fmt.Fprintf(&b, "\npeer error: %s\n", e)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WritePeerTable prints every detector's ROC-AUC and PR-AUC per set as a
// Markdown table, mlads first and the peers in the script's order, so that
// the best peer of WriteTable can be read in context. Sets without peers
// are left out.
func WritePeerTable(w io.Writer, results []Result) error {
	var names []string
	for _, r := range results {
		if len(r.Peers) > 0 {
			for _, p := range r.Peers {
				names = append(names, p.Name)
			}
			break
		}
	}
	if len(names) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("| set (ROC-AUC / PR-AUC) | mlads |")
	for _, n := range names {
		b.WriteString(" " + n + " |")
	}
	b.WriteString("\n|---|--:|" + strings.Repeat("--:|", len(names)) + "\n")
	for _, r := range results {
		if r.Skipped != "" || len(r.Peers) == 0 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %.4f / %.4f |", r.Set, r.MLADS.ROCAUC, r.MLADS.PRAUC)
		for _, n := range names {
			cell := ""
			for _, p := range r.Peers {
				switch {
				case p.Name != n:
				case p.Err != "":
					cell = "error"
				default:
					cell = fmt.Sprintf("%.4f / %.4f", p.ROCAUC, p.PRAUC)
				}
			}
			b.WriteString(" " + cell + " |")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
