package logline_test

import (
	"net/netip"
	"testing"

	"github.com/mlads/mlads/internal/logline"
)

// TestParseAddrFastPath checks the dotted-quad fast path against netip.
func TestParseAddrFastPath(t *testing.T) {
	for _, s := range []string{"0.0.0.0", "255.255.255.255", "10.0.0.1", "192.168.100.113", "1.2.3.4",
		"256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1..2.3", "1.2.3.4 ", "a.b.c.d", "1.2.3.04", "::1", "fe80::1%eth0",
		"2001:db8::1", "::ffff:1.2.3.4", "1.2.3.", ".1.2.3", "1234.1.1.1", "0.0.0.00"} {
		want, werr := netip.ParseAddr(s)
		got, gerr := logline.ParseAddr([]byte(s))
		if (werr == nil) != (gerr == nil) || got != want {
			t.Errorf("%q: got %v %v, want %v %v", s, got, gerr, want, werr)
		}
	}
}
