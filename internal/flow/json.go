package flow

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"unicode/utf8"
)

// JSONWriter writes one JSON object per Record and line, with the field
// names and value forms of Zeek's JSON conn.log (LogAscii::use_json with
// the default epoch timestamps), so tools that read Zeek's JSON logs read
// it too. See AppendJSON for the fields.
type JSONWriter struct {
	bw     *bufio.Writer
	buf    []byte
	closed bool
}

// NewJSONWriter returns a JSONWriter that writes to w through its own buffer.
func NewJSONWriter(w io.Writer) *JSONWriter {
	return &JSONWriter{bw: bufio.NewWriterSize(w, 64<<10), buf: make([]byte, 0, 1024)}
}

// Write writes r as one line. It does not allocate.
func (w *JSONWriter) Write(r *Record) error {
	if w.closed {
		return fmt.Errorf("flow: json: write after close")
	}
	w.buf = AppendJSON(w.buf[:0], r)
	w.buf = append(w.buf, '\n')
	if _, err := w.bw.Write(w.buf); err != nil {
		return fmt.Errorf("flow: json: write: %w", err)
	}
	return nil
}

// Flush writes buffered lines to the underlying io.Writer.
func (w *JSONWriter) Flush() error {
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("flow: json: flush: %w", err)
	}
	return nil
}

// Close flushes; later Writes fail. It does not close the underlying io.Writer.
func (w *JSONWriter) Close() error {
	w.closed = true
	return w.Flush()
}

