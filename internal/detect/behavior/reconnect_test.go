package behavior

import (
	"testing"
	"time"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

// retries returns n failed attempts (alternating S0 and REJ) from src to
// dst:port, every gap, starting at 'at'.
func retries(at time.Duration, n int, gap time.Duration, src, dst string, port uint16) []flow.Record {
	var rs []flow.Record
	for i := range n {
		state := "S0"
		if i%2 == 1 {
			state = "REJ"
		}
		rs = append(rs, fl(at+time.Duration(i)*gap, src, dst, port, flow.ProtoTCP, state))
	}
	return rs
}

func TestReconnect(t *testing.T) {
	const src, c2 = "10.0.0.5", "203.0.113.9"
	// benign background: the client browsing, so that windows close
	var web []flow.Record
	for i := range 60 {
		web = append(web, fl(time.Duration(i)*10*time.Second, src, ip4(198, 51, 100, 1+i%3), 443, flow.ProtoTCP, "SF"))
	}
	tests := []struct {
		name     string
		flows    []flow.Record
		attempts int // of the one finding expected; 0 for none
		conn     bool
	}{
		{"eight failed attempts to one server and port", retries(30*time.Second, 8, 20*time.Second, src, c2, 443), 8, false},
		{"four are a retry, not a pattern", retries(30*time.Second, 4, 20*time.Second, src, c2, 443), 0, false},
		{"attempts spread beyond the window are separate retries", retries(0, 8, 2*time.Minute, src, c2, 443), 0, false},
		{"different ports are not one run (that is a scan's business)", func() []flow.Record {
			var rs []flow.Record
			for i := range 8 {
				rs = append(rs, fl(time.Duration(i)*10*time.Second, src, c2, uint16(8000+i), flow.ProtoTCP, "S0"))
			}
			return rs
		}(), 0, false},
		{"UDP without an answer is not counted", func() []flow.Record {
			var rs []flow.Record
			for i := range 8 {
				r := fl(time.Duration(i)*10*time.Second, src, c2, 53, flow.ProtoUDP, "S0")
				r.History = "D"
				rs = append(rs, r)
			}
			return rs
		}(), 0, false},
		{"a run that got through at last says so", append(retries(30*time.Second, 6, 10*time.Second, src, c2, 443),
			fl(100*time.Second, src, c2, 443, flow.ProtoTCP, "SF")), 6, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := append(append([]flow.Record(nil), web...), tc.flows...)
			sortByTS(rs)
			fs, _ := run(t, DefaultConfig(), rs)
			got := findings(fs, Reconnect, src)
			if tc.attempts == 0 {
				if len(got) != 0 {
					t.Fatalf("unexpected findings:%s", describe(got))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("want one reconnect finding, got:%s", describe(fs))
			}
			f := got[0]
			if f.Peer != c2 || f.Evidence["attempts"] != tc.attempts || f.Evidence["port"] != 443 || f.Evidence["connected"] != tc.conn {
				t.Errorf("finding %+v", f)
			}
			if f.PValue > 1e-3 {
				t.Errorf("p = %g for %d attempts", f.PValue, tc.attempts)
			}
		})
	}
}

// A client of a dead service retried the same way in the baseline: the
// pattern is known and not reported again; another server is.
func TestReconnectKnownFromBaseline(t *testing.T) {
	const src, dead, c2 = "10.0.0.5", "10.0.0.99", "203.0.113.9"
	l := NewLearner(DefaultConfig())
	train := retries(0, 6, 20*time.Second, src, dead, 9100)
	for i := range train {
		l.Add(&train[i])
	}
	keys, rates := l.Finish()
	if len(keys) == 0 {
		t.Fatal("the baseline's reconnect run left no key")
	}
	var trials uint64
	for _, r := range rates {
		if r.Detector == Reconnect {
			trials = r.Trials
		}
	}
	if trials == 0 {
		t.Errorf("no reconnect trials in the rates %+v", rates)
	}
	e := New(DefaultConfig())
	e.SetKnown(keys)
	test := append(retries(time.Hour, 6, 20*time.Second, src, dead, 9100), retries(2*time.Hour, 6, 20*time.Second, src, c2, 443)...)
	var fs []detect.Finding
	for i := range test {
		fs = append(fs, e.Observe(&test[i])...)
	}
	fs = append(fs, e.Flush()...)
	got := findings(fs, Reconnect, "")
	if len(got) != 1 || got[0].Peer != c2 {
		t.Fatalf("want only the new server reported:%s", describe(got))
	}
	if e.Stats().Known[Reconnect] != 1 {
		t.Errorf("known %v", e.Stats().Known)
	}
}

// A run open at a checkpoint goes on after a restore as if there had been
// no restart: four attempts before, four after, one finding of eight.
func TestReconnectAcrossRestore(t *testing.T) {
	const src, c2 = "10.0.0.5", "203.0.113.9"
	rs := retries(0, 8, 15*time.Second, src, c2, 443)
	a := New(DefaultConfig())
	for i := range rs[:4] {
		if fs := a.Observe(&rs[i]); len(findings(fs, Reconnect, "")) > 0 {
			t.Fatal("reported before the run ended")
		}
	}
	st, err := a.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	b := New(DefaultConfig())
	if err := b.RestoreState(st); err != nil {
		t.Fatal(err)
	}
	var fs []detect.Finding
	for i := range rs[4:] {
		fs = append(fs, b.Observe(&rs[4+i])...)
	}
	fs = append(fs, b.Flush()...)
	got := findings(fs, Reconnect, src)
	if len(got) != 1 || got[0].Evidence["attempts"] != 8 {
		t.Fatalf("want one finding of 8 attempts:%s", describe(fs))
	}
}
