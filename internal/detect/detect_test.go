package detect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/flow"
)

// office generates a stationary synthetic network: clients on 10.0.0.0/24
// browsing a pool of public web servers, asking the local resolver, syncing
// time, and now and then using SSH inside. Timestamps advance by the given
// mean gap. The same seed gives the same flows.
type office struct {
	rng  *rand.Rand
	t    time.Time
	gap  float64 // mean seconds between flows
	n    int
	webs []netip.Addr
}

func newOffice(seed uint64, start time.Time, gap float64) *office {
	o := &office{rng: rand.New(rand.NewPCG(seed, 7)), t: start, gap: gap}
	for i := 0; i < 40; i++ {
		o.webs = append(o.webs, netip.AddrFrom4([4]byte{93, 184, byte(i / 8), byte(i)}))
	}
	return o
}

func (o *office) lognormal(mu, sigma float64) uint64 {
	return uint64(math.Exp(mu + sigma*o.rng.NormFloat64()))
}

// next fills r with the next benign flow.
func (o *office) next(r *flow.Record) {
	o.t = o.t.Add(time.Duration(o.rng.ExpFloat64() * o.gap * float64(time.Second)))
	o.n++
	*r = flow.Record{TS: o.t, Source: flow.SourceZeek}
	r.UID = "C" + string(rune('a'+o.n%26)) + string(rune('a'+o.n/26%26)) + string(rune('a'+o.n/676%26))
	r.OrigH = netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + o.rng.IntN(50))})
	r.OrigP = uint16(32768 + o.rng.IntN(28000))
	switch k := o.rng.Float64(); {
	case k < 0.55: // web
		r.RespH = o.webs[o.rng.IntN(len(o.webs))]
		r.RespP, r.Proto, r.Service, r.ConnState, r.History = 443, flow.ProtoTCP, "ssl", "SF", "ShADadFf"
		r.Duration = time.Duration(o.lognormal(0, 1.2) * uint64(time.Second) / 4)
		r.OrigBytes, r.RespBytes = o.lognormal(7, 0.8), o.lognormal(10, 1.5)
		r.OrigPkts, r.RespPkts = 5+r.OrigBytes/1000, 5+r.RespBytes/1400
	case k < 0.9: // dns
		r.RespH = netip.AddrFrom4([4]byte{10, 0, 0, 1})
		r.RespP, r.Proto, r.Service, r.ConnState, r.History = 53, flow.ProtoUDP, "dns", "SF", "Dd"
		r.Duration = time.Duration(o.rng.Float64() * float64(50*time.Millisecond))
		r.OrigBytes, r.RespBytes = 30+uint64(o.rng.IntN(30)), 60+uint64(o.rng.IntN(200))
		r.OrigPkts, r.RespPkts = 1, 1
	case k < 0.97: // ntp
		r.RespH = netip.AddrFrom4([4]byte{10, 0, 0, 2})
		r.RespP, r.Proto, r.Service, r.ConnState, r.History = 123, flow.ProtoUDP, "ntp", "SF", "Dd"
		r.Duration = time.Duration(o.rng.Float64() * float64(5*time.Millisecond))
		r.OrigBytes, r.RespBytes = 48, 48
		r.OrigPkts, r.RespPkts = 1, 1
	default: // ssh inside
		r.RespH = netip.AddrFrom4([4]byte{10, 0, 0, 3})
		r.RespP, r.Proto, r.Service, r.ConnState, r.History = 22, flow.ProtoTCP, "ssh", "SF", "ShADadFf"
		r.Duration = time.Duration(o.lognormal(3, 1) * uint64(time.Second))
		r.OrigBytes, r.RespBytes = o.lognormal(8, 1), o.lognormal(9, 1)
		r.OrigPkts, r.RespPkts = 10+r.OrigBytes/500, 10+r.RespBytes/500
	}
	r.OrigIPBytes = r.OrigBytes + 40*r.OrigPkts
	r.RespIPBytes = r.RespBytes + 40*r.RespPkts
}

// nextRecord returns the next benign flow.
func (o *office) nextRecord() flow.Record {
	var r flow.Record
	o.next(&r)
	return r
}

var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// trainOffice trains a model on n office flows.
func trainOffice(tb testing.TB, cfg Config, seed uint64, n int) (*Model, *office) {
	tb.Helper()
	o := newOffice(seed, day0, 86400.0/float64(n))
	tr := NewTrainer(cfg)
	var r flow.Record
	for i := 0; i < n; i++ {
		o.next(&r)
		tr.Add(&r)
	}
	m, err := tr.Fit()
	if err != nil {
		tb.Fatalf("Fit: %v", err)
	}
	return m, o
}

