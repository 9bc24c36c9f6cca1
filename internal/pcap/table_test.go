package pcap

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/flow"
)

// tp describes a synthetic packet for table tests.
type tp struct {
	ms       int64  // time in milliseconds from the start
	from, to string // "addr:port"
	proto    uint8  // 0 means TCP
	flags    string // TCP flags: S A F R P
	seq, ack uint32
	n        int // payload length
	win      uint16
	typ      uint16 // ICMP type (from's port is ignored)
	code     uint16
}

var testBase = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()

func (x tp) packet(tb testing.TB) Packet {
	tb.Helper()
	src := netip.MustParseAddrPort(x.from)
	dst := netip.MustParseAddrPort(x.to)
	p := Packet{TS: testBase + x.ms*int64(time.Millisecond), Src: src.Addr().As16(), Dst: dst.Addr().As16(),
		V6: src.Addr().Is6() && !src.Addr().Is4In6(), IPProto: x.proto, SrcPort: src.Port(), DstPort: dst.Port(),
		Parent: -1, WScale: -1, Window: x.win}
	if p.IPProto == 0 {
		p.IPProto = ipProtoTCP
	}
	hdr := uint32(20)
	switch p.IPProto {
	case ipProtoTCP:
		hdr += 20
		for _, c := range x.flags {
			p.TCPFlags |= map[rune]uint8{'S': FlagSYN, 'A': FlagACK, 'F': FlagFIN, 'R': FlagRST, 'P': FlagPSH}[c]
		}
		p.Seq, p.Ack = x.seq, x.ack
		if x.win == 0 && !strings.Contains(x.flags, "W") {
			p.Window = 65535
		}
	case ipProtoUDP:
		hdr += 8
	case ipProtoICMP:
		hdr += 8
		p.SrcPort, p.DstPort = x.typ, x.code
	}
	p.PayloadLen = uint32(x.n)
	p.Payload = make([]byte, x.n)
	p.IPLen = hdr + uint32(x.n)
	return p
}

// runTable feeds the packets to a table and returns the emitted records.
func runTable(tb testing.TB, cfg TableConfig, pkts []tp) ([]flow.Record, TableStats) {
	tb.Helper()
	var out []flow.Record
	t := NewTable(cfg, func(r *flow.Record) error {
		c := *r
		c.TunnelParents = append([]string(nil), r.TunnelParents...)
		out = append(out, c)
		return nil
	})
	for i, x := range pkts {
		p := x.packet(tb)
		if _, err := t.Add(&p, FlowRef{}); err != nil {
			tb.Fatalf("packet %d: %v", i, err)
		}
	}
	if err := t.Flush(); err != nil {
		tb.Fatalf("flush: %v", err)
	}
	return out, t.Stats()
}

// summary renders the fields the table tests check.
func summary(r flow.Record) string {
	dur := "-"
	ob, rb := "-", "-"
	if r.HasDuration() {
		dur = "d"
		ob, rb = fmt.Sprint(r.OrigBytes), fmt.Sprint(r.RespBytes)
	}
	return fmt.Sprintf("%s %s:%d>%s:%d %s %s %s/%s pk=%d/%d ip=%d/%d miss=%d %s svc=%s", r.Proto, r.OrigH, r.OrigP, r.RespH, r.RespP,
		r.ConnState, r.History, ob, rb, r.OrigPkts, r.RespPkts, r.OrigIPBytes, r.RespIPBytes, r.MissedBytes, dur, r.Service)
}

const (
	cli = "10.0.0.1:40000"
	srv = "10.0.0.2:80"
)

