package detect

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

var knownText = [3]string{"originator", "responder", "responder's service (address, port, proto)"}

// explainTop is how many features an explanation lists at most.
const explainTop = 6

// explainInto lists the flow's most unusual features against the group's
// baseline: numeric features by robust z-score, categorical ones by rarity.
func (s *Scorer) explainInto(ni int32, g groupKey, v *Verdict) {
	m := s.m
	n := &m.Nodes[ni]
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
		b := s.text[:0]
		b = append(b, s.groupWords(g, &m.Nodes[0])...)
		if c > 0 {
			b = append(b, ", rare: "...)
			b = strconv.AppendUint(b, uint64(c), 10)
			b = append(b, " of the "...)
			b = strconv.AppendInt(b, int64(m.Nodes[0].N), 10)
			b = append(b, " baseline flows"...)
		} else {
			b = append(b, ", never seen in the "...)
			b = strconv.AppendInt(b, int64(m.Nodes[0].N), 10)
			b = append(b, " baseline flows"...)
		}
		s.text = b
		v.Features = append(v.Features, Feature{Name: "traffic_group", Value: float64(c) / float64(max(m.Nodes[0].N, 1)), Category: true, Text: string(b)})
	}
	// Only candidates of strength 2 or more are listed, so only they need
	// sorting: the stable sort of the few keeps them in the order a sort
	// of all would. A NaN strength is unordered against every other, so
	// then all are sorted, as that is what decides where it lands.
	nan := false
	for _, c := range cs[:k] {
		nan = nan || c.w != c.w
	}
	if !nan {
		strong := 0
		for _, c := range cs[:k] {
			if c.w >= 2 {
				cs[strong] = c
				strong++
			}
		}
		k = strong
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
			v.Features = append(v.Features, s.numFeature(ni, c.j))
		}
	}
}

// typicalText is what an explanation says about one numeric feature of
// one node whatever the flow: the baseline's median and spread in natural
// units and the sentence parts built from them.
type typicalText struct {
	done           bool
	median, spread float64
	typical        string // ", typical M ± S (z "
	never          string // the whole sentence for a "seen before" count of 0
}

// typicalOf returns node ni's typicalText for feature j, building it the
// first time.
func (s *Scorer) typicalOf(ni int32, j int) *typicalText {
	if s.typical == nil {
		s.typical = make([][NumNumeric]typicalText, len(s.m.Nodes))
	}
	t := &s.typical[ni][j]
	if t.done {
		return t
	}
	n := &s.m.Nodes[ni]
	med, sp := n.Median[j], n.Spread[j]
	if numericLog[j] {
		t.median = math.Expm1(med)
		t.spread = (math.Expm1(med+sp) - math.Expm1(max(med-sp, 0))) / 2
	} else {
		t.median, t.spread = med, sp
	}
	u := numericUnit[j]
	var b []byte
	// A spread of a few thousandths of a byte, or one the detectors'
	// floor (minSpread) set because the baseline had less, says nothing
	// to an analyst; what the baseline flows had does.
	constant, floored := constantBaseline(t.median, t.spread, u), sp <= minSpread
	if constant || floored {
		b = append(b, "; the "...)
		b = strconv.AppendUint(b, uint64(n.N), 10)
		b = append(b, " baseline flows"...)
		if n.Key.Proto != anyGroup { // the root holds every flow: no group to name
			b = append(b, " of "...)
			b = append(b, s.groupWords(n.Key, n)...)
		}
		if constant {
			b = append(b, " typically had exactly "...)
			b = appendHuman(b, roundCount(t.median, u), u)
		} else {
			b = append(b, " typically had "...)
			b = appendHuman(b, roundCount(t.median, u), u)
			b = append(b, ", with little spread"...)
		}
		b = append(b, " (z "...)
	} else {
		b = append(b, ", typical "...)
		b = appendHuman(b, t.median, u)
		b = append(b, " ± "...)
		b = appendHuman(b, t.spread, u)
		b = append(b, " (z "...)
	}
	t.typical = string(b)
	if j == fOrigKnown || j == fRespKnown || j == fServiceKnown {
		b = append(b[:0], knownText[j-fOrigKnown]...)
		b = append(b, ": never seen before (baseline flows typically had seen theirs "...)
		b = appendHuman(b, t.median, "")
		b = append(b, " times)"...)
		t.never = string(b)
	}
	t.done = true
	return t
}

