package pcap

import (
	"encoding/binary"

	"github.com/gopacket/gopacket/layers"
)

// The decoder walks each frame's headers by hand rather than through
// gopacket's DecodingLayerParser: in BenchmarkDecode (decode_bench_test.go)
// the parser over reused Ethernet, 802.1Q, IPv4, IPv6, TCP, UDP and ICMP
// layers took about twice the CPU per frame of this decoder, which does
// more (checksums, tunnels, Zeek's length rules). It never allocates per
// packet: Packets are appended to the caller's slice, payloads alias the
// frame buffer (or the fragment table's reassembly buffer). Where Zeek's
// packet analyzers make a choice (what to drop, what to decapsulate, which
// length to count), the decoder makes the same one, so that the flow table
// can count what Zeek counts.

// MaxTunnelDepth is how many tunnels deep the decoder follows, as Zeek's
// Tunnel::max_depth (default 2). Deeper packets are dropped and counted as
// ErrTunnelDepth.
const MaxTunnelDepth = 2

// maxFramePackets bounds the Packets emitted for one frame (Packet.Parent
// is an int8).
const maxFramePackets = 16

// Tunnel names set in Packet.Tunnel.
const (
	TunnelGRE    = "gre"
	TunnelVXLAN  = "vxlan"
	TunnelGeneve = "geneve"
	TunnelTeredo = "teredo"
	TunnelGTP    = "gtpv1"
	TunnelAYIYA  = "ayiya"
	TunnelIP     = "ip"
)

var be = binary.BigEndian

// vlanTags are the 802.1Q tags met on the way to an IP header.
type vlanTags struct{ outer, inner uint16 }

func (v *vlanTags) add(tag uint16) {
	switch {
	case v.outer == 0:
		v.outer = tag
	case v.inner == 0:
		v.inner = tag
	}
}

// hop says where an IP packet came from: its parent Packet and the tunnel.
type hop struct {
	parent int8
	depth  uint8
	tunnel string
	vlan   vlanTags
}

// decoder turns frames into Packets. Its state besides counters is the
// fragment table.
type decoder struct {
	opt   Options
	stats DecodeStats
	frag  fragTable

	out   []Packet
	frame uint64
	ts    int64
	// per-frame flags
	sawIP  bool // an IP header was found (even if it was then dropped)
	failed bool // a decode error dropped something
}

func (d *decoder) init(opt Options) {
	d.opt = opt
	d.frag.init(opt.Frag)
}

// fail counts a decode problem in the current frame.
func (d *decoder) fail(k ErrKind) {
	d.stats.Errors[k]++
	if k.Note() {
		return
	}
	d.failed = true
	if len(d.stats.Examples) < MaxExamples {
		d.stats.Examples = append(d.stats.Examples, DecodeError{Frame: d.frame, Kind: k})
	}
}

// decodeFrame decodes one frame of the given link type, appending its
// Packets to dst. wireLen is the frame's length on the wire (>= len(data)).
func (d *decoder) decodeFrame(dst []Packet, frame uint64, ts int64, lt layers.LinkType, data []byte, wireLen int) []Packet {
	d.out, d.frame, d.ts = dst, frame, ts
	d.sawIP, d.failed = false, false
	d.stats.Frames++
	d.frag.expire(ts, d)
	cut := wireLen - len(data)
	if cut < 0 {
		cut = 0
	}
	d.link(lt, data, cut)
	if !d.sawIP && !d.failed {
		d.stats.NonIP++
	}
	out := d.out
	d.out = nil
	d.stats.Packets += uint64(len(out))
	for i := range out {
		if out[i].Parent >= 0 {
			d.stats.Tunnels++
		}
	}
	return out
}

// ip decodes an IPv4 or IPv6 packet. cut is how many bytes of b the capture
// lost at its end (the snaplen cut).
func (d *decoder) ip(b []byte, cut int, h hop) {
	d.sawIP = true
	if len(b) == 0 {
		d.fail(ErrTruncatedIP)
		return
	}
	switch b[0] >> 4 {
	case 4:
		d.ip4(b, cut, h)
	case 6:
		d.ip6(b, cut, h)
	default:
		d.fail(ErrBadIPVersion)
	}
}

