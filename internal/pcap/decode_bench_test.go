package pcap

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/mlads/mlads/internal/shareddata"
)

// benchFrame is one Ethernet frame held in memory.
type benchFrame struct {
	data []byte
	wire int
}

// maxBenchFrames bounds the frames loaded for benchmarks.
const maxBenchFrames = 200000

// benchFrames loads Ethernet frames from the shared captures (the
// throughput corpus of zeek-btest/traces and ndpi-pcaps), or makes a
// synthetic mix when the shared data is absent.
func benchFrames(tb testing.TB) []benchFrame {
	tb.Helper()
	var frames []benchFrame
	if dir, ok := shareddata.Lookup(); ok {
		for _, path := range sharedCaptures(tb, dir) {
			s, err := OpenFile(path)
			if err != nil || s.LinkType() != layers.LinkTypeEthernet || s.ng != nil {
				if s != nil {
					s.Close()
				}
				continue
			}
			for len(frames) < maxBenchFrames {
				data, ci, err := s.pr.ReadPacketData()
				if err != nil {
					break
				}
				frames = append(frames, benchFrame{data: data, wire: ci.Length})
			}
			s.Close()
		}
	}
	if len(frames) == 0 {
		tb.Logf("shared data absent: benchmarking a synthetic mix")
		for i := range 1000 {
			var ip []byte
			switch i % 4 {
			case 0:
				ip = tcpIP(tb, "192.0.2.1", "192.0.2.2", uint16(40000+i), 443, "A", -1, bytes.Repeat([]byte{'x'}, 1400))
			case 1:
				ip = tcpIP(tb, "192.0.2.2", "192.0.2.1", 443, uint16(40000+i), "A", -1, nil)
			case 2:
				ip = udpIP(tb, "10.0.0.1", "10.0.0.2", uint16(1000+i), 53, bytes.Repeat([]byte{'q'}, 60))
			case 3:
				ip = tcpIP(tb, "2001:db8::1", "2001:db8::2", uint16(40000+i), 80, "PA", -1, bytes.Repeat([]byte{'y'}, 300))
			}
			f := ipEth(ip)
			frames = append(frames, benchFrame{data: f, wire: len(f)})
		}
	}
	return frames
}

func avgLen(frames []benchFrame) int64 {
	var n int
	for _, f := range frames {
		n += len(f.data)
	}
	return int64(n / len(frames))
}

// startRate locks the benchmark to its thread and returns the function that
// reports packets per second of wall time and of the thread's CPU time.
func startRate(b *testing.B) func() {
	runtime.LockOSThread()
	b.ResetTimer()
	cpu0 := threadCPU()
	return func() {
		cpu := threadCPU() - cpu0
		b.StopTimer()
		runtime.UnlockOSThread()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
		if cpu > 0 {
			b.ReportMetric(float64(b.N)/(float64(cpu)/1e9), "pkts/cpu-s")
		}
	}
}

// BenchmarkDecode measures decoding frames held in memory (one op is one
// frame): the hand-written decoder with and without checksum verification,
// gopacket's DecodingLayerParser over reused layers for comparison, and the
// whole Source (pcapgo reading plus decoding) over a file.
//
//	go test ./internal/pcap/ -run '^$' -bench BenchmarkDecode -benchmem -benchtime 2000000x
func BenchmarkDecode(b *testing.B) {
	frames := benchFrames(b)
	b.Logf("%d frames, %d bytes on average", len(frames), avgLen(frames))

	decode := func(opt Options) func(b *testing.B) {
		return func(b *testing.B) {
			var d decoder
			d.init(opt)
			pkts := make([]Packet, 0, maxFramePackets)
			b.SetBytes(avgLen(frames))
			b.ReportAllocs()
			done := startRate(b)
			for i := range b.N {
				f := frames[i%len(frames)]
				pkts = d.decodeFrame(pkts, uint64(i+1), int64(i), layers.LinkTypeEthernet, f.data, f.wire)
			}
			done()
		}
	}
	b.Run("hand/checksums", decode(DefaultOptions()))
	noCsum := DefaultOptions()
	noCsum.VerifyChecksums = false
	b.Run("hand/no-checksums", decode(noCsum))

	b.Run("gopacket-dlp", func(b *testing.B) {
		var (
			eth     layers.Ethernet
			dot1q   layers.Dot1Q
			ip4     layers.IPv4
			ip6     layers.IPv6
			tcp     layers.TCP
			udp     layers.UDP
			icmp4   layers.ICMPv4
			icmp6   layers.ICMPv6
			payload gopacket.Payload
		)
		parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &dot1q, &ip4, &ip6, &tcp, &udp, &icmp4, &icmp6, &payload)
		parser.IgnoreUnsupported = true
		decoded := make([]gopacket.LayerType, 0, 10)
		var p Packet
		b.SetBytes(avgLen(frames))
		b.ReportAllocs()
		done := startRate(b)
		for i := range b.N {
			f := frames[i%len(frames)]
			_ = parser.DecodeLayers(f.data, &decoded)
			// Fill what the hand decoder fills, to compare like with like.
			for _, lt := range decoded {
				switch lt {
				case layers.LayerTypeIPv4:
					copy(p.Src[12:], ip4.SrcIP)
					copy(p.Dst[12:], ip4.DstIP)
					p.IPLen = uint32(ip4.Length)
					p.IPProto = uint8(ip4.Protocol)
				case layers.LayerTypeIPv6:
					copy(p.Src[:], ip6.SrcIP)
					copy(p.Dst[:], ip6.DstIP)
					p.IPLen = uint32(ip6.Length) + 40
					p.IPProto = uint8(ip6.NextHeader)
				case layers.LayerTypeTCP:
					p.SrcPort, p.DstPort = uint16(tcp.SrcPort), uint16(tcp.DstPort)
					p.Seq, p.Ack, p.Window = tcp.Seq, tcp.Ack, tcp.Window
					p.Payload = tcp.Payload
				case layers.LayerTypeUDP:
					p.SrcPort, p.DstPort = uint16(udp.SrcPort), uint16(udp.DstPort)
					p.Payload = udp.Payload
				}
			}
		}
		done()
	})

	file := benchFile(b, frames)
	b.Run("source", func(b *testing.B) {
		// From a file, as the command reads it (page cache, read calls).
		path := filepath.Join(b.TempDir(), "bench.pcap")
		if err := os.WriteFile(path, file, 0o644); err != nil {
			b.Fatal(err)
		}
		open := func() *Source {
			s, err := OpenFile(path)
			if err != nil {
				b.Fatal(err)
			}
			return s
		}
		s := open()
		pkts := make([]Packet, 0, maxFramePackets)
		b.SetBytes(avgLen(frames))
		b.ReportAllocs()
		done := startRate(b)
		for range b.N {
			var err error
			pkts, err = s.Next(pkts)
			if errors.Is(err, io.EOF) {
				_ = s.Close()
				s = open() // amortised over the whole file
				pkts, err = s.Next(pkts)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		done()
		_ = s.Close()
	})
}

// benchFile writes frames into an in-memory pcap file.
func benchFile(tb testing.TB, frames []benchFrame) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		tb.Fatal(err)
	}
	for i, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(int64(i), 0), CaptureLength: len(f.data), Length: f.wire}
		if err := w.WritePacket(ci, f.data); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}

