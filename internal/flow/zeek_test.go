package flow

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// zeekLog is a conn.log as a header-driven reader (zeek-cut, Zeek's input
// framework) sees it.
type zeekLog struct {
	separator, setSeparator, emptyField, unsetField string
	path, open, close                               string
	fields, types                                   []string
	rows                                            [][]string // raw values, one per field
}

// parseZeekLog reads a Zeek ASCII log the way zeek-cut does: the separator
// from the #separator line (given as \xNN), every other header line split
// by it, and data lines split into exactly as many values as #fields names.
func parseZeekLog(data string) (*zeekLog, error) {
	l := &zeekLog{}
	if !strings.HasSuffix(data, "\n") {
		return nil, errors.New("log does not end with a newline")
	}
	for n, line := range strings.Split(strings.TrimSuffix(data, "\n"), "\n") {
		if n == 0 {
			v, ok := strings.CutPrefix(line, "#separator ")
			if !ok {
				return nil, fmt.Errorf("line 1: %q is not a #separator line", line)
			}
			l.separator = unescapeZeek(v)
			continue
		}
		if l.separator == "" {
			return nil, errors.New("empty separator")
		}
		parts := strings.Split(line, l.separator)
		if strings.HasPrefix(line, "#") {
			switch parts[0] {
			case "#set_separator":
				l.setSeparator = unescapeZeek(parts[1])
			case "#empty_field":
				l.emptyField = unescapeZeek(parts[1])
			case "#unset_field":
				l.unsetField = unescapeZeek(parts[1])
			case "#path":
				l.path = parts[1]
			case "#open":
				l.open = parts[1]
			case "#close":
				l.close = parts[1]
			case "#fields":
				l.fields = parts[1:]
			case "#types":
				l.types = parts[1:]
			default:
				return nil, fmt.Errorf("line %d: unknown header %q", n+1, parts[0])
			}
			continue
		}
		if l.close != "" {
			return nil, fmt.Errorf("line %d: data after #close", n+1)
		}
		if len(parts) != len(l.fields) {
			return nil, fmt.Errorf("line %d: %d values for %d fields: %q", n+1, len(parts), len(l.fields), line)
		}
		l.rows = append(l.rows, parts)
	}
	if len(l.fields) != len(l.types) {
		return nil, fmt.Errorf("%d fields but %d types", len(l.fields), len(l.types))
	}
	return l, nil
}