// ipLength applies the stated IP total length to b: it returns the packet
// bytes captured, the bytes the capture cut off, and false when the stated
// length is impossible (longer than the frame was on the wire).
func (d *decoder) ipLength(b []byte, cut, total int) ([]byte, int, bool) {
	if total > len(b)+cut {
		d.fail(ErrTruncatedIP)
		return nil, 0, false
	}
	if total > len(b) {
		d.fail(ErrSnaplenCut)
		return b, total - len(b), true
	}
	return b[:total], 0, true
}

// newPacket appends a Packet for an IP header and returns its index, or -1
// when the frame already holds maxFramePackets.
func (d *decoder) newPacket(h hop) int {
	if len(d.out) >= maxFramePackets {
		d.fail(ErrTooManyPackets)
		return -1
	}
	d.out = append(d.out, Packet{
		TS:        d.ts,
		WScale:    -1,
		VLAN:      h.vlan.outer,
		InnerVLAN: h.vlan.inner,
		Parent:    h.parent,
		Tunnel:    h.tunnel,
	})
	return len(d.out) - 1
}

func (d *decoder) ip4(b []byte, cut int, h hop) {
	if len(b) < 20 {
		d.fail(ErrTruncatedIP)
		return
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 {
		d.fail(ErrBadIPHeaderLen)
		return
	}
	if len(b) < ihl {
		d.fail(ErrTruncatedIP)
		return
	}
	total := int(be.Uint16(b[2:]))
	if total == 0 {
		// TCP segmentation offload zeroes the length. Zeek drops such a
		// packet when it verifies checksums (they are wrong too) and uses
		// the captured length when it does not.
		d.fail(ErrIPLenZero)
		if d.opt.VerifyChecksums {
			return
		}
		total = len(b)
	}
	if total < ihl {
		d.fail(ErrBadIPHeaderLen)
		return
	}
	b, cut, ok := d.ipLength(b, cut, total)
	if !ok {
		return
	}
	if d.opt.VerifyChecksums && checksum(b[:ihl], 0) != 0xffff {
		d.fail(ErrBadIPChecksum)
		return
	}
	proto := b[9]
	payload := b[ihl:]
	if fo := be.Uint16(b[6:]); fo&0x3fff != 0 { // MF set or offset non-zero
		switch {
		case cut > 0 && fo&0x1fff != 0:
			// Zeek cannot reassemble an incompletely captured fragment
			// either: it drops all but the first.
			d.fail(ErrFragCut)
			return
		case cut > 0:
			// The first fragment of a header-only capture is analysed
			// as it is, as Zeek does.
		default:
			data, hl, ok := d.frag.add4(d, b[:ihl], payload, fo)
			if !ok {
				return // held for reassembly, or dropped (counted)
			}
			payload = data
			total = hl + len(data)
		}
	}
	i := d.newPacket(h)
	if i < 0 {
		return
	}
	p := &d.out[i]
	p.Src = [16]byte{10: 0xff, 11: 0xff}
	p.Dst = p.Src
	copy(p.Src[12:], b[12:16])
	copy(p.Dst[12:], b[16:20])
	p.IPLen = uint32(total)
	d.transport(i, proto, payload, cut, h)
}

// IPv6 extension headers the decoder walks through.
const (
	ip6HopByHop = 0
	ip6Routing  = 43
	ip6Fragment = 44
	ip6ESP      = 50
	ip6AH       = 51
	ip6NoNext   = 59
	ip6DestOpts = 60
	ip6Mobility = 135
)

func (d *decoder) ip6(b []byte, cut int, h hop) {
	if len(b) < 40 {
		d.fail(ErrTruncatedIP)
		return
	}
	total := 40 + int(be.Uint16(b[4:])) // jumbograms are not supported, as in Zeek
	b, cut, ok := d.ipLength(b, cut, total)
	if !ok {
		return
	}
	var dst [16]byte
	copy(dst[:], b[24:40])
	next := b[6]
	off := 40
	payload := b[40:]
	reassembled := false
ext:
	for range 32 {
		switch next {
		case ip6ESP, ip6Mobility:
			// Zeek ends the header chain here and makes no connection.
			d.fail(ErrIP6NoTransport)
			return
		case ip6HopByHop, ip6Routing, ip6DestOpts:
			if len(payload) < 8 {
				d.fail(ErrTruncatedIP6Ext)
				return
			}
			n := (int(payload[1]) + 1) * 8
			if len(payload) < n {
				d.fail(ErrTruncatedIP6Ext)
				return
			}
			if next == ip6Routing && payload[3] > 0 { // segments left
				// Zeek keys the connection on the final destination.
				switch payload[2] {
				case 0:
					if n >= 24 {
						copy(dst[:], payload[n-16:n])
					}
				case 2:
					if n >= 24 {
						copy(dst[:], payload[8:24])
					}
				}
			}
			next = payload[0]
			payload = payload[n:]
			off += n
		case ip6AH:
			if len(payload) < 8 {
				d.fail(ErrTruncatedIP6Ext)
				return
			}
			n := (int(payload[1]) + 2) * 4
			if len(payload) < n {
				d.fail(ErrTruncatedIP6Ext)
				return
			}
			next = payload[0]
			payload = payload[n:]
			off += n
		case ip6Fragment:
			if len(payload) < 8 {
				d.fail(ErrTruncatedIP6Ext)
				return
			}
			if reassembled {
				// A second fragment header after reassembly: nothing more to do.
				next = payload[0]
				payload = payload[8:]
				off += 8
				continue
			}
			fo := be.Uint16(payload[2:])
			if fo&0xfff9 == 0 { // atomic fragment: offset 0, no MF
				next = payload[0]
				payload = payload[8:]
				off += 8
				continue
			}
			if cut > 0 {
				if fo&0xfff8 != 0 {
					d.fail(ErrFragCut)
					return
				}
				// First fragment of a header-only capture: analysed as
				// it is, as Zeek does.
				next = payload[0]
				payload = payload[8:]
				off += 8
				continue
			}
			data, hl, ok := d.frag.add6(d, b[:off], payload[0], be.Uint32(payload[4:]), payload[8:], fo)
			if !ok {
				return
			}
			reassembled = true
			next = payload[0]
			payload = data
			off = hl
		default:
			break ext
		}
	}
	if next == ip6NoNext {
		// Nothing follows (a Teredo bubble, say): Zeek makes no connection.
		d.fail(ErrIP6NoTransport)
		return
	}
	i := d.newPacket(h)
	if i < 0 {
		return
	}
	p := &d.out[i]
	p.V6 = true
	copy(p.Src[:], b[8:24])
	p.Dst = dst
	if reassembled {
		total = off + len(payload)
	}
	p.IPLen = uint32(total)
	d.transport(i, next, payload, cut, h)
}

// drop removes Packet i (the last one) after its transport header proved
// unusable, as Zeek drops such packets before they reach a connection.
func (d *decoder) drop(i int, k ErrKind) {
	d.out = d.out[:i]
	d.fail(k)
}

// transport decodes the transport header of Packet i and any tunnel it
// carries. b is the IP payload captured; cut is how much of it is missing.
func (d *decoder) transport(i int, proto uint8, b []byte, cut int, h hop) {
	p := &d.out[i]
	p.IPProto = proto
	full := len(b) + cut // IP payload length
	switch proto {
	case ipProtoTCP:
		if len(b) < 20 {
			d.drop(i, ErrTruncatedTransport)
			return
		}
		doff := int(b[12]>>4) * 4
		if doff < 20 || doff > full {
			d.drop(i, ErrBadTCPHeaderLen)
			return
		}
		if doff > len(b) {
			d.drop(i, ErrTruncatedTransport)
			return
		}
		p.SrcPort = be.Uint16(b)
		p.DstPort = be.Uint16(b[2:])
		p.Seq = be.Uint32(b[4:])
		p.Ack = be.Uint32(b[8:])
		p.TCPFlags = b[13]
		p.Window = be.Uint16(b[14:])
		if p.TCPFlags&FlagSYN != 0 && doff > 20 {
			p.WScale = windowScale(b[20:doff])
		}
		p.PayloadLen = uint32(full - doff)
		p.Payload = b[doff:]
		if d.opt.VerifyChecksums && cut == 0 {
			p.BadChecksum = !d.transportChecksumOK(p, b)
		}
	case ipProtoUDP:
		if len(b) < 8 {
			d.drop(i, ErrTruncatedTransport)
			return
		}
		p.SrcPort = be.Uint16(b)
		p.DstPort = be.Uint16(b[2:])
		// As in Zeek's UDP analyzer: the byte count comes from the UDP
		// length field, even when it disagrees with the IP length (Zeek
		// only reports a weird); the payload, the checksum and any tunnel
		// go by the IP length.
		ulen := int(be.Uint16(b[4:]))
		if ulen < 8 {
			ulen = full // Zeek would count a negative length
		}
		p.PayloadLen = uint32(ulen - 8)
		pl := b[8:]
		p.Payload = pl
		if sum := be.Uint16(b[6:]); d.opt.VerifyChecksums && cut == 0 && (p.V6 || sum != 0) &&
			!(sum == 0 && p.DstPort == udpVXLAN && len(pl) > 8+14 && pl[0]&0x08 != 0) {
			// A VXLAN sender may leave the checksum zero, even over IPv6.
			p.BadChecksum = !d.transportChecksumOK(p, b)
		}
		if !p.BadChecksum {
			d.udpTunnel(i, pl, cut, h)
		}
	case ipProtoICMP, ipProtoICMPv6:
		if len(b) < 8 {
			d.drop(i, ErrTruncatedTransport)
			return
		}
		p.SrcPort = uint16(b[0])
		p.DstPort = uint16(b[1])
		p.PayloadLen = uint32(full - 8)
		p.Payload = b[8:]
		if d.opt.VerifyChecksums && cut == 0 {
			p.BadChecksum = !d.transportChecksumOK(p, b)
		}
	case ipProtoSCTP:
		if len(b) < 12 {
			d.drop(i, ErrTruncatedTransport)
			return
		}
		p.SrcPort = be.Uint16(b)
		p.DstPort = be.Uint16(b[2:])
		p.PayloadLen = uint32(full - 12)
		p.Payload = b[12:]
	case ipProtoIPIP, ipProtoIPv6:
		p.PayloadLen = uint32(full)
		p.Payload = b
		if inner, ok := d.enter(i, h, TunnelIP); ok {
			want := 6
			if proto == ipProtoIPIP {
				want = 4
			}
			if !exactIP(b, cut, want) {
				d.fail(ErrTruncatedTunnel)
				return
			}
			d.ip(b, 0, inner)
		}
	case ipProtoGRE:
		p.PayloadLen = uint32(full)
		p.Payload = b
		d.gre(i, b, cut, h)
	default:
		p.PayloadLen = uint32(full)
		p.Payload = b
	}
}

// exactIP reports whether b holds exactly one IP packet of the given
// version, all captured: Zeek's condition for decapsulating IP-in-IP and
// PPTP (IP::ParsePacket returning Ok).
func exactIP(b []byte, cut, version int) bool {
	if cut > 0 || len(b) == 0 || int(b[0]>>4) != version {
		return false
	}
	if version == 4 {
		return len(b) >= 20 && int(be.Uint16(b[2:])) == len(b)
	}
	return len(b) >= 40 && int(be.Uint16(b[4:]))+40 == len(b)
}

// windowScale returns the window-scale option's shift from a SYN's TCP
// options, or -1, walking the options as Zeek's SYN option parser does (a
// bad length ends the walk; the last window-scale option wins). Shifts
// above 14 are capped at 14 (RFC 7323); Zeek applies them unchecked.
func windowScale(opt []byte) int8 {
	ws := int8(-1)
	for len(opt) > 0 {
		switch opt[0] {
		case 0: // end of options
			return ws
		case 1: // no-op
			opt = opt[1:]
			continue
		}
		if len(opt) < 2 || opt[1] == 0 || int(opt[1]) > len(opt) {
			return ws
		}
		if opt[0] == 3 && opt[1] >= 3 {
			ws = int8(min(opt[2], 14))
		}
		opt = opt[opt[1]:]
	}
	return ws
}

// enter checks the tunnel depth before decoding a packet carried by Packet
// i, and returns the hop for the inner packet.
func (d *decoder) enter(i int, h hop, tunnel string) (hop, bool) {
	if h.depth >= MaxTunnelDepth {
		d.fail(ErrTunnelDepth)
		return hop{}, false
	}
	return hop{parent: int8(i), depth: h.depth + 1, tunnel: tunnel}, true
}
