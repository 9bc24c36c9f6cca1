package detect

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refScore is the isolation score walked the plain way, one tree at a
// time over Feat and Thr, the path lengths added four trees at a time
// and then one by one: the sum score must reproduce to the bit.
func (f *forest) refScore(x *[NumNumeric]float32) float64 {
	inner := 1<<f.Depth - 1
	leafOf := func(t int) float32 {
		i := 0
		for d := 0; d < f.Depth; d++ {
			a := t*inner + i
			i = 2*i + 1 + b2i(x[f.Feat[a]] >= f.Thr[a])
		}
		return f.Leaf[t*(inner+1)+i-inner]
	}
	var sum float32
	t := 0
	for ; t+4 <= f.Trees; t += 4 {
		sum += leafOf(t) + leafOf(t+1) + leafOf(t+2) + leafOf(t+3)
	}
	for ; t < f.Trees; t++ {
		sum += leafOf(t)
	}
	if f.Norm == 0 {
		return 0.5
	}
	return math.Exp2(-float64(sum) / float64(f.Trees) / f.Norm)
}

func TestForestScoreMatchesPlainWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, trees := range []int{1, 3, 4, 5, 31, 32, 33, 35, 64, 67, 100} {
		for _, n := range []int{2, 3, 5, 8, 9, 17, 33, 65, 129, 300} { // depths 1 to 8
			mx := &matrix{}
			for i := 0; i < n; i++ {
				var v Vector
				for j := range v.X {
					v.X[j] = math.Round(rng.NormFloat64() * float64(j%4))
				}
				mx.add(&v)
			}
			idx := make([]int32, n)
			for i := range idx {
				idx[i] = int32(i)
			}
			f := fitForest(mx, idx, trees, forestSample, rng)
			f.pack()
			for q := 0; q < 100; q++ {
				var x [NumNumeric]float32
				for j := range x {
					x[j] = float32(math.Round(rng.NormFloat64() * 2))
				}
				if got, want := f.score(&x), f.refScore(&x); math.Float64bits(got) != math.Float64bits(want) {
					t.Fatalf("%d trees of %d samples: score %v, plain walk %v", trees, n, got, want)
				}
			}
		}
	}
}
