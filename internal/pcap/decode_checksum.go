package pcap

import "encoding/binary"

// checksum adds b to the Internet checksum (RFC 1071) accumulated in
// initial and returns the folded 16-bit ones' complement sum. A header or
// segment whose checksum field is right sums to 0xffff.
func checksum(b []byte, initial uint64) uint16 {
	s := initial
	for len(b) >= 32 {
		x0 := binary.BigEndian.Uint64(b)
		x1 := binary.BigEndian.Uint64(b[8:])
		x2 := binary.BigEndian.Uint64(b[16:])
		x3 := binary.BigEndian.Uint64(b[24:])
		s += x0>>32 + x0&0xffffffff + x1>>32 + x1&0xffffffff +
			x2>>32 + x2&0xffffffff + x3>>32 + x3&0xffffffff
		b = b[32:]
	}
	for len(b) >= 4 {
		s += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// transportChecksumOK verifies the TCP, UDP, ICMP or ICMPv6 checksum of
// Packet p, whose whole IP payload (transport header included) is b.
func (d *decoder) transportChecksumOK(p *Packet, b []byte) bool {
	var s uint64
	if p.IPProto != ipProtoICMP { // ICMP (v4) has no pseudo-header
		if p.V6 {
			s = sum16(p.Src[:]) + sum16(p.Dst[:]) + uint64(len(b)) + uint64(p.IPProto)
		} else {
			s = sum16(p.Src[12:]) + sum16(p.Dst[12:]) + uint64(len(b)) + uint64(p.IPProto)
		}
	}
	return checksum(b, s) == 0xffff
}

// sum16 sums an address as 16-bit words.
func sum16(a []byte) uint64 {
	var s uint64
	for i := 0; i+1 < len(a); i += 2 {
		s += uint64(a[i])<<8 | uint64(a[i+1])
	}
	return s
}
