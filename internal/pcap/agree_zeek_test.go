package pcap

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/shareddata"
)

// agreeDataDir returns the shared data folder, or skips.
func agreeDataDir(tb testing.TB) string {
	tb.Helper()
	shareddata.Path(tb, "zeek-btest", "MANIFEST.md") // skips when absent
	return shareddata.Dir(tb)
}

// agreePair is a capture and the conn.log Zeek wrote for it.
type agreePair struct {
	name        string
	connLog     string
	capture     string
	bare        bool // zeek -b: only the loaded scripts, so service is not comparable
	noChecksums bool // zeek -C
}

// agreePairs reads zeek-btest/MANIFEST.md and zeek-ics-pairs.
func agreePairs(tb testing.TB, dir string) []agreePair {
	tb.Helper()
	man, err := os.ReadFile(filepath.Join(dir, "zeek-btest", "MANIFEST.md"))
	if err != nil {
		tb.Fatalf("read zeek-btest manifest: %v", err)
	}
	re := regexp.MustCompile("^\\| (conn/[^ |]+) \\|.*conn.log from `([^`]*)`.*PAIR with ([^ |]+)")
	var pairs []agreePair
	for line := range strings.SplitSeq(string(man), "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		cmd := " " + m[2] + " "
		pairs = append(pairs, agreePair{
			name:        strings.TrimPrefix(m[1], "conn/"),
			connLog:     filepath.Join(dir, "zeek-btest", m[1]),
			capture:     filepath.Join(dir, "zeek-btest", m[3]),
			bare:        strings.Contains(cmd, " -b "),
			noChecksums: strings.Contains(cmd, " -C "),
		})
	}
	if len(pairs) == 0 {
		tb.Fatalf("no PAIR rows found in zeek-btest/MANIFEST.md")
	}
	ics, _ := filepath.Glob(filepath.Join(dir, "zeek-ics-pairs", "*", "conn.log"))
	for _, c := range ics {
		caps, _ := filepath.Glob(filepath.Join(filepath.Dir(c), "*.pcap*"))
		if len(caps) != 1 {
			continue
		}
		// Zeek of 2016 with default scripts; the captures carry offloaded
		// (zero) checksums that Zeek evidently did not reject.
		pairs = append(pairs, agreePair{name: "ics/" + filepath.Base(filepath.Dir(c)), connLog: c,
			capture: caps[0], noChecksums: true})
	}
	return pairs
}

// zeekRow is one conn.log record as field name → value.
type zeekRow map[string]string

// readZeekTSV reads a Zeek TSV log: with #fields headers, or (as some btest
// baselines written through zeek-cut) with a plain header line.
func readZeekTSV(tb testing.TB, path string) []zeekRow {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	var fields []string
	var rows []zeekRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "#fields\t"):
			fields = strings.Split(line, "\t")[1:]
			continue
		case strings.HasPrefix(line, "#"):
			continue
		case fields == nil:
			fields = strings.Split(line, "\t")
			continue
		}
		vals := strings.Split(line, "\t")
		if len(vals) != len(fields) {
			tb.Fatalf("%s line %d: %d values for %d fields", path, n, len(vals), len(fields))
		}
		r := make(zeekRow, len(fields))
		for i, k := range fields {
			r[k] = vals[i]
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	return rows
}

