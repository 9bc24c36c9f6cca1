package flow

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// zeekColumns are the conn.log columns ZeekWriter writes, with their Zeek
// types: Zeek's own conn.log (local_orig and local_resp are always unset,
// as Zeek leaves them when Site::local_nets is empty, so the standard
// columns line up with Zeek's), then the columns of Zeek's community-id
// and vlan-logging policy scripts, then mlads's source.
var zeekColumns = [...]struct{ name, typ string }{
	{"ts", "time"},
	{"uid", "string"},
	{"id.orig_h", "addr"},
	{"id.orig_p", "port"},
	{"id.resp_h", "addr"},
	{"id.resp_p", "port"},
	{"proto", "enum"},
	{"service", "string"},
	{"duration", "interval"},
	{"orig_bytes", "count"},
	{"resp_bytes", "count"},
	{"conn_state", "string"},
	{"local_orig", "bool"},
	{"local_resp", "bool"},
	{"missed_bytes", "count"},
	{"history", "string"},
	{"orig_pkts", "count"},
	{"orig_ip_bytes", "count"},
	{"resp_pkts", "count"},
	{"resp_ip_bytes", "count"},
	{"tunnel_parents", "set[string]"},
	{"ip_proto", "count"},
	{"community_id", "string"},
	{"vlan", "int"},
	{"inner_vlan", "int"},
	{"source", "string"},
}

// Zeek's default ASCII log separators.
const (
	zeekSeparator    = '\t'
	zeekSetSeparator = ','
	zeekEmptyField   = "(empty)"
	zeekUnsetField   = "-"
	zeekTimeFormat   = "2006-01-02-15-04-05" // Zeek's #open and #close: %Y-%m-%d-%H-%M-%S
)

// zeekHeader is the part of the conn.log header before #open.
const zeekHeader = "#separator \\x09\n" +
	"#set_separator\t,\n" +
	"#empty_field\t(empty)\n" +
	"#unset_field\t-\n" +
	"#path\tconn\n"

// ZeekWriter writes Records as a Zeek conn.log in Zeek's default ASCII
// (TSV) format, header and footer included, which Zeek's own tools
// (zeek-cut) and Zeek log readers read. See AppendZeek for the columns.
//
// The header is written with the first record; #open is that record's ts
// and #close the latest end of a connection seen, both in UTC. (Zeek
// writes the wall-clock time in the local zone; mlads takes time from the
// data so that a replay writes the same file.) A ZeekWriter that got no
// records writes nothing, as Zeek writes no conn.log without connections.
type ZeekWriter struct {
	bw     *bufio.Writer
	buf    []byte
	opened bool
	closed bool
	last   time.Time // latest connection end seen, for #close
}

// NewZeekWriter returns a ZeekWriter that writes to w through its own buffer.
func NewZeekWriter(w io.Writer) *ZeekWriter {
	return &ZeekWriter{bw: bufio.NewWriterSize(w, 64<<10), buf: make([]byte, 0, 1024)}
}

// Write writes r as one conn.log line, after the header if it is the first.
// It does not allocate.
func (w *ZeekWriter) Write(r *Record) error {
	if w.closed {
		return fmt.Errorf("flow: zeek: write after close")
	}
	w.buf = w.buf[:0]
	if !w.opened {
		w.opened = true
		w.last = r.End()
		w.buf = AppendZeekHeader(w.buf, r.TS)
	}
	if end := r.End(); end.After(w.last) {
		w.last = end
	}
	w.buf = AppendZeek(w.buf, r)
	w.buf = append(w.buf, '\n')
	if _, err := w.bw.Write(w.buf); err != nil {
		return fmt.Errorf("flow: zeek: write: %w", err)
	}
	return nil
}

// Flush writes buffered lines to the underlying io.Writer.
func (w *ZeekWriter) Flush() error {
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("flow: zeek: flush: %w", err)
	}
	return nil
}

// Close writes the #close footer (when a header was written) and flushes;
// later Writes fail. It does not close the underlying io.Writer.
func (w *ZeekWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.opened {
		w.buf = append(w.buf[:0], "#close\t"...)
		w.buf = w.last.UTC().AppendFormat(w.buf, zeekTimeFormat)
		w.buf = append(w.buf, '\n')
		if _, err := w.bw.Write(w.buf); err != nil {
			return fmt.Errorf("flow: zeek: write #close: %w", err)
		}
	}
	return w.Flush()
}

// AppendZeekHeader appends the conn.log header lines as Zeek writes them,
// from #separator to #types, with open as the #open time (in UTC).
func AppendZeekHeader(b []byte, open time.Time) []byte {
	b = append(b, zeekHeader...)
	b = append(b, "#open\t"...)
	b = open.UTC().AppendFormat(b, zeekTimeFormat)
	b = append(b, "\n#fields"...)
	for _, c := range zeekColumns {
		b = append(b, zeekSeparator)
		b = append(b, c.name...)
	}
	b = append(b, "\n#types"...)
	for _, c := range zeekColumns {
		b = append(b, zeekSeparator)
		b = append(b, c.typ...)
	}
	return append(b, '\n')
}

