package pcap

import (
	"fmt"
	"time"
)

// FragLimits bound the IP fragment reassembly state. When a limit is hit
// the oldest incomplete datagram is evicted and counted as ErrFragOverflow.
type FragLimits struct {
	// MaxDatagrams is how many incomplete datagrams are held at once.
	MaxDatagrams int
	// MaxBytes is how many payload bytes all incomplete datagrams may hold.
	MaxBytes int
	// Timeout is how long (in packet time) an incomplete datagram waits for
	// its missing fragments; expired ones are counted as ErrFragTimeout.
	Timeout time.Duration
}

// DefaultFragLimits returns limits fit for a busy link: 4096 datagrams,
// 32 MiB, 60 s.
func DefaultFragLimits() FragLimits {
	return FragLimits{MaxDatagrams: 4096, MaxBytes: 32 << 20, Timeout: 60 * time.Second}
}

// FragStats counts fragment reassembly work.
type FragStats struct {
	Fragments   uint64 // fragments seen
	Reassembled uint64 // datagrams completed
	Held        int    // incomplete datagrams held now
	HeldBytes   int    // bytes they hold
}

// String summarises the counters on one line.
func (s FragStats) String() string {
	return fmt.Sprintf("fragments=%d reassembled=%d held=%d (%d bytes)", s.Fragments, s.Reassembled, s.Held, s.HeldBytes)
}

func (s *FragStats) add(o FragStats) {
	s.Fragments += o.Fragments
	s.Reassembled += o.Reassembled
	s.Held += o.Held
	s.HeldBytes += o.HeldBytes
}

// maxDatagram is the largest IP payload a datagram may reassemble to.
const maxDatagram = 65535

// fragKey identifies a datagram: RFC 791 / RFC 8200 (addresses, id,
// protocol for IPv4).
type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
	v6       bool
}

// fragSet is one datagram being reassembled.
type fragSet struct {
	key     fragKey
	first   int64  // packet time of its first fragment
	data    []byte // payload bytes received, at their offsets
	blocks  [maxDatagram/8/64 + 1]uint64
	total   int // payload length, -1 until the last fragment arrives
	hdrLen  int // unfragmentable header length of the offset-0 fragment, -1 until seen
	nextHdr uint8
	live    bool   // held in the table
	gen     uint32 // bumped each time the struct is reused
}

// fragRef names a fragSet in the age queue; it is stale once the set is
// gone or reused (gen differs).
type fragRef struct {
	s   *fragSet
	gen uint32
}

// fragTable holds the incomplete datagrams. Besides the map, a queue in
// order of creation finds the oldest datagram in O(1), so that expiry and
// eviction stay cheap under a fragment flood.
type fragTable struct {
	lim   FragLimits
	sets  map[fragKey]*fragSet
	order []fragRef // creation order; stale entries are skipped lazily
	head  int       // first entry of order not yet consumed
	free  []*fragSet
	bytes int
	out   []byte
	stats FragStats
}

func (t *fragTable) init(lim FragLimits) {
	if lim.MaxDatagrams <= 0 {
		lim.MaxDatagrams = DefaultFragLimits().MaxDatagrams
	}
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultFragLimits().MaxBytes
	}
	if lim.Timeout <= 0 {
		lim.Timeout = DefaultFragLimits().Timeout
	}
	t.lim = lim
	t.sets = make(map[fragKey]*fragSet)
}

// expire drops datagrams older than the timeout at packet time now.
func (t *fragTable) expire(now int64, d *decoder) {
	if len(t.sets) == 0 {
		return
	}
	for {
		s := t.oldestLive()
		if s == nil || now-s.first < int64(t.lim.Timeout) {
			return
		}
		d.fail(ErrFragTimeout)
		t.remove(s)
	}
}

// oldestLive returns the oldest datagram held (the first live entry of the
// age queue), dropping the stale entries before it.
func (t *fragTable) oldestLive() *fragSet {
	for t.head < len(t.order) {
		r := t.order[t.head]
		if r.s.live && r.s.gen == r.gen {
			return r.s
		}
		t.order[t.head] = fragRef{}
		t.head++
	}
	t.order, t.head = t.order[:0], 0
	return nil
}

// enqueue records a new datagram in the age queue, compacting the queue
// when stale entries dominate so that it stays within a few times
// MaxDatagrams.
func (t *fragTable) enqueue(s *fragSet) {
	if n := len(t.order) - t.head; n > 2*t.lim.MaxDatagrams+64 {
		live := t.order[:0]
		for _, r := range t.order[t.head:] {
			if r.s.live && r.s.gen == r.gen {
				live = append(live, r)
			}
		}
		clear(t.order[len(live):])
		t.order, t.head = live, 0
	}
	t.order = append(t.order, fragRef{s: s, gen: s.gen})
}

