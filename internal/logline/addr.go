package logline

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// ParseAddr parses an IPv4 or IPv6 address without allocating (dotted
// quads take a fast path).
func ParseAddr(v []byte) (netip.Addr, error) {
	if a, ok := parseIPv4(v); ok {
		return a, nil
	}
	if bytes.IndexByte(v, '%') >= 0 {
		return netip.ParseAddr(string(v)) // the zone is kept: give it its own string
	}
	return netip.ParseAddr(view(v))
}

// parseIPv4 parses a dotted quad without leading zeros; anything else is
// left to netip.ParseAddr (ok=false).
func parseIPv4(v []byte) (netip.Addr, bool) {
	a, n, ok := IPv4At(v, 0)
	return a, ok && n == len(v)
}

// Bytes repeated over a word, for reading eight (here four) bytes at a time.
const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// IPv4At parses the dotted quad starting at b[i] (octets without leading
// zeros) and returns it with the index after it. It is ParseAddr's fast
// path, exported for parsers that read addresses in place in a line.
func IPv4At(b []byte, i int) (netip.Addr, int, bool) {
	if i+16 > len(b) {
		return ipv4Bytes(b, i)
	}
	// Each octet is read from the four bytes at its start: the digits end at
	// the first non-digit, and one multiplication adds up the three at most.
	var out [4]byte
	j := i
	for k := range 4 {
		x := uint64(binary.LittleEndian.Uint32(b[j:]))
		t := x ^ (swarLo * '0' & 0xffffffff)
		m := ((t + swarLo*0x76&0xffffffff) | t) & (swarHi & 0xffffffff)
		n := bits.TrailingZeros64(m|1<<32) >> 3 // 4 when all four are digits
		if n == 0 || n == 4 || (n > 1 && b[j] == '0') {
			return netip.Addr{}, 0, false
		}
		// The n digits to bytes 4-n..3 (zeros below), then summed.
		y := (x & 0x0f0f0f0f) << uint(32-8*n)
		v := (y>>8&0xf)*100 + (y>>16&0xf)*10 + y>>24&0xf
		if v > 255 {
			return netip.Addr{}, 0, false
		}
		out[k] = byte(v)
		j += n
		if k < 3 {
			if b[j] != '.' {
				return netip.Addr{}, 0, false
			}
			j++
		}
	}
	return netip.AddrFrom4(out), j, true
}

// ipv4Bytes is IPv4At a byte at a time, for the end of a line.
func ipv4Bytes(b []byte, i int) (netip.Addr, int, bool) {
	var out [4]byte
	for k := range 4 {
		if k > 0 {
			if i >= len(b) || b[i] != '.' {
				return netip.Addr{}, 0, false
			}
			i++
		}
		if i >= len(b) {
			return netip.Addr{}, 0, false
		}
		v := uint(b[i] - '0')
		if v > 9 {
			return netip.Addr{}, 0, false
		}
		i++
		if i < len(b) {
			if d := uint(b[i] - '0'); d <= 9 {
				if v == 0 {
					return netip.Addr{}, 0, false // a leading zero
				}
				v = v*10 + d
				i++
				if i < len(b) {
					if d := uint(b[i] - '0'); d <= 9 {
						v = v*10 + d
						i++
						if v > 255 {
							return netip.Addr{}, 0, false
						}
					}
				}
			}
		}
		out[k] = byte(v)
	}
	return netip.AddrFrom4(out), i, true
}
