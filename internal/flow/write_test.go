package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mlads/mlads/internal/golden"
)

// sampleRecords covers the shapes the writers must get right: the common
// transports, optional fields set and unset, tunnels, VLANs, every source,
// and strings that need escaping in one format or the other.
func sampleRecords() []Record {
	ts := time.Date(2009, 11, 18, 8, 0, 21, 486539000, time.UTC) // 1258531221.486539
	a := netip.MustParseAddr
	return []Record{
		{ // TCP, complete, every counter set; Community ID computed below
			TS: ts, UID: "CHhAvVGS1DHFjwGM9", OrigH: a("192.168.1.102"), OrigP: 49285, RespH: a("192.150.187.43"), RespP: 80,
			Proto: ProtoTCP, IPProto: 6, Service: "http", Duration: 163820 * time.Microsecond, OrigBytes: 301, RespBytes: 3512,
			ConnState: "SF", History: "ShADadfF", OrigPkts: 7, OrigIPBytes: 673, RespPkts: 6, RespIPBytes: 3832, Source: SourcePcap,
		},
		{ // UDP DNS over IPv6 with two services, QinQ, whole-second timestamp
			TS: time.Unix(1300475167, 0), UID: "C4J4Th3PJpwUYZZ6gc", OrigH: a("2001:db8::1"), OrigP: 53432, RespH: a("2001:db8::53"), RespP: 53,
			Proto: ProtoUDP, IPProto: 17, Service: "dns,mdns", Duration: 2 * time.Second, OrigBytes: 42, RespBytes: 0,
			ConnState: "S0", History: "D", OrigPkts: 1, OrigIPBytes: 90, VLAN: 100, InnerVLAN: 200, Source: SourceLive,
		},
		{ // ICMP echo, zero duration: duration and byte counts unset
			TS: ts.Add(time.Second), UID: "CUM0KZ3MLUfNB0cl11", OrigH: a("10.0.0.1"), OrigP: 8, RespH: a("10.0.0.2"), RespP: 0,
			Proto: ProtoICMP, IPProto: 1, ConnState: "OTH", OrigPkts: 1, OrigIPBytes: 84, Source: SourceZeek,
		},
		{ // ICMPv6 protocol derived from the name; tunnelled; sub-microsecond times
			TS: ts.Add(1500 * time.Nanosecond), UID: "Cx2", OrigH: a("fe80::1"), OrigP: 128, RespH: a("fe80::2"), RespP: 129,
			Proto: ProtoICMP, Duration: 999 * time.Nanosecond, OrigPkts: 2, OrigIPBytes: 208, RespPkts: 2, RespIPBytes: 208,
			TunnelParents: []string{"CtPZjS20MLrsMUOJi2", "Ck51lg1bScffFj34Ri"}, Source: SourceEVE,
		},
		{ // SCTP as unknown_transport with its protocol number, IPv4-mapped addresses
			TS: ts.Add(2 * time.Second), UID: "Csctp", OrigH: netip.AddrFrom16(a("192.168.170.8").As16()), OrigP: 7,
			RespH: netip.AddrFrom16(a("192.168.170.56").As16()), RespP: 7, Proto: ProtoUnknown, IPProto: 132,
			Duration: time.Millisecond, OrigPkts: 3, OrigIPBytes: 300, RespPkts: 3, RespIPBytes: 300, MissedBytes: 0,
		},
		{ // strings that need escaping; empty but set tunnel_parents; no source
			TS: ts.Add(3 * time.Second), UID: "C\tab", OrigH: a("10.1.1.1"), OrigP: 1, RespH: a("10.1.1.2"), RespP: 2,
			Proto: ProtoTCP, IPProto: 6, Service: "-", ConnState: "(empty)", History: "Sh\\\"é\x01\x7f",
			MissedBytes: 1460, OrigPkts: 1, OrigIPBytes: 40, TunnelParents: []string{},
			CommunityID: "1:not,a\ttab", Label: "Malicious",
		},
		{ // set elements with the set separator, a placeholder, an empty element and invalid UTF-8
			TS: ts.Add(4 * time.Second), UID: "", OrigH: a("10.1.1.3"), OrigP: 3, RespH: a("10.1.1.4"), RespP: 4,
			Proto: ProtoUDP, IPProto: 17, History: "bad\xffutf8\xc3", TunnelParents: []string{"a,b", "-", "", "(empty)"},
		},
	}
}

