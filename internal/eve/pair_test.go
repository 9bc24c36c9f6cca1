package eve_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/eve"
	"github.com/mlads/mlads/internal/flow"
)

// t0 is the event time the generated halves start at.
var t0 = time.Date(2026, 11, 25, 16, 0, 0, 0, time.UTC)

// netflowHalf returns a netflow half of flow id ending at end: the
// to-server one (10.1.x.y:port → 192.0.2.1:80, pkts packets) or the
// to-client one (reversed). The flow started 2 s before end.
func netflowHalf(id uint64, toServer bool, end time.Time, pkts int) string {
	client, server := fmt.Sprintf("10.1.%d.%d", id>>8&255, id&255), "192.0.2.1"
	cport, sport := 1024+id%60000, uint64(80)
	src, sp, dst, dp := client, cport, server, sport
	if !toServer {
		src, sp, dst, dp = server, sport, client, cport
	}
	const layout = "2006-01-02T15:04:05.000000-0700"
	return fmt.Sprintf(`{"timestamp":"%s","flow_id":%d,"event_type":"netflow","src_ip":"%s","src_port":%d,"dest_ip":"%s","dest_port":%d,"proto":"TCP","netflow":{"pkts":%d,"bytes":%d,"start":"%s","end":"%s","age":2},"tcp":{"tcp_flags":"1b"}}`,
		end.Format(layout), id, src, sp, dst, dp, pkts, 60*pkts, end.Add(-2*time.Second).Format(layout), end.Format(layout))
}

// collect returns an emit function appending copies of the records to *out.
func collect(out *[]flow.Record) func(*flow.Record) error {
	return func(r *flow.Record) error {
		*out = append(*out, *r)
		return nil
	}
}

