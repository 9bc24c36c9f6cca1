package app

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// netflowFlow is what the EVE writer wrote for one flow: the packets of its
// to-server half and of its to-client half (0: a one-way flow, no
// to-client half), and whether a rotation fell between the two.
type netflowFlow struct {
	ts, tc int
	split  bool
}

// eveLog is what eveWriter wrote.
type eveLog struct {
	flows      []netflowFlow // flow_id i+1
	flowEvents int           // flow events, flow_id 1<<40 + k
	rotations  int
}

// appendNetflowHalf appends a netflow half of flow id (to-server, or
// to-client with the addresses reversed) ending at end.
func appendNetflowHalf(b []byte, id uint64, toServer bool, end time.Time, pkts int) []byte {
	client := fmt.Sprintf("10.%d.%d.%d", id>>16&255, id>>8&255, id&255)
	src, sp, dst, dp := client, 1024+id%60000, "192.0.2.1", uint64(80)
	if !toServer {
		src, sp, dst, dp = dst, dp, src, sp
	}
	const layout = "2006-01-02T15:04:05.000000-0700"
	return fmt.Appendf(b, `{"timestamp":"%s","flow_id":%d,"event_type":"netflow","src_ip":"%s","src_port":%d,"dest_ip":"%s","dest_port":%d,"proto":"TCP","app_proto":"http","netflow":{"pkts":%d,"bytes":%d,"start":"%s","end":"%s","age":1},"tcp":{"tcp_flags":"1b","syn":true,"fin":true,"psh":true,"ack":true}}`+"\n",
		end.Format(layout), id, src, sp, dst, dp, pkts, 100*pkts, end.Add(-time.Second).Format(layout), end.Format(layout))
}

// eveWriter writes n netflow flows into dir/eve.json as Suricata could:
// event time advances 10 ms a flow; most to-client halves right after
// their to-server half, some a few lines later, none for one flow in ten
// (one-way); a flow event now and then. It writes in bursts with short
// pauses, so that the daemon is killed while it reads, and rotates the file
// by rename every few thousand lines, as Suricata does, sometimes between
// the halves of a pair.
func eveWriter(dir string, n int, rng *rand.Rand) (eveLog, error) {
	var lg eveLog
	p := filepath.Join(dir, "eve.json")
	f, err := os.Create(p)
	if err != nil {
		return lg, err
	}
	w := bufio.NewWriterSize(f, 64<<10)
	type due struct {
		id   uint64
		line []byte
		at   int // written once this many lines are
	}
	var later []due
	lines, next := 0, 2000+rng.IntN(4000)
	t0 := time.Date(2026, 11, 25, 16, 0, 0, 0, time.UTC)
	write := func(b []byte) error {
		lines++
		_, err := w.Write(b)
		return err
	}
	for i := range n {
		id := uint64(i + 1)
		end := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		fl := netflowFlow{ts: 1 + rng.IntN(50)}
		if err := write(appendNetflowHalf(nil, id, true, end, fl.ts)); err != nil {
			return lg, err
		}
		switch k := rng.IntN(20); {
		case k < 2: // one-way
		case k < 4:
			fl.tc = 1 + rng.IntN(50)
			later = append(later, due{id, appendNetflowHalf(nil, id, false, end, fl.tc), lines + 1 + rng.IntN(20)})
		default:
			fl.tc = 1 + rng.IntN(50)
			if err := write(appendNetflowHalf(nil, id, false, end, fl.tc)); err != nil {
				return lg, err
			}
		}
		lg.flows = append(lg.flows, fl)
		if rng.IntN(20) == 0 {
			lg.flowEvents++
			ev := fmt.Appendf(nil, `{"timestamp":"%s","flow_id":%d,"event_type":"flow","src_ip":"10.255.0.1","src_port":5353,"dest_ip":"10.255.0.2","dest_port":53,"proto":"UDP","flow":{"pkts_toserver":1,"pkts_toclient":1,"bytes_toserver":80,"bytes_toclient":120}}`+"\n",
				end.Format(time.RFC3339Nano), 1<<40+lg.flowEvents)
			if err := write(ev); err != nil {
				return lg, err
			}
		}
		for j := 0; j < len(later); {
			if later[j].at > lines {
				j++
				continue
			}
			if err := write(later[j].line); err != nil {
				return lg, err
			}
			later = append(later[:j], later[j+1:]...)
		}
		if i%500 == 499 {
			if err := w.Flush(); err != nil {
				return lg, err
			}
			time.Sleep(20 * time.Millisecond)
		}
		if lines < next {
			continue
		}
		next = lines + 2000 + rng.IntN(4000)
		for _, d := range later {
			lg.flows[d.id-1].split = true // its to-client half goes to the new file
		}
		if err := w.Flush(); err != nil {
			return lg, err
		}
		if err := f.Close(); err != nil {
			return lg, err
		}
		lg.rotations++
		if err := os.Rename(p, fmt.Sprintf("%s.%06d", p, lg.rotations)); err != nil {
			return lg, err
		}
		if f, err = os.Create(p); err != nil {
			return lg, err
		}
		w.Reset(f)
	}
	for _, d := range later {
		if err := write(d.line); err != nil {
			return lg, err
		}
	}
	if err := w.Flush(); err != nil {
		return lg, err
	}
	return lg, f.Close()
}

