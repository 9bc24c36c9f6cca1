package pcap

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/mlads/mlads/internal/flow"
)

// rewriteCapture copies the first frames (all when frames is 0) of the
// Ethernet/IPv4 capture in to a new file, letting spoil change each frame's
// transport checksum (i is the frame's index).
func rewriteCapture(t testing.TB, in string, frames int, spoil func(i int, frame []byte)) string {
	t.Helper()
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "rewritten.pcap")
	of, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(of)
	if err := w.WriteFileHeader(65535, r.LinkType()); err != nil {
		t.Fatal(err)
	}
	for i := 0; frames == 0 || i < frames; i++ {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		spoil(i, data)
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := of.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// transportChecksum returns the offset of the TCP or UDP checksum of an
// untagged Ethernet/IPv4 frame, or -1.
func transportChecksum(frame []byte) int {
	if len(frame) < 34 || binary.BigEndian.Uint16(frame[12:]) != uint16(layers.EthernetTypeIPv4) {
		return -1
	}
	ihl := int(frame[14]&0x0f) * 4
	at := 14 + ihl
	switch frame[14+9] {
	case ipProtoTCP:
		at += 16
	case ipProtoUDP:
		at += 6
	default:
		return -1
	}
	if at+2 > len(frame) {
		return -1
	}
	return at
}

// offload leaves every TCP and UDP checksum as a sending host's capture
// shows it under checksum offloading: not filled in (here: zeroed for TCP,
// and a wrong non-zero value for UDP, where zero means "none").
func offload(_ int, frame []byte) {
	if at := transportChecksum(frame); at >= 0 {
		binary.BigEndian.PutUint16(frame[at:], 0x0001)
	}
}

// flowsOf returns the flows of a capture as JSON lines.
func flowsOf(t testing.TB, path string, cfg Config) ([]string, Summary) {
	t.Helper()
	var buf bytes.Buffer
	w, err := flow.NewWriter(flow.FormatJSON, &buf)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := ReadFiles(context.Background(), []string{path}, cfg, w.Write)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return strings.Split(buf.String(), "\n"), sum
}

func checksumConfig(mode string) Config {
	cfg := DefaultConfig()
	switch mode {
	case "auto":
		cfg.AutoChecksums = true
	case "off":
		cfg.VerifyChecksums = false
	}
	return cfg
}

func TestAutoChecksums(t *testing.T) {
	sample := filepath.Join("..", "..", "testdata", "sample.pcap")
	offloaded := rewriteCapture(t, sample, 0, offload)
	corrupt := 0
	fewBad := rewriteCapture(t, sample, 0, func(i int, frame []byte) {
		// Three frames with a wrong checksum among the first thousand.
		if at := transportChecksum(frame); at >= 0 && (i == 10 || i == 500 || i == 900) {
			frame[at] ^= 0x5a
			corrupt++
		}
	})
	if corrupt != 3 {
		t.Fatalf("spoiled %d frames, want 3", corrupt)
	}
	for _, tc := range []struct {
		name, file, same string // auto gives the same flows as verification `same`
		off              bool
		minFailed        uint64
	}{
		{name: "offloaded", file: offloaded, same: "off", off: true, minFailed: AutoChecksumSample / 2},
		{name: "few-bad", file: fewBad, same: "on", off: false},
		{name: "clean", file: sample, same: "on", off: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auto, sum := flowsOf(t, tc.file, checksumConfig("auto"))
			want, _ := flowsOf(t, tc.file, checksumConfig(tc.same))
			if diff := cmp.Diff(want, auto); diff != "" {
				t.Errorf("auto differs from verification %s (-%s +auto):\n%s", tc.same, tc.same, diff)
			}
			switch {
			case tc.off && (len(sum.Checksums) != 1 || !sum.Checksums[0].Off || sum.Checksums[0].Failed < tc.minFailed):
				t.Errorf("want one decision to switch checksums off, got %+v", sum.Checksums)
			case !tc.off && len(sum.Checksums) != 0:
				t.Errorf("want checksums kept on, got %+v", sum.Checksums)
			}
		})
	}
	// The few bad packets are still caught: their flows differ from -C.
	on, _ := flowsOf(t, fewBad, checksumConfig("auto"))
	off, _ := flowsOf(t, fewBad, checksumConfig("off"))
	if cmp.Equal(on, off) {
		t.Error("a capture with three corrupt packets gives the same flows under auto as under -C; want them checked")
	}
}

// TestAutoChecksumsShortCapture: a capture shorter than the sample is
// decided when it ends, on what it holds.
func TestAutoChecksumsShortCapture(t *testing.T) {
	short := rewriteCapture(t, filepath.Join("..", "..", "testdata", "sample.pcap"), 40, offload)
	auto, sum := flowsOf(t, short, checksumConfig("auto"))
	off, _ := flowsOf(t, short, checksumConfig("off"))
	if diff := cmp.Diff(off, auto); diff != "" {
		t.Errorf("short offloaded capture: auto differs from -C:\n%s", diff)
	}
	if len(sum.Checksums) != 1 || sum.Checksums[0].Sampled >= AutoChecksumSample {
		t.Errorf("want one decision on a short sample, got %+v", sum.Checksums)
	}
}
