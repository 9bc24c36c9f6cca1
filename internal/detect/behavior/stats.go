package behavior

import (
	"math"
	"slices"
)

// The p-values of the behavioural detectors are upper-tail probabilities of
// simple null models (Poisson counts, binomial shares, the exponential
// intervals of a Poisson process, a Pareto duration tail) or, for the
// threshold random walk, Ville's bound on a likelihood ratio. They are
// "calibrated-ish": exact under their null, conservative where stated, and
// meant to be recalibrated against the clean reservoir of the model.

// minP keeps p-values away from zero so that -log10 stays finite.
const minP = 1e-300

// clampP keeps p in [minP, 1].
func clampP(p float64) float64 {
	switch {
	case math.IsNaN(p):
		return 1
	case p < minP:
		return minP
	case p > 1:
		return 1
	}
	return p
}

// score is -log10 p.
func score(p float64) float64 { return -math.Log10(clampP(p)) }

// lfact is log(k!).
func lfact(k float64) float64 {
	v, _ := math.Lgamma(k + 1)
	return v
}

// poissonTail is P(X >= k) for X ~ Poisson(lambda), summed in log space so
// that it does not underflow for large k.
func poissonTail(k int, lambda float64) float64 {
	if k <= 0 {
		return 1
	}
	if lambda <= 0 {
		return 0
	}
	if float64(k) <= lambda {
		// Lower side: 1 - P(X <= k-1) is accurate enough here.
		s := 0.0
		for i := 0; i < k; i++ {
			s += math.Exp(float64(i)*math.Log(lambda) - lambda - lfact(float64(i)))
		}
		return clampP(1 - s)
	}
	// Upper side: terms decrease from i = k; sum until negligible.
	lt := float64(k)*math.Log(lambda) - lambda - lfact(float64(k))
	s, term := 0.0, 1.0
	for i := k; i < k+2000 && term > 1e-17*s; i++ {
		if i > k {
			term *= lambda / float64(i)
		}
		s += term
	}
	return clampP(math.Exp(lt + math.Log(s)))
}

// binomTail is P(X >= k) for X ~ Binomial(n, p).
func binomTail(k, n int, p float64) float64 {
	if k <= 0 {
		return 1
	}
	if k > n || p <= 0 {
		return 0
	}
	if p >= 1 {
		return 1
	}
	lp, lq := math.Log(p), math.Log1p(-p)
	ln := lfact(float64(n))
	s := 0.0
	for i := k; i <= n; i++ {
		lt := ln - lfact(float64(i)) - lfact(float64(n-i)) + float64(i)*lp + float64(n-i)*lq
		s += math.Exp(lt)
	}
	return clampP(s)
}

// normalTail is P(Z >= z) for a standard normal Z.
func normalTail(z float64) float64 { return clampP(0.5 * math.Erfc(z/math.Sqrt2)) }

// quantile returns the q-quantile of sorted xs by linear interpolation.
func quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	pos := q * float64(n-1)
	i := int(pos)
	if i >= n-1 {
		return sorted[n-1]
	}
	f := pos - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}

// robust summarises a sample the way RITA does: quartiles, Bowley skew and
// the median absolute deviation from the median.
type robust struct {
	q1, median, q3 float64
	skew           float64 // Bowley: (Q3 + Q1 - 2 Q2) / (Q3 - Q1); 0 when undefined
	mad            float64
}

// summarize sorts xs in place and uses scratch (resized) for the deviations.
func summarize(xs []float64, scratch *[]float64) robust {
	slices.Sort(xs)
	r := robust{q1: quantile(xs, 0.25), median: quantile(xs, 0.5), q3: quantile(xs, 0.75)}
	// As RITA: Bowley skew is unreliable when Q2 equals Q1 or Q3.
	if den := r.q3 - r.q1; den != 0 && r.median != r.q1 && r.median != r.q3 {
		r.skew = (r.q3 + r.q1 - 2*r.median) / den
	}
	d := (*scratch)[:0]
	for _, x := range xs {
		d = append(d, math.Abs(x-r.median))
	}
	slices.Sort(d)
	r.mad = quantile(d, 0.5)
	*scratch = d
	return r
}
