package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/mlads/mlads/internal/flow"
)

// The flows topic carries flow.Records in a compact binary form of its own:
// it is internal to the group (both ends are mlads of the same version), it
// keeps every field exactly (nanosecond times, Source, Label), and it costs a
// fraction of JSON to write and read.
//
//	version byte (codecVersion)
//	ts (varint ns since the epoch), duration (varint ns)
//	orig_h, resp_h (length byte + 0, 4 or 16 bytes), orig_p, resp_p (uvarint)
//	ip_proto, vlan, inner_vlan, source (uvarint)
//	orig_bytes, resp_bytes, missed_bytes, orig_pkts, orig_ip_bytes, resp_pkts, resp_ip_bytes (uvarint)
//	uid, proto, service, conn_state, history, community_id, label (uvarint length + bytes)
//	tunnel parents (uvarint count, then each as a string)
const codecVersion = 1

// errCodec is the error of a flow value that cannot be decoded.
var errCodec = errors.New("flow value truncated or malformed")

// AppendFlow appends the encoding of r to b.
func AppendFlow(b []byte, r *flow.Record) []byte {
	b = append(b, codecVersion)
	b = binary.AppendVarint(b, r.TS.UnixNano())
	b = binary.AppendVarint(b, int64(r.Duration))
	b = appendAddr(b, r.OrigH)
	b = appendAddr(b, r.RespH)
	for _, v := range [...]uint64{uint64(r.OrigP), uint64(r.RespP), uint64(r.IPProto), uint64(r.VLAN), uint64(r.InnerVLAN), uint64(r.Source),
		r.OrigBytes, r.RespBytes, r.MissedBytes, r.OrigPkts, r.OrigIPBytes, r.RespPkts, r.RespIPBytes} {
		b = binary.AppendUvarint(b, v)
	}
	for _, s := range [...]string{r.UID, r.Proto, r.Service, r.ConnState, r.History, r.CommunityID, r.Label} {
		b = appendString(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(r.TunnelParents)))
	for _, s := range r.TunnelParents {
		b = appendString(b, s)
	}
	return b
}

func appendAddr(b []byte, a netip.Addr) []byte {
	switch {
	case !a.IsValid():
		return append(b, 0)
	case a.Is4():
		v := a.As4()
		return append(append(b, 4), v[:]...)
	default:
		v := a.As16()
		return append(append(b, 16), v[:]...)
	}
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decoder reads one value; the first error sticks.
type decoder struct {
	b   []byte
	err error
	// strs interns the short, repeated strings (proto, service,
	// conn_state, history): a flow then allocates only its uid.
	strs map[string]string
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCodec
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCodec
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if uint64(len(d.b)) < n {
		d.err = errCodec
		d.b = nil
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) addr() netip.Addr {
	n := d.bytes(1)
	if n == nil || n[0] == 0 {
		return netip.Addr{}
	}
	if n[0] != 4 && n[0] != 16 {
		d.err = errCodec
		return netip.Addr{}
	}
	v := d.bytes(uint64(n[0]))
	if v == nil {
		return netip.Addr{}
	}
	a, _ := netip.AddrFromSlice(v)
	return a
}

func (d *decoder) string(intern bool) string {
	v := d.bytes(d.uvarint())
	if len(v) == 0 {
		return ""
	}
	if !intern {
		return string(v)
	}
	if s, ok := d.strs[string(v)]; ok { // no allocation for the lookup
		return s
	}
	s := string(v)
	if len(d.strs) < 4096 { // bounded: beyond it, strings are simply not shared
		d.strs[s] = s
	}
	return s
}

// Decoder decodes flow values; it keeps a bounded table of the repeated
// short strings so that they are not allocated again for every flow. It is
// not safe for concurrent use.
type Decoder struct {
	strs map[string]string
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder { return &Decoder{strs: map[string]string{}} }

// Decode decodes value into r (overwritten whole).
func (dc *Decoder) Decode(value []byte, r *flow.Record) error {
	if len(value) == 0 || value[0] != codecVersion {
		return fmt.Errorf("flow value: unknown encoding version (mlads versions in the group differ?)")
	}
	d := decoder{b: value[1:], strs: dc.strs}
	ts := d.varint()
	dur := d.varint()
	*r = flow.Record{TS: time.Unix(0, ts).UTC(), Duration: time.Duration(dur), OrigH: d.addr(), RespH: d.addr()}
	r.OrigP = uint16(d.uvarint())
	r.RespP = uint16(d.uvarint())
	r.IPProto = uint8(d.uvarint())
	r.VLAN = uint16(d.uvarint())
	r.InnerVLAN = uint16(d.uvarint())
	r.Source = flow.Source(d.uvarint())
	for _, p := range [...]*uint64{&r.OrigBytes, &r.RespBytes, &r.MissedBytes, &r.OrigPkts, &r.OrigIPBytes, &r.RespPkts, &r.RespIPBytes} {
		*p = d.uvarint()
	}
	r.UID = d.string(false)
	r.Proto = d.string(true)
	r.Service = d.string(true)
	r.ConnState = d.string(true)
	r.History = d.string(true)
	r.CommunityID = d.string(false)
	r.Label = d.string(true)
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n > uint64(len(d.b)) {
			return fmt.Errorf("flow value: %w", errCodec)
		}
		r.TunnelParents = make([]string, n)
		for i := range r.TunnelParents {
			r.TunnelParents[i] = d.string(false)
		}
	}
	if d.err != nil {
		return fmt.Errorf("flow value: %w", d.err)
	}
	if len(d.b) != 0 {
		return fmt.Errorf("flow value: %d bytes after the flow: %w", len(d.b), errCodec)
	}
	return nil
}