// TestDecodeAllocs proves the per-packet path allocates nothing, tunnels,
// fragments and pcapng included, once buffers have grown.
func TestDecodeAllocs(t *testing.T) {
	u4 := udp4(t)
	u6 := udpIP(t, "2001:db8::1", "2001:db8::2", 5000, 443, []byte("hello"))
	payload := make([]byte, 100)
	frags := frag4(t, udpIP(t, "10.0.0.1", "10.0.0.2", 1234, 53, payload), 0, 48, 96)
	mix := [][]byte{
		ipEth(tcpIP(t, "192.0.2.1", "192.0.2.2", 40000, 80, "S", 7, nil), 10),
		ipEth(u6, 10, 20),
		ipEth(udpIP(t, "192.168.56.12", "192.168.56.11", 38071, 4789, cat([]byte{0x08, 0, 0, 0, 0, 0, 1, 0}, ipEth(u4, 5)))),
		ipEth(udpIP(t, "10.8.0.1", "10.8.0.2", 3544, 50000, u6)),
		ipEth(rawIP4(t, "172.16.0.1", "172.16.0.2", 47, cat(u16(0), u16(etIPv4), u4))),
		ipEth(frags[0]), ipEth(frags[1]), ipEth(frags[2]),
		eth(0x0806, make([]byte, 28)),
	}
	var d decoder
	d.init(DefaultOptions())
	pkts := make([]Packet, 0, maxFramePackets)
	run := func() {
		for _, f := range mix {
			pkts = d.decodeFrame(pkts, 1, 1, layers.LinkTypeEthernet, f, len(f))
		}
	}
	run() // grow the fragment table's buffers
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("decoder: %v allocations per run of %d frames, want 0", n, len(mix))
	}

	big := repeatPcap(t, 1000)
	s, err := NewSource("big.pcap", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if pkts, err = s.Next(pkts); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(500, func() {
		if pkts, err = s.Next(pkts); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Source.Next on pcap: %v allocations per frame, want 0", n)
	}
	bigNg := repeatPcapng(t, 1000)
	s, err = NewSource("big.pcapng", bytes.NewReader(bigNg))
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if pkts, err = s.Next(pkts); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(500, func() {
		if pkts, err = s.Next(pkts); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Source.Next on pcapng: %v allocations per frame, want 0", n)
	}
}

// repeatPcap makes a pcap of n copies of a few frames.
func repeatPcap(tb testing.TB, n int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		tb.Fatal(err)
	}
	f1 := ipEth(tcpIP(tb, "192.0.2.1", "192.0.2.2", 40000, 80, "PA", -1, make([]byte, 500)))
	f2 := ipEth(udp4(tb), 7)
	for i := range n {
		for _, f := range [][]byte{f1, f2} {
			ci := gopacket.CaptureInfo{Timestamp: time.Unix(int64(i), 0), CaptureLength: len(f), Length: len(f)}
			if err := w.WritePacket(ci, f); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return buf.Bytes()
}

// repeatPcapng makes a pcapng of n copies of a few frames on two
// interfaces (Ethernet and Linux SLL2, link type 276).
func repeatPcapng(tb testing.TB, n int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{LinkType: layers.LinkTypeEthernet, SnapLength: 65535}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		tb.Fatal(err)
	}
	sll2, err := w.AddInterface(pcapgo.NgInterface{LinkType: linkTypeLinuxSLL2, SnapLength: 65535})
	if err != nil {
		tb.Fatal(err)
	}
	f1 := ipEth(tcpIP(tb, "192.0.2.1", "192.0.2.2", 40000, 80, "PA", -1, make([]byte, 500)))
	u := udp4(tb)
	f2 := cat(u16(etIPv4), u16(0), u32(3), u16(1), []byte{0, 6}, macA, []byte{0, 0}, u)
	for i := range n {
		for j, f := range [][]byte{f1, f2} {
			ci := gopacket.CaptureInfo{Timestamp: time.Unix(int64(i), 0), CaptureLength: len(f), Length: len(f), InterfaceIndex: []int{0, sll2}[j]}
			if err := w.WritePacket(ci, f); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
