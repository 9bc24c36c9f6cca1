package detect

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// maxCalib bounds the scores a calibrator keeps; larger reservoirs are
// thinned to evenly spaced order statistics (the top tail is kept whole).
const maxCalib = 16384

// calibrator turns a raw score into a p-value against the scores of clean
// held-out flows: the share of calibration scores at least as high, and
// beyond the top tail an exponential extrapolation fitted to the tail's
// mean excess, so the most extreme flows still get distinct, ordered
// p-values rather than all sharing 1/(n+1). With a Floor
// (newFlooredCalibrator) the extrapolation approaches it and never goes
// below.
type calibrator struct {
	Scores []float64 // ascending
	N      int       // reservoir size the scores stand for
	Tail   int       // number of top scores the tail fit uses (counted in N units)
	U      float64   // tail threshold: the Tail-th highest score
	Beta   float64   // mean excess over U
	// Floor is the smallest p-value the tail may give, 0 for none.
	Floor float64
}

// newFlooredCalibrator is newCalibrator whose p-values never go below the
// reservoir's resolution, 1/(n+1): a score above all n calibration scores
// says only that it is rarer than every one of them, however far out it
// is, so no detector can claim more evidence than its sample supports.
// Without the floor, a traffic group that training never had (a discrete
// score with tied top values, so a near-zero tail scale) was extrapolated
// to p = 1e-96 and beyond and outweighed every other signal. The tail
// approaches the floor instead of crossing it, so the most extreme scores
// keep their order; evidence beyond one detector's resolution comes from
// several detectors agreeing, through the combination and the final
// calibration, whose input is then bounded too.
func newFlooredCalibrator(scores []float64) calibrator {
	c := newCalibrator(scores)
	if c.N > 0 {
		c.Floor = 1 / float64(c.N+1)
	}
	return c
}

func newCalibrator(scores []float64) calibrator {
	s := slices.Clone(scores)
	slices.Sort(s)
	n := len(s)
	c := calibrator{N: n}
	if n == 0 {
		return c
	}
	k := max(10, min(n/50, 500))
	k = min(k, n)
	c.Tail = k
	c.U = s[n-k]
	var ex float64
	for _, v := range s[n-k:] {
		ex += v - c.U
	}
	c.Beta = ex / float64(k)
	scale := math.Abs(c.U)*1e-3 + 1e-9
	if c.Beta < scale {
		c.Beta = scale
	}
	if n > maxCalib {
		// keep the top tail exactly and thin the body
		body := s[:n-k]
		keep := maxCalib - k
		thin := make([]float64, 0, maxCalib)
		for i := 0; i < keep; i++ {
			thin = append(thin, body[i*len(body)/keep])
		}
		s = append(thin, s[n-k:]...)
	}
	c.Scores = s
	return c
}

// pvalue returns the calibrated p-value of raw score x.
func (c *calibrator) pvalue(x float64) float64 {
	if c.N == 0 {
		return 1
	}
	if x > c.U {
		pt := float64(c.Tail) / float64(c.N+1)
		p := c.Floor + (pt-c.Floor)*math.Exp(-(x-c.U)/c.Beta)
		return max(p, 1e-300)
	}
	// number of kept scores >= x, rescaled to the reservoir size
	i := sort.SearchFloat64s(c.Scores, x)
	ge := float64(len(c.Scores) - i)
	if len(c.Scores) != c.N {
		ge *= float64(c.N) / float64(len(c.Scores))
	}
	return min(1, (ge+1)/float64(c.N+1))
}

// cauchyCombine is the Cauchy combination test (ACAT, Liu & Xie 2020): the
// mean of tan((0.5-p)π) over the p-values is approximately standard Cauchy
// under the null whatever their dependence, and its upper tail gives the
// combined p-value.
func cauchyCombine(ps []float64) float64 {
	var t float64
	for _, p := range ps {
		// p-values near 1 would send tan to -Inf and cancel any signal;
		// capping them at 0.99 bounds a quiet detector's pull at -31.8
		p = min(max(p, 1e-300), 0.99)
		if p < 1e-15 {
			t += 1 / (p * math.Pi) // tan((0.5-p)π) ≈ 1/(pπ) for tiny p
		} else {
			t += math.Tan((0.5 - p) * math.Pi)
		}
	}
	t /= float64(len(ps))
	if t > 1e15 {
		return 1 / (t * math.Pi)
	}
	return 0.5 - math.Atan(t)/math.Pi
}

// How the detectors' p-values are combined into one statistic. Either is
// then calibrated against the reservoir (Model.Final), so the final
// p-value is valid whatever the detectors' dependence; they differ in
// power. Fisher's sum of -log p adds up evidence from several detectors;
// the Cauchy combination follows the strongest one.
const (
	CombineFisher = "fisher"
	CombineCauchy = "cauchy"
)

// combineStat returns the combined statistic of ps: higher is more
// anomalous.
func combineStat(method string, ps []float64) float64 {
	if method == CombineCauchy {
		return -math.Log(cauchyCombine(ps))
	}
	var t float64
	for _, p := range ps {
		t -= math.Log(max(p, 1e-300))
	}
	return t
}

// MinPValue returns the smallest p-value any flow can get from m: the
// final calibration of a flow that is beyond every detector's calibration
// sample at once. Each detector's p-value is floored at its reservoir's
// resolution, so this is finite; when it is not below Alpha, the model
// cannot alert at all (a baseline too small to say that anything is
// rare at the budget).
func (m *Model) MinPValue() float64 {
	var ps [numDetectors]float64
	for d := range ps {
		ps[d] = max(m.Calib[d].Floor, 1e-300)
	}
	return m.Final.pvalue(combineStat(m.Combine, ps[:]))
}

// CanAlert reports whether some flow can reach the alert threshold.
func (m *Model) CanAlert() bool { return m.MinPValue() < m.Alpha }

// AlertLimit returns "" when a flow that one detector alone finds rarer
// than its whole calibration sample can reach the alert threshold, and
// otherwise a sentence that says what the baseline can alert on, with the
// numbers: nothing at all, or only flows that several detectors find
// unusual at once.
func (m *Model) AlertLimit() string {
	minP := m.MinPValue()
	floor := m.Calib[0].Floor
	switch {
	case minP >= m.Alpha:
		return fmt.Sprintf("this baseline cannot alert: its %d calibration flows (of %d) resolve a detector's p-value only down to %.3g, "+
			"so the most unusual flow possible scores p = %.3g, not below the alert threshold %.3g; train on a larger baseline",
			m.CalibFlows, m.TrainFlows, floor, minP, m.Alpha)
	case floor >= m.Alpha:
		return fmt.Sprintf("only flows that several detectors find unusual at once can alert: the %d calibration flows (of %d) resolve one detector's "+
			"p-value down to %.3g, above the alert threshold %.3g (the smallest reachable p-value is %.3g); a larger baseline or budget lowers this",
			m.CalibFlows, m.TrainFlows, floor, m.Alpha, minP)
	}
	return ""
}
