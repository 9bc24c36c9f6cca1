package detect

import (
	"math"
	"slices"

	"github.com/mlads/mlads/internal/flow"
)

// ClearlyNormal is the combined p-value above which a flow may teach the
// model (online updates).
const ClearlyNormal = 0.5

// ScorerStats counts what a Scorer did and dropped.
type ScorerStats struct {
	Flows         uint64 // flows scored
	Alerts        uint64 // flows over the threshold
	Hosts         int    // hosts tracked now
	HostsEvicted  uint64 // hosts evicted from the bounded host table
	BytesPerHost  int    // memory per tracked host
	OnlineUpdates uint64 // flows that taught the model new hosts/services
	OnlineCapped  uint64 // clearly normal flows not learned: their host hit its cap
	KnownDropped  uint64 // known entities not added: table full
}

// Scorer scores flows against a Model. It keeps the per-host statistics
// and the online additions to the known-entity counts; the Model itself is
// not modified, so several Scorers may share one. A Scorer is not safe for
// concurrent use.
type Scorer struct {
	m       *Model
	cfg     Config
	f       *featurizer
	cur     Pending // the flow Score scores
	vec     Vector  // the features explainInto explains
	explain float64 // explain flows with a p-value below this (alerts always)
	text    []byte  // scratch for the explanations' sentences
	// typical caches, per node and numeric feature, the parts of an
	// explanation that depend only on the model (see typicalOf); made at
	// the first explanation, at most len(Model.Nodes) entries.
	typical [][NumNumeric]typicalText
	stats   ScorerStats
	// online holds the known-table keys that online updates changed
	// (bounded by the table): what MarshalState saves of the table.
	online map[uint64]struct{}
	gated  bool // the caller calls Learn (GateUpdates)
	// rescored counts the flows Finish scored again (for the tests)
	rescored uint64
}

// NewScorer returns a Scorer for m. cfg supplies the host and known-table
// limits and the online-update settings; a non-zero budget in cfg that
// differs from the model's is not applied (use SetAlpha).
func (m *Model) NewScorer(cfg Config) *Scorer {
	f := newFeaturizer(cfg.MaxHosts, max(cfg.MaxKnown, len(m.KnownKeys)))
	for j := range f.vocabs {
		f.vocabs[j] = &vocab{Names: m.Vocab[j], ids: m.vocabIdx[j]}
	}
	for i, d := range []string{dirOut, dirIn, dirInternal, dirExternal} {
		f.dirIDs[i] = f.vocabs[cDirection].id(d, false)
	}
	for _, h := range m.Home {
		f.home[h] = struct{}{}
	}
	f.known.counts = make(map[uint64]uint32, len(m.KnownKeys))
	for i, k := range m.KnownKeys {
		f.known.counts[k] = m.KnownCounts[i]
	}
	return &Scorer{m: m, cfg: cfg, f: f, online: map[uint64]struct{}{}}
}

// ExplainBelow makes Score fill Verdict.Features (and the traffic group)
// for every flow whose p-value is below p, not only for alerts; 1 explains
// every flow. Explanations allocate; flows that are not explained do not.
func (s *Scorer) ExplainBelow(p float64) { s.explain = p }

// Model returns the model the Scorer uses.
func (s *Scorer) Model() *Model { return s.m }

// Stats returns the counters so far.
func (s *Scorer) Stats() ScorerStats {
	st := s.stats
	st.Hosts = s.f.hosts.Len()
	st.HostsEvicted = s.f.hosts.Evicted
	st.BytesPerHost = BytesPerHost()
	st.KnownDropped = s.f.known.Dropped
	return st
}

// Score scores r into v, reusing v's slices. r.Label is never read.
// Verdict.Features is filled for alerts (and for the flows ExplainBelow
// asks for); Verdict.Behaviors is left as it was for the caller.
func (s *Scorer) Score(r *flow.Record, v *Verdict) {
	s.featurize(r, &s.cur)
	s.cur.score(s.m)
	s.complete(r, &s.cur, v)
}

// Pending is a flow featurized ahead of its scoring (see Featurize): what
// Score does in the flows' order, the host statistics, is done; what
// depends only on the model and the features, the detectors, can run on
// any goroutine (Pending.Score); Finish completes the verdict in order.
type Pending struct {
	vec     Vector // as featurized: the host statistics as observed
	keys    [3]uint64
	carries Carry // Vector.Carries before the known counts: whether the flow failed or reached a new destination
	// what Score computed from vec
	x  [NumNumeric]float64 // vec.X as scored (a flow that carries nothing: its host at the group's medians)
	ps [numDetectors]float64
	p  float64
	ni int32
}

// Ahead reports whether n more flows can be featurized before the flows
// already featurized are finished without the host table evicting a
// host: only then do Featurize, Pending.Score and Finish give each flow
// the verdict Score would, in the same order. Call it before each run of
// n Featurize calls; when it reports false, finish what is pending and
// go on with Score.
func (s *Scorer) Ahead(n int) bool { return s.f.hosts.Len()+n <= s.f.hosts.max }

// Featurize updates the host statistics with r, in the flows' order, and
// keeps r's features in p for Pending.Score and Finish.
func (s *Scorer) Featurize(r *flow.Record, p *Pending) { s.featurize(r, p) }

// Score runs the detectors on p's features. It reads only the model: calls
// for different flows may run on several goroutines at once.
func (p *Pending) Score(s *Scorer) { p.score(s.m) }

// Finish completes r's verdict into v, as Score would have: it is called
// for the flows in the order they were featurized, each after its
// Pending.Score, and Learn for r may follow. When online updates since r
// was featurized changed the known counts r reads, the flow is scored
// again with the counts as they are now.
func (s *Scorer) Finish(r *flow.Record, p *Pending, v *Verdict) {
	if s.readKnown(p) {
		s.rescored++
		p.score(s.m)
	}
	s.complete(r, p, v)
}

