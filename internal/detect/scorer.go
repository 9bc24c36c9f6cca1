package detect

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/mlads/mlads/internal/flow"
)

// clearlyNormal is the combined p-value above which a flow may teach the
// model (online updates).
const clearlyNormal = 0.5

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
	vec     Vector
	xf      [NumNumeric]float32
	ps      [numDetectors]float64
	explain float64 // explain flows with a p-value below this (alerts always)
	stats   ScorerStats
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
	return &Scorer{m: m, cfg: cfg, f: f}
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
	m := s.m
	s.f.vector(r, false, &s.vec)
	for j := range s.xf {
		s.xf[j] = float32(s.vec.X[j])
	}
	g := s.vec.Group
	n := m.nodeFor(g)
	var raw [numDetectors]float64
	raw[detRobustZ] = n.robustZ(&s.vec.X)
	raw[detHBOS] = n.hbos(&s.vec.X)
	raw[detRarity] = n.rarity(&s.vec.C)
	raw[detGroup] = m.groupSurprisal(g)
	raw[detIForest] = m.Forests[n.Forest].score(&s.xf)
	for d := range raw {
		s.ps[d] = m.Calib[d].pvalue(raw[d])
	}
	p := m.Final.pvalue(combineStat(m.Combine, s.ps[:]))
	v.PValue = p
	v.Score = -math.Log10(p)
	v.Alert = p < m.Alpha
	v.Hits = v.Hits[:0]
	share := m.Alpha / numDetectors
	for d := range raw {
		v.Hits = append(v.Hits, Hit{Detector: detectorNames[d], PValue: s.ps[d], Fired: s.ps[d] < share})
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
	if v.Alert || p < s.explain {
		s.explainInto(n, g, v)
	}
	if s.cfg.OnlineUpdates && p > clearlyNormal {
		hs := s.f.hosts.get(r.OrigH)
		if int(hs.learned) < s.cfg.OnlineHostCap {
			hs.learned++
			s.f.learn()
			s.stats.OnlineUpdates++
		} else {
			s.stats.OnlineCapped++
		}
	}
}

var knownText = [3]string{"originator", "responder", "responder's service (address, port, proto)"}

// explainTop is how many features an explanation lists at most.
const explainTop = 6

// explainInto lists the flow's most unusual features against the group's
// baseline: numeric features by robust z-score, categorical ones by rarity.
func (s *Scorer) explainInto(n *node, g groupKey, v *Verdict) {
	m := s.m
	v.Group = s.groupName(g, n)
	type cand struct {
		j   int
		cat bool
		w   float64 // strength: |z| or surprisal-equivalent
	}
	var cs [NumNumeric + NumCategorical]cand
	k := 0
	for j := 0; j < NumNumeric; j++ {
		z := (s.vec.X[j] - n.Median[j]) / n.Spread[j]
		w := math.Abs(z)
		if j >= fHostRate && j <= fHostBytesOut && z < 0 {
			// A host quieter than typical (most often one whose first
			// flows these are, with no history yet) explains nothing an
			// analyst would act on: only a busier host is listed.
			w = 0
		}
		cs[k] = cand{j, false, w}
		k++
	}
	for j := 0; j < NumCategorical; j++ {
		c := s.vec.C[j]
		var cnt uint32
		if int(c) < len(n.Cat[j]) {
			cnt = n.Cat[j][c]
		}
		share := (float64(cnt) + 0.5) / (float64(n.N) + 1)
		// a category with share q is as surprising as a Gaussian tail of q
		w := 0.0
		if share < 0.05 {
			w = math.Sqrt(-2 * math.Log(share))
		}
		cs[k] = cand{j, true, w}
		k++
	}
	if c := m.groupIdx[g]; float64(c) < 0.005*float64(m.Nodes[0].N) {
		text := fmt.Sprintf("traffic group %s never seen in the %d baseline flows", s.groupName(g, &m.Nodes[0]), m.Nodes[0].N)
		if c > 0 {
			text = fmt.Sprintf("traffic group %s rare: %d of %d baseline flows", s.groupName(g, &m.Nodes[0]), c, m.Nodes[0].N)
		}
		v.Features = append(v.Features, Feature{Name: "traffic_group", Value: float64(c) / float64(max(m.Nodes[0].N, 1)), Category: true, Text: text})
	}
	slices.SortStableFunc(cs[:k], func(a, b cand) int {
		switch {
		case a.w > b.w:
			return -1
		case a.w < b.w:
			return 1
		}
		return 0
	})
	for _, c := range cs[:k] {
		if len(v.Features) >= explainTop || c.w < 2 {
			break
		}
		if c.cat {
			v.Features = append(v.Features, s.catFeature(n, c.j))
		} else {
			v.Features = append(v.Features, s.numFeature(n, c.j))
		}
	}
}