func TestTableZeekStates(t *testing.T) {
	handshake := []tp{
		{ms: 0, from: cli, to: srv, flags: "S", seq: 100},
		{ms: 1, from: srv, to: cli, flags: "SA", seq: 500, ack: 101},
		{ms: 2, from: cli, to: srv, flags: "A", seq: 101, ack: 501},
	}
	cat := func(parts ...[]tp) []tp {
		var out []tp
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name string
		pkts []tp
		want []string
	}{
		{"full connection", cat(handshake, []tp{
			{ms: 3, from: cli, to: srv, flags: "AP", seq: 101, ack: 501, n: 10},
			{ms: 4, from: srv, to: cli, flags: "AP", seq: 501, ack: 111, n: 20},
			{ms: 5, from: cli, to: srv, flags: "FA", seq: 111, ack: 521},
			{ms: 6, from: srv, to: cli, flags: "FA", seq: 521, ack: 112},
			{ms: 7, from: cli, to: srv, flags: "A", seq: 112, ack: 522},
		}), []string{"tcp 10.0.0.1:40000>10.0.0.2:80 SF ShADdFf 10/20 pk=5/3 ip=210/140 miss=0 d svc="}},
		{"attempt", []tp{{ms: 0, from: cli, to: srv, flags: "S", seq: 1}, {ms: 1000, from: cli, to: srv, flags: "S", seq: 1}, {ms: 3000, from: cli, to: srv, flags: "S", seq: 1}},
			[]string{"tcp 10.0.0.1:40000>10.0.0.2:80 S0 S 0/0 pk=3/0 ip=120/0 miss=0 d svc="}},
		{"attempt expires after tcp_attempt_delay", []tp{{ms: 0, from: cli, to: srv, flags: "S", seq: 1}, {ms: 6000, from: cli, to: srv, flags: "S", seq: 1}},
			[]string{"tcp 10.0.0.1:40000>10.0.0.2:80 S0 S -/- pk=1/0 ip=40/0 miss=0 - svc=",
				"tcp 10.0.0.1:40000>10.0.0.2:80 S0 S -/- pk=1/0 ip=40/0 miss=0 - svc="}},
		{"rejected", []tp{{ms: 0, from: cli, to: srv, flags: "S", seq: 1}, {ms: 1, from: srv, to: cli, flags: "RA", seq: 0, ack: 2}},
			[]string{"tcp 10.0.0.1:40000>10.0.0.2:80 REJ Sr 0/0 pk=1/1 ip=40/40 miss=0 d svc="}},
		{"a retried SYN after a reject is a new connection", []tp{{ms: 0, from: cli, to: srv, flags: "S", seq: 1},
			{ms: 1, from: srv, to: cli, flags: "RA", seq: 0, ack: 2}, {ms: 500, from: cli, to: srv, flags: "S", seq: 1}},
			[]string{"tcp 10.0.0.1:40000>10.0.0.2:80 REJ Sr 0/0 pk=1/1 ip=40/40 miss=0 d svc=",
				"tcp 10.0.0.1:40000>10.0.0.2:80 S0 S -/- pk=1/0 ip=40/0 miss=0 - svc="}},
		{"originator abort", cat(handshake, []tp{{ms: 3, from: cli, to: srv, flags: "RA", seq: 101, ack: 501}}),
			[]string{"tcp 10.0.0.1:40000>10.0.0.2:80 RSTO ShAR 0/0 pk=3/1 ip=120/40 miss=0 d svc="}},
		{"SYN then RST", []tp{{ms: 0, from: cli, to: srv, flags: "S", seq: 1}, {ms: 1, from: cli, to: srv, flags: "R", seq: 2}},
			[]string{"tcp 10.0.0.1:40000>10.0.0.2:80 RSTOS0 SR 0/0 pk=2/0 ip=80/0 miss=0 d svc="}},
		{"half open", []tp{{ms: 0, from: cli, to: srv, flags: "S", seq: 1}, {ms: 1, from: cli, to: srv, flags: "F", seq: 2}},
			[]string{"tcp 10.0.0.1:40000>10.0.0.2:80 SH SF 0/0 pk=2/0 ip=80/0 miss=0 d svc="}},
		{"SYN-ACK first is flipped, then established", []tp{{ms: 0, from: srv, to: cli, flags: "SA", seq: 500, ack: 101}, {ms: 1, from: cli, to: srv, flags: "A", seq: 101, ack: 501}},
			[]string{"tcp 10.0.0.1:40000>10.0.0.2:80 S1 ^hA 0/0 pk=1/1 ip=40/40 miss=0 d svc="}},
		{"midstream data", []tp{{ms: 0, from: cli, to: srv, flags: "AP", seq: 1000, ack: 9000, n: 100}, {ms: 1, from: srv, to: cli, flags: "A", seq: 9000, ack: 1100}},
			[]string{"tcp 10.0.0.1:40000>10.0.0.2:80 OTH Da 100/0 pk=1/1 ip=140/40 miss=0 d svc="}},
		{"retransmissions are logged at 1, 10, 100", cat(handshake, func() []tp {
			var out []tp
			for i := 0; i < 12; i++ {
				out = append(out, tp{ms: int64(3 + i), from: cli, to: srv, flags: "AP", seq: 101, ack: 501, n: 10})
			}
			return out
		}()), []string{"tcp 10.0.0.1:40000>10.0.0.2:80 S1 ShADTT 10/0 pk=14/1 ip=680/40 miss=0 d svc="}},
		{"zero window", cat(handshake, []tp{{ms: 3, from: srv, to: cli, flags: "AW", seq: 501, ack: 101}}),
			[]string{"tcp 10.0.0.1:40000>10.0.0.2:80 S1 ShAaw 0/0 pk=2/2 ip=80/80 miss=0 d svc="}},
		{"content gap", cat(handshake, []tp{
			{ms: 3, from: cli, to: srv, flags: "AP", seq: 101, ack: 501, n: 100},
			{ms: 4, from: cli, to: srv, flags: "AP", seq: 301, ack: 501, n: 100},
			{ms: 5, from: srv, to: cli, flags: "A", seq: 501, ack: 401},
		}), []string{"tcp 10.0.0.1:40000>10.0.0.2:80 S1 ShADaG 300/0 pk=4/2 ip=360/80 miss=100 d svc="}},
		{"connection reuse", cat(handshake, []tp{
			{ms: 3, from: cli, to: srv, flags: "FA", seq: 101, ack: 501},
			{ms: 4, from: srv, to: cli, flags: "FA", seq: 501, ack: 102},
			{ms: 100, from: cli, to: srv, flags: "S", seq: 7000},
		}), []string{"tcp 10.0.0.1:40000>10.0.0.2:80 SF ShAFf 0/0 pk=3/2 ip=120/80 miss=0 d svc=",
			"tcp 10.0.0.1:40000>10.0.0.2:80 S0 S -/- pk=1/0 ip=40/0 miss=0 - svc="}},
		{"UDP reply first is flipped", []tp{{ms: 0, from: "10.0.0.2:53", to: "10.0.0.1:5000", proto: ipProtoUDP, n: 30}},
			[]string{"udp 10.0.0.1:5000>10.0.0.2:53 SHR ^d -/- pk=0/1 ip=0/58 miss=0 - svc="}},
		{"UDP both ways", []tp{{ms: 0, from: "10.0.0.1:5000", to: "10.0.0.2:9999", proto: ipProtoUDP, n: 30},
			{ms: 10, from: "10.0.0.2:9999", to: "10.0.0.1:5000", proto: ipProtoUDP, n: 3}},
			[]string{"udp 10.0.0.1:5000>10.0.0.2:9999 SF Dd 30/3 pk=1/1 ip=58/31 miss=0 d svc="}},
		{"UDP inactivity timeout", []tp{{ms: 0, from: "10.0.0.1:5000", to: "10.0.0.2:9999", proto: ipProtoUDP, n: 1},
			{ms: 61000, from: "10.0.0.1:5000", to: "10.0.0.2:9999", proto: ipProtoUDP, n: 1}},
			[]string{"udp 10.0.0.1:5000>10.0.0.2:9999 S0 D -/- pk=1/0 ip=29/0 miss=0 - svc=",
				"udp 10.0.0.1:5000>10.0.0.2:9999 S0 D -/- pk=1/0 ip=29/0 miss=0 - svc="}},
		{"ICMP echo pairs request and reply", []tp{{ms: 0, from: "10.0.0.1:0", to: "10.0.0.2:0", proto: ipProtoICMP, typ: 8, n: 56},
			{ms: 1, from: "10.0.0.2:0", to: "10.0.0.1:0", proto: ipProtoICMP, typ: 0, n: 56}},
			[]string{"icmp 10.0.0.1:8>10.0.0.2:0 OTH  56/56 pk=1/1 ip=84/84 miss=0 d svc="}},
		{"ICMP unreachable logs the code", []tp{{ms: 0, from: "10.0.0.1:0", to: "10.0.0.2:0", proto: ipProtoICMP, typ: 3, code: 3, n: 28}},
			[]string{"icmp 10.0.0.1:3>10.0.0.2:3 OTH  -/- pk=1/0 ip=56/0 miss=0 - svc="}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, _ := runTable(t, DefaultTableConfig(), tc.pkts)
			var got []string
			for _, r := range recs {
				got = append(got, summary(r))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("records:\n-%s\n+%s", strings.Join(tc.want, "\n-"), strings.Join(got, "\n+"))
			}
			for _, r := range recs {
				if len(r.UID) != 18 || r.UID[0] != 'C' || r.Source != flow.SourcePcap || r.CommunityID == "" {
					t.Errorf("record %s: uid %q source %v community id %q", summary(r), r.UID, r.Source, r.CommunityID)
				}
			}
		})
	}
}