func (s *Scorer) featurize(r *flow.Record, p *Pending) {
	s.f.vector(r, false, &p.vec)
	p.keys = s.f.keys
	p.carries = s.f.hostCarries
}

// readKnown reads p's known counts again and, when they changed since p
// was featurized, updates its features; it reports whether they changed.
func (s *Scorer) readKnown(p *Pending) bool {
	var raw [3]float64
	for i, k := range p.keys {
		raw[i] = float64(min(s.f.known.get(k), knownCap))
	}
	v := &p.vec
	if raw[0] == v.Raw[fOrigKnown] && raw[1] == v.Raw[fRespKnown] && raw[2] == v.Raw[fServiceKnown] {
		return false
	}
	for i, j := range [...]int{fOrigKnown, fRespKnown, fServiceKnown} {
		v.Raw[j] = raw[i]
		v.X[j] = float64(float32(log1p(raw[i])))
	}
	v.Carries = p.carries
	if v.Raw[fRespKnown] == 0 {
		v.Carries = max(v.Carries, CarryNew)
	}
	return true
}

// score runs the detectors on p.vec into p. It reads only m.
func (p *Pending) score(m *Model) {
	p.x = p.vec.X
	var xf [NumNumeric]float32
	for j := range xf {
		xf[j] = float32(p.x[j])
	}
	g := p.vec.Group
	p.ni = m.nodeIndex(g)
	n := &m.Nodes[p.ni]
	n.typicalHost(&p.x, &xf, p.vec.Carries)
	var raw [numDetectors]float64
	raw[detRobustZ] = n.robustZ(&p.x)
	raw[detHBOS] = n.hbos(&p.x)
	raw[detRarity] = n.rarity(&p.vec.C)
	raw[detGroup] = m.groupSurprisal(g)
	raw[detIForest] = m.Forests[n.Forest].score(&xf)
	for d := range raw {
		p.ps[d] = m.Calib[d].pvalue(raw[d])
	}
	p.p = m.Final.pvalue(combineStat(m.Combine, p.ps[:]))
}

// complete fills v from p's scores, in the flows' order: the counters, the
// explanation and, when Score learns by itself, the online update.
func (s *Scorer) complete(r *flow.Record, p *Pending, v *Verdict) {
	m := s.m
	s.f.keys = p.keys // what Learn adds: r's
	v.PValue = p.p
	v.Score = -math.Log10(p.p)
	v.Alert = p.p < m.Alpha
	v.Hits = v.Hits[:0]
	share := m.Alpha / numDetectors
	for d := range p.ps {
		v.Hits = append(v.Hits, Hit{Detector: detectorNames[d], PValue: p.ps[d], Fired: p.ps[d] < share})
	}
	// most significant first (insertion sort: four items, no allocation)
	for i := 1; i < len(v.Hits); i++ {
		for j := i; j > 0 && v.Hits[j].PValue < v.Hits[j-1].PValue; j-- {
			v.Hits[j], v.Hits[j-1] = v.Hits[j-1], v.Hits[j]
		}
	}
	v.Features = v.Features[:0]
	v.Group = ""
	s.stats.Flows++
	if v.Alert {
		s.stats.Alerts++
	}
	if v.Alert || p.p < s.explain {
		s.vec = p.vec
		s.vec.X = p.x
		s.explainInto(p.ni, p.vec.Group, v)
	}
	if !s.gated {
		s.Learn(r, v)
	}
}

// GateUpdates makes the caller decide which flows teach the model: Score
// no longer learns, and the caller calls Learn right after Score with the
// verdict it completed (the daemon's pipeline adds the behaviours the flow
// is part of first, so that the flows of a scan or a flood teach nothing).
func (s *Scorer) GateUpdates() { s.gated = true }

// Learn lets r, the flow Score saw last, teach the known-entity counts
// (its originator, responder and service were seen once more) when online
// updates are on and v says it is clearly normal: a combined p-value above
// 0.5, and part of no behaviour. An originating host teaches at most
// OnlineHostCap times. It reports whether r taught.
func (s *Scorer) Learn(r *flow.Record, v *Verdict) bool {
	if !s.cfg.OnlineUpdates || v.PValue <= ClearlyNormal || len(v.Behaviors) > 0 {
		return false
	}
	hs := s.f.hosts.get(r.OrigH)
	if int(hs.learned) >= s.cfg.OnlineHostCap {
		s.stats.OnlineCapped++
		return false
	}
	hs.learned++
	s.f.learn()
	for _, k := range s.f.keys {
		if _, ok := s.f.known.counts[k]; ok {
			s.online[k] = struct{}{}
		}
	}
	s.stats.OnlineUpdates++
	return true
}

// Learned returns a copy of the Scorer's model that holds what online
// updates taught: its known-entity counts are the model's raised to the
// Scorer's. Written as a model checkpoint, it starts the next run where
// this one is; the Scorer's own model is not changed.
func (s *Scorer) Learned() *Model {
	c := *s.m
	counts := make(map[uint64]uint32, len(s.m.KnownKeys)+len(s.online))
	for i, k := range s.m.KnownKeys {
		counts[k] = s.m.KnownCounts[i]
	}
	for k := range s.online {
		counts[k] = max(counts[k], s.f.known.counts[k])
	}
	c.KnownKeys = make([]uint64, 0, len(counts))
	for k := range counts {
		c.KnownKeys = append(c.KnownKeys, k)
	}
	slices.Sort(c.KnownKeys)
	c.KnownCounts = make([]uint32, len(c.KnownKeys))
	for i, k := range c.KnownKeys {
		c.KnownCounts[i] = counts[k]
	}
	return &c
}