// countUnit reports whether a feature's unit counts whole things (bytes,
// packets, flows, hosts, ports), even where the feature is a damped rate.
func countUnit(u string) bool {
	return u == "B" || u == "pkts" || u == "flows" || u == "hosts" || u == "ports"
}

// constantBaseline reports whether a baseline's spread is too small to
// mean anything: under half a unit for counts, under 1 % of the median
// otherwise.
func constantBaseline(median, spread float64, u string) bool {
	if countUnit(u) {
		return spread < 0.5
	}
	return spread < 0.01*max(math.Abs(median), 1e-3)
}

// roundCount rounds a count to a whole number (a damped rate of 5e-27
// bytes is none); other values are returned as they are.
func roundCount(x float64, u string) float64 {
	if countUnit(u) {
		return math.Round(x)
	}
	return x
}

func (s *Scorer) numFeature(ni int32, j int) Feature {
	n := &s.m.Nodes[ni]
	z := (s.vec.X[j] - n.Median[j]) / n.Spread[j]
	t := s.typicalOf(ni, j)
	f := Feature{Name: numericNames[j], Value: s.vec.Raw[j], Z: z, Median: t.median, Spread: t.spread}
	if (j == fOrigKnown || j == fRespKnown || j == fServiceKnown) && f.Value == 0 {
		f.Text = t.never
		return f
	}
	// "%s %s, typical %s ± %s (z %+.1f)"
	b := s.text[:0]
	b = append(b, f.Name...)
	b = append(b, ' ')
	b = appendHuman(b, f.Value, numericUnit[j])
	b = append(b, t.typical...)
	b = appendSigned(b, z, 'f', 1)
	b = append(b, ')')
	s.text = b
	f.Text = string(b)
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
	b := s.text[:0]
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, val...)
	if cnt > 0 {
		// "%s %s in %.2g%% of %d baseline flows of this group"
		b = append(b, " in "...)
		b = strconv.AppendFloat(b, 100*share, 'g', 2, 64)
		b = append(b, "% of "...)
	} else {
		// "%s %s never seen in %d baseline flows of this group"
		b = append(b, " never seen in "...)
	}
	b = strconv.AppendInt(b, int64(n.N), 10)
	b = append(b, " baseline flows of this group"...)
	s.text = b
	return Feature{Name: name, Value: share, Category: true, Text: string(b)}
}

// groupParts are the names of a traffic group's parts as the model's
// vocabularies spell them: protocol, service or port class (class set for
// a port class; "*" for a group that does not split by either) and
// direction. any is set for the root, which holds every flow.
type groupParts struct {
	proto, sp, dir string
	class, any     bool
}

func (s *Scorer) groupParts(g groupKey, n *node) groupParts {
	m := s.m
	name := func(j int, id uint16) string {
		if int(id) < len(m.Vocab[j]) && id != catEmpty {
			return m.Vocab[j][id]
		}
		return "-"
	}
	gp := groupParts{sp: "*"}
	if n == &m.Nodes[0] && g.SP != anyGroup {
		n = &node{Key: g}
	}
	if n.Key.SP != anyGroup {
		if g.SP >= portClassBase {
			gp.sp, gp.class = name(cPortClass, g.SP-portClassBase), true
		} else {
			gp.sp = name(cService, g.SP)
		}
	}
	if n.Key.Proto == anyGroup {
		gp.any = true
		return gp
	}
	gp.proto, gp.dir = name(cProto, g.Proto), name(cDirection, g.Dir)
	return gp
}

// groupName names a traffic group: "tcp/web/out" or "udp/*/in" for the
// coarser fallbacks (Verdict.Group).
func (s *Scorer) groupName(g groupKey, n *node) string {
	gp := s.groupParts(g, n)
	if gp.any {
		return "*"
	}
	return strings.Join([]string{gp.proto, gp.sp, gp.dir}, "/")
}

