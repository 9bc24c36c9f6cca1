package pcap

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/flow"
)

// benchPackets builds a packet mix over nflows TCP connections: handshake,
// data both ways, close, replayed round-robin so the table holds nflows
// active connections.
func benchPackets(nflows int) []Packet {
	var pkts []Packet
	mk := func(i int, fromClient bool, flags uint8, seq, ack uint32, n int) Packet {
		var c, s [16]byte
		c[10], c[11], s[10], s[11] = 0xff, 0xff, 0xff, 0xff
		binary.BigEndian.PutUint32(c[12:], 0x0a000000+uint32(i))
		binary.BigEndian.PutUint32(s[12:], 0xc0a80001+uint32(i%64))
		p := Packet{IPProto: ipProtoTCP, TCPFlags: flags, Seq: seq, Ack: ack, Window: 1024, WScale: -1, Parent: -1,
			PayloadLen: uint32(n), IPLen: 40 + uint32(n)}
		if fromClient {
			p.Src, p.Dst, p.SrcPort, p.DstPort = c, s, uint16(1024+i%60000), 443
		} else {
			p.Src, p.Dst, p.SrcPort, p.DstPort = s, c, 443, uint16(1024+i%60000)
		}
		return p
	}
	for i := 0; i < nflows; i++ {
		pkts = append(pkts,
			mk(i, true, FlagSYN, 1000, 0, 0),
			mk(i, false, FlagSYN|FlagACK, 5000, 1001, 0),
			mk(i, true, FlagACK, 1001, 5001, 0),
			mk(i, true, FlagACK|FlagPSH, 1001, 5001, 200),
			mk(i, false, FlagACK|FlagPSH, 5001, 1201, 1400),
			mk(i, true, FlagACK, 1201, 6401, 0),
			mk(i, false, FlagACK|FlagPSH, 6401, 1201, 1400),
			mk(i, true, FlagACK, 1201, 7801, 0))
	}
	// Interleave the connections: packet k of every flow, then k+1, ...
	out := make([]Packet, 0, len(pkts))
	for k := 0; k < 8; k++ {
		for i := 0; i < nflows; i++ {
			out = append(out, pkts[i*8+k])
		}
	}
	return out
}

