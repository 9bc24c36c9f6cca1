package zeek

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"time"

	"github.com/mlads/mlads/internal/logline"
)

// The helpers below read eight bytes of a line at a time (SWAR: SIMD within
// a register). conn.log values are short numbers, addresses and names, so
// one or two words cover most of them and the per-byte loops with their
// bounds checks fall away. Each has a byte-at-a-time tail for the last
// bytes of a line.

const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// nonDigits returns x with the high bit set in each byte that is not an
// ASCII digit. Only the lowest flagged byte is exact (a carry out of a
// non-digit byte may flag the bytes above it), which is all the callers use.
func nonDigits(x uint64) uint64 {
	t := x ^ (swarLo * '0')                 // digits become 0..9
	return ((t + swarLo*0x76) | t) & swarHi // 10..0x7f overflow into bit 7; 0x80.. have it
}

// digits8 returns the value of the first n (0..8) bytes of x, which are
// ASCII digits, the first one the most significant.
func digits8(x uint64, n int) uint64 {
	// The digits to the top bytes, zeros (leading zeros) below; a shift by
	// 64 (n = 0) gives 0.
	x = (x & (swarLo * 0x0f)) << uint(64-8*n)
	x = (x*10 + x>>8) & 0x00ff00ff00ff00ff
	x = (x*100 + x>>16) & 0x0000ffff0000ffff
	return (x*10000 + x>>32) & 0xffffffff
}

// digitsAt returns the value of the decimal digits starting at b[i] and the
// index of the first byte after them. The value is exact for up to 19
// digits; callers treat a longer run as not plain.
func digitsAt(b []byte, i int) (v uint64, j int) {
	if i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		if m := nonDigits(x); m != 0 {
			n := bits.TrailingZeros64(m) >> 3
			return digits8(x, n), i + n
		}
		return moreDigits(b, digits8(x, 8), i+8)
	}
	return moreDigits(b, 0, i)
}

// moreDigits continues digitsAt after the digits worth v, at b[j].
func moreDigits(b []byte, v uint64, j int) (uint64, int) {
	for k := 0; k < 2 && j+8 <= len(b); k++ {
		x := binary.LittleEndian.Uint64(b[j:])
		if m := nonDigits(x); m != 0 {
			n := bits.TrailingZeros64(m) >> 3
			return v*pow10[n] + digits8(x, n), j + n
		}
		v = v*1e8 + digits8(x, 8)
		j += 8
	}
	for ; j < len(b); j++ {
		d := b[j] - '0'
		if d > 9 {
			break
		}
		v = v*10 + uint64(d)
	}
	return v, j
}

// tsAt reads the form Zeek writes ts in, ten digits, a dot and six
// ("1655071198.444458"), followed by sep or the end of b, in two words.
func tsAt(b []byte, i int, sep byte) (time.Time, bool) {
	if i+17 > len(b) || (i+17 < len(b) && b[i+17] != sep) {
		return time.Time{}, false
	}
	v := b[i : i+17]
	lo := binary.LittleEndian.Uint64(v)     // the first eight digits
	hi := binary.LittleEndian.Uint64(v[9:]) // the tenth digit, the dot, six digits
	d8 := uint64(v[8] - '0')
	if nonDigits(lo)|nonDigits(hi)&^(0x80<<8) != 0 || v[10] != '.' || d8 > 9 {
		return time.Time{}, false
	}
	sec := digits8(lo, 8)*100 + d8*10 + hi&0x0f
	if sec > 9_000_000_000 {
		return time.Time{}, false // the general path checks the range
	}
	usec := digits8(hi>>16, 6)
	return time.Unix(int64(sec), int64(usec)*1000).UTC(), true
}

// durationAt reads the form Zeek writes an interval in, one to seven
// digits, a dot and one to seven more ("0.012166", "3599.000123"),
// followed by sep, in two words. ok is false for anything else (longer
// values, the end of the line), which the general path reads.
func durationAt(b []byte, i int, sep byte) (d time.Duration, end int, ok bool) {
	if i+8 > len(b) {
		return 0, 0, false
	}
	x := binary.LittleEndian.Uint64(b[i:])
	m := nonDigits(x)
	k := bits.TrailingZeros64(m) >> 3 // digits before the dot; 8 when none is found
	if k == 0 || k == 8 || b[i+k] != '.' {
		return 0, 0, false
	}
	j := i + k + 1
	if j+8 > len(b) {
		return 0, 0, false
	}
	y := binary.LittleEndian.Uint64(b[j:])
	n := bits.TrailingZeros64(nonDigits(y)) >> 3 // fraction digits
	if n == 0 || n == 8 || b[j+n] != sep {
		return 0, 0, false
	}
	return time.Duration(digits8(x, k)*1e9 + digits8(y, n)*pow10[9-n]), j + n, true
}