// unescapeZeek undoes Zeek's \xNN escapes.
func unescapeZeek(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b = append(b, byte(v))
				i += 3
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

// record converts row i back into a Record, checking each value's form
// against its #types entry.
func (l *zeekLog) record(i int) (Record, error) {
	var r Record
	var errs []error
	for j, name := range l.fields {
		raw, typ := l.rows[i][j], l.types[j]
		if raw == l.unsetField {
			continue
		}
		var v string
		if typ != "set[string]" {
			if raw == l.emptyField {
				raw = ""
			}
			v = unescapeZeek(raw)
		}
		fail := func(err error) { errs = append(errs, fmt.Errorf("%s %q: %w", name, raw, err)) }
		u := func(bits int) uint64 {
			n, err := strconv.ParseUint(v, 10, bits)
			if err != nil {
				fail(err)
			}
			return n
		}
		us := func() int64 {
			if dot := strings.IndexByte(v, '.'); dot < 0 || len(v)-dot-1 != 6 {
				fail(errors.New("not six decimals"))
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				fail(err)
			}
			return int64(math.Round(f * 1e6))
		}
		addr := func() netip.Addr {
			a, err := netip.ParseAddr(v)
			if err != nil {
				fail(err)
			}
			return a
		}
		switch name {
		case "ts":
			r.TS = time.UnixMicro(us()).UTC()
		case "uid":
			r.UID = v
		case "id.orig_h":
			r.OrigH = addr()
		case "id.orig_p":
			r.OrigP = uint16(u(16))
		case "id.resp_h":
			r.RespH = addr()
		case "id.resp_p":
			r.RespP = uint16(u(16))
		case "proto":
			r.Proto = v
		case "service":
			r.Service = v
		case "duration":
			r.Duration = time.Duration(us()) * time.Microsecond
		case "orig_bytes":
			r.OrigBytes = u(64)
		case "resp_bytes":
			r.RespBytes = u(64)
		case "conn_state":
			r.ConnState = v
		case "local_orig", "local_resp":
			fail(errors.New("set, but mlads never knows local networks"))
		case "missed_bytes":
			r.MissedBytes = u(64)
		case "history":
			r.History = v
		case "orig_pkts":
			r.OrigPkts = u(64)
		case "orig_ip_bytes":
			r.OrigIPBytes = u(64)
		case "resp_pkts":
			r.RespPkts = u(64)
		case "resp_ip_bytes":
			r.RespIPBytes = u(64)
		case "tunnel_parents":
			r.TunnelParents = []string{}
			if raw != l.emptyField {
				for _, e := range strings.Split(raw, l.setSeparator) {
					if e == l.emptyField {
						e = ""
					}
					r.TunnelParents = append(r.TunnelParents, unescapeZeek(e))
				}
			}
		case "ip_proto":
			r.IPProto = uint8(u(8))
		case "community_id":
			r.CommunityID = v
		case "vlan":
			r.VLAN = uint16(u(12))
		case "inner_vlan":
			r.InnerVLAN = uint16(u(12))
		case "source":
			if r.Source = ParseSource(v); r.Source == SourceUnknown {
				fail(errors.New("unknown source"))
			}
		default:
			fail(errors.New("unknown field"))
		}
	}
	return r, errors.Join(errs...)
}

// Zeek's conn.log header lines, as Zeek 7 writes them for its default
// conn.log (base/protocols/conn/main.zeek), which ZeekWriter's columns
// extend.
const (
	zeekConnFields = "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tip_proto"
	zeekConnTypes  = "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tcount"
)

func TestZeekHeader(t *testing.T) {
	recs := sampleRecordsWithIDs()
	var out bytes.Buffer
	writeAll(t, NewZeekWriter(&out), recs)
	lines := strings.Split(out.String(), "\n")
	wantStart := []string{
		`#separator \x09`,
		"#set_separator\t,",
		"#empty_field\t(empty)",
		"#unset_field\t-",
		"#path\tconn",
		"#open\t2009-11-18-08-00-21",
		zeekConnFields + "\tcommunity_id\tvlan\tinner_vlan\tsource",
		zeekConnTypes + "\tstring\tint\tint\tstring",
	}
	for i, w := range wantStart {
		if lines[i] != w {
			t.Errorf("header line %d:\n got %q\nwant %q", i+1, lines[i], w)
		}
	}
	// The latest connection end is the DNS flow's, 1300475167+2 s, though
	// it is not the last record.
	if got, w := lines[len(lines)-2], "#close\t2011-03-18-19-06-09"; got != w {
		t.Errorf("footer: got %q, want %q", got, w)
	}
	if lines[len(lines)-1] != "" {
		t.Errorf("log does not end with a newline after #close")
	}
	l, err := parseZeekLog(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !regexpOpen.MatchString(l.open) || !regexpOpen.MatchString(l.close) || l.path != "conn" {
		t.Errorf("#open %q, #close %q, #path %q", l.open, l.close, l.path)
	}
}

func TestZeekRoundTrip(t *testing.T) {
	recs := sampleRecordsWithIDs()
	var out bytes.Buffer
	writeAll(t, NewZeekWriter(&out), recs)
	l, err := parseZeekLog(out.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if l.separator != "\t" || l.setSeparator != "," || l.emptyField != "(empty)" || l.unsetField != "-" {
		t.Fatalf("separators %q %q %q %q", l.separator, l.setSeparator, l.emptyField, l.unsetField)
	}
	if len(l.rows) != len(recs) {
		t.Fatalf("%d rows for %d records", len(l.rows), len(recs))
	}
	for i := range recs {
		got, err := l.record(i)
		if err != nil {
			t.Errorf("row %d: %v", i+1, err)
		}
		if diff := cmp.Diff(got, want(recs[i]), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("row %d read back (-got +want):\n%s", i+1, diff)
		}
	}
}

func TestZeekValueForms(t *testing.T) {
	recs := sampleRecordsWithIDs()
	tests := []struct {
		rec   int
		field string
		want  string
	}{
		{0, "ts", "1258531221.486539"},
		{0, "duration", "0.163820"},
		{0, "local_orig", "-"},
		{0, "tunnel_parents", "-"},
		{0, "vlan", "-"},
		{1, "ts", "1300475167.000000"},
		{1, "service", "dns,mdns"},
		{1, "resp_bytes", "0"},
		{1, "vlan", "100"},
		{1, "inner_vlan", "200"},
		{1, "source", "live"},
		{2, "duration", "-"},
		{2, "orig_bytes", "-"},
		{2, "service", "-"},
		{2, "history", "-"},
		{3, "ts", "1258531221.486540"},
		{3, "duration", "0.000001"}, // Zeek's µs timestamps: 1.5 µs to 2.499 µs
		{3, "ip_proto", "58"},
		{3, "tunnel_parents", "CtPZjS20MLrsMUOJi2,Ck51lg1bScffFj34Ri"},
		{4, "id.orig_h", "192.168.170.8"},
		{4, "proto", "unknown_transport"},
		{4, "source", "-"},
		{5, "uid", `C\x09ab`},
		{5, "service", `\x2d`},
		{5, "conn_state", `\x28empty)`},
		{5, "history", `Sh\x5c"é\x01\x7f`},
		{5, "tunnel_parents", "(empty)"},
		{5, "community_id", `1:not,a\x09tab`},
		{6, "uid", "(empty)"},
		{6, "history", `bad\xffutf8\xc3`},
		{6, "tunnel_parents", `a\x2cb,\x2d,(empty),\x28empty)`},
	}
	var out bytes.Buffer
	writeAll(t, NewZeekWriter(&out), recs)
	l, err := parseZeekLog(out.String())
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, f := range l.fields {
		col[f] = i
	}
	for _, tt := range tests {
		if got := l.rows[tt.rec][col[tt.field]]; got != tt.want {
			t.Errorf("record %d %s: got %q, want %q", tt.rec, tt.field, got, tt.want)
		}
	}
}

func TestZeekWriterEmpty(t *testing.T) {
	var out bytes.Buffer
	w := NewZeekWriter(&out)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("no records, yet wrote %q", out.String())
	}
}

// FuzzZeekString checks that every string survives a conn.log line: the
// line keeps its column count, has no stray newline, and a header-driven
// reader gets the string back byte for byte.
func FuzzZeekString(f *testing.F) {
	for _, s := range []string{"", "-", "(empty)", "a,b", "tab\there", "new\nline", `back\x41slash`, "\xff\xfe", "é€😀", "#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := Record{TS: time.Unix(1, 0), UID: s, Proto: s, History: s, TunnelParents: []string{s, "x"}}
		var out bytes.Buffer
		writeAll(t, NewZeekWriter(&out), []Record{r})
		l, err := parseZeekLog(out.String())
		if err != nil {
			t.Fatalf("%v\n%q", err, out.String())
		}
		got, err := l.record(0)
		if err != nil {
			t.Fatal(err)
		}
		if got.UID != s || got.Proto != s || !reflect.DeepEqual(got.TunnelParents, []string{s, "x"}) {
			t.Fatalf("read back uid %q proto %q parents %q, want %q", got.UID, got.Proto, got.TunnelParents, s)
		}
		if s != "" && got.History != s {
			t.Fatalf("read back history %q, want %q", got.History, s)
		}
	})
}
