package zeek_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/logline"
	"github.com/mlads/mlads/internal/zeek"
)

const tsvHeader = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t2024-01-01-00-00-00\n" +
	"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n" +
	"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n"

// parseAll feeds text line by line to a new parser and returns the records
// and errors.
func parseAll(tb testing.TB, text string) ([]flow.Record, []error) {
	tb.Helper()
	p := zeek.NewParser("conn.log")
	var recs []flow.Record
	var errs []error
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		var r flow.Record
		ok, err := p.ParseLine([]byte(l), &r)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			recs = append(recs, r)
		}
	}
	return recs, errs
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

var addr = netip.MustParseAddr

// TestParseFormats reads one connection written in each format the package
// handles and checks the record.
func TestParseFormats(t *testing.T) {
	want := flow.Record{
		TS: ts("2022-06-12T22:39:58.444458Z"), UID: "CHLXQF2OBY4onAR0Ug",
		OrigH: addr("147.32.81.167"), OrigP: 62771, RespH: addr("40.74.108.123"), RespP: 443,
		Proto: "tcp", IPProto: 6, Service: "ssl", Duration: 1135424 * time.Microsecond,
		OrigBytes: 1596, RespBytes: 4039, ConnState: "SF", MissedBytes: 5138, History: "ShADdaFf",
		OrigPkts: 14, OrigIPBytes: 1016, RespPkts: 16, RespIPBytes: 1226, Source: flow.SourceZeek,
	}
	labelled := want
	labelled.Label = "Benign/Microsoft"
	tunnelled := want
	tunnelled.TunnelParents = []string{"CabcTunnel1", "Cdef\tTunnel2"}
	withExtras := want
	withExtras.VLAN, withExtras.InnerVLAN, withExtras.CommunityID = 13, 10, "1:abc/def="
	withExtras.IPProto = 6

	row := "1655073598.444458\tCHLXQF2OBY4onAR0Ug\t147.32.81.167\t62771\t40.74.108.123\t443\ttcp\tssl\t1.135424\t1596\t4039\tSF\tT\tF\t5138\tShADdaFf\t14\t1016\t16\t1226\t"
	jsonRow := `{"ts":%s,"uid":"CHLXQF2OBY4onAR0Ug",%s,"proto":"tcp","service":"ssl","duration":1.135424,"orig_bytes":1596,"resp_bytes":4039,"conn_state":"SF","local_orig":true,"missed_bytes":5138,"history":"ShADdaFf","orig_pkts":14,"orig_ip_bytes":1016,"resp_pkts":16,"resp_ip_bytes":1226,"unknown_key":{"a":[1,2,{"b":null}]}}`
	dotted := `"id.orig_h":"147.32.81.167","id.orig_p":62771,"id.resp_h":"40.74.108.123","id.resp_p":443`
	nested := `"id":{"orig_h":"147.32.81.167","orig_p":62771,"resp_h":"40.74.108.123","resp_p":443}`
	csvHeader := "ts,uid,id.orig_h,id.orig_p,id.resp_h,id.resp_p,proto,service,duration,orig_bytes,resp_bytes,conn_state,local_orig,local_resp,missed_bytes,history,orig_pkts,orig_ip_bytes,resp_pkts,resp_ip_bytes,tunnel_parents,label,detailed-label"

	for _, tt := range []struct {
		name string
		text string
		want flow.Record
	}{
		{"tsv", tsvHeader + row + "(empty)", want},
		{"tsv crlf", strings.ReplaceAll(tsvHeader+row+"(empty)", "\n", "\r\n"), want},
		{"tsv unset tunnel", tsvHeader + row + "-", want},
		{"tsv tunnel set with escapes", tsvHeader + row + `CabcTunnel1,Cdef\x09Tunnel2`, tunnelled},
		{"tsv columns reordered and extras",
			"#separator \\x09\n#fields\tuid\tts\tvlan\tinner_vlan\tcommunity_id\tid.resp_p\tid.resp_h\tid.orig_p\tid.orig_h\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\tip_proto\tspeculative_service\n" +
				"CHLXQF2OBY4onAR0Ug\t1655073598.444458\t13\t10\t1:abc/def=\t443\t40.74.108.123\t62771\t147.32.81.167\ttcp\tssl\t1.135424\t1596\t4039\tSF\t5138\tShADdaFf\t14\t1016\t16\t1226\t6\thttp",
			withExtras},
		{"tsv other separator", strings.ReplaceAll(strings.Replace(tsvHeader, `\x09`, `\x7c`, 1), "\t", "|") + strings.ReplaceAll(row, "\t", "|") + "-", want},
		{"stratosphere labels", strings.Replace(strings.Replace(tsvHeader, "tunnel_parents\n", "tunnel_parents\tlabel\tdetailedlabel\n", 1), "set[string]\n", "set[string]\tstring\tstring\n", 1) + row + "(empty)\tBenign\tMicrosoft", labelled},
		{"iot23 combined column",
			strings.Replace(tsvHeader, "tunnel_parents\n", "tunnel_parents   label   detailed-label\n", 1) + row + "-   Benign   Microsoft", labelled},
		{"iot23 csv", csvHeader + "\n" + strings.ReplaceAll(row, "\t", ",") + ",Benign,Microsoft", labelled},
		{"iot23 csv quoted", csvHeader + "\n" + strings.Replace(strings.ReplaceAll(row, "\t", ","), ",ssl,", `,"ssl",`, 1) + `,"Benign","Microsoft"`, labelled},
		{"leading tab before header", "\t" + tsvHeader + row + "-", want},
		{"json epoch", fmt.Sprintf(jsonRow, "1655073598.444458", dotted), want},
		{"json iso8601", fmt.Sprintf(jsonRow, `"2022-06-12T22:39:58.444458Z"`, dotted), want},
		{"json nested id", fmt.Sprintf(jsonRow, "1655073598.444458", nested), want},
		{"json quoted numbers", strings.NewReplacer(`"orig_bytes":1596`, `"orig_bytes":"1596"`, `"duration":1.135424`, `"duration":"1.135424"`, `"id.orig_p":62771`, `"id.orig_p":"62771"`).Replace(fmt.Sprintf(jsonRow, `"1655073598.444458"`, dotted)), want},
		{"utf-8 bom", "\xef\xbb\xbf" + tsvHeader + row + "-", want},
	} {
		t.Run(tt.name, func(t *testing.T) {
			recs, errs := parseAll(t, tt.text)
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if len(recs) != 1 {
				t.Fatalf("%d records", len(recs))
			}
			if g, w := fmt.Sprintf("%+v", recs[0]), fmt.Sprintf("%+v", tt.want); g != w {
				t.Errorf("record (-got +want):\n-%s\n+%s", g, w)
			}
		})
	}
}

