package pcap

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/mlads/mlads/internal/golden"
)

// testdataFiles builds the captures kept in testdata/. They are generated
// here (go test -run TestSourceTestdata -update) and checked in, so the bad
// inputs are plain files anyone can feed to the command line too.
func testdataFiles(tb testing.TB) map[string][]byte {
	tb.Helper()
	dir := tb.(interface{ TempDir() string }).TempDir()
	read := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	good := []frame{
		{lt: 1, data: ipEth(tcpIP(tb, "192.0.2.1", "192.0.2.2", 40000, 80, "S", 7, nil))},
		{lt: 1, data: ipEth(tcpIP(tb, "192.0.2.2", "192.0.2.1", 80, 40000, "SA", 8, nil))},
		{lt: 1, data: ipEth(udp4(tb), 100)},
		{lt: 1, data: ipEth(udpIP(tb, "2001:db8::1", "2001:db8::2", 5000, 443, []byte("hello")))},
	}
	files := map[string][]byte{}
	files["good.pcap"] = read(writePcap(tb, dir, "good.pcap", good...))

	files["empty.pcap"] = nil
	files["garbage.pcap"] = []byte("This is not a capture file, just some text that was given a .pcap name.\n")
	files["short-header.pcap"] = files["good.pcap"][:10]
	// The fourth record is cut in the middle of its data.
	files["truncated.pcap"] = files["good.pcap"][:len(files["good.pcap"])-20]
	// The third record header claims a 2 GB packet.
	g := files["good.pcap"]
	rec3 := 24 + 2*16 + len(good[0].data) + len(good[1].data)
	corrupt := append([]byte(nil), g[:rec3+16]...)
	copy(corrupt[rec3+8:], []byte{0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f})
	files["corrupt-record.pcap"] = corrupt
	files["unknown-linktype.pcap"] = read(writePcap(tb, dir, "u.pcap",
		frame{lt: 147, data: udp4(tb)}, frame{lt: 147, data: udp4(tb)}))
	// Old minor version 2.2 header (pcapgo itself accepts only 2.4).
	v22 := append([]byte(nil), g...)
	v22[6] = 2
	files["version-2.2.pcap"] = v22

	// Snaplen 64: the TCP payloads are cut.
	payload := bytes.Repeat([]byte("x"), 200)
	long := ipEth(tcpIP(tb, "192.0.2.2", "192.0.2.1", 80, 40000, "PA", -1, payload))
	files["snaplen-cut.pcap"] = read(writePcap(tb, dir, "s.pcap",
		frame{lt: 1, data: long[:64], wire: len(long)},
		frame{lt: 1, data: long[:40], wire: len(long)}))

	// Frames with corrupt headers between good ones.
	badVersion := udp4(tb)
	badVersion[0] = 0x75
	badSum := udp4(tb)
	badSum[10] ^= 0x55
	files["corrupt-headers.pcap"] = read(writePcap(tb, dir, "c.pcap",
		good[0],
		frame{lt: 1, data: ipEth(badVersion)},
		frame{lt: 1, data: ipEth(badSum)},
		frame{lt: 1, data: ipEth(udp4(tb))[:20]},
		frame{lt: 1, data: eth(etVLAN, []byte{1})},
		frame{lt: 1, data: eth(0x0806, make([]byte, 28))},
		good[1]))

	// pcapng with two interfaces of different link types.
	var ng bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&ng, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := w.AddInterface(pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw, SnapLength: 65535})
	if err != nil {
		tb.Fatal(err)
	}
	for i, f := range []struct {
		iface int
		data  []byte
	}{{0, good[0].data}, {raw, udp4(tb)}, {0, good[1].data}, {raw, udpIP(tb, "2001:db8::1", "2001:db8::2", 5000, 443, nil)}} {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000+int64(i), 0), CaptureLength: len(f.data), Length: len(f.data), InterfaceIndex: f.iface}
		if err := w.WritePacket(ci, f.data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	files["two-interfaces.pcapng"] = ng.Bytes()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.ModTime = time.Unix(0, 0)
	if _, err := zw.Write(ng.Bytes()); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	files["two-interfaces.pcapng.gz"] = gz.Bytes()
	return files
}

