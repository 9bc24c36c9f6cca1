package eval

import (
	"cmp"
	"slices"
)

// Metrics are the quality numbers of one detector on one set.
type Metrics struct {
	ROCAUC          float64 `json:"roc_auc"`
	PRAUC           float64 `json:"pr_auc"`
	Recall          float64 `json:"recall"`            // malicious test flows alerted at the budget
	BenignAlertRate float64 `json:"benign_alert_rate"` // benign test flows alerted at the budget
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
