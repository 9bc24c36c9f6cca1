package behavior

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/benchmeter"
	"github.com/mlads/mlads/internal/flow"
)

// benchFlows makes an office-like mix: hosts clients talking to a Zipf
// spread of servers, 5% of first tries unanswered, one flow in 50 a DNS
// lookup, a few long transfers.
func benchFlows(n, hosts int) []flow.Record {
	rng := rand.New(rand.NewPCG(7, 11))
	servers := make([]netip.Addr, 5000)
	for i := range servers {
		servers[i] = netip.AddrFrom4([4]byte{byte(20 + i/65536), byte(i / 256), byte(i), 10})
	}
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 5)), 1.2, 1, uint64(len(servers)-1))
	ports := []uint16{443, 443, 443, 80, 22, 993, 8080}
	rs := make([]flow.Record, n)
	for i := range rs {
		r := &rs[i]
		c := rng.IntN(hosts)
		r.TS = t0.Add(time.Duration(i) * 2 * time.Millisecond) // 500 flows/s
		r.UID = "CbenchUID"
		r.OrigH = netip.AddrFrom4([4]byte{10, byte(c >> 16), byte(c >> 8), byte(c)})
		r.OrigP = uint16(32768 + rng.IntN(28000))
		r.RespH = servers[zipf.Uint64()]
		r.RespP = ports[rng.IntN(len(ports))]
		r.Proto, r.IPProto = flow.ProtoTCP, 6
		r.ConnState, r.History = "SF", "ShADadFf"
		r.OrigPkts, r.RespPkts = 8, 10
		r.OrigBytes, r.RespBytes = uint64(300+rng.IntN(2000)), uint64(1000+rng.IntN(100000))
		r.Duration = time.Duration(rng.IntN(3000)) * time.Millisecond
		switch {
		case rng.IntN(20) == 0:
			r.ConnState, r.History, r.RespPkts, r.OrigBytes, r.RespBytes, r.Duration = "S0", "S", 0, 0, 0, 0
		case rng.IntN(50) == 0:
			r.Proto, r.IPProto, r.RespP, r.RespH = flow.ProtoUDP, 17, 53, netip.AddrFrom4([4]byte{10, 0, 0, 53})
			r.ConnState, r.History = "SF", "Dd"
		}
	}
	return rs
}

// BenchmarkObserve measures the behavioural layer on an office-like mix of
// 10,000 client hosts; it reports flows/s and the state per tracked host
// (the Stats estimate and the measured heap growth).
//
//	go test ./internal/detect/behavior/ -run '^$' -bench Observe -benchmem
func BenchmarkObserve(b *testing.B) {
	const n, hosts = 200000, 10000
	rs := benchFlows(n, hosts)
	span := rs[n-1].TS.Sub(rs[0].TS) + time.Second
	base := make([]time.Time, n)
	for i := range rs {
		base[i] = rs[i].TS
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	e := New(DefaultConfig())
	cpu0 := benchmeter.CPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % n
		r := &rs[k]
		r.TS = base[k].Add(time.Duration(i/n) * span)
		e.Observe(r)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
	// On a shared machine wall time overstates the cost; CPU time of the
	// process (GC included) is reported beside it.
	if c := benchmeter.CPU() - cpu0; c > 0 {
		b.ReportMetric(float64(b.N)/c.Seconds(), "flows/cpu-s")
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	st := e.Stats()
	if st.Hosts > 0 {
		b.ReportMetric(st.BytesPerHost, "B/host(est)")
		b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(st.Hosts), "heapB/host")
		b.ReportMetric(float64(st.Hosts), "hosts")
	}
	runtime.KeepAlive(e)
	runtime.KeepAlive(rs) // else its 40 MB are freed before the second reading
}
