package pcap

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// pk is the part of a Packet the table tests compare.
type pk struct {
	src, dst     string
	proto        uint8
	sport, dport uint16
	ipLen, pLen  uint32
	parent       int8
	tunnel       string
	vlan, ivlan  uint16
	flags        uint8
	wscale       int8
	bad          bool
}

func (p pk) String() string {
	return fmt.Sprintf("{%s>%s p%d %d>%d ip%d pl%d parent%d %q vlan%d/%d fl%#x ws%d bad%v}",
		p.src, p.dst, p.proto, p.sport, p.dport, p.ipLen, p.pLen, p.parent, p.tunnel, p.vlan, p.ivlan, p.flags, p.wscale, p.bad)
}

func summarize(p Packet) pk {
	return pk{
		src: netip.AddrFrom16(p.Src).Unmap().String(), dst: netip.AddrFrom16(p.Dst).Unmap().String(),
		proto: p.IPProto, sport: p.SrcPort, dport: p.DstPort, ipLen: p.IPLen, pLen: p.PayloadLen,
		parent: p.Parent, tunnel: p.Tunnel, vlan: p.VLAN, ivlan: p.InnerVLAN, flags: p.TCPFlags,
		wscale: p.WScale, bad: p.BadChecksum,
	}
}

// udp4 is the plain packet most cases wrap: 10.0.0.1:1234 > 10.0.0.2:53,
// 10 bytes of payload, 38 IP bytes.
func udp4(tb testing.TB) []byte {
	return udpIP(tb, "10.0.0.1", "10.0.0.2", 1234, 53, []byte("0123456789"))
}

var wantUDP4 = pk{src: "10.0.0.1", dst: "10.0.0.2", proto: 17, sport: 1234, dport: 53, ipLen: 38, pLen: 10, parent: -1, wscale: -1}

func with(p pk, f func(*pk)) pk { f(&p); return p }

// inner marks a wanted packet as carried in packet 0 by tunnel t.
func inner(p pk, t string) pk { p.parent, p.tunnel = 0, t; return p }

func outerUDP(src, dst string, sport, dport uint16, ipLen uint32) pk {
	return pk{src: src, dst: dst, proto: 17, sport: sport, dport: dport, ipLen: ipLen, pLen: ipLen - 28, parent: -1, wscale: -1}
}