// feed parses lines with p, calling FlushIdle after each as the readers
// do, and returns the records in the order they came out.
func feed(tb testing.TB, p *eve.Parser, lines []string) []flow.Record {
	tb.Helper()
	var out []flow.Record
	var r flow.Record
	for _, l := range lines {
		ok, err := p.ParseLine([]byte(l), &r)
		if err != nil {
			tb.Fatal(err)
		}
		if ok {
			out = append(out, r)
		}
		if err := p.Pairer().FlushIdle(collect(&out)); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// TestPairerShared: halves read by two parsers of one Pairer (a pair split
// by a rotation) merge; parsers with Pairers of their own do not pair
// across files.
func TestPairerShared(t *testing.T) {
	end := t0.Add(time.Minute)
	ts, tc := netflowHalf(5, true, end, 3), netflowHalf(5, false, end, 2)

	pr := eve.NewPairer()
	old, cur := pr.NewParser("eve.json.1"), pr.NewParser("eve.json")
	if got := feed(t, old, []string{ts}); len(got) != 0 {
		t.Fatalf("first half emitted: %+v", got)
	}
	got := feed(t, cur, []string{tc})
	if len(got) != 1 || got[0].OrigPkts != 3 || got[0].RespPkts != 2 || got[0].ConnState != "SF" {
		t.Fatalf("across files, one Pairer: %+v", got)
	}
	if pr.Merged != 1 || pr.Unpaired != 0 || pr.Pending() != 0 {
		t.Errorf("merged %d unpaired %d pending %d", pr.Merged, pr.Unpaired, pr.Pending())
	}

	a, b := eve.NewParser("eve.json.1"), eve.NewParser("eve.json")
	if got := append(feed(t, a, []string{ts}), feed(t, b, []string{tc})...); len(got) != 0 {
		t.Fatalf("own Pairers paired across files: %+v", got)
	}
	if a.Pairer().Pending() != 1 || b.Pairer().Pending() != 1 {
		t.Errorf("pending %d and %d, want 1 each", a.Pairer().Pending(), b.Pairer().Pending())
	}
}

// TestIdleFlush: a lone half is emitted one-sided once a half read after it
// ends more than IdleTimeout after the event time at which it was read, not
// before; and the age of its own flow does not count.
func TestIdleFlush(t *testing.T) {
	p := eve.NewParser("eve.json")
	pr := p.Pairer()
	// A pair sets event time to t0; then a lone half whose flow ended ten
	// minutes earlier (logged late, at its timeout) arrives at t0.
	got := feed(t, p, []string{
		netflowHalf(1, true, t0, 2), netflowHalf(1, false, t0, 2),
		netflowHalf(2, true, t0.Add(-10*time.Minute), 4),
	})
	if len(got) != 1 || pr.Pending() != 1 {
		t.Fatalf("%d records, %d pending; want the pair out and the lone half held", len(got), pr.Pending())
	}
	// Later pairs, up to exactly IdleTimeout after t0: still held.
	id := uint64(100)
	for _, d := range []time.Duration{time.Second, 30 * time.Second, eve.IdleTimeout} {
		id++
		got := feed(t, p, []string{netflowHalf(id, true, t0.Add(d), 1), netflowHalf(id, false, t0.Add(d), 1)})
		if len(got) != 1 || got[0].UID != fmt.Sprintf("E%x", id) {
			t.Fatalf("event time t0+%s: %+v, want only the pair %d", d, got, id)
		}
	}
	// Past it: the next line's FlushIdle emits the lone half, one-sided,
	// after the record of the line itself.
	got = feed(t, p, []string{netflowHalf(200, true, t0.Add(eve.IdleTimeout+time.Millisecond), 1)})
	if len(got) != 1 || got[0].UID != "E2" || got[0].OrigPkts != 4 || got[0].RespPkts != 0 || got[0].ConnState != "SH" {
		t.Fatalf("past IdleTimeout: %+v, want the lone half of flow 2", got)
	}
	if pr.Unpaired != 1 || pr.Pending() != 1 { // flow 200 waits now
		t.Errorf("unpaired %d pending %d", pr.Unpaired, pr.Pending())
	}

	// ReadFile does the same: the lone half comes out where event time
	// passed it (after the first half of flow 4), not at the end.
	lines := []string{
		netflowHalf(2, true, t0, 4),
		netflowHalf(3, true, t0.Add(eve.IdleTimeout), 1), netflowHalf(3, false, t0.Add(eve.IdleTimeout), 1),
		netflowHalf(4, true, t0.Add(2*eve.IdleTimeout), 1), netflowHalf(4, false, t0.Add(2*eve.IdleTimeout), 1),
		netflowHalf(5, true, t0.Add(2*eve.IdleTimeout), 1),
	}
	path := filepath.Join(t.TempDir(), "eve.json")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, st := readAll(t, path)
	var uids []string
	for _, r := range recs {
		uids = append(uids, r.UID)
	}
	if strings.Join(uids, " ") != "E3 E2 E4 E5" || st.Merged != 2 || st.Unpaired != 2 {
		t.Errorf("ReadFile: records %v, merged %d unpaired %d; want E3 E2 E4 E5, 2 and 2", uids, st.Merged, st.Unpaired)
	}
}

// TestIdleFlushIgnoresFutureTimestamps: a half stamped far past the wall
// clock (garbage, in range) does not move event time, so it neither
// flushes the halves waiting nor stops idle flushing afterwards.
func TestIdleFlushIgnoresFutureTimestamps(t *testing.T) {
	p := eve.NewParser("eve.json")
	pr := p.Pairer()
	feed(t, p, []string{netflowHalf(1, true, t0, 1)})
	if got := feed(t, p, []string{netflowHalf(2, true, time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC), 1)}); len(got) != 0 {
		t.Fatalf("a year-2999 half flushed %+v", got)
	}
	// Both waiting halves arrived at event time t0: both are due now.
	got := feed(t, p, []string{netflowHalf(3, true, t0.Add(eve.IdleTimeout+time.Second), 1)})
	if len(got) != 2 || got[0].UID != "E1" || got[1].UID != "E2" {
		t.Fatalf("event time past IdleTimeout: %+v, want the lone halves of flows 1 and 2", got)
	}
	if pr.Pending() != 1 { // flow 3
		t.Errorf("pending %d, want 1", pr.Pending())
	}
}

// TestPairerClock: the bound on future timestamps comes from Pairer.Now.
// With the wall clock stopped at t0, a half ending two days later is
// garbage and leaves event time alone; once the clock has caught up, the
// same end moves event time and the halves waiting since t0 are flushed.
func TestPairerClock(t *testing.T) {
	now := t0
	p := eve.NewParser("eve.json")
	pr := p.Pairer()
	pr.Now = func() time.Time { return now }
	later := t0.Add(48 * time.Hour)
	feed(t, p, []string{netflowHalf(1, true, t0, 1)})
	if got := feed(t, p, []string{netflowHalf(2, true, later, 1)}); len(got) != 0 {
		t.Fatalf("a half two days past the clock flushed %+v", got)
	}
	now = later
	got := feed(t, p, []string{netflowHalf(3, true, later, 1)})
	if len(got) != 2 || got[0].UID != "E1" || got[1].UID != "E2" {
		t.Fatalf("clock caught up: %+v, want the lone halves of flows 1 and 2", got)
	}
	if pr.Pending() != 1 { // flow 3
		t.Errorf("pending %d, want 1", pr.Pending())
	}
}

// netflowStream returns the lines of n flows, in the order Suricata could
// write them: event time advances 100 ms a flow; most pairs are adjacent,
// some have other lines between their halves, some flows are one-way (a
// lone to-server half), and flow events come between.
func netflowStream(n int, rng *rand.Rand) []string {
	var lines []string
	var later []struct {
		at   int
		line string
	}
	for i := range n {
		id := uint64(1000 + i)
		end := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		lines = append(lines, netflowHalf(id, true, end, 1+rng.IntN(9)))
		switch k := rng.IntN(20); {
		case k < 2: // one-way
		case k < 5: // the partner a few lines later
			later = append(later, struct {
				at   int
				line string
			}{len(lines) + 1 + rng.IntN(6), netflowHalf(id, false, end, 1+rng.IntN(9))})
		default:
			lines = append(lines, netflowHalf(id, false, end, 1+rng.IntN(9)))
		}
		if rng.IntN(10) == 0 {
			lines = append(lines, fmt.Sprintf(`{"timestamp":"%s","flow_id":%d,"event_type":"flow","src_ip":"10.2.0.1","src_port":5353,"dest_ip":"10.2.0.2","dest_port":53,"proto":"UDP","flow":{"pkts_toserver":1,"pkts_toclient":1}}`, end.Format(time.RFC3339Nano), 1<<40+i))
		}
		for j := 0; j < len(later); {
			if later[j].at <= len(lines) {
				lines = append(lines, later[j].line)
				later = append(later[:j], later[j+1:]...)
				continue
			}
			j++
		}
	}
	for _, l := range later {
		lines = append(lines, l.line)
	}
	return lines
}

// TestPairerStateRestore cuts a stream at many points, saves the Pairer's
// State there (through JSON, as the daemon does), restores it into a new
// Pairer that reads the rest, and checks that the records are those of an
// uninterrupted read, in the same order.
func TestPairerStateRestore(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	lines := netflowStream(3000, rng)

	whole := eve.NewParser("eve.json")
	want := feed(t, whole, lines)
	if err := whole.Pairer().Flush(collect(&want)); err != nil {
		t.Fatal(err)
	}
	if whole.Pairer().Unpaired == 0 || whole.Pairer().Merged == 0 {
		t.Fatalf("the stream should have pairs and lone halves: merged %d unpaired %d", whole.Pairer().Merged, whole.Pairer().Unpaired)
	}

	held := 0
	for range 25 {
		cut := rng.IntN(len(lines) + 1)
		first := eve.NewParser("eve.json")
		got := feed(t, first, lines[:cut])
		b, err := json.Marshal(first.Pairer().State())
		if err != nil {
			t.Fatal(err)
		}
		var st eve.PairerState
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		held += len(st.Held)
		pr := eve.NewPairer()
		if err := pr.Restore(st); err != nil {
			t.Fatalf("cut at line %d: %v\n%s", cut, err, b)
		}
		if pr.Pending() != first.Pairer().Pending() {
			t.Fatalf("cut at line %d: %d halves restored, %d were held", cut, pr.Pending(), first.Pairer().Pending())
		}
		second := pr.NewParser("eve.json")
		second.SetLineNumber(int64(cut))
		got = append(got, feed(t, second, lines[cut:])...)
		if err := pr.Flush(collect(&got)); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("cut at line %d: %d records, want %d", cut, len(got), len(want))
		}
		for i := range got {
			if diff := recordDiff(got[i], want[i]); diff != "" {
				t.Fatalf("cut at line %d: record %d differs:\n%s", cut, i, diff)
			}
		}
	}
	if held == 0 {
		t.Error("no cut held a half: the test tested nothing")
	}
}

