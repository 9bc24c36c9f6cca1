package detect

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// Model is what training learns: vocabularies, the home set, the fitted
// traffic groups with their forests, the known-entity counts, the
// calibration reservoirs and the budgeted threshold. It is read-only once
// built; a Scorer carries the state that changes while scoring.
type Model struct {
	Version int
	Seed    int64
	Trees   int
	Combine string // CombineFisher or CombineCauchy

	TrainFlows  int     // flows in the baseline
	FitFlows    int     // flows the detectors were fitted on (after trimming)
	CalibFlows  int     // flows in the calibration reservoir
	Trimmed     int     // most anomalous flows dropped before the refit
	TrainStart  float64 // unix seconds of the first and last baseline flow
	TrainEnd    float64
	FlowsPerDay float64 // baseline flow rate, used to turn alerts/day into a rate
	Alpha       float64 // alert when the combined p-value is below this

	Vocab [NumCategorical][]string
	Home  []uint64 // address hashes of busy public originators counted as inside

	Nodes   []node // Nodes[0] is the root (all traffic)
	Forests []forest
	// GroupKeys/GroupCounts count the finest traffic groups over the fit
	// set, for the rarity of the group itself.
	GroupKeys   []groupKey
	GroupCounts []uint32

	// KnownBehaviors are the keys of the behaviours the baseline already
	// had (behavior.Learner): the timers of clean traffic, which the
	// behavioural detectors then do not report. detect keeps them only.
	KnownBehaviors []uint64
	// BehaviorRates say how often each behavioural detector fired on the
	// baseline; a finding may claim no more than that rate (see
	// behavior.Evidence).
	BehaviorRates []BehaviorRate

	KnownKeys    []uint64
	KnownCounts  []uint32
	KnownDropped uint64

	Calib [numDetectors]calibrator
	Final calibrator // of -log(ACAT p) over the calibration reservoir

	// lookup tables built by index
	nodeIdx  map[groupKey]int32
	groupIdx map[groupKey]uint32
	vocabIdx [NumCategorical]map[string]uint16
}

// BehaviorRate is how often a behavioural detector fired on the clean
// baseline: Findings of Trials judgements (behavior.Stats.Trials).
type BehaviorRate struct {
	Detector         string
	Findings, Trials uint64
}

// fit builds the traffic-group nodes and forests from the rows in idx.
func (m *Model) fit(mx *matrix, idx []int32, rng *rand.Rand) {
	var sizes [NumCategorical]int
	for j := range sizes {
		sizes[j] = len(m.Vocab[j])
	}
	root := groupKey{anyGroup, anyGroup, anyGroup}
	byKey := map[groupKey][]int32{root: idx}
	fine := map[groupKey]uint32{}
	for _, i := range idx {
		g := groupOf(mx.c(i))
		fine[g]++
		byKey[g] = append(byKey[g], i)
		l1 := groupKey{g.Proto, anyGroup, g.Dir}
		byKey[l1] = append(byKey[l1], i)
	}
	keys := make([]groupKey, 0, len(byKey))
	for k, rows := range byKey {
		if k == root || len(rows) >= minFit {
			keys = append(keys, k)
		}
	}
	// root first, then coarse before fine, each in key order
	level := func(k groupKey) int {
		switch {
		case k == root:
			return 0
		case k.SP == anyGroup:
			return 1
		}
		return 2
	}
	slices.SortFunc(keys, func(a, b groupKey) int {
		if c := cmp.Compare(level(a), level(b)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Proto, b.Proto); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Dir, b.Dir); c != 0 {
			return c
		}
		return cmp.Compare(a.SP, b.SP)
	})
	m.Nodes = make([]node, len(keys))
	m.Forests = m.Forests[:0]
	pos := map[groupKey]int32{}
	for i, k := range keys {
		n := &m.Nodes[i]
		n.Key = k
		pos[k] = int32(i)
		n.Parent = -1
		switch level(k) {
		case 1:
			n.Parent = 0
		case 2:
			n.Parent = 0
			if p, ok := pos[groupKey{k.Proto, anyGroup, k.Dir}]; ok {
				n.Parent = p
			}
		}
	}
	// The nodes' statistics are independent of each other and of the
	// random sequence: they are fitted in parallel, largest first, while
	// this goroutine fits the forests, which share the one rng and so are
	// fitted in key order, as the file's bytes depend on that order.
	bySize := make([]int, len(keys))
	for i := range bySize {
		bySize[i] = i
	}
	slices.SortStableFunc(bySize, func(a, b int) int {
		return cmp.Compare(len(byKey[keys[b]]), len(byKey[keys[a]]))
	})
	workers := workersFor(len(keys))
	scratch := make([]fitScratch, workers)
	parallel(len(keys), workers, func(w, i int) {
		k := keys[bySize[i]]
		fitNode(&m.Nodes[bySize[i]], mx, byKey[k], sizes, &scratch[w])
	}, func() {
		for i, k := range keys {
			n := &m.Nodes[i]
			if rows := byKey[k]; k == root || len(rows) >= minForest {
				n.Forest = int32(len(m.Forests))
				m.Forests = append(m.Forests, *fitForest(mx, rows, m.Trees, forestSample, rng))
			} else {
				n.Forest = m.Nodes[n.Parent].Forest
			}
		}
	})
	m.GroupKeys = m.GroupKeys[:0]
	for k := range fine {
		m.GroupKeys = append(m.GroupKeys, k)
	}
	slices.SortFunc(m.GroupKeys, func(a, b groupKey) int {
		if c := cmp.Compare(a.Proto, b.Proto); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Dir, b.Dir); c != 0 {
			return c
		}
		return cmp.Compare(a.SP, b.SP)
	})
	m.GroupCounts = make([]uint32, len(m.GroupKeys))
	for i, k := range m.GroupKeys {
		m.GroupCounts[i] = fine[k]
	}
	m.index()
}

