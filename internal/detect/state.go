package detect

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"net/netip"
	"slices"
)

// The Scorer's state, as the daemon checkpoints it (MarshalState,
// RestoreState): the per-host statistics in the host table's order (so
// its CLOCK eviction goes on as before), the known-entity counts that
// online updates changed, and the counters. The model is not part of it.

type scorerState struct {
	Hosts   []hostData
	Hand    int
	Evicted uint64
	Known   []knownData // counts online updates made, as absolute counts
	Stats   ScorerStats
	Dropped uint64 // known entities not added: table full
}

type hostData struct {
	Addr                                 netip.Addr
	Last, WinStart, Rate, Fail, BytesOut float64
	NewDst                               float64
	Dsts, Ports                          [sketchBits / 64]uint64
	Seen                                 [seenBits / 64]uint64
	Pairs                                [pairSlots]uint8
	Learned                              uint32
	Ref                                  bool
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
		Hosts: make([]hostData, len(t.states))}
	for i := range t.states {
		h := &t.states[i]
		st.Hosts[i] = hostData{Addr: h.addr, Last: h.last, WinStart: h.winStart, Rate: h.rate, Fail: h.fail,
			BytesOut: h.bytesOut, NewDst: h.newDst, Dsts: h.dsts, Ports: h.ports, Seen: h.seen, Pairs: h.pairs,
			Learned: h.learned, Ref: h.ref}
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
	t := newHostTable(s.f.hosts.max)
	for i := range st.Hosts {
		d := &st.Hosts[i]
		if len(t.states) >= t.max {
			st.Evicted += uint64(len(st.Hosts) - i)
			break
		}
		if _, dup := t.idx[d.Addr]; dup {
			return fmt.Errorf("detect: scorer state: host %s twice", d.Addr)
		}
		t.idx[d.Addr] = int32(len(t.states))
		t.states = append(t.states, hostState{addr: d.Addr, last: d.Last, winStart: d.WinStart, rate: d.Rate,
			fail: d.Fail, bytesOut: d.BytesOut, newDst: d.NewDst, dsts: d.Dsts, ports: d.Ports, seen: d.Seen,
			pairs: d.Pairs, learned: d.Learned, ref: d.Ref})
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
