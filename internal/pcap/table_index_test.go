package pcap

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

func indexKey(i uint32) flowKey {
	var k flowKey
	binary.BigEndian.PutUint32(k.loAddr[12:], i*2654435761)
	binary.BigEndian.PutUint32(k.hiAddr[12:], 0xc0a80001)
	k.loPort, k.hiPort, k.proto = uint16(i), 443, 6
	return k
}

// TestFlowIndexMatchesMap inserts and removes keys at random and checks the
// index against a Go map after every step.
func TestFlowIndexMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 3000
	flows := make([]conn, n)
	for i := range flows {
		flows[i].key = indexKey(uint32(i))
	}
	x := newFlowIndex(4)
	model := map[uint32]bool{}
	for step := 0; step < 50000; step++ {
		s := uint32(r.IntN(n))
		k := flows[s].key
		if model[s] {
			x.remove(&k, s)
			delete(model, s)
		} else {
			x.insert(&k, s)
			model[s] = true
		}
		if x.len() != len(model) {
			t.Fatalf("step %d: len %d, want %d", step, x.len(), len(model))
		}
		if step%97 == 0 {
			for i := uint32(0); i < n; i++ {
				got, ok := x.find(flows, &flows[i].key)
				if ok != model[i] || (ok && got != i) {
					t.Fatalf("step %d: find(%d) = %d,%v want %v", step, i, got, ok, model[i])
				}
			}
		}
	}
}

// BenchmarkIndex compares the open-addressing index with a Go map keyed by
// the same struct, on lookups of 64k live keys in random order.
func BenchmarkIndex(b *testing.B) {
	const n = 1 << 16
	flows := make([]conn, n)
	m := make(map[flowKey]uint32, n)
	x := newFlowIndex(n)
	for i := range flows {
		flows[i].key = indexKey(uint32(i))
		m[flows[i].key] = uint32(i)
		x.insert(&flows[i].key, uint32(i))
	}
	perm := rand.New(rand.NewPCG(3, 4)).Perm(n)
	keys := make([]flowKey, n) // the keys to look up, in random order
	for i, p := range perm {
		keys[i] = flows[p].key
	}
	b.Run("map", func(b *testing.B) {
		var sum uint32
		for i := 0; i < b.N; i++ {
			k := &keys[i&(n-1)]
			s, ok := m[*k]
			if ok {
				sum += flows[s].gen
			}
		}
		_ = sum
	})
	b.Run("open", func(b *testing.B) {
		var sum uint32
		for i := 0; i < b.N; i++ {
			k := &keys[i&(n-1)]
			s, ok := x.find(flows, k)
			if ok {
				sum += flows[s].gen
			}
		}
		_ = sum
	})
}

func TestFlowHashIsSymmetric(t *testing.T) {
	for _, x := range []tp{
		{from: "10.0.0.1:1234", to: "10.0.0.2:80"},
		{from: "[2001:db8::1]:5353", to: "[ff02::fb]:5353", proto: ipProtoUDP},
	} {
		p := x.packet(t)
		q := p
		q.Src, q.Dst, q.SrcPort, q.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
		if FlowHash(&p) != FlowHash(&q) {
			t.Errorf("%s > %s: hash differs by direction", x.from, x.to)
		}
	}
	a := tp{from: "10.0.0.1:0", to: "10.0.0.2:0", proto: ipProtoICMP, typ: 8}.packet(t)
	b := tp{from: "10.0.0.2:0", to: "10.0.0.1:0", proto: ipProtoICMP, typ: 0}.packet(t)
	if FlowHash(&a) != FlowHash(&b) {
		t.Error("echo request and reply hash differently")
	}
}
