package detect

import (
	"math"
	"math/rand/v2"
	"slices"
)

// The per-flow detectors, in the order of their raw scores.
const (
	detRobustZ = iota
	detHBOS
	detRarity
	detIForest
	detGroup
	numDetectors
)

// detectorNames name the detectors in Hits. group_rarity is how rare the
// flow's traffic group itself is: it stays separate from rarity (which
// judges a flow within its group) because a burst of attack flows can form
// a group of its own, and within it they look alike and "normal".
var detectorNames = [numDetectors]string{"robust_z", "hbos", "rarity", "iforest", "group_rarity"}

const (
	hbosBins = 16
	// fitSample caps the flows a node's location, spread and histograms
	// are computed from.
	fitSample = 50000
	zCap      = 10.0 // robust z-scores are clipped here so one feature cannot dominate
	// minSpread floors the robust spread (log scale), so a feature that is
	// constant in the baseline still gives finite z-scores.
	minSpread = 0.05
)

// node is one fitted traffic group: robust location and spread, HBOS
// histograms and categorical counts of its flows, and the index of the
// isolation forest it uses (its own or an ancestor's).
type node struct {
	Key    groupKey
	Parent int32
	N      int
	Median [NumNumeric]float64
	Spread [NumNumeric]float64
	// HBOS: bin i of feature j covers [Lo[j]+i*Width[j], Lo[j]+(i+1)*Width[j]).
	Lo      [NumNumeric]float64
	Width   [NumNumeric]float64
	LogDens [NumNumeric][hbosBins]float64
	// LogFloor is the log density given to values outside the histogram.
	LogFloor float64
	// Cat[j][id] counts category id of categorical feature j.
	Cat    [NumCategorical][]uint32
	Forest int32
}

// robustZ returns the sum of squared clipped robust z-scores.
func (n *node) robustZ(x *[NumNumeric]float64) float64 {
	var s float64
	for j := 0; j < NumNumeric; j++ {
		z := (x[j] - n.Median[j]) / n.Spread[j]
		z = min(math.Abs(z), zCap)
		s += z * z
	}
	return s
}

// hbos returns the histogram-based outlier score: the sum over features of
// -log density.
func (n *node) hbos(x *[NumNumeric]float64) float64 {
	var s float64
	for j := 0; j < NumNumeric; j++ {
		b := math.Floor((x[j] - n.Lo[j]) / n.Width[j])
		if b < 0 || b >= hbosBins || b != b {
			s -= n.LogFloor
			continue
		}
		s -= n.LogDens[j][int(b)]
	}
	return s
}

// rarity returns the categorical surprisal of c in this node: the sum over
// categorical features of -log of the smoothed frequency.
func (n *node) rarity(c *[NumCategorical]uint16) float64 {
	var s float64
	for j := 0; j < NumCategorical; j++ {
		var k uint32
		if int(c[j]) < len(n.Cat[j]) {
			k = n.Cat[j][c[j]]
		}
		v := float64(len(n.Cat[j]) + 1)
		s -= math.Log((float64(k) + 0.5) / (float64(n.N) + 0.5*v))
	}
	return s
}

// forest is an isolation forest in a flat, branch-free layout: every tree
// is a complete binary tree of depth Depth stored breadth-first, so a walk
// is Depth steps of idx = 2*idx+1+(x[f] >= t). A leaf reached early is
// continued by pass-through nodes (threshold +Inf, always left) down to a
// bottom leaf that holds its path length.
type forest struct {
	Trees  int
	Depth  int
	Feat   []uint8   // Trees × (2^Depth - 1)
	Thr    []float32 // Trees × (2^Depth - 1)
	Leaf   []float32 // Trees × 2^Depth: depth reached + c(size)
	Norm   float64   // c(sample size), the normaliser of the mean path length
	Sample int

	// packed interleaves Feat and Thr for the walk (one 8-byte load per
	// step); built by pack after fitting or loading.
	packed []fnode
}

type fnode struct {
	thr  float32
	feat uint32
}

func (f *forest) pack() {
	f.packed = make([]fnode, len(f.Feat))
	for i := range f.Feat {
		f.packed[i] = fnode{thr: f.Thr[i], feat: uint32(f.Feat[i]) % NumNumeric}
	}
}

// avgPath is c(n): the average path length of an unsuccessful search in a
// binary search tree of n items.
func avgPath(n int) float64 {
	switch {
	case n <= 1:
		return 0
	case n == 2:
		return 1
	}
	h := math.Log(float64(n-1)) + 0.5772156649
	return 2*h - 2*float64(n-1)/float64(n)
}

func fitForest(m *matrix, idx []int32, trees, sample int, rng *rand.Rand) *forest {
	psi := min(sample, len(idx))
	depth := max(1, int(math.Ceil(math.Log2(float64(max(psi, 2))))))
	inner := 1<<depth - 1
	f := &forest{
		Trees: trees, Depth: depth, Sample: psi, Norm: avgPath(psi),
		Feat: make([]uint8, trees*inner),
		Thr:  make([]float32, trees*inner),
		Leaf: make([]float32, trees*(inner+1)),
	}
	pool := slices.Clone(idx)
	buf := make([]int32, psi)
	for t := 0; t < trees; t++ {
		// partial Fisher–Yates: the first psi of pool are the sample
		for i := 0; i < psi; i++ {
			j := i + rng.IntN(len(pool)-i)
			pool[i], pool[j] = pool[j], pool[i]
		}
		copy(buf, pool[:psi])
		b := treeBuilder{m: m, rng: rng, depth: depth,
			feat: f.Feat[t*inner : (t+1)*inner], thr: f.Thr[t*inner : (t+1)*inner], leaf: f.Leaf[t*(inner+1) : (t+1)*(inner+1)]}
		b.build(0, 0, buf)
	}
	return f
}

