package detect

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// The explanations' sentences are built with strconv, not fmt (they are
// written for every alert); they must read exactly as the fmt verbs they
// replace (with values under tinyValue shown as 0).
func TestExplainTextMatchesFmt(t *testing.T) {
	// human as it was written with fmt
	human := func(x float64, unit string) string {
		if math.Abs(x) < 1e-6 {
			x = 0
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
	vals := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 0.04999, -0.05, 0.95, 9.95, 99.95, 999.5, 999.4999,
		1e3, 999999, 1e6, 1e9, 1e21, 1e-7, -1e-7, 5e-324, math.MaxFloat64, -math.MaxFloat64,
		math.Inf(1), math.Inf(-1), math.NaN(), 1234.5678, 2.1e6, 211, 10.6}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		vals = append(vals, math.Exp(rng.NormFloat64()*15)*float64(1-2*rng.IntN(2)))
	}
	for _, x := range vals {
		for _, u := range []string{"B", "", "s", "B/pkt", "flows"} {
			if got, want := string(appendHuman(nil, x, u)), human(x, u); got != want {
				t.Errorf("appendHuman(%v, %q) = %q, want %q", x, u, got, want)
			}
		}
		if got, want := string(appendSigned([]byte("z "), x, 'f', 1)), fmt.Sprintf("z %+.1f", x); got != want {
			t.Errorf("appendSigned(%v) = %q, want %q", x, got, want)
		}
		if got, want := string(strconv.AppendFloat(nil, x, 'g', 2, 64)), fmt.Sprintf("%.2g", x); got != want {
			t.Errorf("AppendFloat(%v, 'g', 2) = %q, want %%.2g's %q", x, got, want)
		}
	}
}

// TestExplainFlatAndTinyBaselines: a baseline whose spread the detectors
// floored (it had less) or that is constant is described by what its
// flows had, not by a spread the analyst cannot use, and a median that a
// damped rate decayed to 5.82e-13 reads as 0 (issue 12, finding 8:
// "host_bytes_out_rate 3.04 kB, typical 5.27e-27 B").
func TestExplainFlatAndTinyBaselines(t *testing.T) {
	m := &Model{Nodes: []node{{N: 412}}}
	n := &m.Nodes[0]
	n.Key.Proto = anyGroup // the root: no group to name
	for j := range n.Spread {
		n.Median[j], n.Spread[j] = 1, 0.5
	}
	n.Median[fHostFail], n.Spread[fHostFail] = 5.82e-13, minSpread             // a share, floored
	n.Median[fRespIPBytes], n.Spread[fRespIPBytes] = math.Log1p(76), minSpread // 76 B, floored
	n.Median[fOrigBytes], n.Spread[fOrigBytes] = math.Log1p(48), 0.001         // constant: 48 B
	n.Median[fDuration], n.Spread[fDuration] = math.Log1p(2), 0.7              // a real spread
	n.Median[fHostBytesOut], n.Spread[fHostBytesOut] = math.Log1p(5.27e-27), 0.5
	s := &Scorer{m: m}
	for _, tc := range []struct {
		j    int
		want string
	}{
		{fHostFail, "; the 412 baseline flows typically had 0, with little spread (z "},
		{fRespIPBytes, "; the 412 baseline flows typically had 76 B, with little spread (z "},
		{fOrigBytes, "; the 412 baseline flows typically had exactly 48 B (z "},
		{fDuration, ", typical 2 s ± 2.28 s (z "},
		{fHostBytesOut, "; the 412 baseline flows typically had exactly 0 B (z "},
	} {
		if got := s.typicalOf(0, tc.j).typical; got != tc.want {
			t.Errorf("%s: %q, want %q", numericNames[tc.j], got, tc.want)
		}
	}
}

// TestGroupWords: explanations name traffic groups in words an analyst
// reads ("outbound NTP over UDP"), while Verdict.Group keeps the
// machine-readable form ("udp/ntp/out").
func TestGroupWords(t *testing.T) {
	m := &Model{Nodes: []node{{}}, Vocab: [NumCategorical][]string{}}
	m.Nodes[0].Key = groupKey{Proto: anyGroup, SP: anyGroup, Dir: anyGroup}
	m.Vocab[cProto] = []string{"", "(unseen)", "tcp", "udp", "icmp"}
	m.Vocab[cService] = []string{"", "(unseen)", "ntp", "ssl"}
	m.Vocab[cPortClass] = []string{"", "(unseen)", "registered", "icmp_echo", "zero"}
	m.Vocab[cDirection] = []string{"", "(unseen)", dirOut, dirIn, dirInternal, dirExternal}
	s := &Scorer{m: m}
	for _, tc := range []struct {
		g           groupKey
		name, words string
	}{
		{groupKey{Proto: 3, SP: 2, Dir: 2}, "udp/ntp/out", "outbound NTP over UDP"},
		{groupKey{Proto: 2, SP: 3, Dir: 3}, "tcp/ssl/in", "inbound TLS over TCP"},
		{groupKey{Proto: 2, SP: portClassBase + 2, Dir: 2}, "tcp/registered/out", "outbound TCP to registered ports"},
		{groupKey{Proto: 4, SP: portClassBase + 3, Dir: 4}, "icmp/icmp_echo/internal", "internal ICMP echo"},
		{groupKey{Proto: 2, SP: portClassBase + 4, Dir: 5}, "tcp/zero/external", "external TCP to port 0"},
		{groupKey{Proto: 2, SP: 1, Dir: 2}, "tcp/(unseen)/out", "outbound TCP to a service the baseline never had"},
		{groupKey{Proto: 1, SP: portClassBase + 1, Dir: 4}, "(unseen)/(unseen)/internal", "internal traffic of a protocol the baseline never had"},
	} {
		n := &node{Key: tc.g}
		if got := s.groupName(tc.g, n); got != tc.name {
			t.Errorf("groupName = %q, want %q", got, tc.name)
		}
		if got := s.groupWords(tc.g, n); got != tc.words {
			t.Errorf("%s: groupWords = %q, want %q", tc.name, got, tc.words)
		}
	}
	if got := s.groupWords(m.Nodes[0].Key, &m.Nodes[0]); got != "all traffic" {
		t.Errorf("root: %q", got)
	}
}
