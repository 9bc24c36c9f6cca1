package pcap

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// TestPcapReaderRecords: records of every size up to pcapgo's 256 KiB
// bound, straddling and outgrowing the read buffer, come back whole with
// their times, in micro- and nanosecond files; a cut after a record header
// is a truncation.
func TestPcapReaderRecords(t *testing.T) {
	sizes := []int{60, 1514, 200 << 10, 60, 262144, 9000, 1}
	for _, nanos := range []bool{false, true} {
		var buf bytes.Buffer
		w := pcapgo.NewWriter(&buf)
		if nanos {
			w = pcapgo.NewWriterNanos(&buf)
		}
		if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		base := time.Unix(1700000000, 123456000)
		for i, n := range sizes {
			data := bytes.Repeat([]byte{byte(i + 1)}, n)
			ci := gopacket.CaptureInfo{Timestamp: base.Add(time.Duration(i) * time.Second), CaptureLength: n, Length: n + 4}
			if err := w.WritePacket(ci, data); err != nil {
				t.Fatal(err)
			}
		}
		file := buf.Bytes()
		// iotest-like reader returning short reads, so refills happen
		// mid-record.
		p, err := newPcapRecords(&shortReader{b: file, n: 7777}, 64<<10)
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range sizes {
			data, ts, wire, err := p.next()
			if err != nil {
				t.Fatalf("nanos %v record %d: %v", nanos, i, err)
			}
			want := base.Add(time.Duration(i) * time.Second).UnixNano()
			if len(data) != n || wire != n+4 || ts != want || data[0] != byte(i+1) || data[n-1] != byte(i+1) {
				t.Fatalf("nanos %v record %d: %d bytes (want %d), wire %d, ts %d (want %d)", nanos, i, len(data), n, wire, ts, want)
			}
		}
		if _, _, _, err := p.next(); !errors.Is(err, io.EOF) {
			t.Fatalf("after the last record: %v, want io.EOF", err)
		}
		// Cut right after the last record's header.
		cut := file[:len(file)-sizes[len(sizes)-1]]
		p, err = newPcapRecords(bytes.NewReader(cut), 64<<10)
		if err != nil {
			t.Fatal(err)
		}
		for range len(sizes) - 1 {
			if _, _, _, err := p.next(); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, _, err := p.next(); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("record cut after its header: %v, want io.ErrUnexpectedEOF", err)
		}
	}
}

type shortReader struct {
	b []byte
	n int
}

func (r *shortReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.n)], r.b)
	r.b = r.b[n:]
	return n, nil
}