func (s *Scorer) numFeature(n *node, j int) Feature {
	med, sp := n.Median[j], n.Spread[j]
	z := (s.vec.X[j] - med) / sp
	f := Feature{Name: numericNames[j], Value: s.vec.Raw[j], Z: z}
	if numericLog[j] {
		f.Median = math.Expm1(med)
		f.Spread = (math.Expm1(med+sp) - math.Expm1(max(med-sp, 0))) / 2
	} else {
		f.Median, f.Spread = med, sp
	}
	u := numericUnit[j]
	switch {
	case (j == fOrigKnown || j == fRespKnown || j == fServiceKnown) && f.Value == 0:
		f.Text = fmt.Sprintf("%s: never seen before (baseline flows typically had seen theirs %s times)", knownText[j-fOrigKnown], human(f.Median, ""))
	default:
		f.Text = fmt.Sprintf("%s %s, typical %s ± %s (z %+.1f)", f.Name, human(f.Value, u), human(f.Median, u), human(f.Spread, u), z)
	}
	return f
}

func (s *Scorer) catFeature(n *node, j int) Feature {
	c := s.vec.C[j]
	var cnt uint32
	if int(c) < len(n.Cat[j]) {
		cnt = n.Cat[j][c]
	}
	name := categoricalNames[j]
	val := "-"
	if int(c) < len(s.m.Vocab[j]) && c != catEmpty {
		val = s.m.Vocab[j][c]
	}
	share := float64(cnt) / float64(max(n.N, 1))
	text := fmt.Sprintf("%s %s never seen in %d baseline flows of this group", name, val, n.N)
	if cnt > 0 {
		text = fmt.Sprintf("%s %s in %.2g%% of %d baseline flows of this group", name, val, 100*share, n.N)
	}
	return Feature{Name: name, Value: share, Category: true, Text: text}
}

// groupName names a traffic group: "tcp/web/out" or "udp/*/in" for the
// coarser fallbacks.
func (s *Scorer) groupName(g groupKey, n *node) string {
	m := s.m
	name := func(j int, id uint16) string {
		if int(id) < len(m.Vocab[j]) && id != catEmpty {
			return m.Vocab[j][id]
		}
		return "-"
	}
	sp := "*"
	if n == &m.Nodes[0] && g.SP != anyGroup {
		n = &node{Key: g}
	}
	if n.Key.SP != anyGroup {
		if g.SP >= portClassBase {
			sp = name(cPortClass, g.SP-portClassBase)
		} else {
			sp = name(cService, g.SP)
		}
	}
	if n.Key.Proto == anyGroup {
		return "*"
	}
	return strings.Join([]string{name(cProto, g.Proto), sp, name(cDirection, g.Dir)}, "/")
}

// human writes a value in its unit with an SI prefix: 48 MB, 2.1 kB, 0.3 s.
func human(x float64, unit string) string {
	if x == 0 {
		x = 0 // no "-0"
	}
	switch unit {
	case "B":
		a := math.Abs(x)
		switch {
		case a >= 1e9:
			return fmt.Sprintf("%.3g GB", x/1e9)
		case a >= 1e6:
			return fmt.Sprintf("%.3g MB", x/1e6)
		case a >= 1e3:
			return fmt.Sprintf("%.3g kB", x/1e3)
		}
		return fmt.Sprintf("%.3g B", x)
	case "":
		return fmt.Sprintf("%.3g", x)
	}
	return fmt.Sprintf("%.3g %s", x, unit)
}