// index builds the lookup maps (after fitting or loading).
func (m *Model) index() {
	m.nodeIdx = make(map[groupKey]int32, len(m.Nodes))
	for i := range m.Nodes {
		m.nodeIdx[m.Nodes[i].Key] = int32(i)
	}
	m.groupIdx = make(map[groupKey]uint32, len(m.GroupKeys))
	for i, k := range m.GroupKeys {
		m.groupIdx[k] = m.GroupCounts[i]
	}
	for i := range m.Forests {
		m.Forests[i].pack()
	}
	for j := range m.Vocab {
		v := &vocab{Names: m.Vocab[j]}
		v.index()
		m.vocabIdx[j] = v.ids
	}
}

// nodeFor returns the finest fitted node for a traffic group.
func (m *Model) nodeFor(g groupKey) *node {
	return &m.Nodes[m.nodeIndex(g)]
}

// nodeIndex returns the index in Nodes of the finest fitted node for a
// traffic group.
func (m *Model) nodeIndex(g groupKey) int32 {
	if i, ok := m.nodeIdx[g]; ok {
		return i
	}
	if i, ok := m.nodeIdx[groupKey{g.Proto, anyGroup, g.Dir}]; ok {
		return i
	}
	return 0
}

// groupSurprisal is -log of the smoothed share of the fit set in group g.
func (m *Model) groupSurprisal(g groupKey) float64 {
	c := m.groupIdx[g]
	root := &m.Nodes[0]
	return -math.Log((float64(c) + 0.5) / (float64(root.N) + 0.5*float64(len(m.GroupKeys)+1)))
}

// rawScores runs the detectors on one row; carries is its Vector.Carries.
func (m *Model) rawScores(x *[NumNumeric]float32, c *[NumCategorical]uint16, carries Carry) [numDetectors]float64 {
	var xf [NumNumeric]float64
	for j := range xf {
		xf[j] = float64(x[j])
	}
	g := groupOf(c)
	n := m.nodeFor(g)
	if carries != CarryAll {
		x32 := *x
		x = &x32
		n.typicalHost(&xf, x, carries)
	}
	var s [numDetectors]float64
	s[detRobustZ] = n.robustZ(&xf)
	s[detHBOS] = n.hbos(&xf)
	s[detRarity] = n.rarity(c)
	s[detGroup] = m.groupSurprisal(g)
	s[detIForest] = m.Forests[n.Forest].score(x)
	return s
}
