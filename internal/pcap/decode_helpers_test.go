package pcap

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Test frames are built with gopacket's serializers for IP and transport
// headers (an implementation independent of the decoder's, checksums
// included) and by hand for link layers and tunnel headers.

// serialize builds a packet from layers with lengths and checksums fixed.
func serialize(tb testing.TB, ls ...gopacket.SerializableLayer) []byte {
	tb.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		tb.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func ip4Layer(src, dst string, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 0x1234, Protocol: proto,
		SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
}

func ip6Layer(src, dst string, next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next,
		SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
}

// tcpIP builds an IPv4 or IPv6 TCP segment. flags is a subset of "SAFRPU".
func tcpIP(tb testing.TB, src, dst string, sport, dport uint16, flags string, wscale int, payload []byte) []byte {
	tb.Helper()
	t := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: 1000, Ack: 2000, Window: 512}
	for _, f := range flags {
		switch f {
		case 'S':
			t.SYN = true
		case 'A':
			t.ACK = true
		case 'F':
			t.FIN = true
		case 'R':
			t.RST = true
		case 'P':
			t.PSH = true
		case 'U':
			t.URG = true
		}
	}
	if wscale >= 0 {
		t.Options = append(t.Options,
			layers.TCPOption{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 0xb4}},
			layers.TCPOption{OptionType: layers.TCPOptionKindNop},
			layers.TCPOption{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{byte(wscale)}})
	}
	return transportIP(tb, src, dst, layers.IPProtocolTCP, t, payload)
}

// udpIP builds an IPv4 or IPv6 UDP datagram.
func udpIP(tb testing.TB, src, dst string, sport, dport uint16, payload []byte) []byte {
	tb.Helper()
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	return transportIP(tb, src, dst, layers.IPProtocolUDP, u, payload)
}

type checksummer interface {
	gopacket.SerializableLayer
	SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
}

func transportIP(tb testing.TB, src, dst string, proto layers.IPProtocol, l checksummer, payload []byte) []byte {
	tb.Helper()
	var ip gopacket.NetworkLayer
	if net.ParseIP(src).To4() != nil {
		ip = ip4Layer(src, dst, proto)
	} else {
		ip = ip6Layer(src, dst, proto)
	}
	if err := l.SetNetworkLayerForChecksum(ip); err != nil {
		tb.Fatal(err)
	}
	return serialize(tb, ip.(gopacket.SerializableLayer), l, gopacket.Payload(payload))
}

// icmp4 builds an ICMP echo request or other type/code.
func icmp4(tb testing.TB, src, dst string, typ, code uint8, payload []byte) []byte {
	tb.Helper()
	ic := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code), Id: 1, Seq: 1}
	return serialize(tb, ip4Layer(src, dst, layers.IPProtocolICMPv4), ic, gopacket.Payload(payload))
}

// icmp6 builds an ICMPv6 message.
func icmp6(tb testing.TB, src, dst string, typ, code uint8, payload []byte) []byte {
	tb.Helper()
	ip := ip6Layer(src, dst, layers.IPProtocolICMPv6)
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, code)}
	if err := ic.SetNetworkLayerForChecksum(ip); err != nil {
		tb.Fatal(err)
	}
	return serialize(tb, ip, ic, gopacket.Payload(append(make([]byte, 4), payload...)))
}

// rawIP4 builds an IPv4 header (checksum right) around any payload.
func rawIP4(tb testing.TB, src, dst string, proto uint8, payload []byte) []byte {
	tb.Helper()
	return serialize(tb, ip4Layer(src, dst, layers.IPProtocol(proto)), gopacket.Payload(payload))
}

// rawIP6 builds an IPv6 header around any payload.
func rawIP6(tb testing.TB, src, dst string, next uint8, payload []byte) []byte {
	tb.Helper()
	return serialize(tb, ip6Layer(src, dst, layers.IPProtocol(next)), gopacket.Payload(payload))
}

var (
	macA = []byte{0x02, 0, 0, 0, 0, 0x0a}
	macB = []byte{0x02, 0, 0, 0, 0, 0x0b}
)

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// eth wraps a payload in an Ethernet header with the given EtherType and
// optional 802.1Q tags (outermost first; TPID 0x88a8 for the first of two).
func eth(et uint16, payload []byte, tags ...uint16) []byte {
	b := cat(macA, macB)
	for i, t := range tags {
		tpid := uint16(etVLAN)
		if len(tags) > 1 && i == 0 {
			tpid = etQinQ
		}
		b = cat(b, u16(tpid), u16(t))
	}
	return cat(b, u16(et), payload)
}

// ipEth wraps an IP packet in Ethernet.
func ipEth(ip []byte, tags ...uint16) []byte {
	et := uint16(etIPv4)
	if ip[0]>>4 == 6 {
		et = etIPv6
	}
	return eth(et, ip, tags...)
}

// frame is one frame for a test capture.
type frame struct {
	lt   layers.LinkType
	data []byte
	wire int // wire length; 0 means len(data)
}

// writePcap writes frames (all of the first frame's link type) to a pcap
// file in dir and returns its path.
func writePcap(tb testing.TB, dir, name string, frames ...frame) string {
	tb.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	lt := layers.LinkTypeEthernet
	if len(frames) > 0 {
		lt = frames[0].lt
	}
	if err := w.WriteFileHeader(65535, lt); err != nil {
		tb.Fatal(err)
	}
	for i, f := range frames {
		wire := f.wire
		if wire == 0 {
			wire = len(f.data)
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000+int64(i), 0), CaptureLength: len(f.data), Length: wire}
		if err := w.WritePacket(ci, f.data); err != nil {
			tb.Fatal(err)
		}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// decodeOne decodes a single frame with a fresh decoder.
func decodeOne(tb testing.TB, opt Options, lt layers.LinkType, data []byte, wire int) ([]Packet, DecodeStats) {
	tb.Helper()
	var d decoder
	d.init(opt)
	if wire == 0 {
		wire = len(data)
	}
	pkts := d.decodeFrame(nil, 1, 1e18, lt, data, wire)
	return pkts, d.stats
}