func TestDecodeFrames(t *testing.T) {
	u4 := udp4(t)
	u6 := udpIP(t, "2001:db8::1", "2001:db8::2", 5000, 443, []byte("hello"))
	want6 := pk{src: "2001:db8::1", dst: "2001:db8::2", proto: 17, sport: 5000, dport: 443, ipLen: 53, pLen: 5, parent: -1, wscale: -1}
	syn := tcpIP(t, "192.0.2.1", "192.0.2.2", 40000, 80, "S", 7, nil)
	wantSyn := pk{src: "192.0.2.1", dst: "192.0.2.2", proto: 6, sport: 40000, dport: 80, ipLen: 48, parent: -1, flags: FlagSYN, wscale: 7}
	bigWS := tcpIP(t, "192.0.2.1", "192.0.2.2", 40000, 80, "S", 20, nil)
	data := tcpIP(t, "192.0.2.2", "192.0.2.1", 80, 40000, "PA", -1, []byte("HTTP/1.1 200 OK\r\n"))
	wantData := pk{src: "192.0.2.2", dst: "192.0.2.1", proto: 6, sport: 80, dport: 40000, ipLen: 57, pLen: 17, parent: -1, flags: FlagPSH | FlagACK, wscale: -1}
	badTCP := append([]byte(nil), data...)
	badTCP[len(badTCP)-1] ^= 0xff
	ping := icmp4(t, "10.1.1.1", "10.1.1.2", 8, 0, make([]byte, 56))
	ping6 := icmp6(t, "fe80::1", "ff02::1", 128, 0, make([]byte, 8))
	sctp := rawIP4(t, "10.2.0.1", "10.2.0.2", 132, cat(u16(2905), u16(2906), make([]byte, 8+16)))
	ospf := rawIP4(t, "10.3.0.1", "224.0.0.5", 89, make([]byte, 44))
	llcSnap := cat([]byte{0xaa, 0xaa, 0x03, 0, 0, 0}, u16(etIPv4), u4)
	dot11Data := cat([]byte{0x08, 0x02, 0, 0}, macA, macB, macA, []byte{0, 0}, llcSnap)
	dot11QoS := cat([]byte{0x88, 0x01, 0, 0}, macA, macB, macA, []byte{0, 0}, []byte{0, 0}, llcSnap)
	radiotap := []byte{0, 0, 8, 0, 0, 0, 0, 0}
	nflogPayload := cat([]byte{2, 0, 0, 0}, // AF_INET, version, resource id
		[]byte{8, 0, 1, 0, 0, 0, 0, 0}, // NFULA_PACKET_HDR, 4 bytes
		binary.LittleEndian.AppendUint16(nil, uint16(4+len(u4))), []byte{9, 0}, u4)
	greIP := cat(u16(0), u16(etIPv4), u4)
	greTEB := cat(u16(greKey), u16(etTransEther), u32(42), ipEth(u4, 7))
	erspan2 := cat(u16(greSeq), u16(etERSPAN2), u32(1), make([]byte, 8), ipEth(u4))
	erspan1 := cat(u16(0), u16(etERSPAN2), ipEth(u4))
	pptp := cat(u16(greKey|greSeq|1), u16(etPPP), u16(uint16(4+len(u4))), u16(9), u32(1), []byte{0xff, 0x03}, u16(pppIPv4), u4)
	vxlan := cat([]byte{0x08, 0, 0, 0, 0, 0, 1, 0}, ipEth(u4, 5))
	geneve := cat([]byte{0, 0}, u16(etTransEther), []byte{0, 0, 1, 0}, ipEth(u4))
	gtp := cat([]byte{0x30, 0xff}, u16(uint16(len(u4))), u32(7), u4)
	gtpSeq := cat([]byte{0x32, 0xff}, u16(uint16(4+len(u4))), u32(7), []byte{0, 1, 0, 0}, u4)
	gtpEcho := cat([]byte{0x32, 0x01}, u16(4), u32(0), []byte{0, 1, 0, 0})
	teredo := u6
	teredoOrigin := cat([]byte{0, 0}, make([]byte, 6), u6)
	teredoBad := cat(u6, []byte{0})
	ayiya := cat([]byte{0x41, 0x52, 0x11, 41}, u32(1), make([]byte, 16+20), u6)
	ayiyaOp2 := cat([]byte{0x41, 0x52, 0x12, 41}, u32(1), make([]byte, 16+20), u6)
	ipip := rawIP4(t, "198.51.100.1", "198.51.100.2", 4, u4)
	sixin4 := rawIP4(t, "198.51.100.1", "198.51.100.2", 41, u6)
	fourin6 := rawIP6(t, "2001:db8::a", "2001:db8::b", 4, u4)
	deep := rawIP4(t, "198.51.100.1", "198.51.100.2", 4, rawIP4(t, "198.51.100.3", "198.51.100.4", 4, rawIP4(t, "198.51.100.5", "198.51.100.6", 4, u4)))
	// IPv6 with hop-by-hop, destination options and a type 0 routing header
	// with one segment left: Zeek keys the connection on the final address.
	final := netip.MustParseAddr("2001:db8::99").As16()
	ext := cat([]byte{60, 0, 1, 4, 0, 0, 0, 0}, // hop-by-hop -> dest opts, PadN
		[]byte{43, 0, 1, 4, 0, 0, 0, 0},           // dest opts -> routing
		[]byte{17, 2, 0, 1, 0, 0, 0, 0}, final[:], // routing type 0, 1 segment left
		u16(7), u16(9), u16(8+3), u16(0), []byte("abc"))
	v6ext := rawIP6(t, "2001:db8::1", "2001:db8::2", 0, ext)
	badVersion := append([]byte(nil), u4...)
	badVersion[0] = 0x55
	badIHL := append([]byte(nil), u4...)
	badIHL[0] = 0x44
	badIPsum := append([]byte(nil), u4...)
	badIPsum[10] ^= 0xff
	lenZero := append([]byte(nil), u4...)
	lenZero[2], lenZero[3] = 0, 0
	// A UDP datagram shorter than its IP payload (trailing bytes).
	udpShort := cat(u4, []byte{0xde, 0xad, 0xbe, 0xef})
	binary.BigEndian.PutUint16(udpShort[2:], uint16(len(udpShort)))
	udpShort[10], udpShort[11] = 0, 0
	binary.BigEndian.PutUint16(udpShort[10:], ^refChecksum(udpShort[:20]))
	tcpDoff := append([]byte(nil), data...)
	tcpDoff[20+12] = 0x30 // data offset 3 words
	sll := cat(u16(0), u16(1), u16(6), macA, []byte{0, 0}, u16(etIPv4), u4)
	sll2 := cat(u16(etIPv6), u16(0), u32(3), u16(1), []byte{0, 6}, macA, []byte{0, 0}, u6)
	fabricPath := eth(etFabricPath, cat(u16(0x0001), macA, macB, u16(etIPv4), u4))
	mpls := eth(etMPLS, cat([]byte{0, 0x01, 0x00, 0x40}, []byte{0, 0x02, 0x01, 0x40}, u4))
	pppoe := eth(etPPPoE, cat([]byte{0x11, 0, 0, 1}, u16(uint16(2+len(u4))), u16(pppIPv4), u4))

	noCsum := DefaultOptions()
	noCsum.VerifyChecksums = false

	cases := []struct {
		name string
		lt   layers.LinkType
		data []byte
		wire int
		opt  *Options
		want []pk
		errs string // ErrorsString of the decoder's stats
		// nonIP is set when the frame must count as non-IP
		nonIP bool
	}{
		{name: "ethernet ipv4 udp", lt: 1, data: ipEth(u4), want: []pk{wantUDP4}},
		{name: "ethernet ipv6 udp", lt: 1, data: ipEth(u6), want: []pk{want6}},
		// Zeek counts the UDP length but checksums the IP payload, so the
		// trailing bytes make the checksum bad (history 'C' in Zeek too).
		{name: "udp shorter than ip payload", lt: 1, data: ipEth(udpShort), want: []pk{with(wantUDP4, func(p *pk) { p.ipLen, p.bad = 42, true })}},
		{name: "udp shorter than ip payload not verified", lt: 1, data: ipEth(udpShort), opt: &noCsum, want: []pk{with(wantUDP4, func(p *pk) { p.ipLen = 42 })}},
		{name: "tcp syn window scale", lt: 1, data: ipEth(syn), want: []pk{wantSyn}},
		{name: "tcp syn window scale capped at 14", lt: 1, data: ipEth(bigWS), want: []pk{with(wantSyn, func(p *pk) { p.wscale = 14 })}},
		{name: "tcp data", lt: 1, data: ipEth(data), want: []pk{wantData}},
		{name: "tcp bad checksum", lt: 1, data: ipEth(badTCP), want: []pk{with(wantData, func(p *pk) { p.bad = true })}},
		{name: "tcp bad checksum not verified", lt: 1, data: ipEth(badTCP), opt: &noCsum, want: []pk{wantData}},
		{name: "icmp echo", lt: 1, data: ipEth(ping), want: []pk{{src: "10.1.1.1", dst: "10.1.1.2", proto: 1, sport: 8, ipLen: 84, pLen: 56, parent: -1, wscale: -1}}},
		{name: "icmpv6 echo", lt: 1, data: ipEth(ping6), want: []pk{{src: "fe80::1", dst: "ff02::1", proto: 58, sport: 128, ipLen: 56, pLen: 8, parent: -1, wscale: -1}}},
		{name: "sctp ports", lt: 1, data: ipEth(sctp), want: []pk{{src: "10.2.0.1", dst: "10.2.0.2", proto: 132, sport: 2905, dport: 2906, ipLen: 48, pLen: 16, parent: -1, wscale: -1}}},
		{name: "other protocol", lt: 1, data: ipEth(ospf), want: []pk{{src: "10.3.0.1", dst: "224.0.0.5", proto: 89, ipLen: 64, pLen: 44, parent: -1, wscale: -1}}},
		{name: "vlan", lt: 1, data: ipEth(u4, 100), want: []pk{with(wantUDP4, func(p *pk) { p.vlan = 100 })}},
		{name: "qinq", lt: 1, data: ipEth(u4, 200, 300), want: []pk{with(wantUDP4, func(p *pk) { p.vlan, p.ivlan = 200, 300 })}},
		{name: "mpls two labels", lt: 1, data: mpls, want: []pk{wantUDP4}},
		{name: "pppoe", lt: 1, data: pppoe, want: []pk{wantUDP4}},
		{name: "fabricpath", lt: 1, data: fabricPath, want: []pk{wantUDP4}},
		{name: "vn-tag", lt: 1, data: eth(etVNTag, cat(u32(0x80010002), u16(etIPv4), u4)), want: []pk{wantUDP4}},
		{name: "pbb", lt: 1, data: eth(etPBB, cat(u32(0x00000100), ipEth(u4, 42))), want: []pk{with(wantUDP4, func(p *pk) { p.vlan = 42 })}},
		{name: "802.3 llc snap", lt: 1, data: eth(uint16(len(llcSnap)), llcSnap), want: []pk{wantUDP4}},
		{name: "arp is not ip", lt: 1, data: eth(0x0806, make([]byte, 28)), nonIP: true},
		{name: "raw 101", lt: 101, data: u4, want: []pk{wantUDP4}},
		{name: "raw 12", lt: 12, data: u6, want: []pk{want6}},
		{name: "ipv4 228", lt: 228, data: u4, want: []pk{wantUDP4}},
		{name: "ipv6 229", lt: 229, data: u6, want: []pk{want6}},
		{name: "null little-endian inet", lt: 0, data: cat([]byte{2, 0, 0, 0}, u4), want: []pk{wantUDP4}},
		{name: "null big-endian inet6 darwin", lt: 0, data: cat(u32(30), u6), want: []pk{want6}},
		{name: "loop", lt: 108, data: cat(u32(2), u4), want: []pk{wantUDP4}},
		{name: "linux sll", lt: 113, data: sll, want: []pk{wantUDP4}},
		{name: "linux sll2", lt: 276, data: sll2, want: []pk{want6}},
		{name: "ppp", lt: 9, data: cat([]byte{0xff, 0x03}, u16(pppIPv4), u4), want: []pk{wantUDP4}},
		{name: "ppp without address", lt: 9, data: cat(u16(pppIPv6), u6), want: []pk{want6}},
		{name: "cisco hdlc", lt: 104, data: cat([]byte{0x0f, 0}, u16(etIPv4), u4), want: []pk{wantUDP4}},
		{name: "radiotap 802.11 data", lt: 127, data: cat(radiotap, dot11Data), want: []pk{wantUDP4}},
		{name: "radiotap 802.11 qos data", lt: 127, data: cat(radiotap, dot11QoS), want: []pk{wantUDP4}},
		{name: "802.11 beacon is not ip", lt: 105, data: cat([]byte{0x80, 0, 0, 0}, macA, macB, macA, make([]byte, 30)), nonIP: true},
		{name: "802.11 qos protected", lt: 105, data: cat([]byte{0x88, 0x41, 0, 0}, macA, macB, macA, []byte{0, 0}, []byte{0, 0}, llcSnap), nonIP: true},
		{name: "nflog", lt: 239, data: nflogPayload, want: []pk{wantUDP4}},
		{name: "nflog bad tlv length", lt: 239, data: cat([]byte{2, 0, 0, 0}, []byte{2, 0, 1, 0}), errs: "truncated-link=1"},
		{name: "gre ip", lt: 1, data: ipEth(rawIP4(t, "172.16.0.1", "172.16.0.2", 47, greIP), 10), want: []pk{
			{src: "172.16.0.1", dst: "172.16.0.2", proto: 47, ipLen: 62, pLen: 42, parent: -1, wscale: -1, vlan: 10}, inner(wantUDP4, "gre")}},
		{name: "gre key transparent ethernet", lt: 1, data: ipEth(rawIP4(t, "172.16.0.1", "172.16.0.2", 47, greTEB)), want: []pk{
			{src: "172.16.0.1", dst: "172.16.0.2", proto: 47, ipLen: 84, pLen: 64, parent: -1, wscale: -1},
			inner(with(wantUDP4, func(p *pk) { p.vlan = 7 }), "gre")}},
		{name: "gre erspan II", lt: 1, data: ipEth(rawIP4(t, "172.16.0.1", "172.16.0.2", 47, erspan2)), want: []pk{
			{src: "172.16.0.1", dst: "172.16.0.2", proto: 47, ipLen: 88, pLen: 68, parent: -1, wscale: -1}, inner(wantUDP4, "gre")}},
		{name: "gre erspan I", lt: 1, data: ipEth(rawIP4(t, "172.16.0.1", "172.16.0.2", 47, erspan1)), want: []pk{
			{src: "172.16.0.1", dst: "172.16.0.2", proto: 47, ipLen: 76, pLen: 56, parent: -1, wscale: -1}, inner(wantUDP4, "gre")}},
		{name: "pptp enhanced gre", lt: 1, data: ipEth(rawIP4(t, "172.16.0.1", "172.16.0.2", 47, pptp)), want: []pk{
			{src: "172.16.0.1", dst: "172.16.0.2", proto: 47, ipLen: 74, pLen: 54, parent: -1, wscale: -1}, inner(wantUDP4, "gre")}},
		{name: "aruba 802.11 in gre", lt: 1, data: ipEth(rawIP4(t, "172.16.0.1", "172.16.0.2", 47, cat(u16(0), u16(0x8200), dot11Data))), want: []pk{
			{src: "172.16.0.1", dst: "172.16.0.2", proto: 47, ipLen: 20 + 4 + 24 + 8 + 38, pLen: 4 + 24 + 8 + 38, parent: -1, wscale: -1}, inner(wantUDP4, "gre")}},
		{name: "gre in udp", lt: 1, data: ipEth(udpIP(t, "10.9.0.1", "10.9.0.2", 50000, 4754, cat(u16(0), u16(etIPv4), u4))), want: []pk{
			outerUDP("10.9.0.1", "10.9.0.2", 50000, 4754, 28+4+38), inner(wantUDP4, "gre")}},
		{name: "802.11 a-msdu", lt: 105, data: cat([]byte{0x88, 0x01, 0, 0}, macA, macB, macA, []byte{0, 0}, []byte{0x80, 0},
			macA, macB, u16(uint16(len(llcSnap))), llcSnap, make([]byte, (4-(14+len(llcSnap))%4)%4),
			macA, macB, u16(uint16(len(llcSnap))), llcSnap), want: []pk{wantUDP4, wantUDP4}},
		{name: "vxlan", lt: 1, data: ipEth(udpIP(t, "192.168.56.12", "192.168.56.11", 38071, 4789, vxlan)), want: []pk{
			outerUDP("192.168.56.12", "192.168.56.11", 38071, 4789, 28+8+18+38), inner(with(wantUDP4, func(p *pk) { p.vlan = 5 }), "vxlan")}},
		{name: "vxlan without the I flag is plain udp", lt: 1, data: ipEth(udpIP(t, "192.168.56.12", "192.168.56.11", 38071, 4789, cat([]byte{0}, vxlan[1:]))), want: []pk{
			outerUDP("192.168.56.12", "192.168.56.11", 38071, 4789, 28+8+18+38)}},
		{name: "geneve", lt: 1, data: ipEth(udpIP(t, "192.168.56.12", "192.168.56.11", 1000, 6081, geneve)), want: []pk{
			outerUDP("192.168.56.12", "192.168.56.11", 1000, 6081, 28+8+14+38), inner(wantUDP4, "geneve")}},
		{name: "gtp-u", lt: 1, data: ipEth(udpIP(t, "10.9.0.1", "10.9.0.2", 2152, 2152, gtp)), want: []pk{
			outerUDP("10.9.0.1", "10.9.0.2", 2152, 2152, 28+8+38), inner(wantUDP4, "gtpv1")}},
		{name: "gtp-u with sequence", lt: 1, data: ipEth(udpIP(t, "10.9.0.1", "10.9.0.2", 2152, 2152, gtpSeq)), want: []pk{
			outerUDP("10.9.0.1", "10.9.0.2", 2152, 2152, 28+12+38), inner(wantUDP4, "gtpv1")}},
		{name: "gtp echo is not a tunnel", lt: 1, data: ipEth(udpIP(t, "10.9.0.1", "10.9.0.2", 2152, 2152, gtpEcho)), want: []pk{
			outerUDP("10.9.0.1", "10.9.0.2", 2152, 2152, 28+12)}},
		{name: "teredo", lt: 1, data: ipEth(udpIP(t, "10.8.0.1", "10.8.0.2", 3544, 50000, teredo)), want: []pk{
			outerUDP("10.8.0.1", "10.8.0.2", 3544, 50000, 28+53), inner(want6, "teredo")}},
		{name: "teredo origin indication", lt: 1, data: ipEth(udpIP(t, "10.8.0.1", "10.8.0.2", 50000, 3544, teredoOrigin)), want: []pk{
			outerUDP("10.8.0.1", "10.8.0.2", 50000, 3544, 28+8+53), inner(want6, "teredo")}},
		{name: "teredo length mismatch is plain udp", lt: 1, data: ipEth(udpIP(t, "10.8.0.1", "10.8.0.2", 3544, 50000, teredoBad)), want: []pk{
			outerUDP("10.8.0.1", "10.8.0.2", 3544, 50000, 28+54)}},
		{name: "ayiya", lt: 1, data: ipEth(udpIP(t, "192.168.3.101", "216.14.98.22", 53859, 5072, ayiya)), want: []pk{
			outerUDP("192.168.3.101", "216.14.98.22", 53859, 5072, 28+44+53), inner(want6, "ayiya")}},
		{name: "ayiya other opcode", lt: 1, data: ipEth(udpIP(t, "192.168.3.101", "216.14.98.22", 53859, 5072, ayiyaOp2)), want: []pk{
			outerUDP("192.168.3.101", "216.14.98.22", 53859, 5072, 28+44+53)}},
		{name: "ip in ip", lt: 1, data: ipEth(ipip), want: []pk{
			{src: "198.51.100.1", dst: "198.51.100.2", proto: 4, ipLen: 58, pLen: 38, parent: -1, wscale: -1}, inner(wantUDP4, "ip")}},
		{name: "6in4", lt: 1, data: ipEth(sixin4), want: []pk{
			{src: "198.51.100.1", dst: "198.51.100.2", proto: 41, ipLen: 73, pLen: 53, parent: -1, wscale: -1}, inner(want6, "ip")}},
		{name: "4in6", lt: 1, data: ipEth(fourin6), want: []pk{
			{src: "2001:db8::a", dst: "2001:db8::b", proto: 4, ipLen: 78, pLen: 38, parent: -1, wscale: -1}, inner(wantUDP4, "ip")}},
		{name: "tunnels nested too deep", lt: 1, data: ipEth(deep), errs: "tunnel-depth=1", want: []pk{
			{src: "198.51.100.1", dst: "198.51.100.2", proto: 4, ipLen: 98, pLen: 78, parent: -1, wscale: -1},
			{src: "198.51.100.3", dst: "198.51.100.4", proto: 4, ipLen: 78, pLen: 58, parent: 0, tunnel: "ip", wscale: -1},
			{src: "198.51.100.5", dst: "198.51.100.6", proto: 4, ipLen: 58, pLen: 38, parent: 1, tunnel: "ip", wscale: -1}}},
		{name: "ipv6 extension headers and routing", lt: 229, data: v6ext, opt: &noCsum, want: []pk{
			{src: "2001:db8::1", dst: "2001:db8::99", proto: 17, sport: 7, dport: 9, ipLen: 40 + 8 + 8 + 24 + 11, pLen: 3, parent: -1, wscale: -1}}},

		// Bad input: counted, never fatal.
		{name: "unknown link type", lt: 147, data: u4, errs: "unknown-linktype=1"},
		{name: "truncated ethernet", lt: 1, data: make([]byte, 10), errs: "truncated-link=1"},
		{name: "truncated vlan", lt: 1, data: eth(etVLAN, []byte{0}), errs: "truncated-link=1"},
		{name: "bad ip version", lt: 1, data: ipEth(badVersion), errs: "bad-ip-version=1"},
		{name: "bad ip header length", lt: 1, data: ipEth(badIHL), errs: "bad-ip-header-len=1"},
		{name: "bad ip checksum dropped", lt: 1, data: ipEth(badIPsum), errs: "bad-ip-checksum=1"},
		{name: "bad ip checksum not verified", lt: 1, data: ipEth(badIPsum), opt: &noCsum, want: []pk{wantUDP4}},
		{name: "ip length zero dropped", lt: 1, data: ipEth(lenZero), opt: &noCsum, errs: "ip-len-zero=1", want: []pk{wantUDP4}},
		{name: "ip header cut", lt: 1, data: ipEth(u4)[:14+12], wire: 14 + 38, errs: "truncated-ip=1"},
		{name: "ip length beyond the wire", lt: 101, data: u4[:30], errs: "truncated-ip=1"},
		{name: "snaplen cut inside payload", lt: 1, data: ipEth(data)[:14+40+5], wire: 14 + 57, errs: "snaplen-cut=1", want: []pk{wantData}},
		{name: "snaplen cut inside tcp header", lt: 1, data: ipEth(data)[:14+30], wire: 14 + 57, errs: "truncated-transport=1 snaplen-cut=1"},
		{name: "tcp data offset too small", lt: 1, data: ipEth(tcpDoff), opt: &noCsum, errs: "bad-tcp-header-len=1"},
		{name: "ipv6 header cut", lt: 229, data: u6[:30], errs: "truncated-ip=1"},
		{name: "ipv6 extension header cut", lt: 229, data: rawIP6(t, "::1", "::2", 0, []byte{17, 3, 0, 0}), errs: "truncated-ip6-ext=1"},
		{name: "empty frame", lt: 101, data: nil, errs: "truncated-ip=1"},
		{name: "ipv6 no next header", lt: 229, data: rawIP6(t, "::1", "::2", 59, nil), errs: "ip6-no-transport=1"},
		{name: "ipv6 esp", lt: 229, data: rawIP6(t, "::1", "::2", 0, cat([]byte{50, 0, 1, 4, 0, 0, 0, 0}, make([]byte, 16))), errs: "ip6-no-transport=1"},
		{name: "ipv4 esp is a connection", lt: 101, data: rawIP4(t, "10.0.0.1", "10.0.0.2", 50, make([]byte, 16)), want: []pk{
			{src: "10.0.0.1", dst: "10.0.0.2", proto: 50, ipLen: 36, pLen: 16, parent: -1, wscale: -1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opt := DefaultOptions()
			if tc.opt != nil {
				opt = *tc.opt
			}
			if tc.name == "ip length zero dropped" {
				// With checksums verified (Zeek's default) the packet is dropped.
				_, st := decodeOne(t, DefaultOptions(), tc.lt, tc.data, tc.wire)
				if got := st.ErrorsString(); got != "ip-len-zero=1" || st.Packets != 0 {
					t.Errorf("verified: errors %s, %d packets; want ip-len-zero=1, 0 packets", got, st.Packets)
				}
			}
			pkts, st := decodeOne(t, opt, tc.lt, tc.data, tc.wire)
			var got []string
			for _, p := range pkts {
				got = append(got, summarize(p).String())
			}
			var want []string
			for _, p := range tc.want {
				want = append(want, p.String())
			}
			if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
				t.Errorf("packets:\n-got  %s\n+want %s", strings.ReplaceAll(g, "\n", "\n      "), strings.ReplaceAll(w, "\n", "\n      "))
			}
			wantErrs := tc.errs
			if wantErrs == "" {
				wantErrs = "none"
			}
			if got := st.ErrorsString(); got != wantErrs {
				t.Errorf("errors: got %s, want %s", got, wantErrs)
			}
			if tc.nonIP != (st.NonIP == 1) {
				t.Errorf("non-IP count %d, want non-IP %v", st.NonIP, tc.nonIP)
			}
			if st.ErrorCount() > 0 && (len(st.Examples) == 0 || st.Examples[0].Frame != 1) {
				t.Errorf("examples %v: want the first error of frame 1", st.Examples)
			}
		})
	}
}