func testConfig() Config {
	c := DefaultConfig()
	c.Trees = 32
	return c
}

func TestModelDeterministic(t *testing.T) {
	enc := func(seed int64) []byte {
		cfg := testConfig()
		cfg.Seed = seed
		m, _ := trainOffice(t, cfg, 1, 3000)
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := enc(1), enc(1), enc(2)
	if !bytes.Equal(a, b) {
		t.Errorf("same seed and input gave different model bytes (%d vs %d bytes)", len(a), len(b))
	}
	if bytes.Equal(a, c) {
		t.Errorf("different seeds gave identical models")
	}
}

func TestModelFileErrors(t *testing.T) {
	m, _ := trainOffice(t, testConfig(), 1, 2000)
	good, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnmarshalModel(good); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		b    []byte
		want error
		text string
	}{
		{"empty", nil, ErrNotModel, "not an mlads model"},
		{"other file", []byte("#separator \\x09\n#fields\tts\n"), ErrNotModel, "not an mlads model"},
		{"newer version", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], ModelVersion+1); return b }), ErrModelVersion, "retrain"},
		{"truncated", good[:len(good)/2], ErrModelCorrupt, "truncated"},
		{"flipped byte", mutate(func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }), ErrModelCorrupt, "checksum"},
		{"bad checksum", mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrModelCorrupt, "checksum"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := UnmarshalModel(tc.b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not say %q", err, tc.text)
			}
		})
	}
	path := t.TempDir() + "/m.model"
	if _, err := m.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	if _, err := ReadFile(path + ".missing"); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("missing file: error %v does not name the path", err)
	}
}

// scoreOffice scores n more flows of o and returns the alert share.
func scoreOffice(tb testing.TB, s *Scorer, o *office, n int) float64 {
	tb.Helper()
	var r flow.Record
	var v Verdict
	alerts := 0
	for i := 0; i < n; i++ {
		o.next(&r)
		s.Score(&r, &v)
		if v.Alert {
			alerts++
		}
	}
	return float64(alerts) / float64(n)
}

// Benign traffic alerts at the budgeted rate: within 0.5–2× of it.
func TestBenignAlertRateWithinBudget(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*Config)
		want float64
	}{
		{"false positive rate 1%", func(c *Config) { c.FalsePositiveRate = 0.01 }, 0.01},
		{"false positive rate 0.5%", func(c *Config) { c.FalsePositiveRate = 0.005 }, 0.005},
		// 20000 flows a day: 100 alerts a day is a 0.5% rate
		{"100 alerts per day", func(c *Config) { c.AlertsPerDay = 100 }, 0.005},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.cfg(&cfg)
			m, o := trainOffice(t, cfg, 3, 20000)
			if math.Abs(m.Alpha-tc.want)/tc.want > 0.05 {
				t.Fatalf("threshold %g, want %g", m.Alpha, tc.want)
			}
			// the next day of the same office, never seen in training
			got := scoreOffice(t, m.NewScorer(cfg), o, 20000)
			if got < 0.5*tc.want || got > 2*tc.want {
				t.Errorf("benign alert rate %.4f, want within [%.4f, %.4f]", got, 0.5*tc.want, 2*tc.want)
			}
		})
	}
}

// officeScorer trains on 10 000 office flows with the given false-positive
// rate and returns a Scorer warmed up on warm more of them.
func officeScorer(tb testing.TB, fpr float64, seed uint64, warm int) (*Model, *Scorer, *office) {
	tb.Helper()
	cfg := testConfig()
	cfg.FalsePositiveRate = fpr
	m, o := trainOffice(tb, cfg, seed, 10000)
	s := m.NewScorer(cfg)
	scoreOffice(tb, s, o, warm)
	return m, s, o
}