func TestTableServiceFromContent(t *testing.T) {
	hs := func(port string) []tp {
		s := "10.0.0.2:" + port
		return []tp{
			{ms: 0, from: cli, to: s, flags: "S", seq: 100},
			{ms: 1, from: s, to: cli, flags: "SA", seq: 500, ack: 101},
			{ms: 2, from: cli, to: s, flags: "A", seq: 101, ack: 501},
		}
	}
	tests := []struct {
		name      string
		port      string
		orig, rsp string
		want      string
	}{
		{"http on 80", "80", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "", "http"},
		{"http elsewhere needs the reply", "5000", "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n", "http"},
		{"tls anywhere", "9999", "\x16\x03\x01\x00\x10\x01\x00\x00\x0c\x03\x03", "", "ssl"},
		{"ssh", "2222", "SSH-2.0-OpenSSH_9.0\r\n", "SSH-2.0-OpenSSH_8.0\r\n", "ssh"},
		{"smtp", "25", "EHLO x\r\n", "220 mail ESMTP\r\n", "smtp"},
		{"ftp", "21", "USER anonymous\r\n", "220 ftp ready\r\n", "ftp"},
		{"nothing", "9999", "hello", "world", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := "10.0.0.2:" + tc.port
			pk := hs(tc.port)
			p1 := tp{ms: 3, from: cli, to: s, flags: "AP", seq: 101, ack: 501, n: len(tc.orig)}
			pk = append(pk, p1)
			var rsp []tp
			if tc.rsp != "" {
				rsp = append(rsp, tp{ms: 4, from: s, to: cli, flags: "AP", seq: 501, ack: 101 + uint32(len(tc.orig)), n: len(tc.rsp)})
			}
			pk = append(pk, rsp...)
			var out []flow.Record
			tab := NewTable(DefaultTableConfig(), func(r *flow.Record) error { out = append(out, *r); return nil })
			for i, x := range pk {
				p := x.packet(t)
				switch {
				case i == 3:
					p.Payload = []byte(tc.orig)
				case i == 4:
					p.Payload = []byte(tc.rsp)
				}
				if _, err := tab.Add(&p, FlowRef{}); err != nil {
					t.Fatal(err)
				}
			}
			if err := tab.Flush(); err != nil {
				t.Fatal(err)
			}
			if len(out) != 1 || out[0].Service != tc.want {
				t.Fatalf("service: -%q +%v", tc.want, out)
			}
		})
	}
}

