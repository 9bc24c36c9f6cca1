package detect

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"

	"github.com/mlads/mlads/internal/flow"
)

// Config holds the detection settings (from the config file's detect
// section).
type Config struct {
	AlertsPerDay        float64
	FalsePositiveRate   float64
	Seed                int64
	Trees               int
	Trim                float64
	CalibrationFraction float64
	MaxHosts            int
	MaxKnown            int
	OnlineUpdates       bool
	OnlineHostCap       int
	// Combine is how detector p-values are combined: CombineFisher (the
	// default, also when empty) or CombineCauchy.
	Combine string
	// MaxTrainFlows bounds the flows a Trainer keeps (a reservoir sample
	// beyond it); 0 keeps all.
	MaxTrainFlows int
}

// DefaultConfig returns the settings of configs/mlads.yaml's defaults.
func DefaultConfig() Config {
	return Config{AlertsPerDay: 50, Seed: 1, Trees: 32, Trim: 0.02, CalibrationFraction: 0.3,
		MaxHosts: 100000, MaxKnown: 1 << 20, OnlineUpdates: true, OnlineHostCap: 200, Combine: CombineFisher,
		MaxTrainFlows: 2_000_000}
}

const (
	minFit       = 30  // flows a traffic group needs to get its own fit
	minForest    = 200 // flows a traffic group needs to get its own forest
	forestSample = 256
	minTrain     = 12 // flows a baseline needs at all
	minFitRows   = 8  // of which fitted on
	minCalRows   = 3  // of which held out for calibration
	// homeShare: an originator with at least this share of the baseline's
	// flows counts as inside the network even with a public address.
	homeShare = 0.01
	maxHome   = 64
	knownCap  = 16
)

// featurizer turns records into Vectors. It owns the vocabularies, the
// per-host state and the known-entity counts.
type featurizer struct {
	vocabs [NumCategorical]*vocab
	hosts  *hostTable
	known  *knownTable
	home   map[uint64]struct{}
	dirIDs [4]uint16 // out, in, internal, external
	keys   [3]uint64 // known-table keys of the last flow: originator, responder, service
	// hostCarries is the last flow's Vector.Carries before the known
	// counts: whether it failed or went somewhere new to its host
	hostCarries Carry
}

func newFeaturizer(maxHosts, maxKnown int) *featurizer {
	f := &featurizer{hosts: newHostTable(maxHosts), known: newKnownTable(maxKnown), home: map[uint64]struct{}{}}
	for j := range f.vocabs {
		f.vocabs[j] = newVocab()
	}
	for i, d := range []string{dirOut, dirIn, dirInternal, dirExternal} {
		f.dirIDs[i] = f.vocabs[cDirection].id(d, true)
	}
	return f
}

func (f *featurizer) local(a netip.Addr, h uint64) bool {
	if isLocal(a) {
		return true
	}
	_, ok := f.home[h]
	return ok
}

func (f *featurizer) dirID(origLocal, respLocal bool) uint16 {
	switch direction(origLocal, respLocal) {
	case dirOut:
		return f.dirIDs[0]
	case dirIn:
		return f.dirIDs[1]
	case dirInternal:
		return f.dirIDs[2]
	}
	return f.dirIDs[3]
}

