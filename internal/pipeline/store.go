package pipeline

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/mlads/mlads/internal/flow"
)

// Store keeps the flows of a batch command's one pass over its inputs, so
// that they are scored after the model is learned without reading and
// decoding the inputs a second time. The first MemFlows flows are kept in
// memory; later ones go to a spill file in a compact binary form (about a
// third of a record's size in memory), in a temporary folder, removed by
// Close. Each returns them in the order they were added.
type Store struct {
	mem      []flow.Record
	memFlows int
	dir      string // where the spill file goes; "" is os.TempDir

	spill   *os.File
	w       *bufio.Writer
	spilled int
	buf     []byte
}

// DefaultMemFlows is how many flows a Store keeps in memory by default:
// about 100 MB of records.
const DefaultMemFlows = 1 << 18

// NewStore returns an empty Store keeping memFlows flows in memory (≤ 0:
// DefaultMemFlows) and spilling the rest into a file in dir ("" for the
// system's temporary folder).
func NewStore(memFlows int, dir string) *Store {
	if memFlows <= 0 {
		memFlows = DefaultMemFlows
	}
	return &Store{memFlows: memFlows, dir: dir}
}

// Add keeps a copy of r.
func (s *Store) Add(r *flow.Record) error {
	if len(s.mem) < s.memFlows {
		c := *r
		c.TunnelParents = slices.Clone(r.TunnelParents) // the parser may reuse its backing array
		s.mem = append(s.mem, c)
		return nil
	}
	if s.spill == nil {
		f, err := os.CreateTemp(s.dir, "mlads-flows-*.spill")
		if err != nil {
			return fmt.Errorf("flow spill file: %w", err)
		}
		s.spill, s.w = f, bufio.NewWriterSize(f, 1<<20)
	}
	s.buf = appendRecord(s.buf[:0], r)
	if _, err := s.w.Write(s.buf); err != nil {
		return fmt.Errorf("flow spill file %s: %w", s.spill.Name(), err)
	}
	s.spilled++
	return nil
}

// Len returns the number of flows kept.
func (s *Store) Len() int { return len(s.mem) + s.spilled }

// Spilled returns how many of the flows kept are in the spill file.
func (s *Store) Spilled() int { return s.spilled }