type treeBuilder struct {
	m     *matrix
	rng   *rand.Rand
	depth int
	feat  []uint8
	thr   []float32
	leaf  []float32
}

func (b *treeBuilder) build(at, d int, rows []int32) {
	if d == b.depth {
		b.leaf[at-len(b.feat)] = float32(float64(d) + avgPath(len(rows)))
		return
	}
	if len(rows) > 1 {
		// try features in random order until one has a spread
		start := b.rng.IntN(NumNumeric)
		for k := 0; k < NumNumeric; k++ {
			j := (start + k) % NumNumeric
			lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
			for _, r := range rows {
				v := b.m.x(r)[j]
				lo, hi = min(lo, v), max(hi, v)
			}
			if !(hi > lo) {
				continue
			}
			t := lo + float32(b.rng.Float64())*(hi-lo)
			if t <= lo {
				t = math.Nextafter32(lo, hi)
			}
			// partition: < t left, >= t right
			i := 0
			for k := range rows {
				if b.m.x(rows[k])[j] < t {
					rows[i], rows[k] = rows[k], rows[i]
					i++
				}
			}
			b.feat[at], b.thr[at] = uint8(j), t
			b.build(2*at+1, d+1, rows[:i])
			b.build(2*at+2, d+1, rows[i:])
			return
		}
	}
	// external node above the bottom: pass through to the leftmost leaf
	val := float32(float64(d) + avgPath(len(rows)))
	for ; d < b.depth; d++ {
		b.feat[at], b.thr[at] = 0, float32(math.Inf(1))
		at = 2*at + 1
	}
	b.leaf[at-len(b.feat)] = val
}

// walkTrees is how many trees score walks side by side.
const walkTrees = 32

// score returns the isolation score 2^(-E[h]/c(ψ)) in (0, 1]; higher is
// more anomalous. The trees are walked side by side, up to walkTrees at a
// time, one level at a time: the walks are independent chains of loads
// from memory that is mostly not in cache (a forest is 96 kB), and the CPU
// overlaps as many of them as it can. The path lengths are added in the
// same order and grouping as a walk of four trees at a time would, so the
// score is the same to the bit.
func (f *forest) score(x *[NumNumeric]float32) float64 {
	inner := 1<<f.Depth - 1
	var sum float32
	nodes, leaf := f.packed, f.Leaf
	var at [walkTrees]int
	for t0 := 0; t0 < f.Trees; t0 += walkTrees {
		k := min(walkTrees, f.Trees-t0)
		at := at[:k]
		clear(at)
		for d := 0; d < f.Depth; d++ {
			base := t0 * inner
			for i, a := range at {
				n := nodes[base+a]
				at[i] = 2*a + 1 + b2i(x[n.feat] >= n.thr)
				base += inner
			}
		}
		// the leaves: at holds inner + the leaf's position in its tree
		t := 0
		for ; t+4 <= k; t += 4 { // walkTrees is a multiple of 4
			b := (t0 + t) * (inner + 1)
			sum += leaf[b+at[t]-inner] + leaf[b+inner+1+at[t+1]-inner] +
				leaf[b+2*(inner+1)+at[t+2]-inner] + leaf[b+3*(inner+1)+at[t+3]-inner]
		}
		for ; t < k; t++ {
			sum += leaf[(t0+t)*(inner+1)+at[t]-inner]
		}
	}
	if f.Norm == 0 {
		return 0.5
	}
	return math.Exp2(-float64(sum) / float64(f.Trees) / f.Norm)
}

// b2i is 1 for true and 0 for false; the compiler makes it a SETcc, not a
// branch.
func b2i(b bool) int {
	var i int
	if b {
		i = 1
	}
	return i
}

// matrix is the training set in flat arrays: NumNumeric float32 and
// NumCategorical uint16 per row.
type matrix struct {
	X       []float32
	C       []uint16
	Carries []Carry // Vector.Carries per row
}

func (m *matrix) x(i int32) *[NumNumeric]float32 {
	return (*[NumNumeric]float32)(m.X[int(i)*NumNumeric : int(i+1)*NumNumeric])
}

func (m *matrix) c(i int32) *[NumCategorical]uint16 {
	return (*[NumCategorical]uint16)(m.C[int(i)*NumCategorical : int(i+1)*NumCategorical])
}

func (m *matrix) rows() int { return len(m.X) / NumNumeric }

func (m *matrix) add(v *Vector) {
	for j := 0; j < NumNumeric; j++ {
		m.X = append(m.X, float32(v.X[j]))
	}
	m.C = append(m.C, v.C[:]...)
	m.Carries = append(m.Carries, v.Carries)
}

// typicalHost sets the host features of x and xf that a flow does not
// carry (c) to n's medians.
func (n *node) typicalHost(x *[NumNumeric]float64, xf *[NumNumeric]float32, c Carry) {
	for _, j := range hostFeatures {
		if c == CarryAll || (c == CarryNew && j != fHostFail) {
			continue
		}
		x[j] = n.Median[j]
		xf[j] = float32(n.Median[j])
	}
}