// vector fills v from r and updates the host statistics. grow lets the
// vocabularies learn new values (training only). The known-entity counts
// are read, not updated: see learn. In training (grow) they are not even
// read and the "seen before" features are left at 0, as Fit sets them
// (leave-one-out) once the whole baseline is counted. It returns the
// address hashes of the two ends (the keys of the home set).
func (f *featurizer) vector(r *flow.Record, grow bool, v *Vector) (origAddr, respAddr uint64) {
	flowNumerics(r, &v.X, &v.Raw)
	t := float64(r.TS.UnixNano()) / 1e9
	fail := failed(r)
	hs := f.hosts.get(r.OrigH)
	newDst := hs.observe(t, r.RespH, r.RespP, float64(r.OrigIPBytes), fail, &v.X, &v.Raw)
	switch {
	case fail:
		v.Carries = CarryAll
	case newDst:
		v.Carries = CarryNew
	default:
		v.Carries = CarryNone
	}
	f.hostCarries = v.Carries

	proto := f.vocabs[cProto].id(r.Proto, grow)
	origAddr, respAddr = hash64(r.OrigH, 0), hash64(r.RespH, 0)
	f.keys = [3]uint64{hash64(r.OrigH, knownOrig), hash64(r.RespH, knownResp), serviceKey(r.RespH, r.RespP, proto)}
	// counts saturate at knownCap: "seen a few times" against "never"
	// matters, "seen 300 or 3000 times" does not, and an uncapped count
	// only grows with time, so a later day would look unlike the baseline
	if grow {
		v.Raw[fOrigKnown], v.Raw[fRespKnown], v.Raw[fServiceKnown] = 0, 0, 0
		v.X[fOrigKnown], v.X[fRespKnown], v.X[fServiceKnown] = 0, 0, 0
	} else {
		v.Raw[fOrigKnown] = float64(min(f.known.get(f.keys[0]), knownCap))
		v.Raw[fRespKnown] = float64(min(f.known.get(f.keys[1]), knownCap))
		v.Raw[fServiceKnown] = float64(min(f.known.get(f.keys[2]), knownCap))
		for _, j := range [...]int{fOrigKnown, fRespKnown, fServiceKnown} {
			v.X[j] = log1p(v.Raw[j])
		}
		// a responder the baseline never saw is somewhere new for the
		// network, whatever this host did since (Fit does the same)
		if v.Raw[fRespKnown] == 0 {
			v.Carries = max(v.Carries, CarryNew)
		}
	}
	for j := range v.X {
		v.X[j] = float64(float32(v.X[j])) // the precision the model was fitted at
	}

	v.C[cProto] = proto
	v.C[cService] = f.vocabs[cService].id(r.Service, grow)
	v.C[cConnState] = f.vocabs[cConnState].id(r.ConnState, grow)
	v.C[cPortClass] = f.vocabs[cPortClass].id(portClass(r.Proto, r.OrigP, r.RespP), grow)
	v.C[cHistory] = f.vocabs[cHistory].id(r.History, grow)
	v.C[cDirection] = f.dirID(f.local(r.OrigH, origAddr), f.local(r.RespH, respAddr))
	v.Group = groupOf(&v.C)
	return origAddr, respAddr
}

func groupOf(c *[NumCategorical]uint16) groupKey {
	sp := c[cService]
	if sp == catEmpty {
		sp = portClassBase + c[cPortClass]
	}
	return groupKey{Proto: c[cProto], SP: sp, Dir: c[cDirection]}
}

// learn adds the originator, responder and service of the flow last
// passed to vector to the known counts.
func (f *featurizer) learn() {
	for _, k := range f.keys {
		f.known.add(k)
	}
}

// Trainer collects the flows of a baseline and fits a Model. Add flows in
// the order they happened (the order of a log or capture); host statistics
// and "seen before" features are computed as the flows go by.
type Trainer struct {
	cfg    Config
	f      *featurizer
	m      matrix
	orig   []uint64    // originator address hash per row (for the home set)
	resp   []uint64    // responder address hash per row
	local  []uint8     // bit 0: originator private, bit 1: responder private
	keys   [][3]uint64 // known-table keys per row
	minTS  float64
	maxTS  float64
	vec    Vector
	seen   int        // flows added
	sample *rand.Rand // reservoir sampling beyond MaxTrainFlows
	// Sampled counts the flows beyond MaxTrainFlows, each either dropped or
	// kept in place of an earlier one.
	Sampled int
}

// NewTrainer returns a Trainer with the given settings.
func NewTrainer(cfg Config) *Trainer {
	return &Trainer{cfg: cfg, f: newFeaturizer(cfg.MaxHosts, cfg.MaxKnown), minTS: math.Inf(1), maxTS: math.Inf(-1)}
}

// Add featurizes one flow of the baseline. r.Label is never read.
func (t *Trainer) Add(r *flow.Record) {
	oh, rh := t.f.vector(r, true, &t.vec)
	t.f.learn()
	ts := float64(r.TS.UnixNano()) / 1e9
	t.minTS = min(t.minTS, ts)
	t.maxTS = max(t.maxTS, ts)
	t.seen++
	var l uint8
	if isLocal(r.OrigH) {
		l |= 1
	}
	if isLocal(r.RespH) {
		l |= 2
	}
	if t.cfg.MaxTrainFlows <= 0 || t.m.rows() < t.cfg.MaxTrainFlows {
		t.keys = append(t.keys, t.f.keys)
		t.m.add(&t.vec)
		t.orig = append(t.orig, oh)
		t.resp = append(t.resp, rh)
		t.local = append(t.local, l)
		return
	}
	// beyond the limit, a reservoir sample (seeded, so deterministic): every
	// flow of the baseline had the same chance to be kept. The host and
	// "seen" statistics still count every flow.
	if t.sample == nil {
		t.sample = rand.New(rand.NewPCG(uint64(t.cfg.Seed), 0x7265736572766f))
	}
	j := t.sample.IntN(t.seen)
	if j >= t.cfg.MaxTrainFlows {
		t.Sampled++
		return
	}
	t.Sampled++
	x := t.m.x(int32(j))
	for k := range x {
		x[k] = float32(t.vec.X[k])
	}
	*t.m.c(int32(j)) = t.vec.C
	t.m.Carries[j] = t.vec.Carries
	t.keys[j], t.orig[j], t.resp[j], t.local[j] = t.f.keys, oh, rh, l
}

