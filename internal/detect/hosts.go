package detect

import (
	"math"
	"math/bits"
	"net/netip"
	"unsafe"
)

// Host statistics are damped: every flow adds 1 (or its bytes) and older
// contributions fade with this half-life, so a statistic reads as "about
// so much in the last few minutes" without keeping the flows.
const (
	hostHalfLife = 300.0 // seconds
	hostWindow   = 300.0 // seconds of the distinct-destination/port sketches
	sketchBits   = 256
	seenBits     = 1024
	pairSlots    = 64
)

// hostState is the bounded per-host state: damped counters, two small
// linear-counting sketches for distinct destinations and ports in the
// current window, and a bloom filter of destinations the host has ever
// contacted (for the new-destination rate). Fixed size, no pointers.
type hostState struct {
	addr     netip.Addr
	last     float64 // seconds, latest flow time seen
	winStart float64
	rate     float64 // damped flows
	fail     float64 // damped failed flows
	bytesOut float64 // damped bytes sent
	newDst   float64 // damped flows to destinations never seen before
	dsts     [sketchBits / 64]uint64
	ports    [sketchBits / 64]uint64
	seen     [seenBits / 64]uint64
	pairs    [pairSlots]uint8 // flows per responder (hashed) in the current window, saturating
	learned  uint32           // online model updates this host has made
	ref      bool             // CLOCK reference bit
}

// hostTable holds hostState for at most max hosts; beyond it the CLOCK
// hand evicts a host not seen since its last pass (an LRU approximation
// without a linked list). Evictions are counted.
type hostTable struct {
	max     int
	idx     map[netip.Addr]int32
	states  []hostState
	hand    int
	Evicted uint64
}

func newHostTable(max int) *hostTable {
	if max < 1 {
		max = 1
	}
	return &hostTable{max: max, idx: make(map[netip.Addr]int32, min(max, 4096))}
}

// BytesPerHost is the memory one tracked host costs: its state plus an
// estimate of its index map entry.
func BytesPerHost() int {
	return int(unsafe.Sizeof(hostState{})) + int(unsafe.Sizeof(netip.Addr{})) + 4 + 16
}

// get returns a's state, creating (and possibly evicting) as needed.
func (t *hostTable) get(a netip.Addr) *hostState {
	if i, ok := t.idx[a]; ok {
		s := &t.states[i]
		s.ref = true
		return s
	}
	var i int
	if len(t.states) < t.max {
		t.states = append(t.states, hostState{})
		i = len(t.states) - 1
	} else {
		for {
			s := &t.states[t.hand]
			if !s.ref {
				break
			}
			s.ref = false
			t.hand = (t.hand + 1) % len(t.states)
		}
		i = t.hand
		t.hand = (t.hand + 1) % len(t.states)
		delete(t.idx, t.states[i].addr)
		t.Evicted++
	}
	t.states[i] = hostState{addr: a, ref: true}
	t.idx[a] = int32(i)
	return &t.states[i]
}

// Len returns the number of tracked hosts.
func (t *hostTable) Len() int { return len(t.states) }

func hash64(a netip.Addr, extra uint64) uint64 {
	b := a.As16()
	h := uint64(14695981039346656037) ^ extra*0x9E3779B97F4A7C15
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h ^= h >> 29
	h *= 0xBF58476D1CE4E5B9
	h ^= h >> 32
	return h
}

func setBit(bits []uint64, h uint64) bool {
	n := uint64(len(bits) * 64)
	i := h % n
	w, m := i/64, uint64(1)<<(i%64)
	was := bits[w]&m != 0
	bits[w] |= m
	return was
}

// linearCount estimates distinct items from a bitmap's empty share.
func linearCount(bitmap []uint64) float64 {
	ones := 0
	for _, w := range bitmap {
		ones += bits.OnesCount64(w)
	}
	if ones == 0 {
		return 0
	}
	n := float64(len(bitmap) * 64)
	zeros := n - float64(ones)
	if zeros < 1 {
		zeros = 0.5
	}
	return -n * math.Log(zeros/n)
}

// observe reads the host's statistics before this flow (into x and raw) and
// then adds the flow. t is the flow's time in seconds. It reports whether
// the host had never contacted resp before (as far as its bloom filter
// knows).
func (s *hostState) observe(t float64, resp netip.Addr, respP uint16, bytesOut float64, fail bool, x, raw *[NumNumeric]float64) (newDst bool) {
	if t > s.last {
		if s.last > 0 {
			d := math.Exp2(-(t - s.last) / hostHalfLife)
			s.rate *= d
			s.fail *= d
			s.bytesOut *= d
			s.newDst *= d
		}
		s.last = t
	}
	if t-s.winStart > hostWindow {
		s.winStart = t
		s.dsts = [sketchBits / 64]uint64{}
		s.ports = [sketchBits / 64]uint64{}
		s.pairs = [pairSlots]uint8{}
	}
	raw[fHostRate] = s.rate
	raw[fHostFail] = 0
	raw[fHostNewDst] = 0
	if s.rate > 0 {
		raw[fHostFail] = s.fail / s.rate
		raw[fHostNewDst] = s.newDst / s.rate
	}
	raw[fHostDsts] = linearCount(s.dsts[:])
	raw[fHostPorts] = linearCount(s.ports[:])
	raw[fHostBytesOut] = s.bytesOut
	hd := hash64(resp, 1)
	slot := &s.pairs[hd>>58]
	raw[fPairFlows] = float64(*slot)
	if *slot < 255 {
		*slot++
	}
	for _, i := range [...]int{fHostRate, fHostFail, fHostDsts, fHostPorts, fHostNewDst, fHostBytesOut, fPairFlows} {
		if numericLog[i] {
			x[i] = log1p(raw[i])
		} else {
			x[i] = raw[i]
		}
	}

	s.rate++
	if fail {
		s.fail++
	}
	s.bytesOut += bytesOut
	if !setBit(s.seen[:], hd) {
		s.newDst++
		newDst = true
	}
	setBit(s.dsts[:], hd>>11)
	setBit(s.ports[:], uint64(respP)*0x9E3779B97F4A7C15>>7)
	return newDst
}

// knownTable counts how often the baseline saw an entity (an originator, a
// responder, a responder's service), keyed by a 64-bit hash. Bounded: keys
// beyond max are not added and are counted as dropped.
type knownTable struct {
	max     int
	counts  map[uint64]uint32
	Dropped uint64
}

func newKnownTable(max int) *knownTable {
	return &knownTable{max: max, counts: make(map[uint64]uint32)}
}

func (k *knownTable) get(h uint64) uint32 { return k.counts[h] }

func (k *knownTable) add(h uint64) {
	if c, ok := k.counts[h]; ok {
		if c < math.MaxUint32 {
			k.counts[h] = c + 1
		}
		return
	}
	if len(k.counts) >= k.max {
		k.Dropped++
		return
	}
	k.counts[h] = 1
}

// Kinds of known entities (mixed into the hash).
const (
	knownOrig    = 101
	knownResp    = 102
	knownService = 103
)

func serviceKey(resp netip.Addr, respP uint16, proto uint16) uint64 {
	return hash64(resp, knownService+uint64(respP)<<8+uint64(proto)<<32)
}