func TestAttacksAlertWithExplanations(t *testing.T) {
	m, s, o := officeScorer(t, 0.001, 5, 500)
	var r flow.Record
	var v Verdict

	// a 2 GB upload to an unknown server on an odd port
	o.next(&r)
	r.RespH = netip.MustParseAddr("203.0.113.9")
	r.RespP, r.Proto, r.Service, r.ConnState, r.History = 8443, flow.ProtoTCP, "ssl", "SF", "ShADadFf"
	r.Duration, r.OrigBytes, r.RespBytes = 3*time.Hour, 2e9, 40000
	r.OrigPkts, r.RespPkts = 1.5e6, 20000
	r.OrigIPBytes, r.RespIPBytes = r.OrigBytes+40*r.OrigPkts, r.RespBytes+40*r.RespPkts
	s.Score(&r, &v)
	if !v.Alert {
		t.Fatalf("exfiltration not alerted: p=%g threshold %g", v.PValue, m.Alpha)
	}
	if len(v.Hits) != numDetectors || v.Hits[0].PValue > v.Hits[len(v.Hits)-1].PValue {
		t.Errorf("hits not the %d detectors most significant first: %+v", numDetectors, v.Hits)
	}
	var sawBytes bool
	for _, f := range v.Features {
		if f.Name == "orig_bytes" || f.Name == "orig_ip_bytes" {
			sawBytes = true
			if f.Value < 1e9 || f.Median <= 0 || f.Median > 1e6 || f.Spread <= 0 || f.Z < 3 {
				t.Errorf("feature %+v: want value 2 GB against a small median and positive spread", f)
			}
			if !strings.Contains(f.Text, "GB") || !strings.Contains(f.Text, "typical") {
				t.Errorf("feature text %q does not read like \"orig_bytes 2 GB, typical ...\"", f.Text)
			}
		}
	}
	if !sawBytes {
		t.Errorf("explanation does not name the bytes sent: %+v", v.Features)
	}
	if v.Group == "" {
		t.Errorf("explanation has no traffic group")
	}

	// a SYN to a closed port from a host the office never talked to
	o.next(&r)
	r.OrigH, r.RespH = netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("10.0.0.20")
	r.RespP, r.Proto, r.Service, r.ConnState, r.History = 3389, flow.ProtoTCP, "", "S0", "S"
	r.Duration, r.OrigBytes, r.RespBytes, r.OrigPkts, r.RespPkts = 0, 0, 0, 1, 0
	r.OrigIPBytes, r.RespIPBytes = 40, 0
	s.Score(&r, &v)
	if !v.Alert {
		t.Fatalf("inbound probe not alerted: p=%g", v.PValue)
	}
	var sawCat bool
	for _, f := range v.Features {
		sawCat = sawCat || f.Category
	}
	if !sawCat {
		t.Errorf("inbound probe explanation names no unusual category: %+v", v.Features)
	}
	// The prober has no history: "its flow rate is lower than typical" is
	// not a reason, so no host statistic below its baseline is listed.
	for _, f := range v.Features {
		if strings.HasPrefix(f.Name, "host_") && f.Z < 0 {
			t.Errorf("explanation lists a host statistic below typical: %s", f.Text)
		}
	}
}

// Flows that never alert must not allocate (hot path).
func TestScoreDoesNotAllocate(t *testing.T) {
	cfg := testConfig()
	m, o := trainOffice(t, cfg, 9, 3000)
	m.SetAlpha(1e-300) // explanations (alerts only) allocate by design
	s := m.NewScorer(cfg)
	var v Verdict
	recs := make([]flow.Record, 256)
	for i := range recs {
		o.next(&recs[i])
	}
	for i := range recs {
		s.Score(&recs[i], &v) // warm the host table and v's slices
	}
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		r := &recs[i%len(recs)]
		i++
		s.Score(r, &v)
	})
	if allocs > 0.5 {
		t.Errorf("Score allocates %.1f times per flow", allocs)
	}
}

func TestHostTableBounded(t *testing.T) {
	h := newHostTable(100)
	for i := 0; i < 1000; i++ {
		h.get(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}))
	}
	if h.Len() != 100 || h.Evicted != 900 || len(h.idx) != 100 {
		t.Errorf("len %d, index %d, evicted %d; want 100, 100, 900", h.Len(), len(h.idx), h.Evicted)
	}
	if b := BytesPerHost(); b > 2048 {
		t.Errorf("BytesPerHost %d, goal at most 2048", b)
	}
}

func TestCalibratorPValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cal := make([]float64, 5000)
	for i := range cal {
		cal[i] = rng.NormFloat64()
	}
	c := newCalibrator(cal)
	// p-values of fresh null scores are uniform: the share below q is q
	for _, q := range []float64{0.01, 0.1, 0.5} {
		below := 0
		for i := 0; i < 20000; i++ {
			if c.pvalue(rng.NormFloat64()) <= q {
				below++
			}
		}
		if got := float64(below) / 20000; math.Abs(got-q) > 0.2*q+0.002 {
			t.Errorf("P(p <= %g) = %.4f", q, got)
		}
	}
	// monotone and distinct in the tail
	if !(c.pvalue(4) > c.pvalue(5) && c.pvalue(5) > c.pvalue(8) && c.pvalue(8) > 0) {
		t.Errorf("tail p-values not strictly decreasing: %g %g %g", c.pvalue(4), c.pvalue(5), c.pvalue(8))
	}
	if p := cauchyCombine([]float64{0.5, 0.5, 0.5}); math.Abs(p-0.5) > 1e-9 {
		t.Errorf("ACAT of 0.5s = %g", p)
	}
	if p := cauchyCombine([]float64{1e-8, 0.9, 0.9, 0.9}); p > 1e-7 {
		t.Errorf("ACAT did not keep one strong signal: %g", p)
	}
}

func TestTooFewFlows(t *testing.T) {
	tr := NewTrainer(testConfig())
	var r flow.Record
	o := newOffice(1, day0, 1)
	for i := 0; i < 5; i++ {
		o.next(&r)
		tr.Add(&r)
	}
	if _, err := tr.Fit(); !errors.Is(err, ErrTooFewFlows) {
		t.Errorf("got %v, want ErrTooFewFlows", err)
	}
	// a small baseline still makes a model that scores
	tr = NewTrainer(testConfig())
	for i := 0; i < 15; i++ {
		o.next(&r)
		tr.Add(&r)
	}
	m, err := tr.Fit()
	if err != nil {
		t.Fatalf("15 flows: %v", err)
	}
	var v Verdict
	o.next(&r)
	m.NewScorer(testConfig()).Score(&r, &v)
	if !(v.PValue > 0 && v.PValue <= 1) {
		t.Errorf("p-value %g", v.PValue)
	}
}

// Online updates: a clearly normal flow to a new server teaches the model
// that server; one host can make at most OnlineHostCap updates.
func TestOnlineUpdatesCapped(t *testing.T) {
	cfg := testConfig()
	cfg.OnlineHostCap = 5
	m, o := trainOffice(t, cfg, 21, 5000)
	s := m.NewScorer(cfg)
	var r flow.Record
	var v Verdict
	for i := 0; i < 3000; i++ {
		o.next(&r)
		s.Score(&r, &v)
	}
	st := s.Stats()
	if st.OnlineUpdates == 0 || st.OnlineCapped == 0 || st.OnlineUpdates > uint64(5*st.Hosts) {
		t.Errorf("online updates %d (capped %d) from %d hosts; want some, capped at 5 a host", st.OnlineUpdates, st.OnlineCapped, st.Hosts)
	}
	for _, h := range s.f.hosts.states {
		if h.learned > 5 {
			t.Errorf("host %s made %d online updates, cap 5", h.addr, h.learned)
		}
	}
	if st.Flows != 3000 || st.BytesPerHost <= 0 {
		t.Errorf("stats %+v", st)
	}

	cfg.OnlineUpdates = false
	s = m.NewScorer(cfg)
	for i := 0; i < 100; i++ {
		o.next(&r)
		s.Score(&r, &v)
	}
	if st := s.Stats(); st.OnlineUpdates != 0 {
		t.Errorf("online updates %d with online_updates off", st.OnlineUpdates)
	}
}

// Training on traffic that holds attacks (analyze without a model) still
// flags them: a 0.5% scan does not become normal by forming a traffic
// group of its own.
func TestTrainingRobustToContamination(t *testing.T) {
	cfg := testConfig()
	cfg.FalsePositiveRate = 0.01
	o := newOffice(31, day0, 4)
	tr := NewTrainer(cfg)
	var r flow.Record
	var flows []flow.Record
	for i := 0; i < 10000; i++ {
		o.next(&r)
		if i%200 == 0 { // a slow scan from one outside host, 0.5% of the flows
			r.OrigH, r.RespH = netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("10.0.0.20")
			r.RespP, r.Proto, r.Service, r.ConnState, r.History = uint16(1000+i), flow.ProtoTCP, "", "S0", "S"
			r.Duration, r.OrigBytes, r.RespBytes, r.OrigPkts, r.RespPkts = 0, 0, 0, 1, 0
			r.OrigIPBytes, r.RespIPBytes = 40, 0
		}
		tr.Add(&r)
		flows = append(flows, r)
	}
	m, err := tr.Fit()
	if err != nil {
		t.Fatal(err)
	}
	if m.Trimmed == 0 {
		t.Fatalf("nothing trimmed")
	}
	s := m.NewScorer(cfg)
	var v Verdict
	scan, scanAlerts := 0, 0
	for i := range flows {
		s.Score(&flows[i], &v)
		if flows[i].ConnState == "S0" {
			scan++
			if v.Alert {
				scanAlerts++
			}
		}
	}
	if float64(scanAlerts) < 0.9*float64(scan) {
		t.Errorf("%d of %d scan flows alerted after training on them", scanAlerts, scan)
	}
}