// TestDecodePayload checks that Payload aliases the frame's transport
// payload, cut to what was captured.
func TestDecodePayload(t *testing.T) {
	data := tcpIP(t, "192.0.2.2", "192.0.2.1", 80, 40000, "PA", -1, []byte("HTTP/1.1 200 OK\r\n"))
	pkts, _ := decodeOne(t, DefaultOptions(), 1, ipEth(data), 0)
	if len(pkts) != 1 || string(pkts[0].Payload) != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("payload %q", pkts[0].Payload)
	}
	pkts, _ = decodeOne(t, DefaultOptions(), 1, ipEth(data)[:14+40+4], 14+57)
	if len(pkts) != 1 || string(pkts[0].Payload) != "HTTP" || pkts[0].PayloadLen != 17 || pkts[0].BadChecksum {
		t.Fatalf("cut payload %q len %d bad %v", pkts[0].Payload, pkts[0].PayloadLen, pkts[0].BadChecksum)
	}
	// Ethernet padding is not payload.
	pkts, _ = decodeOne(t, DefaultOptions(), 1, cat(ipEth(udp4(t)), make([]byte, 8)), 0)
	if len(pkts) != 1 || string(pkts[0].Payload) != "0123456789" || pkts[0].IPLen != 38 {
		t.Fatalf("padded frame: payload %q IP length %d", pkts[0].Payload, pkts[0].IPLen)
	}
}

