package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/mlads/mlads/internal/shareddata"
)

// maxSharedSeeds bounds the frames taken from the shared captures as seeds,
// and seedsPerFile the frames taken from each, so the seed corpus runs in
// about a second as a plain test.
const (
	maxSharedSeeds = 3000
	seedsPerFile   = 4
)

// generatedSeeds are hand-made frames covering every decoder path.
func generatedSeeds(tb testing.TB) []frame {
	tb.Helper()
	u4 := udp4(tb)
	u6 := udpIP(tb, "2001:db8::1", "2001:db8::2", 5000, 443, []byte("hello"))
	payload := make([]byte, 100)
	fr4 := frag4(tb, udpIP(tb, "10.0.0.1", "10.0.0.2", 1234, 53, payload), 0, 48)
	fr6 := frag6(tb, udpIP(tb, "2001:db8::1", "2001:db8::2", 1234, 53, payload), 9, 0, 48)
	return []frame{
		{lt: 1, data: ipEth(tcpIP(tb, "192.0.2.1", "192.0.2.2", 40000, 80, "S", 7, nil), 5, 6)},
		{lt: 1, data: ipEth(u6)},
		{lt: 1, data: eth(etMPLS, cat([]byte{0, 0x01, 0x01, 0x40}, u4))},
		{lt: 1, data: eth(etPPPoE, cat([]byte{0x11, 0, 0, 1}, u16(uint16(2+len(u4))), u16(pppIPv4), u4))},
		{lt: 1, data: eth(etFabricPath, cat(u16(1), macA, macB, u16(etIPv4), u4))},
		{lt: 1, data: ipEth(rawIP4(tb, "172.16.0.1", "172.16.0.2", 47, cat(u16(greKey), u16(etTransEther), u32(1), ipEth(u4))))},
		{lt: 1, data: ipEth(rawIP4(tb, "172.16.0.1", "172.16.0.2", 47, cat(u16(greSeq), u16(etERSPAN3), u32(1), make([]byte, 12), ipEth(u4))))},
		{lt: 1, data: ipEth(udpIP(tb, "10.0.0.1", "10.0.0.2", 1, 4789, cat([]byte{8, 0, 0, 0, 0, 0, 1, 0}, ipEth(u4))))},
		{lt: 1, data: ipEth(udpIP(tb, "10.0.0.1", "10.0.0.2", 1, 6081, cat([]byte{1, 0}, u16(etIPv4), u32(0), u32(0), u4)))},
		{lt: 1, data: ipEth(udpIP(tb, "10.0.0.1", "10.0.0.2", 2152, 2152, cat([]byte{0x34, 0xff}, u16(0), u32(1), []byte{0, 0, 0, 0x85, 1, 0, 0, 0}, u4)))},
		{lt: 1, data: ipEth(udpIP(tb, "10.0.0.1", "10.0.0.2", 3544, 1, cat([]byte{0, 1, 1, 1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}, u6)))},
		{lt: 1, data: ipEth(udpIP(tb, "10.0.0.1", "10.0.0.2", 5072, 1, cat([]byte{0x41, 0x52, 0x11, 41}, u32(1), make([]byte, 36), u6)))},
		{lt: 1, data: ipEth(rawIP6(tb, "::1", "::2", 41, u6))},
		{lt: 1, data: ipEth(fr4[0])}, {lt: 1, data: ipEth(fr4[1])},
		{lt: 1, data: ipEth(fr6[0])}, {lt: 1, data: ipEth(fr6[1])},
		{lt: 113, data: cat(u16(0), u16(1), u16(6), macA, []byte{0, 0}, u16(etIPv4), u4)},
		{lt: 276, data: cat(u16(etIPv6), u16(0), u32(3), u16(1), []byte{0, 6}, macA, []byte{0, 0}, u6)},
		{lt: 0, data: cat([]byte{2, 0, 0, 0}, u4)},
		{lt: 108, data: cat(u32(24), u6)},
		{lt: 9, data: cat([]byte{0xff, 0x03}, u16(pppIPv4), u4)},
		{lt: 127, data: cat([]byte{0, 0, 8, 0, 0, 0, 0, 0}, []byte{0x88, 0x03, 0, 0}, macA, macB, macA, []byte{0, 0}, macA, []byte{0, 0}, []byte{0xaa, 0xaa, 3, 0, 0, 0}, u16(etIPv4), u4)},
		{lt: 239, data: cat([]byte{2, 0, 0, 0}, binary.LittleEndian.AppendUint16(nil, uint16(4+len(u4))), []byte{9, 0}, u4)},
		{lt: 192, data: cat([]byte{0, 0, 8, 0}, binary.LittleEndian.AppendUint32(nil, 101), u4)},
		{lt: 10, data: cat([]byte{0x50}, macA, macB, []byte{0xaa, 0xaa, 3, 0, 0, 0}, u16(etIPv4), u4)},
		{lt: 101, data: icmp4(tb, "10.0.0.1", "10.0.0.2", 3, 3, u4)},
		{lt: 229, data: icmp6(tb, "::1", "::2", 135, 0, make([]byte, 16))},
	}
}