// Records a decoder may produce at the edges (no addresses, unknown
// transport, zero time, huge counters) score without panicking and give a
// p-value in (0, 1].
func TestScoreOddRecords(t *testing.T) {
	cfg := testConfig()
	m, _ := trainOffice(t, cfg, 41, 2000)
	s := m.NewScorer(cfg)
	tests := []struct {
		name string
		r    flow.Record
	}{
		{"zero", flow.Record{}},
		{"unknown transport", flow.Record{TS: day0, Proto: flow.ProtoUnknown, IPProto: 47,
			OrigH: netip.MustParseAddr("10.0.0.1"), RespH: netip.MustParseAddr("10.0.0.2")}},
		{"icmpv6", flow.Record{TS: day0, Proto: flow.ProtoICMP, OrigP: 135, RespP: 0,
			OrigH: netip.MustParseAddr("fe80::1"), RespH: netip.MustParseAddr("ff02::1")}},
		{"negative duration", flow.Record{TS: day0, Proto: flow.ProtoTCP, Duration: -time.Second,
			OrigH: netip.MustParseAddr("10.0.0.1"), RespH: netip.MustParseAddr("10.0.0.2")}},
		{"huge counters", flow.Record{TS: day0.Add(time.Hour), Proto: flow.ProtoUDP, OrigBytes: math.MaxUint64,
			OrigPkts: math.MaxUint64, OrigIPBytes: math.MaxUint64, MissedBytes: math.MaxUint64,
			OrigH: netip.MustParseAddr("10.0.0.1"), RespH: netip.MustParseAddr("10.0.0.2")}},
		{"time going back", flow.Record{TS: day0.Add(-48 * time.Hour), Proto: flow.ProtoTCP,
			OrigH: netip.MustParseAddr("10.0.0.1"), RespH: netip.MustParseAddr("10.0.0.2")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v Verdict
			s.Score(&tc.r, &v)
			if !(v.PValue > 0 && v.PValue <= 1) || math.IsNaN(v.Score) {
				t.Errorf("p-value %g, score %g", v.PValue, v.Score)
			}
		})
	}
}

// The final p-values of new normal traffic are close to uniform: the share
// at or below q is about q, at every level, not only at the threshold.
func TestPValuesUniformOnCleanTraffic(t *testing.T) {
	cfg := testConfig()
	m, o := trainOffice(t, cfg, 51, 20000)
	s := m.NewScorer(cfg)
	var r flow.Record
	var v Verdict
	levels := []float64{0.001, 0.01, 0.05, 0.2, 0.5}
	below := make([]int, len(levels))
	const n = 20000
	for i := 0; i < n; i++ {
		o.next(&r)
		s.Score(&r, &v)
		for k, q := range levels {
			if v.PValue <= q {
				below[k]++
			}
		}
	}
	for k, q := range levels {
		got := float64(below[k]) / n
		t.Logf("P(p <= %g) = %.4f", q, got)
		if got < 0.5*q || got > 2*q {
			t.Errorf("P(p <= %g) = %.4f, want within [%g, %g]", q, got, 0.5*q, 2*q)
		}
	}
}