func sampleRecordsWithIDs() []Record {
	recs := sampleRecords()
	for i := range recs {
		recs[i].CommunityID = recs[i].CommunityIDOrDerived()
	}
	return recs
}

func writeAll(t testing.TB, w Writer, recs []Record) {
	t.Helper()
	for i := range recs {
		if err := w.Write(&recs[i]); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func TestGoldenJSON(t *testing.T) {
	var out bytes.Buffer
	writeAll(t, NewJSONWriter(&out), sampleRecordsWithIDs())
	golden.Check(t, filepath.Join("testdata", "conn.ndjson"), out.Bytes())
}

func TestGoldenZeek(t *testing.T) {
	var out bytes.Buffer
	writeAll(t, NewZeekWriter(&out), sampleRecordsWithIDs())
	golden.Check(t, filepath.Join("testdata", "conn.log"), out.Bytes())
}

// want returns what a reader of either format should get back from r:
// times and durations at microsecond resolution, unset optional fields
// cleared, addresses unmapped, the IP protocol filled in, no label.
func want(r Record) Record {
	if r.HasDuration() {
		r.Duration = time.Duration(durationMicros(&r)) * time.Microsecond
	} else {
		r.Duration, r.OrigBytes, r.RespBytes = 0, 0, 0
	}
	r.TS = time.UnixMicro(r.TS.UnixMicro()).UTC()
	r.OrigH, r.RespH = r.OrigH.Unmap(), r.RespH.Unmap()
	r.IPProto = r.IPProtocol()
	r.Label = ""
	return r
}

func TestJSONRoundTrip(t *testing.T) {
	recs := sampleRecordsWithIDs()
	var out bytes.Buffer
	writeAll(t, NewJSONWriter(&out), recs)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(recs) {
		t.Fatalf("%d lines for %d records", len(lines), len(recs))
	}
	for i, line := range lines {
		if !utf8.ValidString(line) {
			t.Errorf("line %d is not valid UTF-8: %q", i+1, line)
		}
		got, err := recordFromJSON([]byte(line))
		if err != nil {
			t.Fatalf("line %d: %v\n%s", i+1, err, line)
		}
		w := want(recs[i])
		w.UID, w.History = jsonText(w.UID), jsonText(w.History)
		for j, p := range w.TunnelParents {
			w.TunnelParents[j] = jsonText(p)
		}
		if diff := cmp.Diff(got, w, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("line %d read back (-got +want):\n%s", i+1, diff)
		}
	}
}

// jsonText is the text a JSON reader gets for s from Zeek's JSON writer:
// s itself, with each byte that is not valid UTF-8 replaced by \xNN.
func jsonText(s string) string {
	var b []byte
	for i := 0; i < len(s); {
		if invalid, size := invalidUTF8At(s, i); invalid {
			b = appendHexEscape(b, s[i])
			i++
		} else {
			b = append(b, s[i:i+size]...)
			i += size
		}
	}
	return string(b)
}

// recordFromJSON reads one JSON line back with encoding/json, strictly:
// unknown keys, wrong types and unset fields written as null are errors.
func recordFromJSON(line []byte) (Record, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return Record{}, err
	}
	var r Record
	var errs []error
	str := func(k string, dst *string) {
		if v, ok := m[k]; ok {
			errs = append(errs, json.Unmarshal(v, dst))
		}
	}
	num := func(k string, bits int, set func(uint64)) {
		if v, ok := m[k]; ok {
			u, err := strconv.ParseUint(string(v), 10, bits)
			errs = append(errs, err)
			set(u)
		}
	}
	addr := func(k string, dst *netip.Addr) {
		var s string
		str(k, &s)
		if s != "" {
			a, err := netip.ParseAddr(s)
			errs = append(errs, err)
			*dst = a
		}
	}
	seconds := func(k string) (us int64, ok bool) {
		v, ok := m[k]
		if !ok {
			return 0, false
		}
		if !bytes.Contains(v, []byte(".")) {
			errs = append(errs, fmt.Errorf("%s: %s has no decimal point", k, v))
		}
		f, err := strconv.ParseFloat(string(v), 64)
		errs = append(errs, err)
		return int64(math.Round(f * 1e6)), true
	}
	for k := range m {
		if !jsonKnown[k] {
			errs = append(errs, fmt.Errorf("unknown key %q", k))
		}
	}
	if us, ok := seconds("ts"); ok {
		r.TS = time.UnixMicro(us).UTC()
	}
	str("uid", &r.UID)
	addr("id.orig_h", &r.OrigH)
	num("id.orig_p", 16, func(u uint64) { r.OrigP = uint16(u) })
	addr("id.resp_h", &r.RespH)
	num("id.resp_p", 16, func(u uint64) { r.RespP = uint16(u) })
	str("proto", &r.Proto)
	str("service", &r.Service)
	if us, ok := seconds("duration"); ok {
		r.Duration = time.Duration(us) * time.Microsecond
	}
	num("orig_bytes", 64, func(u uint64) { r.OrigBytes = u })
	num("resp_bytes", 64, func(u uint64) { r.RespBytes = u })
	str("conn_state", &r.ConnState)
	num("missed_bytes", 64, func(u uint64) { r.MissedBytes = u })
	str("history", &r.History)
	num("orig_pkts", 64, func(u uint64) { r.OrigPkts = u })
	num("orig_ip_bytes", 64, func(u uint64) { r.OrigIPBytes = u })
	num("resp_pkts", 64, func(u uint64) { r.RespPkts = u })
	num("resp_ip_bytes", 64, func(u uint64) { r.RespIPBytes = u })
	if v, ok := m["tunnel_parents"]; ok {
		r.TunnelParents = []string{}
		errs = append(errs, json.Unmarshal(v, &r.TunnelParents))
	}
	num("ip_proto", 8, func(u uint64) { r.IPProto = uint8(u) })
	str("community_id", &r.CommunityID)
	num("vlan", 16, func(u uint64) { r.VLAN = uint16(u) })
	num("inner_vlan", 16, func(u uint64) { r.InnerVLAN = uint16(u) })
	var src string
	str("source", &src)
	r.Source = ParseSource(src)
	for _, k := range []string{"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "missed_bytes", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes"} {
		if _, ok := m[k]; !ok {
			errs = append(errs, fmt.Errorf("missing %q", k))
		}
	}
	return r, errors.Join(errs...)
}

var jsonKnown = map[string]bool{
	"ts": true, "uid": true, "id.orig_h": true, "id.orig_p": true, "id.resp_h": true, "id.resp_p": true,
	"proto": true, "service": true, "duration": true, "orig_bytes": true, "resp_bytes": true, "conn_state": true,
	"missed_bytes": true, "history": true, "orig_pkts": true, "orig_ip_bytes": true, "resp_pkts": true,
	"resp_ip_bytes": true, "tunnel_parents": true, "ip_proto": true, "community_id": true, "vlan": true,
	"inner_vlan": true, "source": true,
}

func TestJSONFieldOrderAndForms(t *testing.T) {
	recs := sampleRecordsWithIDs()
	first := string(AppendJSON(nil, &recs[0]))
	wantFirst := `{"ts":1258531221.486539,"uid":"CHhAvVGS1DHFjwGM9","id.orig_h":"192.168.1.102","id.orig_p":49285,` +
		`"id.resp_h":"192.150.187.43","id.resp_p":80,"proto":"tcp","service":"http","duration":0.16382,` +
		`"orig_bytes":301,"resp_bytes":3512,"conn_state":"SF","missed_bytes":0,"history":"ShADadfF",` +
		`"orig_pkts":7,"orig_ip_bytes":673,"resp_pkts":6,"resp_ip_bytes":3832,"ip_proto":6,` +
		`"community_id":"` + recs[0].CommunityID + `","source":"pcap"}`
	if first != wantFirst {
		t.Errorf("first record:\n got %s\nwant %s", first, wantFirst)
	}
	tests := []struct {
		name string
		rec  int
		has  []string
		not  []string
	}{
		{"whole seconds keep a decimal", 1, []string{`"ts":1300475167.0,`, `"duration":2.0,`, `"vlan":100,"inner_vlan":200`, `"resp_bytes":0`}, nil},
		{"zero duration leaves out duration and bytes", 2, []string{`"conn_state":"OTH"`}, []string{"duration", "orig_bytes", "resp_bytes", "service", "history", "tunnel_parents", "vlan"}},
		{"ICMPv6 by name, tunnel parents", 3, []string{`"ip_proto":58`, `"tunnel_parents":["CtPZjS20MLrsMUOJi2","Ck51lg1bScffFj34Ri"]`, `"duration":0.000001`}, nil},
		{"IPv4-mapped written as IPv4", 4, []string{`"id.orig_h":"192.168.170.8"`, `"ip_proto":132`}, []string{"source"}},
		{"escapes", 5, []string{`"uid":"C\tab"`, `"history":"Sh\\\"é\u0001` + "\x7f" + `"`, `"tunnel_parents":[]`}, []string{"Malicious", "label"}},
		{"invalid UTF-8 as text", 6, []string{`"history":"bad\\xffutf8\\xc3"`, `"uid":""`}, nil},
	}
	for _, tt := range tests {
		line := string(AppendJSON(nil, &recs[tt.rec]))
		for _, s := range tt.has {
			if !strings.Contains(line, s) {
				t.Errorf("%s: %s lacks %s", tt.name, line, s)
			}
		}
		for _, s := range tt.not {
			if strings.Contains(line, s) {
				t.Errorf("%s: %s has %s", tt.name, line, s)
			}
		}
	}
}

func TestJSONTimeForms(t *testing.T) {
	tests := []struct {
		us   int64
		want string
	}{
		{1258531221486539, "1258531221.486539"},
		{1300475167000000, "1300475167.0"},
		{1300475167100000, "1300475167.1"},
		{1, "0.000001"},
		{0, "0.0"},
	}
	for _, tt := range tests {
		if got := string(appendJSONTime(nil, tt.us)); got != tt.want {
			t.Errorf("appendJSONTime(%d) = %s, want %s", tt.us, got, tt.want)
		}
	}
	// Durations are written as the float of their microseconds would be.
	for _, us := range []int64{0, 1, 9, 10, 100000, 163820, 999999, 1000000, 2000000, 86400123456, 1e15 - 1, 1e15, 1e17 + 3} {
		if got, want := string(appendJSONSeconds(nil, us)), string(appendJSONFloat(nil, float64(us)/1e6)); got != want {
			t.Errorf("appendJSONSeconds(%d) = %s, float form %s", us, got, want)
		}
	}
	for us := int64(0); us < 3e6; us += 997 {
		if got, want := string(appendJSONSeconds(nil, us)), string(appendJSONFloat(nil, float64(us)/1e6)); got != want {
			t.Fatalf("appendJSONSeconds(%d) = %s, float form %s", us, got, want)
		}
	}
	// Every microsecond of a day round-trips through the float.
	base := int64(1700000000) * 1e6
	for us := base; us < base+86400*1e6; us += 7919 {
		s := appendJSONTime(nil, us)
		f, err := strconv.ParseFloat(string(s), 64)
		if err != nil || int64(math.Round(f*1e6)) != us {
			t.Fatalf("%d µs written as %s, read back %v (%v)", us, s, f, err)
		}
	}
}

func TestNewWriter(t *testing.T) {
	for _, f := range []string{FormatJSON, FormatZeek} {
		w, err := NewWriter(f, &bytes.Buffer{})
		if err != nil || w == nil {
			t.Errorf("NewWriter(%q): %v", f, err)
		}
	}
	if _, err := NewWriter("csv", &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), `"csv"`) {
		t.Errorf("NewWriter(csv): error %v, want one naming the format", err)
	}
}

