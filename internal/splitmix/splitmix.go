// Package splitmix holds the SplitMix64 finaliser, the one integer mixer
// mlads uses where it needs well-spread bits from structured input (uid
// numbers, addresses). It is not a cryptographic hash.
package splitmix

// Gamma is SplitMix64's increment, 2^64 divided by the golden ratio: an odd
// constant whose bits have no structure, for separating two mixes of
// related values.
const Gamma = 0x9e3779b97f4a7c15

// Mix64 is the SplitMix64 finaliser, a bijection on uint64: every input bit
// affects every output bit.
func Mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
