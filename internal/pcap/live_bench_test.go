package pcap

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/mlads/mlads/internal/flow"
)

// BenchmarkLiveMeter is the per-frame cost of a live capture after the kernel:
// the frames of testdata/sample.pcap, held in memory, handed to a Meter one
// at a time as a capture socket hands them over (decoder, flow table, flows
// to a no-op emit), with auto checksums. Each pass shifts the timestamps so
// that flows keep ending. It reports frames/s on one core: the ceiling of
// one capture socket.
func BenchmarkLiveMeter(b *testing.B) {
	f, err := os.Open(filepath.Join("..", "..", "testdata", "sample.pcap"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	type frame struct {
		ts   int64
		data []byte
		wire int
	}
	var frames []frame
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		frames = append(frames, frame{ci.Timestamp.UnixNano(), data, ci.Length})
	}
	span := frames[len(frames)-1].ts - frames[0].ts + 1e9
	cfg := DefaultConfig()
	cfg.AutoChecksums = true
	var flows int
	m := NewMeter(cfg, func(*flow.Record) error { flows++; return nil })
	lt := r.LinkType()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fr := &frames[i%len(frames)]
		shift := int64(i/len(frames)) * span
		if err := m.Frame(fr.ts+shift, lt, fr.data, fr.wire); err != nil {
			b.Fatal(err)
		}
	}
	if err := m.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(float64(flows)/float64(b.N), "flows/frame")
}
