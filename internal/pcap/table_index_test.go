package pcap

import (
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
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
// the same struct, on lookups of 64k live keys in random order. The two are
// timed in alternating slices of the same loop, in alternating order, so a
// busy machine slows both alike and neither profits from the other's cache;
// the result is reported as map-ns/lookup and open-ns/lookup.
func BenchmarkIndex(b *testing.B) {
	const n = 1 << 16
	flows := make([]conn, n)
	for i := range flows {
		flows[i].key = indexKey(uint32(i))
	}
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	h0 := heap()
	m := make(map[flowKey]uint32) // grown as the table would grow it
	for i := range flows {
		m[flows[i].key] = uint32(i)
	}
	h1 := heap()
	x := newFlowIndex(16)
	for i := range flows {
		x.insert(&flows[i].key, uint32(i))
	}
	h2 := heap()
	perm := rand.New(rand.NewPCG(3, 4)).Perm(n)
	keys := make([]flowKey, n) // the keys to look up, in random order
	for i, p := range perm {
		keys[i] = flows[p].key
	}
	var sum uint32
	var tMap, tOpen time.Duration
	const slice = 4096
	b.ResetTimer()
	for done := 0; done < b.N; done += slice {
		k0 := done & (n - 1)
		mapFirst := (done/slice)%2 == 0 // alternate the order, so neither gains from the other's cache
		lookMap := func() {
			t0 := time.Now()
			for i := 0; i < slice; i++ {
				if s, ok := m[keys[(k0+i)&(n-1)]]; ok {
					sum += flows[s].gen
				}
			}
			tMap += time.Since(t0)
		}
		lookOpen := func() {
			t0 := time.Now()
			for i := 0; i < slice; i++ {
				if s, ok := x.find(flows, &keys[(k0+i)&(n-1)]); ok {
					sum += flows[s].gen
				}
			}
			tOpen += time.Since(t0)
		}
		if mapFirst {
			lookMap()
			lookOpen()
		} else {
			lookOpen()
			lookMap()
		}
	}
	b.StopTimer()
	lookups := float64((b.N + slice - 1) / slice * slice)
	b.ReportMetric(float64(tMap.Nanoseconds())/lookups, "map-ns/lookup")
	b.ReportMetric(float64(tOpen.Nanoseconds())/lookups, "open-ns/lookup")
	b.ReportMetric(float64(h1-h0)/n, "map-bytes/key")
	b.ReportMetric(float64(h2-h1)/n, "open-bytes/key")
	_ = sum
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
		if HostPairHash(&p) != HostPairHash(&q) {
			t.Errorf("%s > %s: host pair hash differs by direction", x.from, x.to)
		}
		q.SrcPort++
		if HostPairHash(&p) != HostPairHash(&q) {
			t.Errorf("%s > %s: host pair hash depends on a port", x.from, x.to)
		}
	}
	a := tp{from: "10.0.0.1:0", to: "10.0.0.2:0", proto: ipProtoICMP, typ: 8}.packet(t)
	b := tp{from: "10.0.0.2:0", to: "10.0.0.1:0", proto: ipProtoICMP, typ: 0}.packet(t)
	if FlowHash(&a) != FlowHash(&b) {
		t.Error("echo request and reply hash differently")
	}
}