func TestChecksum(t *testing.T) {
	// RFC 1071's example: 0001 f203 f4f5 f6f7 sums to ddf2.
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := checksum(b, 0); got != 0xddf2 {
		t.Errorf("checksum = %#x, want 0xddf2", got)
	}
	// Long and odd-length inputs agree with a byte-by-byte sum.
	long := make([]byte, 1001)
	for i := range long {
		long[i] = byte(i * 7)
	}
	var s uint32
	for i := 0; i < len(long); i += 2 {
		w := uint32(long[i]) << 8
		if i+1 < len(long) {
			w |= uint32(long[i+1])
		}
		s += w
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	if got := checksum(long, 0); uint32(got) != s {
		t.Errorf("checksum(long) = %#x, want %#x", got, s)
	}
	// Every length up to 80 and a partial sum agree with the byte-by-byte
	// sum (the word-at-a-time loop has tails of every size).
	ref := func(b []byte, initial uint64) uint16 {
		s := initial
		for i := 0; i < len(b); i += 2 {
			w := uint64(b[i]) << 8
			if i+1 < len(b) {
				w |= uint64(b[i+1])
			}
			s += w
		}
		for s > 0xffff {
			s = s>>16 + s&0xffff
		}
		return uint16(s)
	}
	for n := 0; n <= 80; n++ {
		for _, fill := range []byte{0, 0xff, 0x5a} {
			b := make([]byte, n)
			for i := range b {
				b[i] = fill ^ byte(i*31)
			}
			for _, initial := range []uint64{0, 0x1234, 0x3fffc} {
				if got, want := checksum(b, initial), ref(b, initial); got != want {
					t.Errorf("checksum(len %d fill %#x initial %#x) = %#x, want %#x", n, fill, initial, got, want)
				}
			}
		}
	}
}

func TestWindowScale(t *testing.T) {
	cases := []struct {
		name string
		opt  []byte
		want int8
	}{
		{"none", nil, -1},
		{"mss nop ws", []byte{2, 4, 5, 0xb4, 1, 3, 3, 7}, 7},
		{"end before ws", []byte{0, 3, 3, 7}, -1},
		{"zero length ends", []byte{8, 0, 3, 3, 7}, -1},
		{"length past end", []byte{3, 9, 7}, -1},
		{"short ws skipped", []byte{3, 2, 3, 3, 5}, 5},
		{"last wins", []byte{3, 3, 2, 3, 3, 9}, 9},
		{"capped", []byte{3, 3, 200}, 14},
		{"lone kind", []byte{1, 1, 3}, -1},
	}
	for _, tc := range cases {
		if got := windowScale(tc.opt); got != tc.want {
			t.Errorf("%s: windowScale(% x) = %d, want %d", tc.name, tc.opt, got, tc.want)
		}
	}
}