// TestHeaderRowAndMaskedTS reads Zeek's btest style: a zeek-cut header row
// and a masked ts.
func TestHeaderRowAndMaskedTS(t *testing.T) {
	recs, errs := parseAll(t, "### BTest baseline data\nuid\torig_pkts\tresp_pkts\thistory\tconn_state\nCHhAvVGS1DHFjwGM9\t0\t0\tC\tOTH")
	if len(errs) != 0 || len(recs) != 1 || recs[0].UID != "CHhAvVGS1DHFjwGM9" || recs[0].History != "C" || recs[0].ConnState != "OTH" {
		t.Fatalf("recs %+v errs %v", recs, errs)
	}
	recs, errs = parseAll(t, tsvHeader+"XXXXXXXXXX.XXXXXX\tC1\t10.0.0.1\t1\t10.0.0.2\t2\tudp\t-\t-\t-\t-\tS0\t-\t-\t0\tD\t1\t40\t0\t0\t-")
	if len(errs) != 0 || len(recs) != 1 || !recs[0].TS.IsZero() || recs[0].IPProto != 17 {
		t.Fatalf("recs %+v errs %v", recs, errs)
	}
}

// TestBadLines feeds malformed lines between good ones: each is reported
// with file, line and kind, and every good line is read.
func TestBadLines(t *testing.T) {
	good := func(i int) string {
		return fmt.Sprintf("1655073598.%06d\tC%d\t10.0.0.1\t1234\t10.0.0.2\t80\ttcp\thttp\t0.5\t10\t20\tSF\tT\tF\t0\tShADadFf\t5\t300\t5\t400\t-", i, i)
	}
	bad := []struct {
		line string
		kind logline.ErrorKind
		msg  string
	}{
		{"1655073598.1\tCx\t10.0.0.1\t1234", logline.KindColumns, "4 columns, the #fields header has 21"},
		{good(0) + "\textra", logline.KindColumns, "more than the 21 columns"},
		{strings.Replace(good(0), "\t0.5\t", "\tabc\t", 1), logline.KindNumber, `field duration: parse "abc"`},
		{strings.Replace(good(0), "\t1234\t", "\t99999\t", 1), logline.KindNumber, `field id.orig_p: parse "99999"`},
		{strings.Replace(good(0), "\t300\t", "\t-3\t", 1), logline.KindNumber, `field orig_ip_bytes: parse "-3"`},
		{strings.Replace(good(0), "10.0.0.2", "10.0.0.256", 1), logline.KindAddr, `field id.resp_h: parse "10.0.0.256"`},
		{strings.Replace(good(0), "1655073598.000000", "yesterday", 1), logline.KindTime, `field ts: parse "yesterday"`},
		{"\x00\x01\x02\xff\xfebinary\tgarbage", logline.KindBinary, "not text"},
		{`{"ts":1,"uid":"C1","id.orig_h":"10.0.0.1",`, logline.KindJSON, "json: "},
		{`{"ts":1,"uid":"C1"}`, logline.KindMissing, "not a conn record"},
		{`{"ts":1,"id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2","orig_pkts":"many"}`, logline.KindNumber, "field orig_pkts"},
	}
	var b strings.Builder
	b.WriteString(tsvHeader) // 8 lines
	for i, bl := range bad {
		b.WriteString(good(i+1) + "\n" + bl.line + "\n")
	}
	b.WriteString(good(99) + "\n#close\t2024-01-01-01-00-00\n")
	path := filepath.Join(t.TempDir(), "conn.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var uids []string
	st, err := zeek.ReadFile(context.Background(), path, func(r *flow.Record) error {
		uids = append(uids, r.UID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(uids) != len(bad)+1 || uids[len(uids)-1] != "C99" {
		t.Errorf("read %d records (%v), want %d", len(uids), uids, len(bad)+1)
	}
	if st.Bad != int64(len(bad)) || st.Headers != 9 {
		t.Errorf("bad %d headers %d, want %d and 9", st.Bad, st.Headers, len(bad))
	}
	// Re-parse each bad line alone to check its error's text and kind.
	p := zeek.NewParser("conn.log")
	var r flow.Record
	for _, l := range strings.Split(tsvHeader, "\n") {
		p.ParseLine([]byte(l), &r)
	}
	for i, bl := range bad {
		p.SetLineNumber(int64(9 + 2*i)) // the line numbers it had in the file
		_, err := p.ParseLine([]byte(bl.line), &r)
		var le *logline.LineError
		if !errors.As(err, &le) {
			t.Errorf("bad line %d: error %v is not a *logline.LineError", i, err)
			continue
		}
		wantPrefix := fmt.Sprintf("zeek: conn.log line %d: ", 10+2*i)
		if le.Kind != bl.kind || !strings.HasPrefix(err.Error(), wantPrefix) || !strings.Contains(err.Error(), bl.msg) {
			t.Errorf("bad line %d: kind %s, error %q; want kind %s, prefix %q, containing %q", i, le.Kind, err, bl.kind, wantPrefix, bl.msg)
		}
		if st.BadKinds[bl.kind] == 0 {
			t.Errorf("kind %s not counted: %v", bl.kind, st.BadKinds)
		}
	}
	if len(st.Examples) != logline.MaxExamples || !strings.HasPrefix(st.Examples[0], "zeek: conn.log line 10: ") {
		t.Errorf("examples %q", st.Examples)
	}
}

// TestNotConnLog stops at a #path that names another log.
func TestNotConnLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dns.log")
	os.WriteFile(path, []byte(strings.Replace(tsvHeader, "#path\tconn", "#path\tdns", 1)), 0o644)
	_, err := zeek.ReadFile(context.Background(), path, func(*flow.Record) error { return nil })
	if !errors.Is(err, zeek.ErrNotConnLog) {
		t.Fatalf("err %v, want ErrNotConnLog", err)
	}
}

// TestLogFolder reads a folder as Zeek leaves it: gzip-compressed rotated
// files (Zeek's and zeekctl's names) and the current conn.log, in time order.
func TestLogFolder(t *testing.T) {
	dir := t.TempDir()
	line := func(uid string, sec int) string {
		return fmt.Sprintf("%d.000000\t%s\t10.0.0.1\t1\t10.0.0.2\t2\tudp\tdns\t0.1\t1\t1\tSF\tT\tF\t0\tDd\t1\t29\t1\t29\t-\n", sec, uid)
	}
	write := func(name string, gz bool, body string) {
		t.Helper()
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		data := []byte(tsvHeader + body + "#close\tx\n")
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(data)
			zw.Close()
			data = b.Bytes()
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("conn.log", false, line("C5", 500))
	write("conn.2024-01-01-11-00-00.log.gz", true, line("C3", 300))
	write("conn.2024-01-01-10-00-00.log.gz", true, line("C2", 200))
	write("2023-12-31/conn.23:00:00-00:00:00.log.gz", true, line("C1", 100))
	write("conn.2024-01-01-12-00-00.log", false, line("C4", 400))
	write("dns.log", false, "ignored")
	var uids []string
	st, err := zeek.ReadFile(context.Background(), dir, func(r *flow.Record) error {
		uids = append(uids, r.UID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(uids, ","); got != "C1,C2,C3,C4,C5" || st.Files != 5 {
		t.Errorf("read %s from %d files, want C1..C5 from 5", got, st.Files)
	}
}

// TestEmitErrorStops returns emit's error unchanged and stops the read.
func TestEmitErrorStops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conn.log")
	os.WriteFile(path, []byte(tsvHeader+strings.Repeat("1.0\tC1\t10.0.0.1\t1\t10.0.0.2\t2\tudp\t-\t-\t-\t-\tS0\t-\t-\t0\tD\t1\t29\t0\t0\t-\n", 5)), 0o644)
	stop := errors.New("stop")
	n := 0
	st, err := zeek.ReadFile(context.Background(), path, func(*flow.Record) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 || st.Records != 2 {
		t.Errorf("err %v after %d records (stats %d)", err, n, st.Records)
	}
}

// TestRecordsIndependent checks the ownership promise: a shallow copy of
// the emitted record survives the parser's next line.
func TestRecordsIndependent(t *testing.T) {
	p := zeek.NewParser("conn.log")
	var r flow.Record
	for _, l := range strings.Split(tsvHeader, "\n") {
		p.ParseLine([]byte(l), &r)
	}
	line := []byte("1.0\tCfirst\t10.0.0.1\t1\t10.0.0.2\t2\tudp\tdns\t-\t-\t-\tS0\t-\t-\t0\tD\t1\t29\t0\t0\tCparent")
	p.ParseLine(line, &r)
	kept := r
	copy(line, bytes.Repeat([]byte("x"), len(line)))
	p.ParseLine([]byte("2.0\tCsecond\t10.0.0.3\t1\t10.0.0.4\t2\ttcp\t-\t-\t-\t-\tS0\t-\t-\t0\tS\t1\t40\t0\t0\tCother"), &r)
	if kept.UID != "Cfirst" || kept.Service != "dns" || kept.TunnelParents[0] != "Cparent" || kept.Proto != "udp" {
		t.Errorf("kept record changed: %+v", kept)
	}
}

// TestMixedJSONStream skips records of other logs in one JSON stream.
func TestMixedJSONStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "all.json")
	os.WriteFile(path, []byte(`{"_path":"dns","ts":1.0,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":53,"query":"a.example"}
{"_path":"conn","ts":1.0,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":53,"proto":"udp"}
{"_path":"conn_long","ts":2.0,"uid":"C2","id.orig_h":"10.0.0.1","id.orig_p":2,"id.resp_h":"10.0.0.2","id.resp_p":53,"proto":"udp"}
`), 0o644)
	var uids []string
	st, err := zeek.ReadFile(context.Background(), path, func(r *flow.Record) error {
		uids = append(uids, r.UID)
		return nil
	})
	if err != nil || strings.Join(uids, ",") != "C1,C2" || st.Skipped != 1 || st.Headers != 0 || st.Bad != 0 {
		t.Errorf("uids %v skipped %d headers %d bad %d err %v", uids, st.Skipped, st.Headers, st.Bad, err)
	}
}

// TestLongLines reads lines longer than the reader's buffer and counts a
// line beyond logline.MaxLineBytes as too long, reading the lines after it.
func TestLongLines(t *testing.T) {
	good := "1.0\tC%d\t10.0.0.1\t1\t10.0.0.2\t2\tudp\tdns\t-\t-\t-\tS0\t-\t-\t0\tD\t1\t29\t0\t0\t%s\n"
	var b strings.Builder
	b.WriteString(tsvHeader)
	fmt.Fprintf(&b, good, 1, "-")
	fmt.Fprintf(&b, good, 2, "C"+strings.Repeat("p", 300<<10)) // a 300 KiB tunnel_parents: read
	b.WriteString(strings.Repeat("x", logline.MaxLineBytes+10) + "\n")
	fmt.Fprintf(&b, good, 3, "-")
	path := filepath.Join(t.TempDir(), "conn.log")
	os.WriteFile(path, []byte(b.String()), 0o644)
	var uids []string
	st, err := zeek.ReadFile(context.Background(), path, func(r *flow.Record) error {
		uids = append(uids, r.UID)
		return nil
	})
	if err != nil || strings.Join(uids, ",") != "C1,C2,C3" || st.BadKinds[logline.KindTooLong] != 1 {
		t.Errorf("uids %v bad %v err %v", uids, st.BadKinds, err)
	}
	if len(st.Examples) != 1 || !strings.HasPrefix(st.Examples[0], "zeek: conn.log line 11: ") {
		t.Errorf("examples %q", st.Examples)
	}
}
