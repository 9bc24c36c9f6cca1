package zeek

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/jscan"
	"github.com/mlads/mlads/internal/logline"
)

// FuzzSWAR checks the word-at-a-time helpers against the standard library
// at every offset of the input, so both the word and the byte tails run.
func FuzzSWAR(f *testing.F) {
	var cache addrCache // shared across inputs, so hits come from earlier ones
	for _, s := range []string{
		"147.32.81.167\t62771", "1.2.3.4", "255.255.255.255\tx", "256.1.1.1\t", "01.2.3.4\t", "1.2.3.04\t",
		"0.0.0.0\t", "1.2.3", "1..2.3\t", "1234.1.1.1\t", "10.0.0.1 abcdefgh",
		"0\t1\t12\t123\t1234567\t12345678\t123456789\t1655071198.444458\t",
		"18446744073709551615\t", "0.012166\t1\t2\t3\t4", "3599.1234567\tabcdefgh", "12345678.1\tabcdefghijk", "1655071198.444458", "9999999999.999999\t", "165507119a.444458\t", "1655071198,444458\t", "99999999999999999999999999", "1e5", "-1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		for i := 0; i <= len(b); i++ {
			// digitsAt: the run of digits and, up to 19 of them, its value.
			j := i
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			v, gj := digitsAt(b, i)
			if gj != j {
				t.Fatalf("digitsAt(%q, %d) ends at %d, want %d", s, i, gj, j)
			}
			if j > i && j-i <= 19 {
				want, err := strconv.ParseUint(s[i:j], 10, 64)
				if err != nil || v != want {
					t.Fatalf("digitsAt(%q, %d) = %d, want %d (%v)", s, i, v, want, err)
				}
			}
			// tsAt: when it accepts, the general time parser agrees.
			if got, ok := tsAt(b, i, '\t'); ok {
				want, err := jscan.ParseTime(b[i : i+17])
				if err != nil || !want.Equal(got) || len(b) > i+17 && b[i+17] != '\t' {
					t.Fatalf("tsAt(%q, %d) = %v, ParseTime says %v %v", s, i, got, want, err)
				}
			}
			// durationAt: when it accepts, the text is digits, a dot and
			// digits ending at a tab, worth what it reads.
			if d, e, ok := durationAt(b, i, '\t'); ok {
				sec, frac, dot := strings.Cut(s[i:e], ".")
				si, err1 := strconv.ParseUint(sec, 10, 64)
				fi, err2 := strconv.ParseUint(frac, 10, 64)
				if !dot || err1 != nil || err2 != nil || strings.ContainsAny(s[i:e], "+-") || b[e] != '\t' ||
					d != time.Duration(si*1e9+fi*pow10[9-len(frac)]) {
					t.Fatalf("durationAt(%q, %d) = %v ending at %d", s, i, d, e)
				}
			}
			// ipv4At: when it accepts, netip agrees on the prefix it read;
			// a valid dotted quad ending at a non-digit, non-dot byte is
			// always accepted.
			a, n, ok := logline.IPv4At(b, i)
			if ok {
				want, err := netip.ParseAddr(s[i:n])
				if err != nil || want != a {
					t.Fatalf("ipv4At(%q, %d) = %v %d, netip says %v %v", s, i, a, n, want, err)
				}
			}
			// The address cache answers exactly as ipv4At, hit or miss (the
			// second call hits when the first stored the address).
			for range 2 {
				if ca, cn, cok := cache.ipv4(b, i, '\t'); cok != ok || cok && (ca != a || cn != n) {
					t.Fatalf("addrCache.ipv4(%q, %d) = %v %d %v, ipv4At says %v %d %v", s, i, ca, cn, cok, a, n, ok)
				}
			}
			for e := i + 7; e <= len(b) && e <= i+15; e++ {
				if e < len(b) && (b[e] == '.' || b[e] >= '0' && b[e] <= '9') {
					continue
				}
				if want, err := netip.ParseAddr(s[i:e]); err == nil && want.Is4() && (!ok || n != e || a != want) {
					t.Fatalf("ipv4At(%q, %d) = %v %d %v, want %v ending at %d", s, i, a, n, ok, want, e)
				}
			}
		}
	})
}