// zeekValues renders our record's fields the way Zeek writes them.
func zeekValues(r *flow.Record) zeekRow {
	dash := func(ok bool, s string) string {
		if !ok {
			return "-"
		}
		return s
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	svc := r.Service
	if svc == "" {
		svc = "-"
	}
	hist := r.History
	if hist == "" {
		hist = "-"
	}
	return zeekRow{
		"id.orig_h": r.OrigH.String(), "id.orig_p": strconv.Itoa(int(r.OrigP)),
		"id.resp_h": r.RespH.String(), "id.resp_p": strconv.Itoa(int(r.RespP)),
		"proto": r.Proto, "service": svc,
		"duration":   dash(r.HasDuration(), fmt.Sprintf("%.6f", r.Duration.Seconds())),
		"orig_bytes": dash(r.HasDuration(), u(r.OrigBytes)), "resp_bytes": dash(r.HasDuration(), u(r.RespBytes)),
		"conn_state": r.ConnState, "missed_bytes": u(r.MissedBytes), "history": hist,
		"orig_pkts": u(r.OrigPkts), "orig_ip_bytes": u(r.OrigIPBytes),
		"resp_pkts": u(r.RespPkts), "resp_ip_bytes": u(r.RespIPBytes),
		"ts":             fmt.Sprintf("%.6f", float64(r.TS.UnixNano())/1e9),
		"tunnel_parents": strconv.Itoa(len(r.TunnelParents)),
		"community_id":   r.CommunityID,
		// suricata-verify runs with community-id-seed 1234.
		"community_id_1234": flow.CommunityID(1234, r.OrigH, r.RespH, r.IPProto, r.OrigP, r.RespP),
	}
}

func rowKey(r zeekRow) string {
	return r["proto"] + " " + r["id.orig_h"] + ":" + r["id.orig_p"] + " > " + r["id.resp_h"] + ":" + r["id.resp_p"]
}

// meterRows meters a capture and renders its flows as Zeek rows, in the
// order they were emitted.
func meterRows(tb testing.TB, capture string, noChecksums bool) ([]zeekRow, Summary) {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.VerifyChecksums = !noChecksums
	var rows []zeekRow
	sum, err := ReadFiles(context.Background(), []string{capture}, cfg, func(r *flow.Record) error {
		rows = append(rows, zeekValues(r))
		return nil
	})
	if err != nil {
		tb.Logf("%s: %v (flows up to the error are compared)", filepath.Base(capture), err)
	}
	return rows, sum
}

// agreeCounts tallies identical fields over matched records.
type agreeCounts struct {
	zeek, matched                          int
	counts, state, hist, ob, rb, dur, miss int
	svc, svcN                              int
	ts, tsN                                int // records whose ts is not masked
	tun                                    int // same number of tunnel parents
	bsvc, bsvcN                            int // bare mode: records where Zeek still named a service
}

func (a *agreeCounts) add(o agreeCounts) {
	a.zeek += o.zeek
	a.matched += o.matched
	a.counts += o.counts
	a.state += o.state
	a.hist += o.hist
	a.ob += o.ob
	a.rb += o.rb
	a.dur += o.dur
	a.miss += o.miss
	a.svc += o.svc
	a.svcN += o.svcN
	a.ts += o.ts
	a.tsN += o.tsN
	a.tun += o.tun
	a.bsvc += o.bsvc
	a.bsvcN += o.bsvcN
}

func pct(n, d int) float64 {
	if d == 0 {
		return 100
	}
	return 100 * float64(n) / float64(d)
}

// compareZeek matches Zeek's rows with ours on proto and 5-tuple (in order
// of appearance when a tuple repeats; in plain order when the log has no
// tuple columns) and counts identical fields. Fields missing from Zeek's log
// count as identical.
func compareZeek(tb testing.TB, p agreePair, zeek, ours []zeekRow, verbose bool) agreeCounts {
	var c agreeCounts
	c.zeek = len(zeek)
	hasTuple := len(zeek) > 0 && zeek[0]["id.orig_h"] != ""
	byKey := map[string][]int{}
	if hasTuple {
		for i, r := range ours {
			k := rowKey(r)
			byKey[k] = append(byKey[k], i)
		}
	}
	same := func(z, o zeekRow, f string) bool {
		v, ok := z[f]
		return !ok || v == o[f]
	}
	for i, z := range zeek {
		var o zeekRow
		if hasTuple {
			k := rowKey(z)
			if l := byKey[k]; len(l) > 0 {
				o = ours[l[0]]
				byKey[k] = l[1:]
			}
		} else if i < len(ours) {
			o = ours[i]
		}
		if o == nil {
			if verbose {
				tb.Logf("  %s: unmatched zeek %s state=%s hist=%s", p.name, rowKey(z), z["conn_state"], z["history"])
			}
			continue
		}
		c.matched++
		ok := func(n *int, fs ...string) bool {
			for _, f := range fs {
				if !same(z, o, f) {
					return false
				}
			}
			*n++
			return true
		}
		good := ok(&c.counts, "orig_pkts", "resp_pkts", "orig_ip_bytes", "resp_ip_bytes")
		good = ok(&c.state, "conn_state") && good
		good = ok(&c.hist, "history") && good
		good = ok(&c.ob, "orig_bytes") && good
		good = ok(&c.rb, "resp_bytes") && good
		good = ok(&c.miss, "missed_bytes") && good
		if zs, has := z["service"]; has && !p.bare {
			c.svcN++
			good = ok(&c.svc, "service") && good
		} else if has && zs != "-" {
			// Bare mode: a service Zeek named is one default Zeek names too.
			c.bsvcN++
			if zs == o["service"] {
				c.bsvc++
			}
		}
		if d, has := z["duration"]; has && d != "-" && o["duration"] != "-" {
			zd, _ := strconv.ParseFloat(d, 64)
			od, _ := strconv.ParseFloat(o["duration"], 64)
			if diff := zd - od; diff < 2e-6 && diff > -2e-6 {
				c.dur++
			}
		} else if !has || d == o["duration"] {
			c.dur++
		}
		// Zeek's tunnel uids are its own: compare how many parents.
		if tp, has := z["tunnel_parents"]; !has || parentCount(tp) == o["tunnel_parents"] {
			c.tun++
		} else {
			good = false
		}
		if zt, err := strconv.ParseFloat(z["ts"], 64); err == nil {
			c.tsN++
			ot, _ := strconv.ParseFloat(o["ts"], 64)
			if d := zt - ot; d < 2e-6 && d > -2e-6 {
				c.ts++
			}
		}
		if !good && verbose {
			var diffs []string
			for _, f := range []string{"tunnel_parents", "service", "duration", "orig_bytes", "resp_bytes", "conn_state", "missed_bytes", "history",
				"orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes"} {
				if zv, has := z[f]; has && zv != o[f] {
					diffs = append(diffs, fmt.Sprintf("%s -%s +%s", f, zv, o[f]))
				}
			}
			tb.Logf("  %s: %s: %s", p.name, rowKey(z), strings.Join(diffs, "; "))
		}
	}
	if verbose && hasTuple {
		var extra []string
		for k, l := range byKey {
			for range l {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		for _, k := range extra {
			tb.Logf("  %s: extra (not in zeek) %s", p.name, k)
		}
	}
	return c
}

// TestAgreeZeek meters every capture that has a Zeek conn.log in the shared
// data and compares the records field by field. Run with -v to see the
// table, and AGREE_VERBOSE=1 to see every difference.
func TestAgreeZeek(t *testing.T) {
	dir := agreeDataDir(t)
	verbose := os.Getenv("AGREE_VERBOSE") != ""
	var total agreeCounts
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-72s %5s %5s %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s\n", "capture (conn log)", "zeek", "match",
		"counts", "state", "hist", "o_byt", "r_byt", "missed", "dur", "tun", "ts", "svc")
	for _, p := range agreePairs(t, dir) {
		zeek := readZeekTSV(t, p.connLog)
		ours, _ := meterRows(t, p.capture, p.noChecksums)
		c := compareZeek(t, p, zeek, ours, verbose)
		total.add(c)
		svc := "  (-b)"
		if !p.bare {
			svc = fmt.Sprintf("%5.0f%%", pct(c.svc, c.svcN))
		}
		ts := "     -"
		if c.tsN > 0 {
			ts = fmt.Sprintf("%5.0f%%", pct(c.ts, c.tsN))
		}
		fmt.Fprintf(&b, "%-72s %5d %5d %5.0f%% %5.0f%% %5.0f%% %5.0f%% %5.0f%% %5.0f%% %5.0f%% %5.0f%% %s %s\n",
			trimName(p.name, 72), c.zeek, c.matched, pct(c.counts, c.zeek), pct(c.state, c.zeek), pct(c.hist, c.zeek),
			pct(c.ob, c.zeek), pct(c.rb, c.zeek), pct(c.miss, c.zeek), pct(c.dur, c.zeek), pct(c.tun, c.zeek), ts, svc)
	}
	fmt.Fprintf(&b, "%-72s %5d %5d %5.1f%% %5.1f%% %5.1f%% %5.1f%% %5.1f%% %5.1f%% %5.1f%% %5.1f%% %5.1f%% %5.1f%%\n", "TOTAL", total.zeek, total.matched,
		pct(total.counts, total.zeek), pct(total.state, total.zeek), pct(total.hist, total.zeek),
		pct(total.ob, total.zeek), pct(total.rb, total.zeek), pct(total.miss, total.zeek), pct(total.dur, total.zeek), pct(total.tun, total.zeek),
		pct(total.ts, total.tsN), pct(total.svc, total.svcN))
	fmt.Fprintf(&b, "bare-mode (-b) records where Zeek still named a service: %d of %d identical\n", total.bsvc, total.bsvcN)
	t.Log(b.String())

	floors := []struct {
		name  string
		n, d  int
		floor float64
	}{
		{"orig/resp pkts and ip_bytes", total.counts, total.zeek, 99},
		{"conn_state", total.state, total.zeek, 97},
		{"history", total.hist, total.zeek, 95},
		{"orig_bytes", total.ob, total.zeek, 95},
		{"resp_bytes", total.rb, total.zeek, 95},
		{"service (default scripts)", total.svc, total.svcN, 100},
	}
	for _, f := range floors {
		if got := pct(f.n, f.d); got < f.floor {
			t.Errorf("%s identical in %.1f%% of Zeek's records (%d of %d), want ≥ %.0f%%", f.name, got, f.n, f.d, f.floor)
		}
	}
}

func parentCount(v string) string {
	if v == "-" || v == "(empty)" || v == "" {
		return "0"
	}
	return strconv.Itoa(strings.Count(v, ",") + 1)
}

func trimName(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n+1:]
}