var pow10 = [10]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// indexByteFrom returns the index of the first c in b at or after start,
// or len(b). conn.log columns are short, so eight bytes at a time beats
// both a byte loop and bytes.IndexByte's call overhead.
func indexByteFrom(b []byte, start int, c byte) int {
	pat := uint64(c) * swarLo
	i := start
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:]) ^ pat
		if t := (x - swarLo) &^ x & swarHi; t != 0 {
			return i + bits.TrailingZeros64(t)>>3
		}
	}
	for ; i < len(b); i++ {
		if b[i] == c {
			return i
		}
	}
	return len(b)
}

// indexSepEsc returns the index of the first c in b at or after start (or
// len(b)) and whether a backslash comes before it: a string column without
// one needs no unescaping, found in the same pass.
func indexSepEsc(b []byte, start int, c byte) (int, bool) {
	pat := uint64(c) * swarLo
	i := start
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		x, y := w^pat, w^(swarLo*'\\')
		if t := ((x - swarLo) &^ x) & swarHi; t != 0 {
			i += bits.TrailingZeros64(t) >> 3
			if u := ((y - swarLo) &^ y) & swarHi & (t&-t - 1); u != 0 {
				return indexByteFrom(b, i, c), true
			}
			return i, false
		}
		if ((y-swarLo)&^y)&swarHi != 0 {
			return indexByteFrom(b, i, c), true
		}
	}
	esc := false
	for ; i < len(b); i++ {
		switch b[i] {
		case c:
			return i, esc
		case '\\':
			esc = true
		}
	}
	return len(b), esc
}

// wordKey is the text of a short column (1 to 15 bytes) as two
// little-endian words, the bytes past its length zeroed, and its length:
// the key of the word caches, compared in three instructions.
type wordKey struct {
	w0, w1 uint64
	n      int
}

// columnKey returns the key of the column that starts at b[i] and ends at
// sep. ok is false when fewer than 16 bytes of b are left (the tail of a
// line), the column is empty or 16 bytes or longer, or it holds a
// backslash (an escape, for the general path).
func columnKey(b []byte, i int, sep byte) (k wordKey, ok bool) {
	if i+16 > len(b) {
		return k, false
	}
	w0, w1 := binary.LittleEndian.Uint64(b[i:]), binary.LittleEndian.Uint64(b[i+8:])
	pat := uint64(sep) * swarLo
	if x := w0 ^ pat; (x-swarLo)&^x&swarHi != 0 {
		k.n = bits.TrailingZeros64((x-swarLo)&^x&swarHi) >> 3
		k.w0 = w0 & (1<<(8*k.n) - 1) // n < 8
	} else if y := w1 ^ pat; (y-swarLo)&^y&swarHi != 0 {
		k.n = 8 + bits.TrailingZeros64((y-swarLo)&^y&swarHi)>>3
		k.w0, k.w1 = w0, w1&(1<<(8*(k.n-8))-1)
	}
	// Bytes past n are zero, so only the column's own can match.
	const bs = swarLo * '\\'
	x, y := k.w0^bs, k.w1^bs
	if k.n == 0 || ((x-swarLo)&^x|(y-swarLo)&^y)&swarHi != 0 {
		return k, false
	}
	return k, true
}

// slot returns the index of k in a 256-entry direct-mapped cache.
func (k wordKey) slot() uint8 {
	return uint8((k.w0*0x9E3779B97F4A7C15 ^ k.w1*0xC2B2AE3D27D4EB4F) >> 56)
}

// addrCache and strCache map the text of short columns that repeat to what
// it parses to: addresses, and proto, service, conn_state and history. In
// the CTU-Normal-40 log the 256 most frequent of 1757 addresses make 84 %
// of the address columns. A hit costs two word loads and a compare instead
// of parsing the text or hashing it into the intern table; the last value
// stored in a slot wins.
type (
	addrCache [256]struct {
		k wordKey
		a netip.Addr
	}
	strCache [256]struct {
		k wordKey
		s string
	}
)

// ipv4 parses the IPv4 address in b[i:] that ends at sep (or at the end of
// b), like ipv4At, through the cache. It returns the address and the index
// after it; ok is false when the column does not start with an IPv4
// address (IPv6, a placeholder, garbage), and the caller must then check
// what follows, as after ipv4At.
func (c *addrCache) ipv4(b []byte, i int, sep byte) (netip.Addr, int, bool) {
	k, ok := columnKey(b, i, sep)
	if !ok || k.n < len("1.1.1.1") {
		return logline.IPv4At(b, i)
	}
	e := &c[k.slot()]
	if e.k == k {
		return e.a, i + k.n, true
	}
	a, j, ok := logline.IPv4At(b, i)
	if ok && j == i+k.n {
		e.k, e.a = k, a
	}
	return a, j, ok
}

// str returns the column that starts at b[i] and ends at sep as a string
// interned in strs, and the index of its end. ok is false when columnKey
// refuses the column; the caller then takes the general path.
func (c *strCache) str(b []byte, i int, sep byte, strs *logline.Strings) (string, int, bool) {
	k, ok := columnKey(b, i, sep)
	if !ok {
		return "", 0, false
	}
	e := &c[k.slot()]
	if e.k != k {
		e.k, e.s = k, strs.Intern(b[i:i+k.n])
	}
	return e.s, i + k.n, true
}