// remove drops a datagram from the table and keeps its struct for reuse.
func (t *fragTable) remove(s *fragSet) {
	delete(t.sets, s.key)
	s.live = false
	t.bytes -= len(s.data)
	t.stats.Held = len(t.sets)
	t.stats.HeldBytes = t.bytes
	if len(t.free) < 64 {
		t.free = append(t.free, s)
	}
}

// evictOldest makes room by dropping the oldest incomplete datagram.
func (t *fragTable) evictOldest(d *decoder) {
	if s := t.oldestLive(); s != nil {
		d.fail(ErrFragOverflow)
		t.remove(s)
	}
}

// add4 adds an IPv4 fragment (header hdr, payload, flags+offset field fo).
// It returns the reassembled payload and the first fragment's header length
// when the datagram is complete.
func (t *fragTable) add4(d *decoder, hdr, payload []byte, fo uint16) ([]byte, int, bool) {
	var k fragKey
	k.src = [16]byte{10: 0xff, 11: 0xff}
	k.dst = k.src
	copy(k.src[12:], hdr[12:16])
	copy(k.dst[12:], hdr[16:20])
	k.id = uint32(be.Uint16(hdr[4:]))
	k.proto = hdr[9]
	return t.add(d, k, len(hdr), 0, payload, int(fo&0x1fff)*8, fo&0x2000 != 0)
}

// add6 adds an IPv6 fragment: hdr is the unfragmentable part (IPv6 header
// and the extension headers before the fragment header), next the fragment
// header's next-header field, fo its offset+flags field.
func (t *fragTable) add6(d *decoder, hdr []byte, next uint8, id uint32, payload []byte, fo uint16) ([]byte, int, bool) {
	var k fragKey
	copy(k.src[:], hdr[8:24])
	copy(k.dst[:], hdr[24:40])
	k.id = id
	k.v6 = true
	return t.add(d, k, len(hdr), next, payload, int(fo&0xfff8), fo&0x0001 != 0)
}

func (t *fragTable) add(d *decoder, k fragKey, hdrLen int, next uint8, payload []byte, off int, more bool) ([]byte, int, bool) {
	t.stats.Fragments++
	end := off + len(payload)
	if end > maxDatagram {
		d.fail(ErrFragTooBig)
		return nil, 0, false
	}
	s := t.sets[k]
	if s == nil {
		for len(t.sets) >= t.lim.MaxDatagrams {
			t.evictOldest(d)
		}
		if n := len(t.free); n > 0 {
			s = t.free[n-1]
			t.free = t.free[:n-1]
			*s = fragSet{data: s.data[:0], gen: s.gen + 1}
		} else {
			s = &fragSet{}
		}
		s.key, s.first, s.total, s.hdrLen, s.live = k, d.ts, -1, -1, true
		t.sets[k] = s
		t.enqueue(s)
	}
	if end > len(s.data) {
		grow := end - len(s.data)
		for t.bytes+grow > t.lim.MaxBytes && len(t.sets) > 1 {
			t.evictOldest(d)
			if !s.live { // evicted itself
				return nil, 0, false
			}
		}
		if t.bytes+grow > t.lim.MaxBytes {
			d.fail(ErrFragOverflow)
			t.remove(s)
			return nil, 0, false
		}
		if cap(s.data) >= end {
			s.data = s.data[:end]
		} else {
			s.data = append(s.data, make([]byte, grow)...)
		}
		t.bytes += grow
	}
	copy(s.data[off:end], payload)
	overlap := false
	for b := off / 8; b < (end+7)/8; b++ {
		w, m := b/64, uint64(1)<<(b%64)
		if s.blocks[w]&m != 0 {
			overlap = true
		}
		s.blocks[w] |= m
	}
	if overlap {
		d.fail(ErrFragOverlap)
	}
	if !more {
		s.total = end
	}
	if off == 0 {
		s.hdrLen, s.nextHdr = hdrLen, next
	}
	t.stats.Held, t.stats.HeldBytes = len(t.sets), t.bytes
	if s.total < 0 || s.hdrLen < 0 || !s.complete() {
		return nil, 0, false
	}
	// Hand the buffer out (valid until the next frame) and keep the old
	// output buffer for reuse.
	hl := s.hdrLen
	t.remove(s)
	out := s.data[:s.total]
	t.out, s.data = out, t.out[:0]
	t.stats.Reassembled++
	return out, hl, true
}

// complete reports whether every 8-byte block up to total has arrived.
func (s *fragSet) complete() bool {
	n := (s.total + 7) / 8
	for w := 0; w < n/64; w++ {
		if s.blocks[w] != ^uint64(0) {
			return false
		}
	}
	if r := n % 64; r != 0 {
		m := uint64(1)<<r - 1
		if s.blocks[n/64]&m != m {
			return false
		}
	}
	return true
}
