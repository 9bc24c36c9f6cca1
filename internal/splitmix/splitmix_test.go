package splitmix_test

import (
	"testing"

	"github.com/mlads/mlads/internal/splitmix"
)

// TestMix64 checks the finaliser against SplitMix64's reference outputs:
// with seed 0 the generator's first values are Mix64(Gamma),
// Mix64(2·Gamma), ...
func TestMix64(t *testing.T) {
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f}
	var state uint64
	for i, w := range want {
		state += splitmix.Gamma
		if got := splitmix.Mix64(state); got != w {
			t.Errorf("value %d: %#x, want %#x", i, got, w)
		}
	}
}
