package pcap

import (
	"encoding/binary"
	"testing"
	"time"
)

// frag4 splits an IPv4 packet (20-byte header) into fragments carrying the
// payload ranges [cuts[i], cuts[i+1]), offsets multiples of 8.
func frag4(tb testing.TB, ip []byte, cuts ...int) [][]byte {
	tb.Helper()
	hdr, payload := ip[:20], ip[20:]
	cuts = append(cuts, len(payload))
	var out [][]byte
	for i := 0; i+1 < len(cuts); i++ {
		from, to := cuts[i], cuts[i+1]
		if from%8 != 0 {
			tb.Fatalf("fragment offset %d not a multiple of 8", from)
		}
		f := cat(hdr, payload[from:to])
		binary.BigEndian.PutUint16(f[2:], uint16(len(f)))
		fo := uint16(from / 8)
		if to < len(payload) {
			fo |= 0x2000
		}
		binary.BigEndian.PutUint16(f[6:], fo)
		f[10], f[11] = 0, 0
		binary.BigEndian.PutUint16(f[10:], ^refChecksum(f[:20]))
		out = append(out, f)
	}
	return out
}

// frag6 splits an IPv6 packet without extension headers into fragments
// with a fragment header.
func frag6(tb testing.TB, ip []byte, id uint32, cuts ...int) [][]byte {
	tb.Helper()
	hdr, payload := ip[:40], ip[40:]
	next := hdr[6]
	cuts = append(cuts, len(payload))
	var out [][]byte
	for i := 0; i+1 < len(cuts); i++ {
		from, to := cuts[i], cuts[i+1]
		fo := uint16(from)
		if to < len(payload) {
			fo |= 1
		}
		fh := cat([]byte{next, 0}, u16(fo), u32(id))
		f := cat(hdr, fh, payload[from:to])
		f[6] = ip6Fragment
		binary.BigEndian.PutUint16(f[4:], uint16(len(f)-40))
		out = append(out, f)
	}
	return out
}

// refChecksum is a plain byte-by-byte Internet checksum, independent of
// the decoder's.
func refChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i < len(b); i += 2 {
		w := uint32(b[i]) << 8
		if i+1 < len(b) {
			w |= uint32(b[i+1])
		}
		s += w
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// feed decodes frames (raw IP) through one decoder, one second apart from
// start, and returns the packets of each frame.
func feed(tb testing.TB, d *decoder, start time.Duration, frames ...[]byte) [][]Packet {
	tb.Helper()
	var out [][]Packet
	for i, f := range frames {
		ts := int64(start + time.Duration(i)*time.Second)
		out = append(out, append([]Packet(nil), d.decodeFrame(nil, uint64(i+1), ts, linkTypeRaw, f, len(f))...))
	}
	return out
}

func TestFragReassembly(t *testing.T) {
	payload := make([]byte, 100)
	for i := range payload {
		payload[i] = byte(i)
	}
	u4 := udpIP(t, "10.0.0.1", "10.0.0.2", 1234, 53, payload)
	u6 := udpIP(t, "2001:db8::1", "2001:db8::2", 1234, 53, payload)
	f4 := frag4(t, u4, 0, 48, 96)
	f6 := frag6(t, u6, 77, 0, 48, 96)
	cases := []struct {
		name   string
		frames [][]byte
		at     int // index of the frame that completes the datagram
		ipLen  uint32
		errs   string
	}{
		{name: "v4 in order", frames: f4, at: 2, ipLen: 128},
		{name: "v4 reversed", frames: [][]byte{f4[2], f4[1], f4[0]}, at: 2, ipLen: 128},
		{name: "v4 duplicate", frames: [][]byte{f4[0], f4[0], f4[1], f4[2]}, at: 3, ipLen: 128, errs: "frag-overlap=1"},
		{name: "v6 in order", frames: f6, at: 2, ipLen: 148},
		{name: "v6 last first", frames: [][]byte{f6[2], f6[0], f6[1]}, at: 2, ipLen: 148},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var d decoder
			d.init(DefaultOptions())
			got := feed(t, &d, 0, tc.frames...)
			for i, pkts := range got {
				if i != tc.at {
					if len(pkts) != 0 {
						t.Errorf("frame %d: %d packets before the datagram is complete", i+1, len(pkts))
					}
					continue
				}
				if len(pkts) != 1 {
					t.Fatalf("frame %d: %d packets, want the reassembled one", i+1, len(pkts))
				}
				p := pkts[0]
				if p.IPLen != tc.ipLen || p.PayloadLen != 100 || p.SrcPort != 1234 || p.DstPort != 53 || p.BadChecksum {
					t.Errorf("reassembled %v", summarize(p))
				}
				if string(p.Payload) != string(payload) {
					t.Errorf("reassembled payload differs")
				}
			}
			errs := tc.errs
			if errs == "" {
				errs = "none"
			}
			if s := d.stats.ErrorsString(); s != errs {
				t.Errorf("errors %s, want %s", s, errs)
			}
			if d.frag.stats.Reassembled != 1 || d.frag.stats.Held != 0 || d.frag.stats.HeldBytes != 0 {
				t.Errorf("frag stats %v", d.frag.stats)
			}
			if d.stats.NonIP != 0 {
				t.Errorf("fragments counted as non-IP: %d", d.stats.NonIP)
			}
		})
	}
}

