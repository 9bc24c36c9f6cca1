package detect

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// fitFeature (selection) must give every number fitFeatureSorted (the
// sorting reference) gives, bit for bit: the model file depends on it.
func TestFitFeatureMatchesSorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	gens := map[string]func() float64{
		"normal":   func() float64 { return rng.NormFloat64() },
		"lognorm":  func() float64 { return float64(float32(math.Log1p(math.Exp(rng.NormFloat64() * 4)))) },
		"few":      func() float64 { return float64(rng.IntN(3)) },
		"mostly0":  func() float64 { return float64(rng.IntN(50)/45) * rng.Float64() },
		"constant": func() float64 { return 2.5 },
		"twoRuns":  func() float64 { return float64(rng.IntN(2)) * 7 },
	}
	for name, gen := range gens {
		for _, n := range []int{1, 2, 3, 4, 17, 100, 1001, 50000} {
			vals := make([]float64, n)
			for i := range vals {
				vals[i] = gen()
			}
			var a, b node
			var sa, sb fitScratch
			fitFeature(&a, 3, slices.Clone(vals), &sa)
			fitFeatureSorted(&b, 3, slices.Clone(vals), &sb)
			same := func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) }
			if !same(a.Median[3], b.Median[3]) || !same(a.Spread[3], b.Spread[3]) || !same(a.Lo[3], b.Lo[3]) || !same(a.Width[3], b.Width[3]) || a.LogDens[3] != b.LogDens[3] {
				t.Errorf("%s n %d: selection gave median %v spread %v lo %v width %v, sorting %v %v %v %v",
					name, n, a.Median[3], a.Spread[3], a.Lo[3], a.Width[3], b.Median[3], b.Spread[3], b.Lo[3], b.Width[3])
			}
		}
	}
	// selectNth places the k-th smallest at k, with nothing greater before
	// it and nothing smaller after it
	for _, n := range []int{1, 5, 16, 17, 1000, 5000} {
		s := make([]float64, n)
		for i := range s {
			s[i] = float64(rng.IntN(n/3 + 1))
		}
		sorted := slices.Sorted(slices.Values(s))
		for _, k := range []int{0, n / 2, n - 1} {
			c := slices.Clone(s)
			if v := selectNth(c, k); v != sorted[k] || slices.Max(c[:k+1]) != v || slices.Min(c[k:]) != v {
				t.Errorf("n %d k %d: selectNth = %v, want %v, or not partitioned", n, k, v, sorted[k])
			}
		}
	}
}