// TestPairerRestoreErrors: a State that is not one is refused, naming the
// bad half; a Pairer that already holds halves is not restored into.
func TestPairerRestoreErrors(t *testing.T) {
	half := netflowHalf(1, true, t0, 1)
	for _, tc := range []struct {
		name string
		held []eve.Held
		want string
	}{
		{"broken line", []eve.Held{{Line: []byte(half)}, {Line: []byte(`{"event_type":"netflow",`)}}, "eve: checkpoint line 2: "},
		{"a flow event", []eve.Held{{Line: []byte(strings.Replace(half, `"netflow"`, `"flow"`, 1))}}, "eve: checkpoint line 1: not a netflow half"},
		{"an alert", []eve.Held{{Line: []byte(`{"event_type":"alert"}`)}}, "eve: checkpoint line 1: not a netflow half"},
		{"both halves", []eve.Held{{Line: []byte(half)}, {Line: []byte(netflowHalf(1, false, t0, 1))}}, "eve: checkpoint line 2: not a netflow half"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := eve.NewPairer().Restore(eve.PairerState{Clock: t0, Held: tc.held})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %v, want it to start with %q", err, tc.want)
			}
		})
	}
	p := eve.NewParser("eve.json")
	feed(t, p, []string{half})
	if err := p.Pairer().Restore(eve.PairerState{}); err == nil {
		t.Error("restored into a Pairer holding a half")
	}
}

// TestReadFileEveryFlowOnce: a stream with one-way flows and split pairs,
// read whole, gives every netflow flow once, merged when both halves are
// in it.
func TestReadFileEveryFlowOnce(t *testing.T) {
	lines := netflowStream(5000, rand.New(rand.NewPCG(1, 2)))
	path := filepath.Join(t.TempDir(), "eve.json")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	halves := map[string]int{}
	for _, l := range lines {
		if strings.Contains(l, `"netflow"`) {
			var e struct {
				ID uint64 `json:"flow_id"`
			}
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatal(err)
			}
			halves[fmt.Sprintf("E%x", e.ID)]++
		}
	}
	recs, _ := readAll(t, path)
	seen := map[string]int{}
	for _, r := range recs {
		if r.Proto == flow.ProtoUDP {
			continue // the flow events
		}
		seen[r.UID]++
		if both := r.RespPkts > 0; both != (halves[r.UID] == 2) {
			t.Errorf("%s: resp_pkts %d, but %d halves were written", r.UID, r.RespPkts, halves[r.UID])
		}
	}
	for uid := range halves {
		if seen[uid] != 1 {
			t.Errorf("%s came out %d times", uid, seen[uid])
		}
	}
}