// dirWords are the directions in words, relative to the local network.
var dirWords = map[string]string{dirOut: "outbound", dirIn: "inbound", dirInternal: "internal", dirExternal: "external"}

// serviceWords spell the services and port classes that read better
// otherwise than upper-cased ("ssl" is "TLS").
var serviceWords = map[string]string{
	"ssl": "TLS", "icmp_echo": "ICMP echo", "icmp_unreachable": "ICMP unreachable",
	"icmp_time_exceeded": "ICMP time exceeded", "icmp_other": "ICMP", "remote_desktop": "remote desktop",
	"windows": "Windows", "web": "web", "mail": "mail", "directory": "directory", "database": "database",
	"system": "system", "registered": "registered", "dynamic": "dynamic",
}

// groupWords names a traffic group for an analyst: "outbound NTP over
// UDP", "inbound TCP to registered ports", "internal ICMP echo",
// "outbound TCP to a service the baseline never had".
func (s *Scorer) groupWords(g groupKey, n *node) string {
	gp := s.groupParts(g, n)
	if gp.any {
		return "all traffic"
	}
	proto := strings.ToUpper(gp.proto)
	b := make([]byte, 0, 48)
	if d, ok := dirWords[gp.dir]; ok {
		b = append(b, d...)
		b = append(b, ' ')
	}
	if gp.proto == "(unseen)" || gp.proto == "-" {
		return string(append(b, "traffic of a protocol the baseline never had"...))
	}
	w, ok := serviceWords[gp.sp]
	if !ok {
		w = strings.ToUpper(gp.sp)
	}
	switch {
	case gp.sp == "*":
		b = append(b, proto...)
	case gp.sp == "(unseen)" || gp.sp == "-":
		b = append(b, proto...)
		b = append(b, " to a service the baseline never had"...)
	case strings.HasPrefix(gp.sp, "icmp_"):
		b = append(b, w...)
	case gp.class && gp.sp == "zero":
		b = append(b, proto...)
		b = append(b, " to port 0"...)
	case gp.class:
		b = append(b, proto...)
		b = append(b, " to "...)
		b = append(b, w...)
		b = append(b, " ports"...)
	default:
		b = append(b, w...)
		b = append(b, " over "...)
		b = append(b, proto...)
	}
	return string(b)
}

// tinyValue is where a shown value becomes 0: no feature means anything
// below a millionth of its unit (a microsecond, a millionth of a byte or
// of a share); the damped rates and medians that decay there are none.
const tinyValue = 1e-6

// appendHuman appends a value in its unit with an SI prefix: 48 MB,
// 2.1 kB, 0.3 s. It writes what fmt's "%.3g" and "%.3g UNIT" would, with
// values under tinyValue written as 0.
func appendHuman(b []byte, x float64, unit string) []byte {
	if math.Abs(x) < tinyValue {
		x = 0 // a damped rate decayed to 5e-27 is none; and no "-0"
	}
	switch unit {
	case "B":
		a := math.Abs(x)
		switch {
		case a >= 1e9:
			return append(strconv.AppendFloat(b, x/1e9, 'g', 3, 64), " GB"...)
		case a >= 1e6:
			return append(strconv.AppendFloat(b, x/1e6, 'g', 3, 64), " MB"...)
		case a >= 1e3:
			return append(strconv.AppendFloat(b, x/1e3, 'g', 3, 64), " kB"...)
		}
		return append(strconv.AppendFloat(b, x, 'g', 3, 64), " B"...)
	case "":
		return strconv.AppendFloat(b, x, 'g', 3, 64)
	}
	b = strconv.AppendFloat(b, x, 'g', 3, 64)
	b = append(b, ' ')
	return append(b, unit...)
}

// appendSigned appends x as fmt's "%+.{prec}{fmt}" would: strconv's
// form with a "+" in front of anything that is not negative (NaN
// included).
func appendSigned(b []byte, x float64, format byte, prec int) []byte {
	i := len(b)
	b = strconv.AppendFloat(b, x, format, prec, 64)
	if b[i] != '-' && b[i] != '+' {
		b = append(b, 0)
		copy(b[i+1:], b[i:])
		b[i] = '+'
	}
	return b
}
