package pcap

import "github.com/mlads/mlads/internal/splitmix"

// uidGen makes Zeek-style connection uids: 'C' followed by 17 base62
// characters. They are deterministic (a seeded counter, mixed by a bijective
// 64-bit permutation) and never collide within a run, because the first 11
// characters encode the permuted counter exactly.
type uidGen struct {
	seed uint64
	n    uint64
	step uint64 // 0 means 1
}

func (g *uidGen) init(seed uint64) { g.seed = seed }

// stripe makes g number i+1, i+1+n, i+1+2n, ...: the uids of shard i of n
// (same seed) never collide with the other shards'. Call it before next.
func (g *uidGen) stripe(i, n int) {
	g.step = uint64(n)
	g.n = uint64(i) + 1 - uint64(n) // wraps; the first next adds n back
}

// next returns the next uid number (never 0).
func (g *uidGen) next() uint64 {
	g.n += max(g.step, 1)
	return g.n
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// format renders uid number n as an 18-character string.
func (g *uidGen) format(n uint64) string {
	var b [18]byte
	b[0] = 'C'
	hi := splitmix.Mix64(n ^ g.seed)
	lo := splitmix.Mix64(hi ^ splitmix.Gamma)
	for i := 11; i >= 1; i-- { // 62^11 > 2^64: exact, so unique
		b[i] = base62[hi%62]
		hi /= 62
	}
	for i := 17; i >= 12; i-- {
		b[i] = base62[lo%62]
		lo /= 62
	}
	return string(b[:])
}