// Len returns the number of flows added.
func (t *Trainer) Len() int { return t.seen }

// ErrTooFewFlows is returned by Fit when the baseline is too small to learn
// from.
var ErrTooFewFlows = errors.New("detect: too few flows to train on")

// Fit learns the model: it learns the home set and directions, splits off
// the calibration reservoir, fits every traffic group, drops the most
// anomalous Trim share of the fit set and fits again, then calibrates.
// Call it once, after the last Add.
func (t *Trainer) Fit() (*Model, error) {
	n := t.m.rows()
	if n < minTrain {
		return nil, fmt.Errorf("%w: %d flows, need at least %d", ErrTooFewFlows, n, minTrain)
	}
	cfg := t.cfg
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6d6c616473))

	// home set: the busiest originators
	counts := map[uint64]int{}
	for _, h := range t.orig {
		counts[h]++
	}
	type hc struct {
		h uint64
		c int
	}
	var busy []hc
	thr := max(20, int(homeShare*float64(n)))
	for h, c := range counts {
		if c >= thr {
			busy = append(busy, hc{h, c})
		}
	}
	slices.SortFunc(busy, func(a, b hc) int {
		if a.c != b.c {
			return cmp.Compare(b.c, a.c)
		}
		return cmp.Compare(a.h, b.h)
	})
	if len(busy) > maxHome {
		busy = busy[:maxHome]
	}
	home := make([]uint64, 0, len(busy))
	for _, b := range busy {
		home = append(home, b.h)
		t.f.home[b.h] = struct{}{}
	}
	slices.Sort(home)
	// Each row's direction and "seen before" features depend only on the
	// row and on maps that are only read here: the rows are done in
	// parallel.
	//
	// The "seen before" features are leave-one-out: how often the baseline
	// saw the entity apart from this flow. An entity seen once in the
	// baseline stands for one that is new when scoring (Good–Turing), so
	// training and scoring see the same distribution, with no warm-up
	// period.
	forChunks(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			c := t.m.c(int32(i))
			_, oh := t.f.home[t.orig[i]]
			_, rh := t.f.home[t.resp[i]]
			c[cDirection] = t.f.dirID(t.local[i]&1 != 0 || oh, t.local[i]&2 != 0 || rh)
			x := t.m.x(int32(i))
			for k, j := range [3]int{fOrigKnown, fRespKnown, fServiceKnown} {
				c := t.f.known.get(t.keys[i][k])
				if c > 0 {
					c--
				}
				x[j] = float32(log1p(float64(min(c, knownCap))))
				if j == fRespKnown && c == 0 {
					t.m.Carries[i] = max(t.m.Carries[i], CarryNew) // as Scorer: a responder new to the baseline
				}
			}
		}
	})

	// split at random (seeded): calibration flows are exchangeable with
	// the fit flows, so p-values of new normal traffic are uniform
	var fitIdx, calIdx []int32
	for i := 0; i < n; i++ {
		if rng.Float64() < cfg.CalibrationFraction {
			calIdx = append(calIdx, int32(i))
		} else {
			fitIdx = append(fitIdx, int32(i))
		}
	}
	if len(fitIdx) < minFitRows || len(calIdx) < minCalRows {
		// a small baseline: an even split, so both sides get their share
		fitIdx, calIdx = fitIdx[:0], calIdx[:0]
		every := max(2, int(math.Round(1/cfg.CalibrationFraction)))
		for i := 0; i < n; i++ {
			if i%every == every-1 {
				calIdx = append(calIdx, int32(i))
			} else {
				fitIdx = append(fitIdx, int32(i))
			}
		}
	}
	if len(fitIdx) < minFitRows || len(calIdx) < minCalRows {
		return nil, fmt.Errorf("%w: %d fit and %d calibration flows", ErrTooFewFlows, len(fitIdx), len(calIdx))
	}

	combine := cfg.Combine
	if combine != CombineCauchy {
		combine = CombineFisher
	}
	m := &Model{
		Version: ModelVersion, Seed: cfg.Seed, Trees: cfg.Trees, Combine: combine,
		TrainFlows: t.seen, TrainStart: t.minTS, TrainEnd: t.maxTS,
		Home: home,
	}
	for j := range t.f.vocabs {
		m.Vocab[j] = slices.Clone(t.f.vocabs[j].Names)
	}
	m.fit(&t.m, fitIdx, rng)
	if cfg.Trim > 0 {
		raw := m.rawScoresOf(&t.m, fitIdx)
		comb := rankCombine(m.Combine, raw)
		order := make([]ranked, len(fitIdx))
		for k := range order {
			order[k] = ranked{comb[k], int32(k)}
		}
		slices.SortFunc(order, func(a, b ranked) int {
			if c := cmp.Compare(a.v, b.v); c != 0 {
				return c
			}
			return cmp.Compare(a.i, b.i)
		})
		keep := len(fitIdx) - int(cfg.Trim*float64(len(fitIdx)))
		// the kept rows in ascending order, as fitIdx is
		drop := make([]bool, len(fitIdx))
		for _, o := range order[keep:] {
			drop[o.i] = true
		}
		kept := make([]int32, 0, keep)
		for k, i := range fitIdx {
			if !drop[k] {
				kept = append(kept, i)
			}
		}
		m.Trimmed = len(fitIdx) - keep
		m.fit(&t.m, kept, rng)
		fitIdx = kept
	}
	m.FitFlows = len(fitIdx)

	// calibration
	raw := m.rawScoresOf(&t.m, calIdx)
	parallel(numDetectors, workersFor(numDetectors), func(_, d int) {
		col := make([]float64, len(raw))
		for k := range raw {
			col[k] = raw[k][d]
		}
		m.Calib[d] = newFlooredCalibrator(col)
	}, nil)
	col := make([]float64, len(calIdx))
	forChunks(len(raw), func(lo, hi int) {
		var ps [numDetectors]float64
		for k := lo; k < hi; k++ {
			for d := 0; d < numDetectors; d++ {
				ps[d] = m.Calib[d].pvalue(raw[k][d])
			}
			col[k] = combineStat(m.Combine, ps[:])
		}
	})
	m.Final = newCalibrator(col)
	m.CalibFlows = len(calIdx)

	// the budget
	span := t.maxTS - t.minTS
	m.FlowsPerDay = 0
	if span > 0 {
		m.FlowsPerDay = float64(t.seen) / (span / 86400)
	}
	switch {
	case cfg.FalsePositiveRate > 0:
		m.Alpha = cfg.FalsePositiveRate
	case m.FlowsPerDay > 0:
		m.Alpha = min(0.5, cfg.AlertsPerDay/m.FlowsPerDay)
	default:
		m.Alpha = 0.001
	}

	// known entities, sorted for a deterministic file
	m.KnownKeys = make([]uint64, 0, len(t.f.known.counts))
	for k := range t.f.known.counts {
		m.KnownKeys = append(m.KnownKeys, k)
	}
	slices.Sort(m.KnownKeys)
	m.KnownCounts = make([]uint32, len(m.KnownKeys))
	for i, k := range m.KnownKeys {
		m.KnownCounts[i] = t.f.known.counts[k]
	}
	m.KnownDropped = t.f.known.Dropped
	m.index()
	return m, nil
}