func TestFragLimits(t *testing.T) {
	payload := make([]byte, 100)
	dgram := func(id uint16) [][]byte {
		u := udpIP(t, "10.0.0.1", "10.0.0.2", 1234, 53, payload)
		binary.BigEndian.PutUint16(u[4:], id)
		return frag4(t, u, 0, 48)
	}
	t.Run("timeout", func(t *testing.T) {
		var d decoder
		d.init(DefaultOptions())
		a := dgram(1)
		feed(t, &d, 0, a[0])
		got := feed(t, &d, 61*time.Second, a[1])
		if len(got[0]) != 0 || d.stats.Errors[ErrFragTimeout] != 1 || d.frag.stats.Held != 1 {
			t.Errorf("after the timeout: %d packets, errors %s, held %d", len(got[0]), d.stats.ErrorsString(), d.frag.stats.Held)
		}
	})
	t.Run("table full evicts the oldest", func(t *testing.T) {
		opt := DefaultOptions()
		opt.Frag.MaxDatagrams = 2
		var d decoder
		d.init(opt)
		a, b, c := dgram(1), dgram(2), dgram(3)
		feed(t, &d, 0, a[0], b[0], c[0])
		got := feed(t, &d, 10*time.Second, a[1], c[1])
		if len(got[0]) != 0 || len(got[1]) != 1 {
			t.Errorf("got %d and %d packets, want 0 (evicted) and 1", len(got[0]), len(got[1]))
		}
		// c evicted a; a's second fragment then evicted b; c completed.
		if d.stats.Errors[ErrFragOverflow] != 2 || d.frag.stats.Held != 1 {
			t.Errorf("errors %s, held %d", d.stats.ErrorsString(), d.frag.stats.Held)
		}
	})
	t.Run("byte budget", func(t *testing.T) {
		opt := DefaultOptions()
		opt.Frag.MaxBytes = 150
		var d decoder
		d.init(opt)
		a, b := dgram(1), dgram(2)
		feed(t, &d, 0, a[1], b[1]) // 60 bytes each at offset 48: 108 bytes each
		if d.stats.Errors[ErrFragOverflow] != 1 || d.frag.stats.HeldBytes != 108 {
			t.Errorf("errors %s, held %d bytes", d.stats.ErrorsString(), d.frag.stats.HeldBytes)
		}
	})
	t.Run("too big", func(t *testing.T) {
		var d decoder
		d.init(DefaultOptions())
		f := dgram(1)[1]
		binary.BigEndian.PutUint16(f[6:], 8190) // offset 65520, + 52 bytes
		f[10], f[11] = 0, 0
		binary.BigEndian.PutUint16(f[10:], ^refChecksum(f[:20]))
		feed(t, &d, 0, f)
		if d.stats.Errors[ErrFragTooBig] != 1 || d.frag.stats.Held != 0 {
			t.Errorf("errors %s, held %d", d.stats.ErrorsString(), d.frag.stats.Held)
		}
	})
	t.Run("cut by snaplen", func(t *testing.T) {
		// As in Zeek: the first fragment is analysed as it is, the others
		// are dropped; nothing is held.
		var d decoder
		d.init(DefaultOptions())
		f := dgram(1)
		first := d.decodeFrame(nil, 1, 0, linkTypeRaw, f[0][:40], len(f[0]))
		if len(first) != 1 || first[0].IPLen != 68 || first[0].SrcPort != 1234 || first[0].PayloadLen != 100 {
			t.Errorf("first fragment: %v", first)
		}
		second := d.decodeFrame(nil, 2, 0, linkTypeRaw, f[1][:40], len(f[1]))
		if len(second) != 0 || d.stats.ErrorsString() != "frag-cut=1 snaplen-cut=2" || d.frag.stats.Held != 0 {
			t.Errorf("second fragment: %d packets, errors %s, held %d", len(second), d.stats.ErrorsString(), d.frag.stats.Held)
		}
	})
	t.Run("flood of incomplete datagrams", func(t *testing.T) {
		// Eviction and expiry must stay O(1) and the age queue bounded.
		opt := DefaultOptions()
		opt.Frag.MaxDatagrams = 64
		var d decoder
		d.init(opt)
		f := dgram(1)[0]
		const n = 50000
		for i := range n {
			binary.BigEndian.PutUint16(f[4:], uint16(i)) // a new datagram id each time
			binary.BigEndian.PutUint16(f[12:], uint16(i>>16))
			f[10], f[11] = 0, 0
			binary.BigEndian.PutUint16(f[10:], ^refChecksum(f[:20]))
			d.decodeFrame(nil, uint64(i+1), int64(i)*int64(time.Millisecond), linkTypeRaw, f, len(f))
			if q := len(d.frag.order) - d.frag.head; q > 3*64+65 {
				t.Fatalf("age queue holds %d entries after %d datagrams", q, i+1)
			}
		}
		if d.frag.stats.Held != 64 || d.stats.Errors[ErrFragOverflow]+d.stats.Errors[ErrFragTimeout] != n-64 {
			t.Errorf("held %d, errors %s", d.frag.stats.Held, d.stats.ErrorsString())
		}
		// Everything expires once the timeout has passed.
		d.decodeFrame(nil, n+1, int64(n)*int64(time.Millisecond)+int64(time.Hour), linkTypeRaw, nil, 0)
		if d.frag.stats.Held != 0 || d.frag.stats.HeldBytes != 0 || len(d.frag.sets) != 0 {
			t.Errorf("after the timeout: held %d (%d bytes)", d.frag.stats.Held, d.frag.stats.HeldBytes)
		}
	})
	t.Run("ipv6 atomic fragment", func(t *testing.T) {
		var d decoder
		d.init(DefaultOptions())
		u6 := udpIP(t, "2001:db8::1", "2001:db8::2", 1234, 53, payload)
		f := frag6(t, u6, 5, 0)[0] // offset 0, no more fragments
		got := feed(t, &d, 0, f)
		if len(got[0]) != 1 || got[0][0].IPLen != 156 || got[0][0].SrcPort != 1234 || d.frag.stats.Fragments != 0 {
			t.Errorf("atomic fragment: %d packets, stats %v", len(got[0]), d.frag.stats)
		}
	})
}

