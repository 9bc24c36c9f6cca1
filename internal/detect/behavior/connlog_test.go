package behavior

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/gunzip"
)

// dataDir is the shared test data beside the checkout.
func dataDir(tb testing.TB) string {
	tb.Helper()
	d := os.Getenv("MLADS_TESTDATA")
	if d == "" {
		d = filepath.Join("..", "..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(d); err != nil {
		tb.Skipf("shared test data not found at %s (set MLADS_TESTDATA): %v", d, err)
	}
	return d
}

// readConnLog reads a Zeek conn.log (TSV with a #fields header, or JSON
// lines; gzipped or not) into records, with the label columns of
// labelled sets. It is a small test-only reader so these tests do not
// depend on internal/zeek; it keeps file order.
func readConnLog(tb testing.TB, path string) []flow.Record {
	tb.Helper()
	if rs, ok := connLogCache[path]; ok {
		return slices.Clone(rs)
	}
	rs := readConnLogFile(tb, path)
	connLogCache[path] = rs
	return slices.Clone(rs)
}

// connLogCache keeps logs read by earlier subtests (tests here are not parallel).
var connLogCache = map[string][]flow.Record{}

func readConnLogFile(tb testing.TB, path string) []flow.Record {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Skipf("test data missing: %v", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	gz, err := gunzip.Sniff(br)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	if gz != nil {
		r = gz
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var fields []string
	var out []flow.Record
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if s == "" {
			continue
		}
		if strings.HasPrefix(s, "#") {
			if rest, ok := strings.CutPrefix(s, "#fields\t"); ok {
				fields = strings.Split(rest, "\t")
			}
			continue
		}
		vals := map[string]string{}
		if s[0] == '{' {
			var m map[string]any
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				tb.Fatalf("%s line %d: %v", path, line, err)
			}
			for k, v := range m {
				switch x := v.(type) {
				case string:
					vals[k] = x
				case float64:
					vals[k] = strconv.FormatFloat(x, 'f', -1, 64)
				case bool:
					vals[k] = strconv.FormatBool(x)
				}
			}
		} else {
			cols := strings.Split(s, "\t")
			for i, name := range fields {
				if i < len(cols) && cols[i] != "-" && cols[i] != "(empty)" {
					vals[name] = cols[i]
				}
			}
		}
		rec, err := recordOf(vals)
		if err != nil {
			tb.Fatalf("%s line %d: %v", path, line, err)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return out
}

func recordOf(v map[string]string) (flow.Record, error) {
	var r flow.Record
	var err error
	num := func(k string) float64 {
		if err != nil || v[k] == "" {
			return 0
		}
		var x float64
		x, err = strconv.ParseFloat(v[k], 64)
		return x
	}
	addr := func(k string) netip.Addr {
		if err != nil || v[k] == "" {
			return netip.Addr{}
		}
		var a netip.Addr
		a, err = netip.ParseAddr(v[k])
		return a
	}
	ts := num("ts")
	sec, frac := math.Modf(ts)
	r.TS = time.Unix(int64(sec), int64(math.Round(frac*1e6))*1000).UTC()
	r.UID = v["uid"]
	r.OrigH, r.RespH = addr("id.orig_h"), addr("id.resp_h")
	r.OrigP, r.RespP = uint16(num("id.orig_p")), uint16(num("id.resp_p"))
	r.Proto = v["proto"]
	r.Service = v["service"]
	r.Duration = time.Duration(num("duration") * float64(time.Second))
	r.OrigBytes, r.RespBytes = uint64(num("orig_bytes")), uint64(num("resp_bytes"))
	r.ConnState = v["conn_state"]
	r.History = v["history"]
	r.OrigPkts, r.RespPkts = uint64(num("orig_pkts")), uint64(num("resp_pkts"))
	r.OrigIPBytes, r.RespIPBytes = uint64(num("orig_ip_bytes")), uint64(num("resp_ip_bytes"))
	r.MissedBytes = uint64(num("missed_bytes"))
	r.Source = flow.SourceZeek
	r.Label = v["label"]
	return r, err
}

// sortByTS orders records by start time, as the engine expects (Zeek
// writes conn.log at connection end).
func sortByTS(rs []flow.Record) {
	slices.SortStableFunc(rs, func(a, b flow.Record) int { return a.TS.Compare(b.TS) })
}