func TestTableEvictsWhenFull(t *testing.T) {
	cfg := DefaultTableConfig()
	cfg.MaxFlows = 10
	var pk []tp
	for i := 0; i < 100; i++ {
		pk = append(pk, tp{ms: int64(i), from: fmt.Sprintf("10.0.0.1:%d", 1000+i), to: srv, flags: "S", seq: 1})
	}
	recs, st := runTable(t, cfg, pk)
	if len(recs) != 100 || st.Evicted != 90 || st.Peak != 10 {
		t.Fatalf("records %d evicted %d peak %d, want 100, 90, 10", len(recs), st.Evicted, st.Peak)
	}
}

func TestTableAddAllocatesNothing(t *testing.T) {
	tab := NewTable(DefaultTableConfig(), func(*flow.Record) error { return nil })
	var pkts []Packet
	for i := 0; i < 256; i++ {
		from := fmt.Sprintf("10.0.%d.%d:%d", i/200, i%200, 1024+i)
		pkts = append(pkts,
			tp{from: from, to: srv, flags: "S", seq: 1}.packet(t),
			tp{from: srv, to: from, flags: "SA", seq: 9, ack: 2}.packet(t),
			tp{from: from, to: srv, flags: "AP", seq: 2, ack: 10, n: 100}.packet(t))
	}
	ts := testBase
	run := func() {
		for i := range pkts {
			ts += 1000
			pkts[i].TS = ts
			if _, err := tab.Add(&pkts[i], FlowRef{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	run() // warm up: table slots, map buckets, wheel buckets
	if a := testing.AllocsPerRun(20, run); a != 0 {
		t.Errorf("Add allocates %.1f times per %d packets, want 0", a, len(pkts))
	}
}

func TestUIDsAreDeterministicAndUnique(t *testing.T) {
	var g1, g2 uidGen
	g1.init(7)
	g2.init(7)
	seen := make(map[string]bool, 200000)
	for i := 0; i < 200000; i++ {
		a, b := g1.format(g1.next()), g2.format(g2.next())
		if a != b || len(a) != 18 || a[0] != 'C' {
			t.Fatalf("uid %d: %q vs %q", i, a, b)
		}
		if seen[a] {
			t.Fatalf("uid %q repeated", a)
		}
		seen[a] = true
	}
}

// TestMeterBoundedUnderSYNFlood meters the spoofed SYN floods with a small
// table: the limit holds, evictions are counted and every flow is still
// reported.
func TestMeterBoundedUnderSYNFlood(t *testing.T) {
	dir := agreeDataDir(t)
	for _, name := range []string{"pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng", "amp.TCP.syn.optionallyACK.optionallysamePort.pcapng"} {
		path := filepath.Join(dir, "stopddos-pcaps", name)
		cfg := DefaultConfig()
		cfg.Table.MaxFlows = 500
		var flows uint64
		sum, err := ReadFiles(context.Background(), []string{path}, cfg, func(*flow.Record) error {
			flows++
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %d packets, %d flows, peak %d held, %d evicted", name, sum.Packets, sum.Flows, sum.PeakFlows, sum.Evicted)
		if sum.PeakFlows > cfg.Table.MaxFlows {
			t.Errorf("%s: peak %d flows held, limit %d", name, sum.PeakFlows, cfg.Table.MaxFlows)
		}
		if sum.Flows != flows || flows == 0 {
			t.Errorf("%s: summary says %d flows, %d emitted", name, sum.Flows, flows)
		}
		if name == "pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng" && sum.Evicted == 0 {
			t.Errorf("%s: no evictions counted with a %d-flow limit", name, cfg.Table.MaxFlows)
		}
	}
}

// TestWheelStaysBounded closes many connections early (leaving stale timer
// entries) and replays packets slightly out of order (overdue deadlines):
// the timer wheel must stay proportional to the table.
func TestWheelStaysBounded(t *testing.T) {
	tab := NewTable(DefaultTableConfig(), func(*flow.Record) error { return nil })
	ms := int64(0)
	for i := 0; i < 20000; i++ {
		c := fmt.Sprintf("10.1.%d.%d:%d", i/250%250, i%250, 1024+i%50000)
		for _, x := range []tp{
			{from: c, to: srv, flags: "S", seq: 1},
			{from: srv, to: c, flags: "SA", seq: 9, ack: 2},
			{from: c, to: srv, flags: "A", seq: 2, ack: 10},
			{from: c, to: srv, flags: "FA", seq: 2, ack: 10},
			{from: srv, to: c, flags: "FA", seq: 10, ack: 3},
		} {
			ms += 3
			x.ms = ms
			if i%7 == 0 {
				x.ms -= 2000 // out of order: behind the table's clock
			}
			p := x.packet(t)
			if _, err := tab.Add(&p, FlowRef{}); err != nil {
				t.Fatal(err)
			}
			if limit := 2*tab.index.len() + 4096 + 1; tab.wheel.entries > limit {
				t.Fatalf("after %d connections the wheel holds %d entries for %d flows", i, tab.wheel.entries, tab.index.len())
			}
		}
	}
}

func TestTableAdvanceEndsIdleConnections(t *testing.T) {
	var n int
	tab := NewTable(DefaultTableConfig(), func(*flow.Record) error { n++; return nil })
	p := tp{from: "10.0.0.1:5000", to: "10.0.0.2:9999", proto: ipProtoUDP, n: 1}.packet(t)
	if _, err := tab.Add(&p, FlowRef{}); err != nil {
		t.Fatal(err)
	}
	if err := tab.Advance(p.TS + int64(30*time.Second)); err != nil || n != 0 {
		t.Fatalf("after 30 s: %d records, err %v; want none", n, err)
	}
	if err := tab.Advance(p.TS + int64(62*time.Second)); err != nil || n != 1 || tab.Stats().Active != 0 {
		t.Fatalf("after 62 s: %d records, %d held, err %v; want the UDP flow ended", n, tab.Stats().Active, err)
	}
}

// A UDP connection whose only packets failed their checksum waits out its
// inactivity timeout like any other (Zeek arms the timer when it makes the
// connection); it used to end at the clock's next tick, so a live capture
// reported it before connections that had begun earlier.
func TestTableBadChecksumUDPWaitsItsTimeout(t *testing.T) {
	cfg := DefaultTableConfig()
	cfg.VerifyChecksums = true
	var got []string
	tab := NewTable(cfg, func(r *flow.Record) error { got = append(got, summary(*r)); return nil })
	early := tp{from: "10.0.0.1:40000", to: "10.0.0.2:80", flags: "S"}.packet(t)
	bad := tp{ms: 2000, from: "10.0.0.1:5000", to: "10.0.0.2:53", proto: ipProtoUDP, n: 5}.packet(t)
	bad.BadChecksum = true
	for _, p := range []*Packet{&early, &bad} {
		if _, err := tab.Add(p, FlowRef{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tab.Advance(bad.TS + int64(time.Second)); err != nil || len(got) != 0 {
		t.Fatalf("1 s after the bad packet: %q, err %v; want nothing ended", got, err)
	}
	if err := tab.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "tcp") || !strings.Contains(got[1], " OTH C ") {
		t.Fatalf("flushed %q; want the TCP attempt, then the UDP connection with history C", got)
	}
	tab = NewTable(cfg, func(r *flow.Record) error { got = append(got, summary(*r)); return nil })
	got = nil
	if _, err := tab.Add(&bad, FlowRef{}); err != nil {
		t.Fatal(err)
	}
	if err := tab.Advance(bad.TS + int64(61*time.Second)); err != nil || len(got) != 1 {
		t.Fatalf("61 s after the bad packet: %q, err %v; want the UDP connection ended", got, err)
	}
}

func TestParseFTPAnnouncements(t *testing.T) {
	a, p, ok := parseFTPHostPort([]byte("Entering Passive Mode (10,0,0,1,4,1)\r\n"), true)
	if !ok || a != v4mapped(10, 0, 0, 1) || p != 1025 {
		t.Errorf("227: %v %d %v", a, p, ok)
	}
	a, p, ok = parseEPRT([]byte("|2|2001:db8::1|5282|\r\n"))
	if !ok || a != netip.MustParseAddr("2001:db8::1").As16() || p != 5282 {
		t.Errorf("EPRT: %v %d %v", a, p, ok)
	}
	if p, ok := parseEPSV([]byte("Entering Extended Passive Mode (|||6446|)")); !ok || p != 6446 {
		t.Errorf("229: %d %v", p, ok)
	}
	a, p, ok = parseDCCSend([]byte("file.bin 167772161 4000 100\x01"))
	if !ok || a != v4mapped(10, 0, 0, 1) || p != 4000 {
		t.Errorf("DCC SEND: %v %d %v", a, p, ok)
	}
}