// FuzzFragments feeds sequences of raw IP frames (each prefixed by a
// one-byte length) through one decoder with small fragment limits: the
// limits must hold and nothing may panic.
//
//	go test ./internal/pcap/ -run '^$' -fuzz FuzzFragments -fuzztime 60s
func FuzzFragments(f *testing.F) {
	payload := make([]byte, 100)
	pack := func(frames ...[]byte) []byte {
		var b []byte
		for _, fr := range frames {
			if len(fr) > 255 {
				fr = fr[:255]
			}
			b = append(append(b, byte(len(fr))), fr...)
		}
		return b
	}
	f4 := frag4(f, udpIP(f, "10.0.0.1", "10.0.0.2", 1234, 53, payload), 0, 48, 96)
	f6 := frag6(f, udpIP(f, "2001:db8::1", "2001:db8::2", 1234, 53, payload), 7, 0, 48, 96)
	f.Add(pack(f4...))
	f.Add(pack(f4[2], f4[0], f4[1], f4[1]))
	f.Add(pack(f6...))
	f.Add(pack(f6[1], f4[0], f6[0], f4[2], f6[2], f4[1]))
	f.Fuzz(func(t *testing.T, in []byte) {
		opt := DefaultOptions()
		opt.VerifyChecksums = false
		opt.Frag = FragLimits{MaxDatagrams: 4, MaxBytes: 4096, Timeout: 3 * time.Second}
		var d decoder
		d.init(opt)
		var pkts []Packet
		for i := 0; len(in) > 0 && i < 64; i++ {
			n := int(in[0])
			in = in[1:]
			if n > len(in) {
				n = len(in)
			}
			pkts = d.decodeFrame(pkts, uint64(i+1), int64(i)*int64(time.Second), linkTypeRaw, in[:n], n)
			in = in[n:]
			if d.frag.stats.Held > 4 || d.frag.stats.HeldBytes > 4096 || len(d.frag.sets) != d.frag.stats.Held {
				t.Fatalf("frame %d: limits broken: %v, %d sets", i+1, d.frag.stats, len(d.frag.sets))
			}
			for _, p := range pkts {
				if int(p.IPLen) > 65535+255 { // the largest datagram plus the largest header a frame here can hold
					t.Fatalf("IP length %d", p.IPLen)
				}
			}
		}
	})
}
