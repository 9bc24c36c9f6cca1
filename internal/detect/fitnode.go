package detect

import (
	"math"
	"slices"
)

// fitScratch is one goroutine's scratch space for fitNode, reused from
// node to node.
type fitScratch struct {
	sample []int32
	vals   []float64
	dev    []float64
}

// fitNode fits location, spread, histograms and categorical counts to the
// rows in idx. It writes only to n, so nodes can be fitted in parallel,
// each goroutine with its own scratch.
func fitNode(n *node, m *matrix, idx []int32, vocabSizes [NumCategorical]int, sc *fitScratch) {
	n.N = len(idx)
	for j := 0; j < NumCategorical; j++ {
		n.Cat[j] = make([]uint32, vocabSizes[j])
		for _, i := range idx {
			c := m.c(i)[j]
			if int(c) < len(n.Cat[j]) {
				n.Cat[j][c]++
			}
		}
	}
	// location, spread and histograms from an evenly spaced sample: as
	// precise as the whole for these statistics, and training stays
	// linear in the number of flows
	if len(idx) > fitSample {
		s := sc.sample[:0]
		for k := 0; k < fitSample; k++ {
			s = append(s, idx[k*len(idx)/fitSample])
		}
		sc.sample = s
		idx = s
	}
	for j := 0; j < NumNumeric; j++ {
		vals := sc.vals[:0]
		// plain: no NaN, no infinity and no -0, so that equal values are
		// identical and every order statistic is one well-defined value
		plain := true
		for _, i := range idx {
			x := m.x(i)[j]
			b := math.Float32bits(x)
			plain = plain && b&0x7f800000 != 0x7f800000 && b != 0x80000000
			vals = append(vals, float64(x))
		}
		sc.vals = vals
		if plain && len(vals) > 0 {
			fitFeature(n, j, vals, sc)
		} else {
			fitFeatureSorted(n, j, vals, sc)
		}
	}
	n.LogFloor = math.Log(0.1 / (float64(len(idx)) + 0.5*hbosBins))
}

// fitFeature fits feature j to vals (plain values, see fitNode; reordered)
// by selection instead of sorting. Every number it computes is the one
// fitFeatureSorted computes, bit for bit: the order statistics are the
// same values, and the mean deviation (only needed when the MAD is 0) is
// summed in the same ascending order of the values.
func fitFeature(n *node, j int, vals []float64, sc *fitScratch) {
	lo, hi := vals[0], vals[0]
	for _, v := range vals[1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	med := quantileSelect(vals, 0.5)
	dev := sc.dev[:0]
	for _, v := range vals {
		dev = append(dev, math.Abs(v-med))
	}
	sc.dev = dev
	spread := 1.4826 * quantileSelect(dev, 0.5)
	if spread == 0 {
		spread = 1.2533 * sortedDevSum(vals, med) / float64(len(dev))
	}
	setFeature(n, j, vals, med, spread, lo, hi)
}

// sortedDevSum returns the sum of |v-med| over vals added in ascending
// order of v, as a loop over the sorted values adds it. Values equal to
// med add exactly +0 and change nothing, so only the others (fewer than
// half when the MAD is 0) are sorted. It reorders vals.
func sortedDevSum(vals []float64, med float64) float64 {
	k := 0
	for i, v := range vals {
		if v != med {
			vals[k], vals[i] = vals[i], vals[k]
			k++
		}
	}
	rest := vals[:k]
	slices.Sort(rest)
	var sum float64
	for _, v := range rest {
		sum += math.Abs(v - med)
	}
	return sum
}

// fitFeatureSorted fits feature j to vals by sorting them: the reference
// that fitFeature matches, used for values (NaN, infinities, -0) whose
// sorted order is not determined by their values alone.
func fitFeatureSorted(n *node, j int, vals []float64, sc *fitScratch) {
	slices.Sort(vals)
	med := quantileSorted(vals, 0.5)
	var mean float64
	dev := sc.dev[:0]
	for _, v := range vals {
		d := math.Abs(v - med)
		dev = append(dev, d)
		mean += d
	}
	sc.dev = dev
	slices.Sort(dev)
	spread := 1.4826 * quantileSorted(dev, 0.5)
	if spread == 0 && len(dev) > 0 {
		spread = 1.2533 * mean / float64(len(dev))
	}
	setFeature(n, j, vals, med, spread, vals[0], vals[len(vals)-1])
}

// setFeature stores feature j's location and spread and fits its
// histogram over [lo, hi] to vals (in any order).
func setFeature(n *node, j int, vals []float64, med, spread, lo, hi float64) {
	n.Median[j] = med
	n.Spread[j] = max(spread, minSpread)
	w := (hi - lo) / hbosBins
	if w <= 0 {
		w = minSpread
		lo -= w * hbosBins / 2
	}
	n.Lo[j], n.Width[j] = lo, w
	var cnt [hbosBins]float64
	for _, v := range vals {
		b := int((v - lo) / w)
		b = min(max(b, 0), hbosBins-1)
		cnt[b]++
	}
	tot := float64(len(vals)) + 0.5*hbosBins
	for b := range cnt {
		n.LogDens[j][b] = math.Log((cnt[b] + 0.5) / tot)
	}
}

func quantileSorted(s []float64, q float64) float64 {
	if len(s) == 0 {
		return 0
	}
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	f := pos - float64(i)
	return s[i]*(1-f) + s[i+1]*f
}

// quantileSelect returns quantileSorted(sorted s, q) without sorting s:
// it selects the two order statistics the interpolation needs. s must
// hold no NaN; it is reordered.
func quantileSelect(s []float64, q float64) float64 {
	if len(s) == 0 {
		return 0
	}
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i >= len(s)-1 {
		return slices.Max(s)
	}
	f := pos - float64(i)
	a := selectNth(s, i)
	b := slices.Min(s[i+1:]) // selectNth left only values >= a there
	return a*(1-f) + b*f
}

// selectNth reorders s so that s[k] holds the value it would hold if s
// were sorted, with no greater value before it and no smaller one after
// it, and returns that value (quickselect with three-way partitions, so
// runs of equal values cost nothing; a sort if it goes badly). s must hold
// no NaN.
func selectNth(s []float64, k int) float64 {
	lo, hi := 0, len(s)
	budget := 64
	for hi-lo > 16 {
		if budget--; budget < 0 {
			slices.Sort(s[lo:hi])
			return s[k]
		}
		p := medianOf3(s[lo], s[lo+(hi-lo)/2], s[hi-1])
		if hi-lo > 1024 {
			step := (hi - lo) / 8
			p = medianOf3(
				medianOf3(s[lo], s[lo+step], s[lo+2*step]),
				medianOf3(s[lo+3*step], s[lo+4*step], s[lo+5*step]),
				medianOf3(s[lo+6*step], s[lo+7*step], s[hi-1]))
		}
		// s[lo:lt] < p, s[lt:i] == p, s[gt:hi] > p
		lt, i, gt := lo, lo, hi
		for i < gt {
			switch v := s[i]; {
			case v < p:
				s[lt], s[i] = v, s[lt]
				lt++
				i++
			case v > p:
				gt--
				s[i], s[gt] = s[gt], v
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt
		case k >= gt:
			lo = gt
		default:
			return p
		}
	}
	slices.Sort(s[lo:hi])
	return s[k]
}

func medianOf3(a, b, c float64) float64 {
	return max(min(a, b), min(max(a, b), c))
}