// AppendZeek appends r as one conn.log line (without the newline) to b and
// returns the extended slice. The columns are those of Zeek's conn.log,
// ts through ip_proto (local_orig and local_resp unset), then community_id,
// vlan, inner_vlan and source.
//
// Values take Zeek's ASCII forms: ts and duration with six decimals; "-"
// for unset fields (the same optional fields AppendJSON leaves out);
// "(empty)" for an empty string or set; strings with tabs, other control
// characters, backslashes and invalid UTF-8 escaped as \xNN, set elements
// also with their commas escaped, and a value that reads "-" or "(empty)"
// with its first character escaped, so no value can be mistaken for a
// separator or a placeholder.
func AppendZeek(b []byte, r *Record) []byte {
	const sep = zeekSeparator
	b = appendFixed6(b, micros(r.TS))
	b = append(b, sep)
	b = appendZeekString(b, r.UID, false)
	b = append(b, sep)
	b = appendZeekAddr(b, r.OrigH)
	b = append(b, sep)
	b = appendUint(b, uint64(r.OrigP))
	b = append(b, sep)
	b = appendZeekAddr(b, r.RespH)
	b = append(b, sep)
	b = appendUint(b, uint64(r.RespP))
	b = append(b, sep)
	b = appendZeekString(b, r.Proto, false)
	b = append(b, sep)
	b = appendZeekOptString(b, r.Service)
	b = append(b, sep)
	if r.HasDuration() {
		b = appendFixed6(b, durationMicros(r))
		b = append(b, sep)
		b = appendUint(b, r.OrigBytes)
		b = append(b, sep)
		b = appendUint(b, r.RespBytes)
	} else {
		b = append(b, "-\t-\t-"...)
	}
	b = append(b, sep)
	b = appendZeekOptString(b, r.ConnState)
	b = append(b, "\t-\t-\t"...) // local_orig, local_resp
	b = appendUint(b, r.MissedBytes)
	b = append(b, sep)
	b = appendZeekOptString(b, r.History)
	b = append(b, sep)
	b = appendUint(b, r.OrigPkts)
	b = append(b, sep)
	b = appendUint(b, r.OrigIPBytes)
	b = append(b, sep)
	b = appendUint(b, r.RespPkts)
	b = append(b, sep)
	b = appendUint(b, r.RespIPBytes)
	b = append(b, sep)
	switch {
	case r.TunnelParents == nil:
		b = append(b, zeekUnsetField...)
	case len(r.TunnelParents) == 0:
		b = append(b, zeekEmptyField...)
	default:
		for i, p := range r.TunnelParents {
			if i > 0 {
				b = append(b, zeekSetSeparator)
			}
			b = appendZeekString(b, p, true)
		}
	}
	b = append(b, sep)
	if p := r.IPProtocol(); p != 0 {
		b = appendUint(b, uint64(p))
	} else {
		b = append(b, zeekUnsetField...)
	}
	b = append(b, sep)
	if n := len(b); r.CommunityID != "" {
		b = appendZeekString(b, r.CommunityID, false)
	} else if b = r.AppendCommunityID(b); len(b) == n { // derived: base64, nothing to escape
		b = append(b, zeekUnsetField...) // no ID for this flow
	}
	b = append(b, sep)
	b = appendZeekOptCount(b, uint64(r.VLAN))
	b = append(b, sep)
	b = appendZeekOptCount(b, uint64(r.InnerVLAN))
	b = append(b, sep)
	if r.Source != SourceUnknown {
		b = append(b, r.Source.String()...)
	} else {
		b = append(b, zeekUnsetField...)
	}
	return b
}

// appendZeekAddr appends a, or "-" when it is invalid. IPv4-mapped IPv6
// addresses are written as IPv4, as Zeek does.
func appendZeekAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, zeekUnsetField...)
	}
	return a.Unmap().WithZone("").AppendTo(b)
}

// appendZeekOptString appends an optional string field: "-" when empty.
func appendZeekOptString(b []byte, s string) []byte {
	if s == "" {
		return append(b, zeekUnsetField...)
	}
	return appendZeekString(b, s, false)
}

// appendZeekOptCount appends an optional number: "-" when 0.
func appendZeekOptCount(b []byte, u uint64) []byte {
	if u == 0 {
		return append(b, zeekUnsetField...)
	}
	return appendUint(b, u)
}

// appendZeekString appends a set string value the way Zeek's ASCII writer
// does with UTF-8 output enabled (LogAscii::enable_utf_8): "(empty)" for "";
// a value equal to the unset or empty placeholder with its first byte
// escaped; control characters (the tab separator among them), DEL,
// backslashes and bytes that are not valid UTF-8 as \xNN; and, inside a
// set, the set separator too.
func appendZeekString(b []byte, s string, inSet bool) []byte {
	switch s {
	case "":
		return append(b, zeekEmptyField...)
	case zeekUnsetField, zeekEmptyField:
		b = appendHexEscape(b, s[0])
		return append(b, s[1:]...)
	}
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if zeekPlain[c] && (!inSet || c != zeekSetSeparator) {
			i++
			continue
		}
		if c >= 0x80 {
			invalid, size := invalidUTF8At(s, i)
			if !invalid {
				i += size
				continue
			}
		}
		b = append(b, s[start:i]...)
		b = appendHexEscape(b, c)
		i++
		start = i
	}
	return append(b, s[start:]...)
}

// zeekPlain marks the ASCII bytes Zeek writes as they are in a string value
// (the set separator aside): printable characters other than the backslash.
var zeekPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '\\'
	}
	return t
}()