// failWriter fails every write.
type failWriter struct{}

var errDiskFull = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestWriterErrors(t *testing.T) {
	r := sampleRecords()[0]
	for _, f := range []string{FormatJSON, FormatZeek} {
		w, _ := NewWriter(f, failWriter{})
		if err := w.Write(&r); err != nil {
			t.Errorf("%s: buffered write failed early: %v", f, err)
		}
		err := w.Close()
		if !errors.Is(err, errDiskFull) || !strings.HasPrefix(err.Error(), "flow: "+f+":") {
			t.Errorf("%s: close error %v, want a wrapped errDiskFull naming the format", f, err)
		}
		if err := w.Write(&r); err == nil || !strings.Contains(err.Error(), "after close") {
			t.Errorf("%s: write after close: %v", f, err)
		}
	}
}

func TestWritersDoNotAllocate(t *testing.T) {
	recs := sampleRecordsWithIDs()
	for _, f := range []string{FormatJSON, FormatZeek} {
		w, _ := NewWriter(f, discard{})
		i := 0
		allocs := testing.AllocsPerRun(1000, func() {
			if err := w.Write(&recs[i%len(recs)]); err != nil {
				t.Fatal(err)
			}
			i++
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per record, want 0", f, allocs)
		}
	}
}

// discard is io.Discard without its ReadFrom fast paths, like a file.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// FuzzJSONString checks that encoding/json parses every line AppendJSON
// writes and gives back the strings it was given (bytes that are not valid
// UTF-8 come back as the text \xNN, as from Zeek).
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "tab\there", `quote"back\slash`, "\x00\x1f\x7f", "é€😀", "\xff\xc3(", "\u2028\u2029", "-", "(empty)", "a,b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := Record{TS: time.Unix(1, 0), UID: s, Proto: s, Service: s, ConnState: s, History: s, CommunityID: s, TunnelParents: []string{s, s}}
		line := AppendJSON(nil, &r)
		if bytes.IndexByte(line, '\n') >= 0 || !utf8.Valid(line) {
			t.Fatalf("line is not one valid UTF-8 line: %q", line)
		}
		var got struct {
			UID           string   `json:"uid"`
			Proto         string   `json:"proto"`
			Service       *string  `json:"service"`
			ConnState     *string  `json:"conn_state"`
			History       *string  `json:"history"`
			CommunityID   *string  `json:"community_id"`
			TunnelParents []string `json:"tunnel_parents"`
		}
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("encoding/json rejects %q: %v", line, err)
		}
		want := jsonText(s)
		if got.UID != want || got.Proto != want || !reflect.DeepEqual(got.TunnelParents, []string{want, want}) {
			t.Fatalf("read back %+v, want %q everywhere", got, want)
		}
		for _, p := range []*string{got.Service, got.ConnState, got.History, got.CommunityID} {
			if (s == "") != (p == nil) || (p != nil && *p != want) {
				t.Fatalf("optional field: got %v, want %q (left out when empty)", p, want)
			}
		}
	})
}