// rankCombine turns each detector's raw scores into rank p-values within
// the set and combines them; used to find the flows to trim. The
// detectors are ranked in parallel.
func rankCombine(method string, raw [][numDetectors]float64) []float64 {
	n := len(raw)
	var p [numDetectors][]float64
	parallel(numDetectors, workersFor(numDetectors), func(_, d int) {
		byScore := make([]ranked, n)
		for i := range raw {
			byScore[i] = ranked{raw[i][d], int32(i)}
		}
		slices.SortFunc(byScore, func(a, b ranked) int {
			if c := cmp.Compare(b.v, a.v); c != 0 {
				return c
			}
			return cmp.Compare(a.i, b.i) // ties by position: deterministic
		})
		p[d] = make([]float64, n)
		for r, e := range byScore {
			p[d][e.i] = float64(r+1) / float64(n+1)
		}
	}, nil)
	out := make([]float64, n)
	forChunks(n, func(lo, hi int) {
		var ps [numDetectors]float64
		for i := lo; i < hi; i++ {
			for d := range ps {
				ps[d] = p[d][i]
			}
			out[i] = combineStat(method, ps[:])
		}
	})
	return out
}

// ranked is a score and the position it belongs to, sorted together.
type ranked struct {
	v float64
	i int32
}

// rawScoresOf runs the detectors on the rows in idx, in parallel.
func (m *Model) rawScoresOf(mx *matrix, idx []int32) [][numDetectors]float64 {
	raw := make([][numDetectors]float64, len(idx))
	forChunks(len(idx), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			i := idx[k]
			raw[k] = m.rawScores(mx.x(i), mx.c(i), mx.Carries[i])
		}
	})
	return raw
}