// Each calls fn with every flow kept, in order, until fn fails. The record
// is reused between calls: fn copies what it keeps.
func (s *Store) Each(fn func(r *flow.Record) error) error {
	for i := range s.mem {
		if err := fn(&s.mem[i]); err != nil {
			return err
		}
	}
	if s.spill == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("flow spill file %s: %w", s.spill.Name(), err)
	}
	br := bufio.NewReaderSize(io.NewSectionReader(s.spill, 0, 1<<62), 1<<20)
	var d decoder
	var r flow.Record
	for range s.spilled {
		if err := d.read(br, &r); err != nil {
			return fmt.Errorf("flow spill file %s: %w", s.spill.Name(), err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return nil
}

// Close removes the spill file, if any.
func (s *Store) Close() error {
	s.mem = nil
	if s.spill == nil {
		return nil
	}
	name := s.spill.Name()
	err := errors.Join(s.spill.Close(), os.Remove(name))
	s.spill = nil
	if err != nil {
		return fmt.Errorf("flow spill file %s: %w", name, err)
	}
	return nil
}

// appendRecord appends r's spill form: a length, then varints and
// length-prefixed strings in field order. Label is kept: eval reads it.
func appendRecord(b []byte, r *flow.Record) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0) // record length, set at the end
	b = binary.AppendVarint(b, r.TS.UnixNano())
	b = appendString(b, r.UID)
	b = appendAddr(b, r.OrigH)
	b = binary.AppendUvarint(b, uint64(r.OrigP))
	b = appendAddr(b, r.RespH)
	b = binary.AppendUvarint(b, uint64(r.RespP))
	b = appendString(b, r.Proto)
	b = append(b, r.IPProto)
	b = appendString(b, r.Service)
	b = binary.AppendVarint(b, int64(r.Duration))
	for _, n := range [...]uint64{r.OrigBytes, r.RespBytes, r.MissedBytes, r.OrigPkts, r.OrigIPBytes, r.RespPkts, r.RespIPBytes} {
		b = binary.AppendUvarint(b, n)
	}
	b = appendString(b, r.ConnState)
	b = appendString(b, r.History)
	b = binary.AppendUvarint(b, uint64(len(r.TunnelParents)))
	for _, t := range r.TunnelParents {
		b = appendString(b, t)
	}
	b = appendString(b, r.CommunityID)
	b = binary.AppendUvarint(b, uint64(r.VLAN))
	b = binary.AppendUvarint(b, uint64(r.InnerVLAN))
	b = append(b, byte(r.Source))
	b = appendString(b, r.Label)
	binary.LittleEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendAddr(b []byte, a netip.Addr) []byte {
	switch {
	case !a.IsValid():
		return append(b, 0)
	case a.Is4():
		v := a.As4()
		return append(append(b, 4), v[:]...)
	}
	v := a.As16()
	b = append(append(b, 16), v[:]...)
	return appendString(b, a.Zone())
}

// decoder reads spilled records back, interning the short strings that
// repeat (proto, service, conn_state, history, labels).
type decoder struct {
	rec    []byte
	p      []byte // what is left of rec
	err    error
	intern map[string]string
}

func (d *decoder) read(br *bufio.Reader, r *flow.Record) error {
	var n [4]byte
	if _, err := io.ReadFull(br, n[:]); err != nil {
		return fmt.Errorf("record header: %w", err)
	}
	size := int(binary.LittleEndian.Uint32(n[:]))
	d.rec = slices.Grow(d.rec[:0], size)[:size]
	if _, err := io.ReadFull(br, d.rec); err != nil {
		return fmt.Errorf("record of %d bytes: %w", size, err)
	}
	d.p, d.err = d.rec, nil
	r.TS = time.Unix(0, d.varint())
	r.UID = d.str(false)
	r.OrigH = d.addr()
	r.OrigP = uint16(d.uvarint())
	r.RespH = d.addr()
	r.RespP = uint16(d.uvarint())
	r.Proto = d.str(true)
	r.IPProto = d.byte()
	r.Service = d.str(true)
	r.Duration = time.Duration(d.varint())
	for _, p := range [...]*uint64{&r.OrigBytes, &r.RespBytes, &r.MissedBytes, &r.OrigPkts, &r.OrigIPBytes, &r.RespPkts, &r.RespIPBytes} {
		*p = d.uvarint()
	}
	r.ConnState = d.str(true)
	r.History = d.str(true)
	r.TunnelParents = nil
	for range d.uvarint() {
		if d.err != nil {
			break
		}
		r.TunnelParents = append(r.TunnelParents, d.str(false))
	}
	r.CommunityID = d.str(false)
	r.VLAN = uint16(d.uvarint())
	r.InnerVLAN = uint16(d.uvarint())
	r.Source = flow.Source(d.byte())
	r.Label = d.str(true)
	if d.err == nil && len(d.p) != 0 {
		d.err = fmt.Errorf("%d bytes left over", len(d.p))
	}
	return d.err
}

var errShort = errors.New("record cut short")

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.p) < 1 {
		d.fail()
		return 0
	}
	c := d.p[0]
	d.p = d.p[1:]
	return c
}

func (d *decoder) bytes(n int) []byte {
	if n < 0 || len(d.p) < n {
		d.fail()
		return nil
	}
	b := d.p[:n]
	d.p = d.p[n:]
	return b
}

func (d *decoder) str(intern bool) string {
	b := d.bytes(int(d.uvarint()))
	if len(b) == 0 {
		return ""
	}
	if !intern || len(b) > 64 {
		return string(b)
	}
	if s, ok := d.intern[string(b)]; ok {
		return s
	}
	if d.intern == nil {
		d.intern = map[string]string{}
	}
	s := string(b)
	if len(d.intern) < 4096 {
		d.intern[s] = s
	}
	return s
}

func (d *decoder) addr() netip.Addr {
	switch d.byte() {
	case 0:
		return netip.Addr{}
	case 4:
		if b := d.bytes(4); b != nil {
			return netip.AddrFrom4([4]byte(b))
		}
	case 16:
		b := d.bytes(16)
		if b == nil {
			return netip.Addr{}
		}
		a := netip.AddrFrom16([16]byte(b))
		if z := d.str(true); z != "" {
			a = a.WithZone(z)
		}
		return a
	default:
		d.fail()
	}
	return netip.Addr{}
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errShort
	}
	d.p = nil
}