// AppendJSON appends r as one JSON object (without a newline) to b and
// returns the extended slice.
//
// Fields follow Zeek's conn.log names and order: ts, uid, id.orig_h,
// id.orig_p, id.resp_h, id.resp_p, proto, service, duration, orig_bytes,
// resp_bytes, conn_state, missed_bytes, history, orig_pkts, orig_ip_bytes,
// resp_pkts, resp_ip_bytes, tunnel_parents, ip_proto, then community_id,
// vlan, inner_vlan (named as Zeek's community-id and vlan-logging scripts
// name them) and source. As in Zeek's JSON, unset optional fields are left
// out: service, history and conn_state when empty; duration, orig_bytes and
// resp_bytes unless Record.HasDuration; tunnel_parents when nil; ip_proto
// when unknown; community_id when empty; vlan and inner_vlan when 0; source
// when unknown.
//
// ts is epoch seconds as a JSON number, the shortest form of Zeek's double
// (seconds + microseconds/1e6), like 1258531221.486539; duration is seconds
// at microsecond resolution, like 0.16382. Strings are escaped as Zeek
// does: JSON escapes for quotes, backslashes and control characters, and
// bytes that are not valid UTF-8 as the text \xNN.
func AppendJSON(b []byte, r *Record) []byte {
	b = append(b, `{"ts":`...)
	b = appendJSONTime(b, micros(r.TS))
	b = append(b, `,"uid":`...)
	b = appendJSONString(b, r.UID)
	b = appendJSONAddr(b, `,"id.orig_h":`, r.OrigH)
	b = append(b, `,"id.orig_p":`...)
	b = appendUint(b, uint64(r.OrigP))
	b = appendJSONAddr(b, `,"id.resp_h":`, r.RespH)
	b = append(b, `,"id.resp_p":`...)
	b = appendUint(b, uint64(r.RespP))
	b = append(b, `,"proto":`...)
	b = appendJSONString(b, r.Proto)
	if r.Service != "" {
		b = append(b, `,"service":`...)
		b = appendJSONString(b, r.Service)
	}
	if r.HasDuration() {
		b = append(b, `,"duration":`...)
		b = appendJSONSeconds(b, durationMicros(r))
		b = append(b, `,"orig_bytes":`...)
		b = appendUint(b, r.OrigBytes)
		b = append(b, `,"resp_bytes":`...)
		b = appendUint(b, r.RespBytes)
	}
	if r.ConnState != "" {
		b = append(b, `,"conn_state":`...)
		b = appendJSONString(b, r.ConnState)
	}
	b = append(b, `,"missed_bytes":`...)
	b = appendUint(b, r.MissedBytes)
	if r.History != "" {
		b = append(b, `,"history":`...)
		b = appendJSONString(b, r.History)
	}
	b = append(b, `,"orig_pkts":`...)
	b = appendUint(b, r.OrigPkts)
	b = append(b, `,"orig_ip_bytes":`...)
	b = appendUint(b, r.OrigIPBytes)
	b = append(b, `,"resp_pkts":`...)
	b = appendUint(b, r.RespPkts)
	b = append(b, `,"resp_ip_bytes":`...)
	b = appendUint(b, r.RespIPBytes)
	if r.TunnelParents != nil {
		b = append(b, `,"tunnel_parents":[`...)
		for i, p := range r.TunnelParents {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, p)
		}
		b = append(b, ']')
	}
	if p := r.IPProtocol(); p != 0 {
		b = append(b, `,"ip_proto":`...)
		b = appendUint(b, uint64(p))
	}
	if r.CommunityID != "" {
		b = append(b, `,"community_id":`...)
		b = appendJSONString(b, r.CommunityID)
	} else {
		n := len(b)
		b = append(b, `,"community_id":"`...)
		m := len(b)
		if b = r.AppendCommunityID(b); len(b) > m {
			b = append(b, '"') // derived: base64, nothing to escape
		} else {
			b = b[:n] // no ID for this flow
		}
	}
	if r.VLAN != 0 {
		b = append(b, `,"vlan":`...)
		b = appendUint(b, uint64(r.VLAN))
	}
	if r.InnerVLAN != 0 {
		b = append(b, `,"inner_vlan":`...)
		b = appendUint(b, uint64(r.InnerVLAN))
	}
	if r.Source != SourceUnknown {
		b = append(b, `,"source":"`...)
		b = append(b, r.Source.String()...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// appendJSONTime appends a timestamp the way Zeek's JSON writer does: the
// double seconds + microseconds/1e6, in its shortest decimal form, with at
// least one decimal ("1258531221.0").
func appendJSONTime(b []byte, us int64) []byte {
	sec, frac := us/1e6, us%1e6
	return appendJSONFloat(b, float64(sec)+float64(frac)/1e6)
}

// appendJSONSeconds appends a duration of us microseconds as seconds, the
// same text as appendJSONFloat(float64(us)/1e6) but without the float
// conversion: below 10^9 s the shortest form of the double is the decimal
// itself, trailing zeros trimmed.
func appendJSONSeconds(b []byte, us int64) []byte {
	if us < 0 || us >= 1e15 {
		return appendJSONFloat(b, float64(us)/1e6)
	}
	b = appendFixed6(b, us)
	n := len(b)
	for b[n-1] == '0' && b[n-2] != '.' {
		n--
	}
	return b[:n]
}

// appendJSONFloat appends f like RapidJSON's Writer::Double, which Zeek
// uses: shortest round-trip digits, fixed notation, ".0" on whole numbers.
func appendJSONFloat(b []byte, f float64) []byte {
	start := len(b)
	b = strconv.AppendFloat(b, f, 'f', -1, 64)
	for _, c := range b[start:] {
		if c == '.' {
			return b
		}
	}
	return append(b, '.', '0')
}

// appendJSONAddr appends key and a as a JSON string, unless a is invalid,
// in which case the field is left out as unset. IPv4-mapped IPv6 addresses
// are written as IPv4, as Zeek does.
func appendJSONAddr(b []byte, key string, a netip.Addr) []byte {
	if !a.IsValid() {
		return b
	}
	b = append(b, key...)
	b = append(b, '"')
	b = a.Unmap().WithZone("").AppendTo(b)
	return append(b, '"')
}

// appendJSONString appends s as a JSON string. Quotes, backslashes and
// control characters get JSON escapes (RapidJSON's forms); bytes that are
// not valid UTF-8 become the text \xNN, as Zeek's json_escape_utf8 writes
// them, so every line is valid UTF-8 JSON.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonPlain[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			invalid, size := invalidUTF8At(s, i)
			if !invalid {
				i += size
				continue
			}
			b = append(b, s[start:i]...)
			b = append(b, '\\')
			b = appendHexEscape(b, c)
			i++
			start = i
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			const upper = "0123456789ABCDEF"
			b = append(b, '\\', 'u', '0', '0', upper[c>>4], upper[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonPlain marks the ASCII bytes that appear in a JSON string as they are.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()