func BenchmarkJSONWriter(b *testing.B) {
	benchmarkWriter(b, FormatJSON)
}

func BenchmarkZeekWriter(b *testing.B) {
	benchmarkWriter(b, FormatZeek)
}

func benchmarkWriter(b *testing.B, format string) {
	recs := sampleRecordsWithIDs()[:5] // the realistic ones
	w, err := NewWriter(format, discard{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := w.Write(&recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// Compile-time checks that both writers are Writers.
var (
	_ Writer = (*JSONWriter)(nil)
	_ Writer = (*ZeekWriter)(nil)
)

// regexpOpen matches Zeek's #open/#close value.
var regexpOpen = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}$`)

// TestWritersDeriveCommunityID: a record without a Community ID (read from a
// log without the column) is written exactly as if it carried the derived
// one, and one that cannot have an ID is written without it.
func TestWritersDeriveCommunityID(t *testing.T) {
	for i, without := range sampleRecords() {
		without.CommunityID = ""
		with := without
		with.CommunityID = without.CommunityIDOrDerived()
		for _, w := range []struct {
			name   string
			append func([]byte, *Record) []byte
		}{{"json", AppendJSON}, {"zeek", AppendZeek}} {
			if got, want := string(w.append(nil, &without)), string(w.append(nil, &with)); got != want {
				t.Errorf("record %d, %s: without an ID\n got %s\nwant %s", i, w.name, got, want)
			}
		}
	}
}
