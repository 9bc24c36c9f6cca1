package flow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// AppendBinary appends r in mlads's compact binary form: varints and
// length-prefixed strings in field order, every field kept exactly
// (nanosecond times, zones, Source, Label). It is mlads's own form, not an
// interchange format: the batch commands' spill file and the Kafka group's
// flows topic carry it between parts of the same build.
func AppendBinary(b []byte, r *Record) []byte {
	b = binary.AppendVarint(b, r.TS.UnixNano())
	b = appendBinString(b, r.UID)
	b = appendBinAddr(b, r.OrigH)
	b = binary.AppendUvarint(b, uint64(r.OrigP))
	b = appendBinAddr(b, r.RespH)
	b = binary.AppendUvarint(b, uint64(r.RespP))
	b = appendBinString(b, r.Proto)
	b = append(b, r.IPProto)
	b = appendBinString(b, r.Service)
	b = binary.AppendVarint(b, int64(r.Duration))
	for _, n := range [...]uint64{r.OrigBytes, r.RespBytes, r.MissedBytes, r.OrigPkts, r.OrigIPBytes, r.RespPkts, r.RespIPBytes} {
		b = binary.AppendUvarint(b, n)
	}
	b = appendBinString(b, r.ConnState)
	b = appendBinString(b, r.History)
	b = binary.AppendUvarint(b, uint64(len(r.TunnelParents)))
	for _, t := range r.TunnelParents {
		b = appendBinString(b, t)
	}
	b = appendBinString(b, r.CommunityID)
	b = binary.AppendUvarint(b, uint64(r.VLAN))
	b = binary.AppendUvarint(b, uint64(r.InnerVLAN))
	b = append(b, byte(r.Source))
	return appendBinString(b, r.Label)
}

func appendBinString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBinAddr(b []byte, a netip.Addr) []byte {
	switch {
	case !a.IsValid():
		return append(b, 0)
	case a.Is4():
		v := a.As4()
		return append(append(b, 4), v[:]...)
	}
	v := a.As16()
	b = append(append(b, 16), v[:]...)
	return appendBinString(b, a.Zone())
}

// BinaryDecoder reads records written by AppendBinary, interning the short
// strings that repeat (proto, service, conn_state, history, labels) in a
// bounded table. It is not safe for concurrent use.
type BinaryDecoder struct {
	p      []byte // what is left of the record
	err    error
	intern map[string]string
}

// ErrBinaryShort is the error of a record cut short or malformed.
var ErrBinaryShort = errors.New("record cut short")

// Decode decodes one record, all of b, into r (overwritten whole). r's
// strings do not alias b.
func (d *BinaryDecoder) Decode(b []byte, r *Record) error {
	d.p, d.err = b, nil
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
	r.Source = Source(d.byte())
	r.Label = d.str(true)
	if d.err == nil && len(d.p) != 0 {
		d.err = fmt.Errorf("%d bytes left over: %w", len(d.p), ErrBinaryShort)
	}
	return d.err
}

func (d *BinaryDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *BinaryDecoder) varint() int64 {
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *BinaryDecoder) byte() byte {
	if len(d.p) < 1 {
		d.fail()
		return 0
	}
	c := d.p[0]
	d.p = d.p[1:]
	return c
}

func (d *BinaryDecoder) bytes(n int) []byte {
	if n < 0 || len(d.p) < n {
		d.fail()
		return nil
	}
	b := d.p[:n]
	d.p = d.p[n:]
	return b
}

func (d *BinaryDecoder) str(intern bool) string {
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

func (d *BinaryDecoder) addr() netip.Addr {
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

func (d *BinaryDecoder) fail() {
	if d.err == nil {
		d.err = ErrBinaryShort
	}
	d.p = nil
}