// TestRunKillRestartNetflow is TestRunKillRestart for EVE netflow halves:
// a writer appends netflow pairs, one-way halves and flow events to
// eve.json, rotating it, while the daemon is killed with SIGKILL at random
// moments (with halves waiting for their partner at most commits) and
// restarted. At the end every flow came out exactly once: merged when both
// halves were written, one-sided when only one was. A pair split by a
// rotation may also come out with its sides swapped, or as its two halves
// one-sided, when two files' modification times tie and the newer is read
// first (see the Daemon doc); each half still comes out once.
// MLADSTEST_KILL_FLOWS changes the number of flows (default 50,000; 10,000
// with -short).
func TestRunKillRestartNetflow(t *testing.T) {
	n := 50_000
	if testing.Short() {
		n = 10_000
	}
	if s := os.Getenv("MLADSTEST_KILL_FLOWS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d flows", seed, n)
	rng := rand.New(rand.NewPCG(seed, 1))

	dir := t.TempDir()
	cfg := followConfig(t, dir, "eve.json*", "")
	wdone := make(chan error, 1)
	var lg eveLog // set before wdone is sent on
	go func() {
		var err error
		lg, err = eveWriter(filepath.Join(dir, "logs"), n, rand.New(rand.NewPCG(seed, 2)))
		wdone <- err
	}()
	runs := killRestart(t, dir, cfg, wdone, rng)
	t.Logf("%d netflow flows and %d flow events written, %d rotations", n, lg.flowEvents, lg.rotations)

	restored := 0
	for i := 1; i <= runs; i++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("child-%02d.log", i)))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "netflow halves waiting for their partner restored") {
			restored++
		}
	}
	if restored == 0 {
		t.Error("no restart restored netflow halves: the kills tested nothing")
	}

	got := make([][][2]int, n) // the (orig_pkts, resp_pkts) of the records of each flow
	flowEvents := make([]int, lg.flowEvents+1)
	f, err := os.Open(filepath.Join(dir, "out.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	records := 0
	for sc.Scan() {
		records++
		var r struct {
			UID      string `json:"uid"`
			OrigPkts int    `json:"orig_pkts"`
			RespPkts int    `json:"resp_pkts"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("output line %d: %v", records, err)
		}
		id, err := strconv.ParseUint(strings.TrimPrefix(r.UID, "E"), 16, 64)
		switch {
		case err != nil:
			t.Fatalf("output line %d: uid %q", records, r.UID)
		case id > 1<<40 && int(id-1<<40) <= lg.flowEvents:
			flowEvents[id-1<<40]++
		case id == 0 || id > uint64(n):
			t.Fatalf("output line %d: uid %q was not written", records, r.UID)
		default:
			got[id-1] = append(got[id-1], [2]int{r.OrigPkts, r.RespPkts})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for k, c := range flowEvents[1:] {
		if c != 1 {
			t.Errorf("flow event %d came out %d times", k+1, c)
		}
	}
	bad, splitApart := 0, 0
	for i, fl := range lg.flows {
		g, want := got[i], [2]int{fl.ts, fl.tc}
		switch {
		case len(g) == 1 && g[0] == want:
			continue
		case fl.split && len(g) == 1 && g[0] == [2]int{fl.tc, fl.ts}:
			continue // the to-client half was read first
		case fl.split && len(g) == 2 && (g[0] == [2]int{fl.ts, 0} && g[1] == [2]int{fl.tc, 0} ||
			g[0] == [2]int{fl.tc, 0} && g[1] == [2]int{fl.ts, 0}):
			splitApart++
			continue
		}
		if bad++; bad <= 10 {
			t.Errorf("flow %d: records (orig_pkts, resp_pkts) %v; written: to-server %d, to-client %d, split by a rotation %v",
				i+1, g, fl.ts, fl.tc, fl.split)
		}
	}
	if bad > 0 {
		t.Errorf("%d records for %d flows: %d flows not out exactly once as written", records, n, bad)
		showChildLogs(t, dir, runs)
	}
	if splitApart > 0 {
		t.Logf("%d pairs split by a rotation came out as two one-sided records (files with tied modification times read out of order)", splitApart)
	}
}
