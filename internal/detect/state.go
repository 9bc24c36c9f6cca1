package detect

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"math"
	"net/netip"
	"slices"
)

// The Scorer's state, as the daemon checkpoints it (MarshalState,
// RestoreState): the per-host statistics in the host table's order (so
// its CLOCK eviction goes on as before), the known-entity counts that
// online updates changed, and the counters. The model is not part of it.

type scorerState struct {
	Hosts   []byte // hostRecord each, in table order (appendHost)
	Hand    int
	Evicted uint64
	Known   []knownData // counts online updates made, as absolute counts
	Stats   ScorerStats
	Dropped uint64 // known entities not added: table full
}

// hostRecord is the size of one host's record in scorerState.Hosts:
// address (16 bytes and a zone-less flag byte), six float64, the two
// sketches, the seen filter, the pair slots, learned and ref. The fixed
// layout is encoded by hand: gob would walk the arrays element by element.
const hostRecord = 17 + 6*8 + 2*(sketchBits/8) + seenBits/8 + pairSlots + 4 + 1

func appendHost(b []byte, h *hostState) []byte {
	a := h.addr.As16()
	kind := byte(0)
	switch {
	case h.addr.Is4():
		kind = 4
	case h.addr.IsValid():
		kind = 6
	}
	b = append(append(b, kind), a[:]...)
	for _, f := range [...]float64{h.last, h.winStart, h.rate, h.fail, h.bytesOut, h.newDst} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	for _, w := range h.dsts {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	for _, w := range h.ports {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	for _, w := range h.seen {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	b = append(b, h.pairs[:]...)
	b = binary.LittleEndian.AppendUint32(b, h.learned)
	ref := byte(0)
	if h.ref {
		ref = 1
	}
	return append(b, ref)
}

func readHost(b []byte, h *hostState) error {
	a := [16]byte(b[1:17])
	switch b[0] {
	case 4:
		h.addr = netip.AddrFrom16(a).Unmap()
	case 6:
		h.addr = netip.AddrFrom16(a)
	case 0:
	default:
		return fmt.Errorf("address kind %d", b[0])
	}
	p := b[17:]
	u64 := func() uint64 {
		v := binary.LittleEndian.Uint64(p)
		p = p[8:]
		return v
	}
	for _, f := range [...]*float64{&h.last, &h.winStart, &h.rate, &h.fail, &h.bytesOut, &h.newDst} {
		*f = math.Float64frombits(u64())
	}
	for i := range h.dsts {
		h.dsts[i] = u64()
	}
	for i := range h.ports {
		h.ports[i] = u64()
	}
	for i := range h.seen {
		h.seen[i] = u64()
	}
	copy(h.pairs[:], p)
	p = p[pairSlots:]
	h.learned = binary.LittleEndian.Uint32(p)
	h.ref = p[4] == 1
	return nil
}

type knownData struct {
	Key   uint64
	Count uint32
}

// MarshalState encodes the Scorer's state (see RestoreState). It does not
// change the Scorer.
func (s *Scorer) MarshalState() ([]byte, error) {
	t := s.f.hosts
	st := scorerState{Hand: t.hand, Evicted: t.Evicted, Stats: s.stats, Dropped: s.f.known.Dropped,
		Hosts: make([]byte, 0, len(t.states)*hostRecord)}
	for i := range t.states {
		st.Hosts = appendHost(st.Hosts, &t.states[i])
	}
	for k := range s.online {
		st.Known = append(st.Known, knownData{k, s.f.known.counts[k]})
	}
	slices.SortFunc(st.Known, func(a, b knownData) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(&st); err != nil {
		return nil, fmt.Errorf("detect: encode scorer state: %w", err)
	}
	return b.Bytes(), nil
}

// RestoreState replaces the Scorer's host statistics and counters with a
// state MarshalState encoded, and applies its online known-entity counts:
// each count becomes the larger of the model's and the state's, so a
// state restored on a model checkpointed from the same updates (Scorer.
// Model with the updates, see LearnedModel) counts nothing twice. Hosts
// beyond the Scorer's max_hosts are left out and counted as evicted; the
// Scorer is left unchanged when the state cannot be decoded.
func (s *Scorer) RestoreState(b []byte) error {
	var st scorerState
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&st); err != nil {
		return fmt.Errorf("detect: decode scorer state: %w", err)
	}
	if len(st.Hosts)%hostRecord != 0 {
		return fmt.Errorf("detect: scorer state: host table of %d bytes is not whole records of %d", len(st.Hosts), hostRecord)
	}
	n := len(st.Hosts) / hostRecord
	t := newHostTable(s.f.hosts.max)
	for i := range n {
		if len(t.states) >= t.max {
			st.Evicted += uint64(n - i)
			break
		}
		var h hostState
		if err := readHost(st.Hosts[i*hostRecord:(i+1)*hostRecord], &h); err != nil {
			return fmt.Errorf("detect: scorer state: host %d: %w", i, err)
		}
		if _, dup := t.idx[h.addr]; dup {
			return fmt.Errorf("detect: scorer state: host %s twice", h.addr)
		}
		t.idx[h.addr] = int32(len(t.states))
		t.states = append(t.states, h)
	}
	if len(t.states) > 0 {
		t.hand = min(max(st.Hand, 0), len(t.states)-1)
	}
	t.Evicted = st.Evicted
	s.f.hosts = t
	s.f.known.Dropped = st.Dropped
	for _, k := range st.Known {
		if c, ok := s.f.known.counts[k.Key]; ok || len(s.f.known.counts) < s.f.known.max {
			s.f.known.counts[k.Key] = max(c, k.Count)
			s.online[k.Key] = struct{}{}
		} else {
			s.f.known.Dropped++
		}
	}
	s.stats = st.Stats
	return nil
}