// Beyond MaxTrainFlows the Trainer keeps a reservoir sample: bounded
// memory, the same model for the same input, and the flow rate of the
// whole baseline for the budget.
func TestTrainerReservoir(t *testing.T) {
	cfg := testConfig()
	cfg.MaxTrainFlows = 1000
	fit := func() *Model {
		tr := NewTrainer(cfg)
		o := newOffice(61, day0, 86400.0/5000)
		var r flow.Record
		for i := 0; i < 5000; i++ {
			o.next(&r)
			tr.Add(&r)
		}
		if tr.Len() != 5000 || tr.m.rows() != 1000 || tr.Sampled != 4000 {
			t.Fatalf("len %d, rows %d, sampled %d", tr.Len(), tr.m.rows(), tr.Sampled)
		}
		m, err := tr.Fit()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := fit(), fit()
	ba, _ := a.MarshalBinary()
	bb, _ := b.MarshalBinary()
	if !bytes.Equal(ba, bb) {
		t.Errorf("reservoir sampling is not deterministic")
	}
	if a.TrainFlows != 5000 || math.Abs(a.FlowsPerDay-5000)/5000 > 0.05 {
		t.Errorf("train flows %d, flows per day %.0f; want 5000 and about 5000", a.TrainFlows, a.FlowsPerDay)
	}
}

// A flow of a traffic group training never had, far from anything in the
// baseline, gets each detector's p-value no smaller than its calibration
// reservoir resolves (1/(n+1)), and a final p-value no smaller than
// MinPValue; it still alerts, and a more extreme flow of the same kind
// still ranks higher (issue 12, finding 5: such flows scored p = 1e-300).
func TestNoveltyBounded(t *testing.T) {
	m, s, o := officeScorer(t, 0.001, 3, 200)
	floor := 1 / float64(m.CalibFlows+1)
	minP := m.MinPValue()
	if !(minP > 1e-12 && minP < m.Alpha) {
		t.Fatalf("MinPValue %g: want finite and below the threshold %g", minP, m.Alpha)
	}
	var prev float64
	for i, size := range []uint64{1e4, 1e6, 1e9} {
		var r flow.Record
		var v Verdict
		o.next(&r)
		r.RespH = netip.MustParseAddr("198.51.100.200")
		r.Proto, r.Service, r.RespP, r.ConnState, r.History = "sctp", "", 9899, "OTH", ""
		r.Duration, r.OrigBytes, r.OrigPkts = 2*time.Hour, size, 1+size/1400
		r.OrigIPBytes = r.OrigBytes + 40*r.OrigPkts
		s.Score(&r, &v)
		for _, h := range v.Hits {
			if h.PValue < floor*(1-1e-9) {
				t.Errorf("%d B: %s p = %g, below the reservoir's resolution 1/(%d+1) = %g", size, h.Detector, h.PValue, m.CalibFlows, floor)
			}
		}
		if v.PValue < minP*(1-1e-9) || !v.Alert {
			t.Errorf("%d B: p = %g alert %v; want alert with p >= MinPValue %g", size, v.PValue, v.Alert, minP)
		}
		if i > 0 && !(v.PValue < prev) {
			t.Errorf("%d B: p = %g, not below the smaller flow's %g", size, v.PValue, prev)
		}
		prev = v.PValue
	}
}

// A baseline too small to reach its threshold says so, with the numbers.
func TestAlertLimit(t *testing.T) {
	cfg := testConfig()
	cfg.FalsePositiveRate = 0.001
	small, _ := trainOffice(t, cfg, 4, 22)
	msg := small.AlertLimit()
	if small.CanAlert() || !strings.Contains(msg, "cannot alert") || !strings.Contains(msg, "7 calibration flows (of 22)") {
		t.Errorf("22 flows: CanAlert %v, MinPValue %g, threshold %g, message %q", small.CanAlert(), small.MinPValue(), small.Alpha, msg)
	}
	large, _ := trainOffice(t, cfg, 4, 10000)
	if !large.CanAlert() || large.AlertLimit() != "" {
		t.Errorf("10000 flows: CanAlert %v, MinPValue %g, threshold %g, message %q", large.CanAlert(), large.MinPValue(), large.Alpha, large.AlertLimit())
	}
}

// A host that scans keeps its host statistics on its scan flows, which
// fail, but its ordinary DNS queries to the resolver it always used are
// scored on their own merits (issue 12, finding 4: every benign flow of a
// scanning host alerted on its failure rate, flow rate and bytes out).
func TestHostContextStaysWithItsFlows(t *testing.T) {
	_, s, o := officeScorer(t, 0.005, 6, 200)
	scanner := netip.MustParseAddr("10.0.0.20")
	var r flow.Record
	var v Verdict
	var dnsAlerts, dns, scanAlerts, scans int
	for i := 0; i < 600; i++ {
		o.next(&r)
		r.OrigH = scanner
		if i%20 == 0 { // its usual DNS query
			r.RespH = netip.AddrFrom4([4]byte{10, 0, 0, 1})
			r.RespP, r.Proto, r.Service, r.ConnState, r.History = 53, flow.ProtoUDP, "dns", "SF", "Dd"
			r.Duration, r.OrigBytes, r.RespBytes, r.OrigPkts, r.RespPkts = 10*time.Millisecond, 40, 120, 1, 1
			r.OrigIPBytes, r.RespIPBytes = 68, 148
			s.Score(&r, &v)
			dns++
			if v.Alert {
				dnsAlerts++
			}
			continue
		}
		r.RespH = netip.AddrFrom4([4]byte{10, 0, 1 + byte(i/250), byte(i % 250)})
		r.RespP, r.Proto, r.Service, r.ConnState, r.History = 445, flow.ProtoTCP, "", "S0", "S"
		r.Duration, r.OrigBytes, r.RespBytes, r.OrigPkts, r.RespPkts = 0, 0, 0, 1, 0
		r.OrigIPBytes, r.RespIPBytes = 44, 0
		s.Score(&r, &v)
		scans++
		if v.Alert {
			scanAlerts++
		}
	}
	if dnsAlerts > 0 {
		t.Errorf("%d of the scanner's %d DNS queries alerted", dnsAlerts, dns)
	}
	if scanAlerts < scans*9/10 {
		t.Errorf("%d of %d scan flows alerted", scanAlerts, scans)
	}
}

// TestLearnGate: with GateUpdates, Score teaches nothing and Learn decides:
// a flow teaches only when its verdict is clearly normal (p > 0.5) and
// names no behaviour, and its host has not used its cap; the learned
// model counts what was taught and the Scorer's model is unchanged.
func TestLearnGate(t *testing.T) {
	cfg := testConfig()
	cfg.OnlineHostCap = 1
	m, o := trainOffice(t, cfg, 22, 3000)
	s := m.NewScorer(cfg)
	s.GateUpdates()
	var r flow.Record
	var v Verdict
	scan := []Finding{{Detector: "vertical_scan"}}
	for _, tc := range []struct {
		name   string
		p      float64
		beh    []Finding
		taught bool
	}{
		{"alerting", 0.001, nil, false},
		{"unusual", 0.5, nil, false},
		{"part of a scan", 0.9, scan, false},
		{"clearly normal", 0.9, nil, true},
		{"its host's cap used", 0.9, nil, false},
	} {
		if tc.name != "its host's cap used" {
			o.next(&r)
		}
		s.Score(&r, &v)
		if st := s.Stats(); st.OnlineUpdates != 0 && tc.name == "alerting" {
			t.Fatalf("Score taught %d times with the gate on", st.OnlineUpdates)
		}
		before := s.Stats().OnlineUpdates
		v.PValue, v.Behaviors = tc.p, tc.beh
		if got := s.Learn(&r, &v); got != tc.taught || (s.Stats().OnlineUpdates > before) != tc.taught {
			t.Errorf("%s: Learn %v, want %v", tc.name, got, tc.taught)
		}
	}
	if s.Stats().OnlineCapped != 1 {
		t.Errorf("capped %d, want 1", s.Stats().OnlineCapped)
	}
	sum := func(xs []uint32) (n int) {
		for _, x := range xs {
			n += int(x)
		}
		return n
	}
	if l := s.Learned(); sum(l.KnownCounts) != sum(m.KnownCounts)+3 {
		t.Errorf("learned model counts %d, trained %d; want the 3 entities of the flow that taught more", sum(l.KnownCounts), sum(m.KnownCounts))
	}
}

// TestFinishIsScore: flows featurized a block ahead (Featurize), scored
// out of order (Pending.Score) and finished in order (Finish, then Learn)
// get the verdicts, explanations, online updates and counters of Score
// and Learn one flow at a time, also when a flow's known counts changed
// through an earlier flow of its block (a small baseline keeps the
// counts below their cap, so online updates move them).
func TestFinishIsScore(t *testing.T) {
	cfg := testConfig()
	m, o := trainOffice(t, cfg, 31, 400)
	one, ahead := m.NewScorer(cfg), m.NewScorer(cfg)
	one.GateUpdates()
	ahead.GateUpdates()
	one.ExplainBelow(0.05)
	ahead.ExplainBelow(0.05)
	const block = 64
	rs := make([]flow.Record, block)
	ps := make([]Pending, block)
	var want, got Verdict
	for b := range 40 {
		if !ahead.Ahead(block) {
			t.Fatal("the host table is full")
		}
		for i := range rs {
			o.next(&rs[i])
			ahead.Featurize(&rs[i], &ps[i])
		}
		for i := len(ps) - 1; i >= 0; i-- {
			ps[i].Score(ahead)
		}
		for i := range rs {
			one.Score(&rs[i], &want)
			ahead.Finish(&rs[i], &ps[i], &got)
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("block %d flow %d:\nScore  %+v\nFinish %+v", b, i, want, got)
			}
			if want.PValue > ClearlyNormal {
				one.Learn(&rs[i], &want)
				ahead.Learn(&rs[i], &got)
			}
		}
	}
	if ws, gs := one.Stats(), ahead.Stats(); ws != gs {
		t.Errorf("stats: Score %+v, Finish %+v", ws, gs)
	}
	if !reflect.DeepEqual(one.Learned(), ahead.Learned()) {
		t.Error("the learned models differ")
	}
	if ahead.rescored == 0 {
		t.Error("no flow was scored again: the test does not test Finish's check")
	}
	t.Logf("%d flows, %d scored again, %d online updates", 40*block, ahead.rescored, ahead.Stats().OnlineUpdates)
}

