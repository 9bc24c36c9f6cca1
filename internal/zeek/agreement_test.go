package zeek_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/logline"
	"github.com/mlads/mlads/internal/shareddata"
	"github.com/mlads/mlads/internal/zeek"
)

// sharedData returns the shared test data folder, skipping the test when
// it is absent.
func sharedData(tb testing.TB) string {
	tb.Helper()
	return shareddata.Dir(tb)
}

// connLogs lists every Zeek conn log in the shared data: TSV, JSON and the
// IoT-23 CSV conversion.
func connLogs(tb testing.TB, data string) []string {
	tb.Helper()
	var out []string
	err := filepath.WalkDir(data, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		name := d.Name()
		rel, _ := filepath.Rel(data, path)
		switch {
		case strings.HasPrefix(rel, "iot23-csv/") && strings.HasSuffix(name, ".csv"):
		case strings.HasPrefix(rel, "zeek-btest/conn/"):
		case strings.HasPrefix(name, "conn") && (strings.HasSuffix(name, ".log") || strings.HasSuffix(name, ".labeled")):
		case name == "labeled-conn.log" || strings.HasSuffix(name, "__conn.log"):
		default:
			return nil
		}
		out = append(out, path)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestAgreementSharedConnLogs reads every conn log of the shared data and
// checks each record against the log's raw text, read independently here:
// every column the record holds, rendered the way the log wrote it, must
// equal the raw column.
func TestAgreementSharedConnLogs(t *testing.T) {
	data := sharedData(t)
	logs := connLogs(t, data)
	if len(logs) < 40 {
		t.Fatalf("found only %d conn logs under %s", len(logs), data)
	}
	var files, records int
	for _, path := range logs {
		rel, _ := filepath.Rel(data, path)
		t.Run(rel, func(t *testing.T) {
			var got []flow.Record
			st, err := zeek.ReadFile(context.Background(), path, func(r *flow.Record) error {
				got = append(got, *r)
				return nil
			})
			if err != nil {
				t.Fatalf("ReadFile: %v", err)
			}
			if st.Bad != 0 {
				t.Errorf("%d bad lines: %v", st.Bad, st.Examples)
			}
			raw := readRaw(t, path)
			if len(got) != len(raw) {
				t.Fatalf("read %d records, the file has %d data lines", len(got), len(raw))
			}
			for i, row := range raw {
				for name, v := range row.cols {
					if msg := checkColumn(&got[i], name, v, row); msg != "" {
						t.Errorf("line %d column %s: %s", row.line, name, msg)
					}
				}
				if _, ok := row.cols["community_id"]; !ok {
					r := got[i]
					want := ""
					if p := r.IPProtocol(); p != 0 {
						want = flow.CommunityID(0, r.OrigH, r.RespH, p, r.OrigP, r.RespP)
					}
					if r.CommunityID != "" {
						t.Errorf("line %d: community_id %q set, but the log has none (the writers derive it)", row.line, r.CommunityID)
					}
					if got := r.CommunityIDOrDerived(); got != want {
						t.Errorf("line %d: derived community_id %q, want %q", row.line, got, want)
					}
				}
				if got[i].Source != flow.SourceZeek {
					t.Errorf("line %d: source %v", row.line, got[i].Source)
				}
			}
			files++
			records += len(got)
		})
	}
	t.Logf("%d conn logs, %d records agree with their raw columns", files, records)
}

// rawRow is one data line split by the test's own reader.
type rawRow struct {
	line  int
	cols  map[string]string
	unset string
	empty string
	csv   bool
	json  map[string]any
}

// readRaw splits a conn log the simple way: headers give the separator and
// field names; a first line of names is a header row; JSON lines are
// decoded with encoding/json.
func readRaw(tb testing.TB, path string) []rawRow {
	tb.Helper()
	rc, err := logline.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sep, unset, empty := "\t", "-", "(empty)"
	var fields []string
	csv := false
	var out []rawRow
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		trimmed := strings.TrimLeft(line, " \t")
		switch {
		case trimmed == "":
			continue
		case strings.HasPrefix(trimmed, "#separator "):
			s := strings.TrimPrefix(trimmed, "#separator ")
			if strings.HasPrefix(s, `\x`) {
				b, _ := strconv.ParseUint(s[2:], 16, 8)
				s = string(rune(b))
			}
			sep = s
			continue
		case strings.HasPrefix(trimmed, "#"):
			parts := strings.Split(trimmed, sep)
			switch parts[0] {
			case "#fields":
				fields = parts[1:]
			case "#unset_field":
				unset = parts[1]
			case "#empty_field":
				empty = parts[1]
			}
			continue
		case strings.HasPrefix(line, "{"):
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				tb.Fatalf("%s line %d: %v", path, n, err)
			}
			cols := map[string]string{}
			for k, v := range m {
				cols[k] = ""
				if s, ok := v.(string); ok {
					cols[k] = s
				}
			}
			out = append(out, rawRow{line: n, cols: cols, json: m})
			continue
		}
		if fields == nil {
			if strings.Contains(line, "\t") || !strings.Contains(line, ",") {
				fields = strings.Split(line, "\t")
			} else {
				fields, sep, unset, csv = strings.Split(line, ","), ",", "", true
			}
			continue
		}
		vals := strings.Split(line, sep)
		if len(vals) != len(fields) {
			tb.Fatalf("%s line %d: %d columns, %d fields", path, n, len(vals), len(fields))
		}
		cols := map[string]string{}
		for i, f := range fields {
			cols[f] = vals[i]
		}
		out = append(out, rawRow{line: n, cols: cols, unset: unset, empty: empty, csv: csv})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// checkColumn compares one raw column with the record; "" means they agree.
func checkColumn(r *flow.Record, name, v string, row rawRow) string {
	if row.json != nil {
		return checkJSON(r, name, row.json[name])
	}
	unset := v == row.unset || (row.csv && v == "")
	str := func(got string) string {
		want := v
		if unset || v == row.empty {
			want = ""
		}
		if got != want {
			return "got " + strconv.Quote(got) + ", want " + strconv.Quote(want)
		}
		return ""
	}
	num := func(got uint64) string {
		want := v
		if unset {
			want = "0"
		}
		if s := strconv.FormatUint(got, 10); s != want {
			return "got " + s + ", want " + want
		}
		return ""
	}
	switch name {
	case "ts":
		if strings.HasPrefix(v, "X") {
			if !r.TS.IsZero() {
				return "masked ts should read as zero, got " + r.TS.String()
			}
			return ""
		}
		if s := renderSeconds(r.TS.UnixNano(), v); s != v {
			return "got " + s + ", want " + v
		}
	case "duration":
		if unset {
			if r.Duration != 0 {
				return "unset duration read as " + r.Duration.String()
			}
			return ""
		}
		if s := renderSeconds(int64(r.Duration), v); s != v {
			return "got " + s + ", want " + v
		}
	case "uid":
		return str(r.UID)
	case "id.orig_h", "id.resp_h":
		a := r.OrigH
		if name == "id.resp_h" {
			a = r.RespH
		}
		if a.String() != v {
			return "got " + a.String() + ", want " + v
		}
	case "id.orig_p":
		return num(uint64(r.OrigP))
	case "id.resp_p":
		return num(uint64(r.RespP))
	case "proto":
		return str(r.Proto)
	case "service":
		return str(r.Service)
	case "conn_state":
		return str(r.ConnState)
	case "history":
		return str(r.History)
	case "orig_bytes":
		return num(r.OrigBytes)
	case "resp_bytes":
		return num(r.RespBytes)
	case "missed_bytes":
		return num(r.MissedBytes)
	case "orig_pkts":
		return num(r.OrigPkts)
	case "orig_ip_bytes":
		return num(r.OrigIPBytes)
	case "resp_pkts":
		return num(r.RespPkts)
	case "resp_ip_bytes":
		return num(r.RespIPBytes)
	case "ip_proto":
		return num(uint64(r.IPProto))
	case "vlan":
		return num(uint64(r.VLAN))
	case "inner_vlan":
		return num(uint64(r.InnerVLAN))
	case "tunnel_parents":
		return str(strings.Join(r.TunnelParents, ","))
	case "label":
		class, _, _ := strings.Cut(r.Label, "/")
		if class != v && !(v == "-" || v == "(empty)") {
			return "label " + strconv.Quote(r.Label) + ", want class " + strconv.Quote(v)
		}
	case "detailedlabel", "detailed-label":
		_, detail, _ := strings.Cut(r.Label, "/")
		if v == "-" || v == "(empty)" || v == "" {
			v = ""
		}
		if detail != v {
			return "label " + strconv.Quote(r.Label) + ", want detail " + strconv.Quote(v)
		}
	}
	return ""
}

// renderSeconds writes ns as seconds with as many decimals as like has.
func renderSeconds(ns int64, like string) string {
	dec := 0
	if i := strings.IndexByte(like, '.'); i >= 0 {
		dec = len(like) - i - 1
	}
	sec, frac := ns/1e9, ns%1e9
	if dec == 0 {
		return strconv.FormatInt(sec, 10)
	}
	f := strconv.FormatInt(frac+1e9, 10)[1:] // nine digits
	for len(f) < dec {
		f += "0"
	}
	return strconv.FormatInt(sec, 10) + "." + f[:dec]
}

// checkJSON compares a value decoded by encoding/json with the record.
func checkJSON(r *flow.Record, name string, v any) string {
	eqNum := func(got float64, want any, tol float64) string {
		w, ok := want.(float64)
		if !ok {
			return "not a number"
		}
		if math.Abs(got-w) > tol {
			return "got " + strconv.FormatFloat(got, 'f', -1, 64) + ", want " + strconv.FormatFloat(w, 'f', -1, 64)
		}
		return ""
	}
	eqStr := func(got string) string {
		if s, _ := v.(string); s != got {
			return "got " + strconv.Quote(got) + ", want " + strconv.Quote(s)
		}
		return ""
	}
	switch name {
	case "ts":
		if s, ok := v.(string); ok {
			want, err := time.Parse(time.RFC3339Nano, s)
			if err != nil || !want.Equal(r.TS) {
				return "got " + r.TS.String() + ", want " + s
			}
			return ""
		}
		return eqNum(float64(r.TS.UnixNano())/1e9, v, 1e-6)
	case "duration":
		return eqNum(r.Duration.Seconds(), v, 1e-9)
	case "uid":
		return eqStr(r.UID)
	case "id.orig_h":
		return eqStr(r.OrigH.String())
	case "id.resp_h":
		return eqStr(r.RespH.String())
	case "id.orig_p":
		return eqNum(float64(r.OrigP), v, 0)
	case "id.resp_p":
		return eqNum(float64(r.RespP), v, 0)
	case "proto":
		return eqStr(r.Proto)
	case "service":
		return eqStr(r.Service)
	case "conn_state":
		return eqStr(r.ConnState)
	case "history":
		return eqStr(r.History)
	case "orig_bytes":
		return eqNum(float64(r.OrigBytes), v, 0)
	case "resp_bytes":
		return eqNum(float64(r.RespBytes), v, 0)
	case "missed_bytes":
		return eqNum(float64(r.MissedBytes), v, 0)
	case "orig_pkts":
		return eqNum(float64(r.OrigPkts), v, 0)
	case "orig_ip_bytes":
		return eqNum(float64(r.OrigIPBytes), v, 0)
	case "resp_pkts":
		return eqNum(float64(r.RespPkts), v, 0)
	case "resp_ip_bytes":
		return eqNum(float64(r.RespIPBytes), v, 0)
	case "community_id":
		return eqStr(r.CommunityID)
	}
	return ""
}

// TestRoundTripThroughZeekWriter writes the records of every shared TSV and
// CSV conn log with flow's conn.log writer and reads them back: each record
// must come back equal (the label, which the writer does not write, aside).
// Logs whose ts was masked by Zeek's test harness are left out: a zero time
// has no conn.log form.
func TestRoundTripThroughZeekWriter(t *testing.T) {
	data := sharedData(t)
	var n, files int
	for _, path := range connLogs(t, data) {
		var recs []flow.Record
		if _, err := zeek.ReadFile(context.Background(), path, func(r *flow.Record) error {
			recs = append(recs, *r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 || recs[0].TS.IsZero() || isJSON(t, path) {
			continue
		}
		var buf bytes.Buffer
		w := flow.NewZeekWriter(&buf)
		for i := range recs {
			if err := w.Write(&recs[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		p := zeek.NewParser("roundtrip.log")
		i := 0
		for _, line := range bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n")) {
			var r flow.Record
			ok, err := p.ParseLine(line, &r)
			if err != nil {
				t.Fatalf("%s: reading back: %v", path, err)
			}
			if !ok {
				continue
			}
			want := recs[i]
			want.Label = ""
			want.CommunityID = want.CommunityIDOrDerived() // the writer derives it
			if g, w := fmt.Sprintf("%+v", r), fmt.Sprintf("%+v", want); g != w {
				t.Errorf("%s record %d:\n-%s\n+%s", path, i, g, w)
			}
			i++
		}
		if i != len(recs) {
			t.Errorf("%s: %d records back, %d written", path, i, len(recs))
		}
		n += i
		files++
	}
	t.Logf("%d records of %d logs written and read back unchanged", n, files)
}

func isJSON(tb testing.TB, path string) bool {
	tb.Helper()
	rc, err := logline.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	b := make([]byte, 1)
	_, _ = io.ReadFull(rc, b)
	return b[0] == '{'
}