// sharedSeeds returns the first frames of the shared captures, if present.
func sharedSeeds(tb testing.TB) []frame {
	tb.Helper()
	dir, ok := shareddata.Lookup()
	if !ok {
		return nil
	}
	var seeds []frame
	for _, path := range sharedCaptures(tb, dir) {
		s, err := OpenFile(path)
		if err != nil {
			continue
		}
		for range seedsPerFile {
			if s.pr == nil {
				break // pcapng: link types per interface; pcap files suffice
			}
			data, _, err := s.pr.ReadPacketData()
			if err != nil {
				break
			}
			seeds = append(seeds, frame{lt: s.linkType, data: data})
		}
		s.Close()
		if len(seeds) >= maxSharedSeeds {
			break
		}
	}
	return seeds
}

// FuzzDecode feeds arbitrary frames of arbitrary link types to the decoder:
// it must not panic, and what it emits must be consistent.
//
//	go test ./internal/pcap/ -run '^$' -fuzz FuzzDecode -fuzztime 60s
func FuzzDecode(f *testing.F) {
	for _, s := range append(generatedSeeds(f), sharedSeeds(f)...) {
		f.Add(uint16(s.lt), s.data, uint16(0))
	}
	f.Fuzz(func(t *testing.T, lt uint16, data []byte, cut uint16) {
		var d decoder
		d.init(DefaultOptions())
		pkts := d.decodeFrame(nil, 1, 0, layers.LinkType(lt), data, len(data)+int(cut))
		// A second decode of the same frame exercises fragment state.
		pkts = d.decodeFrame(pkts, 2, 1, layers.LinkType(lt), data, len(data)+int(cut))
		if len(pkts) > maxFramePackets {
			t.Fatalf("%d packets", len(pkts))
		}
		for i, p := range pkts {
			if int(p.Parent) >= i || p.Parent < -1 {
				t.Fatalf("packet %d has parent %d", i, p.Parent)
			}
			if p.IPProto != ipProtoUDP && (uint32(len(p.Payload)) > p.PayloadLen || p.PayloadLen > p.IPLen) {
				t.Fatalf("packet %d: payload %d bytes, PayloadLen %d, IPLen %d", i, len(p.Payload), p.PayloadLen, p.IPLen)
			}
			if (p.Parent >= 0) != (p.Tunnel != "") {
				t.Fatalf("packet %d: parent %d tunnel %q", i, p.Parent, p.Tunnel)
			}
		}
		if d.stats.Frames != 2 {
			t.Fatalf("stats %v", d.stats)
		}
	})
}

// FuzzSource feeds arbitrary files to the Source: errors are fine, panics
// and endless loops are not.
//
//	go test ./internal/pcap/ -run '^$' -fuzz FuzzSource -fuzztime 60s
func FuzzSource(f *testing.F) {
	for _, name := range []string{"good.pcap", "two-interfaces.pcapng", "two-interfaces.pcapng.gz", "corrupt-headers.pcap", "truncated.pcap"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		s, err := NewSource("fuzz", bytes.NewReader(file))
		if err != nil {
			return
		}
		var pkts []Packet
		for n := 0; ; n++ {
			pkts, err = s.Next(pkts)
			if err != nil {
				break
			}
			if n > len(file) {
				t.Fatalf("more frames (%d) than bytes in the file", n)
			}
		}
		if !errors.Is(err, io.EOF) && s.Frame() > uint64(len(file)) {
			t.Fatalf("frame %d", s.Frame())
		}
	})
}