// TestFailureRateStaysWithFailedFlows: a scanning host's successful query
// to a resolver it never used carries the host's fan-out (it is a new
// destination) but not its failure rate, which is evidence about failed
// flows only; the scan's own flows carry everything, and its usual
// resolver's queries nothing.
func TestFailureRateStaysWithFailedFlows(t *testing.T) {
	m, s, o := officeScorer(t, 0.005, 6, 200)
	scanner := netip.MustParseAddr("10.0.0.20")
	var r flow.Record
	var v Verdict
	dns := func(resolver netip.Addr) {
		o.next(&r)
		r.OrigH, r.RespH = scanner, resolver
		r.RespP, r.Proto, r.Service, r.ConnState, r.History = 53, flow.ProtoUDP, "dns", "SF", "Dd"
		r.Duration, r.OrigBytes, r.RespBytes, r.OrigPkts, r.RespPkts = 10*time.Millisecond, 40, 120, 1, 1
		r.OrigIPBytes, r.RespIPBytes = 68, 148
		s.Score(&r, &v)
	}
	usual := netip.AddrFrom4([4]byte{10, 0, 0, 1}) // the resolver every office host uses
	dns(usual)                                     // the host's first contact with it is new to the host
	for i := range 100 {
		o.next(&r)
		r.OrigH, r.RespH = scanner, netip.AddrFrom4([4]byte{10, 0, 1, byte(i)})
		r.RespP, r.Proto, r.Service, r.ConnState, r.History = 445, flow.ProtoTCP, "", "S0", "S"
		r.Duration, r.OrigBytes, r.RespBytes, r.OrigPkts, r.RespPkts = 0, 0, 0, 1, 0
		r.OrigIPBytes, r.RespIPBytes = 44, 0
		s.Score(&r, &v)
		if s.cur.vec.Carries != CarryAll || s.cur.x[fHostFail] != s.cur.vec.X[fHostFail] {
			t.Fatalf("scan flow %d: carries %d, failure rate scored %g of %g", i, s.cur.vec.Carries, s.cur.x[fHostFail], s.cur.vec.X[fHostFail])
		}
	}
	dns(usual)
	n := &m.Nodes[s.cur.ni]
	if c := s.cur.vec.Carries; c != CarryNone || s.cur.x[fHostFail] != n.Median[fHostFail] || s.cur.x[fHostRate] != n.Median[fHostRate] {
		t.Errorf("usual resolver: carries %d, failure rate %g, flow rate %g; want none, at the group's medians", c, s.cur.x[fHostFail], s.cur.x[fHostRate])
	}
	dns(netip.AddrFrom4([4]byte{10, 0, 9, 53})) // one it never used
	n = &m.Nodes[s.cur.ni]
	x, raw := s.cur.x, s.cur.vec.X
	if c := s.cur.vec.Carries; c != CarryNew {
		t.Fatalf("new resolver: carries %d, want CarryNew", c)
	}
	if raw[fHostFail] <= n.Median[fHostFail] || x[fHostFail] != n.Median[fHostFail] {
		t.Errorf("new resolver: failure rate %g observed, %g scored; want the group's median %g", raw[fHostFail], x[fHostFail], n.Median[fHostFail])
	}
	for _, j := range []int{fHostRate, fHostDsts, fHostNewDst} {
		if x[j] != raw[j] {
			t.Errorf("new resolver: %s scored %g, observed %g; want it carried", numericNames[j], x[j], raw[j])
		}
	}
}
