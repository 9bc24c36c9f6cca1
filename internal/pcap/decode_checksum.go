package pcap

import (
	"encoding/binary"
	"math/bits"
)

// checksum adds b to the Internet checksum (RFC 1071) accumulated in
// initial and returns the folded 16-bit ones' complement sum. A header or
// segment whose checksum field is right sums to 0xffff.
func checksum(b []byte, initial uint64) uint16 {
	// The ones' complement sum does not depend on byte order (RFC 1071
	// 2(B)): add 64-bit little-endian words with end-around carry, which
	// is a plain load and add-with-carry each, and swap the folded sum.
	var s, c uint64
	for len(b) >= 32 {
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[8:]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[16:]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[24:]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b), c)
		b = b[8:]
	}
	if len(b) > 0 {
		// Zero padding at the end keeps every 16-bit word in its place.
		var tail [8]byte
		copy(tail[:], b)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(tail[:]), c)
	}
	s, c = bits.Add64(s, 0, c)
	s += c
	// Fold to 16 bits (still little-endian words), then swap to network
	// order and add the caller's big-endian partial sum.
	s = s>>32 + s&0xffffffff
	s = s>>32 + s&0xffffffff
	s = s>>16 + s&0xffff
	s = s>>16 + s&0xffff
	s = uint64(bits.ReverseBytes16(uint16(s))) + initial
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