// readAll reads a Source to its end and returns the packets per frame and
// the final error (nil at io.EOF).
func readAll(tb testing.TB, s *Source) ([][]Packet, error) {
	tb.Helper()
	var frames [][]Packet
	var pkts []Packet
	var err error
	for {
		pkts, err = s.Next(pkts)
		if err != nil {
			break
		}
		frames = append(frames, append([]Packet(nil), pkts...))
	}
	if errors.Is(err, io.EOF) {
		return frames, nil
	}
	return frames, err
}

func TestSourceTestdata(t *testing.T) {
	files := testdataFiles(t)
	cases := []struct {
		file    string
		openErr string // error of OpenFile
		frames  int    // frames read before the end or the error
		packets int
		readErr string // fatal error of Next
		errs    string // DecodeStats.ErrorsString
		nonIP   uint64
	}{
		{file: "good.pcap", frames: 4, packets: 4, errs: "none"},
		{file: "version-2.2.pcap", frames: 4, packets: 4, errs: "none"},
		{file: "empty.pcap", openErr: "pcap: empty.pcap: empty file"},
		{file: "garbage.pcap", openErr: "pcap: garbage.pcap: not a pcap or pcapng capture (starts with 54 68 69 73)"},
		{file: "short-header.pcap", openErr: "pcap: short-header.pcap: pcap header: unexpected EOF"},
		{file: "truncated.pcap", frames: 3, packets: 3, readErr: "pcap: truncated.pcap packet 4: unexpected EOF", errs: "none"},
		{file: "corrupt-record.pcap", frames: 2, packets: 2, readErr: "pcap: corrupt-record.pcap packet 3: capture length exceeds snap length: 2147483647 > 65535", errs: "none"},
		{file: "unknown-linktype.pcap", frames: 2, packets: 0, errs: "unknown-linktype=2"},
		{file: "snaplen-cut.pcap", frames: 2, packets: 1, errs: "truncated-transport=1 snaplen-cut=2"},
		{file: "corrupt-headers.pcap", frames: 7, packets: 2, errs: "truncated-link=1 truncated-ip=1 bad-ip-version=1 bad-ip-checksum=1", nonIP: 1},
		{file: "two-interfaces.pcapng", frames: 4, packets: 4, errs: "none"},
		{file: "two-interfaces.pcapng.gz", frames: 4, packets: 4, errs: "none"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			golden.Check(t, path, files[tc.file]) // -update rewrites it
			onDisk, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := OpenFile(path)
			if tc.openErr != "" {
				if err == nil || err.Error() != tc.openErr {
					t.Fatalf("OpenFile error %v, want %q", err, tc.openErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			frames, err := readAll(t, s)
			if tc.readErr == "" && err != nil || tc.readErr != "" && (err == nil || err.Error() != tc.readErr) {
				t.Errorf("read error %v, want %q", err, tc.readErr)
			}
			n := 0
			for _, f := range frames {
				n += len(f)
			}
			st := s.Stats()
			if len(frames) != tc.frames || n != tc.packets || st.Frames != uint64(tc.frames) || s.Frame() != uint64(tc.frames) {
				t.Errorf("%d frames (stats %d, Frame %d) with %d packets, want %d frames, %d packets", len(frames), st.Frames, s.Frame(), n, tc.frames, tc.packets)
			}
			if got := st.ErrorsString(); got != tc.errs {
				t.Errorf("decode errors %s, want %s", got, tc.errs)
			}
			if st.NonIP != tc.nonIP {
				t.Errorf("non-IP frames %d, want %d", st.NonIP, tc.nonIP)
			}
			if s.Size() != int64(len(onDisk)) || (tc.readErr == "" && s.BytesRead() != s.Size()) {
				t.Errorf("size %d, bytes read %d; file has %d", s.Size(), s.BytesRead(), len(onDisk))
			}
		})
	}
}

func TestSourceDetails(t *testing.T) {
	files := testdataFiles(t)
	t.Run("pcapng link types per interface", func(t *testing.T) {
		s, err := NewSource("x.pcapng", bytes.NewReader(files["two-interfaces.pcapng"]))
		if err != nil {
			t.Fatal(err)
		}
		frames, err := readAll(t, s)
		if err != nil {
			t.Fatal(err)
		}
		if frames[1][0].SrcPort != 1234 || !frames[3][0].V6 || frames[0][0].TCPFlags != FlagSYN {
			t.Errorf("frames %v", frames)
		}
		if s.Size() != 0 {
			t.Errorf("Size of a reader source = %d, want 0", s.Size())
		}
	})
	t.Run("timestamps and examples", func(t *testing.T) {
		s, err := NewSource("c.pcap", bytes.NewReader(files["corrupt-headers.pcap"]))
		if err != nil {
			t.Fatal(err)
		}
		frames, err := readAll(t, s)
		if err != nil {
			t.Fatal(err)
		}
		if got := frames[0][0].TS; got != 1700000000e9 {
			t.Errorf("TS %d", got)
		}
		st := s.Stats()
		var ex []string
		for _, e := range st.Examples {
			ex = append(ex, e.Error())
		}
		want := "packet 2: bad-ip-version, packet 3: bad-ip-checksum, packet 4: truncated-ip, packet 5: truncated-link"
		if got := strings.Join(ex, ", "); got != want {
			t.Errorf("examples %q, want %q", got, want)
		}
		if !strings.Contains(st.String(), "frames=7 packets=2") {
			t.Errorf("String() = %q", st)
		}
	})
	t.Run("checksums off", func(t *testing.T) {
		opt := DefaultOptions()
		opt.VerifyChecksums = false
		s, err := NewSourceOptions("c.pcap", bytes.NewReader(files["corrupt-headers.pcap"]), opt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := readAll(t, s); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.Packets != 3 {
			t.Errorf("%d packets with checksums off, want 3", st.Packets)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := OpenFile(filepath.Join(t.TempDir(), "nope.pcap"))
		if err == nil || !strings.Contains(err.Error(), "nope.pcap") {
			t.Errorf("error %v does not name the file", err)
		}
	})
	t.Run("close twice", func(t *testing.T) {
		s, err := OpenFile(filepath.Join("testdata", "good.pcap"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPcapReaderVariants covers the classic pcap variants by hand-made
// headers: byte orders, resolutions, old minor versions and FCS bits in the
// link type are read; an unknown major version, Kuznetzov's format and a
// capture length above the wire length (pcapgo refuses them) give clear
// errors.
func TestPcapReaderVariants(t *testing.T) {
	pkt := udp4(t)
	header := func(order binary.ByteOrder, magic uint32, minor uint16, link uint32) []byte {
		h := make([]byte, 24)
		order.PutUint32(h, magic)
		order.PutUint16(h[4:], 2)
		order.PutUint16(h[6:], minor)
		order.PutUint32(h[16:], 65535)
		order.PutUint32(h[20:], link)
		return h
	}
	record := func(order binary.ByteOrder, frac uint32, capLen, wire int, extra int) []byte {
		r := make([]byte, 16+extra)
		order.PutUint32(r, 1700000000)
		order.PutUint32(r[4:], frac)
		order.PutUint32(r[8:], uint32(capLen))
		order.PutUint32(r[12:], uint32(wire))
		return cat(r, pkt[:capLen])
	}
	le, be := binary.ByteOrder(binary.LittleEndian), binary.ByteOrder(binary.BigEndian)
	cases := []struct {
		name string
		file []byte
		ts   int64
		wire uint32 // IPLen seen
	}{
		{"little-endian micro", cat(header(le, 0xa1b2c3d4, 4, 101), record(le, 5, len(pkt), len(pkt), 0)), 1700000000e9 + 5000, 38},
		{"big-endian nano", cat(header(be, 0xa1b23c4d, 4, 101), record(be, 5, len(pkt), len(pkt), 0)), 1700000000e9 + 5, 38},
		{"version 2.2", cat(header(le, 0xa1b2c3d4, 2, 101), record(le, 0, len(pkt), len(pkt), 0)), 1700000000e9, 38},
		{"fcs bits in link type", cat(header(le, 0xa1b2c3d4, 4, 101|0x14000000), record(le, 0, len(pkt), len(pkt), 0)), 1700000000e9, 38},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSource("v.pcap", bytes.NewReader(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			frames, err := readAll(t, s)
			if err != nil {
				t.Fatal(err)
			}
			if len(frames) != 1 || len(frames[0]) != 1 {
				t.Fatalf("frames %v, stats %v", frames, s.Stats())
			}
			if p := frames[0][0]; p.TS != tc.ts || p.IPLen != tc.wire || p.SrcPort != 1234 {
				t.Errorf("packet %v ts %d, want ts %d", summarize(p), p.TS, tc.ts)
			}
		})
	}
	for _, tc := range []struct {
		name, file, open, read string
	}{
		{"unsupported major version", string(cat(header(le, 0xa1b2c3d4, 4, 1))), "pcap: m.pcap: pcap header: Unknown major version 3", ""},
		{"kuznetzov format", string(header(le, 0xa1b2cd34, 4, 1)), "pcap: m.pcap: not a pcap or pcapng capture (starts with 34 cd b2 a1)", ""},
		{"capture length above wire length", string(cat(header(le, 0xa1b2c3d4, 4, 101), record(le, 0, len(pkt), 20, 0))), "",
			"pcap: m.pcap packet 1: capture length exceeds original packet length: 38 > 20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := []byte(tc.file)
			if tc.name == "unsupported major version" {
				file[4] = 3
			}
			s, err := NewSource("m.pcap", bytes.NewReader(file))
			if tc.open != "" {
				if err == nil || err.Error() != tc.open {
					t.Errorf("open error %v, want %q", err, tc.open)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := readAll(t, s); err == nil || err.Error() != tc.read {
				t.Errorf("read error %v, want %q", err, tc.read)
			}
		})
	}
}

// TestSourceShortReads reads the generated captures through readers that
// return one byte at a time, or half of what is asked, or fail: the frames
// must be the same and a read failure must come back wrapped with the file
// name and packet number.
func TestSourceShortReads(t *testing.T) {
	files := testdataFiles(t)
	for _, name := range []string{"good.pcap", "two-interfaces.pcapng", "two-interfaces.pcapng.gz"} {
		want, err := readAll(t, mustSource(t, name, bytes.NewReader(files[name])))
		if err != nil {
			t.Fatal(err)
		}
		for _, wrap := range []struct {
			name string
			r    func(io.Reader) io.Reader
		}{{"one byte", iotest.OneByteReader}, {"half", iotest.HalfReader}, {"data+EOF", iotest.DataErrReader}} {
			got, err := readAll(t, mustSource(t, name, wrap.r(bytes.NewReader(files[name]))))
			if err != nil {
				t.Errorf("%s %s: %v", name, wrap.name, err)
			}
			if len(got) != len(want) {
				t.Errorf("%s %s: %d frames, want %d", name, wrap.name, len(got), len(want))
			}
		}
	}
	// A reader that fails after the header and the first frames.
	good := files["good.pcap"]
	s := mustSource(t, "good.pcap", io.MultiReader(bytes.NewReader(good[:200]), iotest.ErrReader(errors.New("disk on fire"))))
	_, err := readAll(t, s)
	if err == nil || !strings.HasPrefix(err.Error(), "pcap: good.pcap packet ") || !strings.HasSuffix(err.Error(), ": disk on fire") {
		t.Errorf("error %v", err)
	}
}

func mustSource(tb testing.TB, name string, r io.Reader) *Source {
	tb.Helper()
	s, err := NewSource(name, r)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