// BenchmarkTable measures the flow update (lookup, TCP state, counters) on
// 64k concurrent connections, and reports the memory held per active flow.
func BenchmarkTable(b *testing.B) {
	const nflows = 1 << 16
	pkts := benchPackets(nflows)
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	tab := NewTable(DefaultTableConfig(), func(*flow.Record) error { return nil })
	ts := time.Now().UnixNano()
	for i := range pkts {
		pkts[i].TS = ts
		if _, err := tab.Add(&pkts[i], FlowRef{}); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	active := tab.Stats().Active
	perFlow := float64(m1.HeapAlloc-m0.HeapAlloc) / float64(active)

	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for n := 0; n < b.N; n++ {
		p := &pkts[i]
		ts++
		p.TS = ts
		if _, err := tab.Add(p, FlowRef{}); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(pkts) {
			i = 0
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(perFlow, "bytes/flow")
	b.ReportMetric(float64(active), "active-flows")
}

// BenchmarkMeter runs ReadFiles end to end (read, decode, flow table,
// records) over the 16 largest of Zeek's test captures as one stream
// (opening hundreds of tiny files would measure file opening instead).
func BenchmarkMeter(b *testing.B) {
	dir := agreeDataDir(b)
	var paths []string
	_ = filepath.WalkDir(filepath.Join(dir, "zeek-btest", "traces"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng") || strings.HasSuffix(p, ".trace")) {
			paths = append(paths, p)
		}
		return nil
	})
	sort.Slice(paths, func(i, j int) bool { return fileSize(paths[i]) > fileSize(paths[j]) })
	paths = paths[:min(len(paths), 16)]
	var size int64
	for _, p := range paths {
		size += fileSize(p)
	}
	cfg := DefaultConfig()
	b.ReportAllocs()
	b.ResetTimer()
	var pk, fl uint64
	for n := 0; n < b.N; n++ {
		sum, _ := ReadFiles(context.Background(), paths, cfg, func(*flow.Record) error { return nil })
		pk, fl = sum.Packets, sum.Flows
	}
	b.StopTimer()
	b.SetBytes(size)
	b.ReportMetric(float64(pk)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(pk), "packets/op")
	b.ReportMetric(float64(fl), "flows/op")
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// BenchmarkTableReplay replays real traffic (the packets of the 16 largest
// Zeek test captures, decoded once into memory) through the table, each
// round an hour after the previous one so connections are created, time
// out and are reported as in a long capture.
func BenchmarkTableReplay(b *testing.B) {
	dir := agreeDataDir(b)
	var paths []string
	_ = filepath.WalkDir(filepath.Join(dir, "zeek-btest", "traces"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng")) {
			paths = append(paths, p)
		}
		return nil
	})
	sort.Slice(paths, func(i, j int) bool { return fileSize(paths[i]) > fileSize(paths[j]) })
	paths = paths[:min(len(paths), 16)]
	var pkts []Packet
	var first int64
	for _, p := range paths {
		src, err := OpenFile(p)
		if err != nil {
			continue
		}
		var buf []Packet
		var base int64
		for {
			buf, err = src.Next(buf[:0])
			if err != nil {
				break
			}
			for _, q := range buf {
				if q.Parent >= 0 {
					continue // keep the benchmark to outer packets
				}
				if base == 0 {
					base = q.TS
				}
				q.TS = q.TS - base + first // files one after the other
				q.Payload = append([]byte(nil), q.Payload[:min(len(q.Payload), 64)]...)
				pkts = append(pkts, q)
			}
		}
		_ = src.Close()
		if n := len(pkts); n > 0 {
			first = pkts[n-1].TS + int64(time.Hour)
		}
	}
	if len(pkts) == 0 {
		b.Skip("no packets")
	}
	tab := NewTable(DefaultTableConfig(), func(*flow.Record) error { return nil })
	span := pkts[len(pkts)-1].TS - pkts[0].TS + int64(time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	var shift int64
	for n := 0; n < b.N; n++ {
		i := n % len(pkts)
		if i == 0 && n > 0 {
			shift += span
		}
		p := pkts[i]
		p.TS += shift
		if _, err := tab.Add(&p, FlowRef{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(len(pkts)), "packets/round")
}

// BenchmarkTableFlood creates a new connection per packet (a spoofed SYN
// flood) in a full table of 64k connections: every packet evicts one.
func BenchmarkTableFlood(b *testing.B) {
	cfg := DefaultTableConfig()
	cfg.MaxFlows = 1 << 16
	tab := NewTable(cfg, func(*flow.Record) error { return nil })
	var p Packet
	p.IPProto, p.TCPFlags, p.WScale, p.Parent, p.IPLen = ipProtoTCP, FlagSYN, -1, -1, 40
	p.Dst = v4mapped(192, 168, 0, 1)
	p.DstPort = 80
	ts := time.Now().UnixNano()
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		binary.BigEndian.PutUint32(p.Src[12:], uint32(n))
		p.Src[10], p.Src[11] = 0xff, 0xff
		p.SrcPort = uint16(n)
		p.Seq = uint32(n)
		p.TS = ts + int64(n)*1000 // a million SYNs per second
		if _, err := tab.Add(&p, FlowRef{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st := tab.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(st.Evicted), "evicted")
	if st.Peak > cfg.MaxFlows {
		b.Fatalf("peak %d flows, limit %d", st.Peak, cfg.MaxFlows)
	}
}

// BenchmarkMeterFile runs the `mlads flows --format json` path (ReadFiles
// and the JSON writer, output discarded) over the capture named by
// $BENCH_PCAP, e.g. the one bench/flows/build-capture.sh builds. It
// is skipped without it. $BENCH_SHARDS sets Config.Shards.
func BenchmarkMeterFile(b *testing.B) {
	path := os.Getenv("BENCH_PCAP")
	if path == "" {
		b.Skip("BENCH_PCAP not set")
	}
	cfg := DefaultConfig()
	if s := os.Getenv("BENCH_SHARDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		cfg.Shards = n
	}
	b.ReportAllocs()
	b.ResetTimer()
	var pk, fl uint64
	for n := 0; n < b.N; n++ {
		w := flow.NewJSONWriter(bufio.NewWriterSize(io.Discard, 1<<16))
		sum, err := ReadFiles(context.Background(), []string{path}, cfg, w.Write)
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		pk, fl = sum.Packets, sum.Flows
	}
	b.StopTimer()
	b.SetBytes(fileSize(path))
	b.ReportMetric(float64(pk)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(fl), "flows/op")
}
