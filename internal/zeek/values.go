package zeek

import (
	"bytes"
	"errors"
	"net/netip"
	"time"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/jscan"
	"github.com/mlads/mlads/internal/logline"
)

// setString stores a string value that needs no unescaping and is not unset.
func (p *Parser) setString(f field, v []byte, r *flow.Record) {
	switch f {
	case fUID:
		r.UID = p.strs.Copy(v)
	case fProto:
		r.Proto = p.proto(v)
	case fService:
		if !p.isEmpty(v) {
			r.Service = p.strs.Intern(v)
		}
	case fConnState:
		r.ConnState = p.strs.Intern(v)
	case fHistory:
		if !p.isEmpty(v) {
			r.History = p.strs.Intern(v)
		}
	}
}

// setWord stores a short string value from the word cache: like setString,
// with the unset and empty checks on the string.
func (p *Parser) setWord(f field, s string, r *flow.Record) {
	if s == string(p.unset) {
		return
	}
	switch f {
	case fProto:
		r.Proto = s
	case fService:
		if s != string(p.empty) {
			r.Service = s
		}
	case fConnState:
		r.ConnState = s
	case fHistory:
		if s != string(p.empty) {
			r.History = s
		}
	}
}

// proto returns Zeek's transport name for v without a table lookup for the
// usual three.
func (p *Parser) proto(v []byte) string {
	switch string(v) {
	case flow.ProtoTCP:
		return flow.ProtoTCP
	case flow.ProtoUDP:
		return flow.ProtoUDP
	case flow.ProtoICMP:
		return flow.ProtoICMP
	}
	return p.strs.Intern(v)
}

func (p *Parser) isUnset(v []byte) bool {
	if len(v) > len(p.unset) {
		return false
	}
	return (len(v) == len(p.unset) && string(v) == string(p.unset)) || (p.csv && len(v) == 0)
}

func (p *Parser) isEmpty(v []byte) bool {
	return len(v) == 0 || (len(v) == len(p.empty) && string(v) == string(p.empty))
}

// setField stores one TSV value.
func (p *Parser) setField(f field, v []byte, r *flow.Record) error {
	if p.isUnset(v) {
		return nil
	}
	var err error
	switch f {
	case fTS:
		if isMaskedTS(v) {
			return nil
		}
		r.TS, err = jscan.ParseTime(v)
		if err != nil {
			return p.lineErr(logline.KindTime, f, v, err)
		}
		return nil
	case fUID:
		r.UID = p.strs.Copy(p.str(v))
	case fOrigH, fRespH:
		a, err := logline.ParseAddr(v)
		if err != nil {
			return p.lineErr(logline.KindAddr, f, v, err)
		}
		if f == fOrigH {
			r.OrigH = a
		} else {
			r.RespH = a
		}
	case fOrigP, fRespP, fVLAN, fInnerVLAN:
		n, err := jscan.ParseUint16(v)
		if err != nil {
			return p.lineErr(logline.KindNumber, f, v, err)
		}
		switch f {
		case fOrigP:
			r.OrigP = n
		case fRespP:
			r.RespP = n
		case fVLAN:
			r.VLAN = n
		default:
			r.InnerVLAN = n
		}
	case fProto:
		r.Proto = p.proto(v)
	case fService:
		if !p.isEmpty(v) {
			r.Service = p.strs.Intern(p.str(v))
		}
	case fConnState:
		r.ConnState = p.strs.Intern(v)
	case fHistory:
		if !p.isEmpty(v) {
			r.History = p.strs.Intern(p.str(v))
		}
	case fDuration:
		ns, err := jscan.ParseSecondsNanos(v)
		if err != nil || ns < 0 {
			if err == nil {
				err = errors.New("negative")
			}
			return p.lineErr(logline.KindNumber, f, v, err)
		}
		r.Duration = time.Duration(ns)
	case fOrigBytes, fRespBytes, fMissedBytes, fOrigPkts, fOrigIPBytes, fRespPkts, fRespIPBytes, fIPProto:
		n, err := jscan.ParseUint(v)
		if err != nil {
			return p.lineErr(logline.KindNumber, f, v, err)
		}
		switch f {
		case fOrigBytes:
			r.OrigBytes = n
		case fRespBytes:
			r.RespBytes = n
		case fMissedBytes:
			r.MissedBytes = n
		case fOrigPkts:
			r.OrigPkts = n
		case fOrigIPBytes:
			r.OrigIPBytes = n
		case fRespPkts:
			r.RespPkts = n
		case fRespIPBytes:
			r.RespIPBytes = n
		default:
			if n > 255 {
				return p.lineErr(logline.KindNumber, f, v, errors.New("above 255"))
			}
			r.IPProto = uint8(n)
		}
	case fTunnelParents:
		if p.isEmpty(v) {
			return nil
		}
		n := bytes.Count(v, p.setSep) + 1
		r.TunnelParents = make([]string, 0, n)
		for len(v) > 0 {
			e, rest, _ := bytes.Cut(v, p.setSep)
			r.TunnelParents = append(r.TunnelParents, p.strs.Copy(p.str(e)))
			v = rest
		}
	case fCommunityID:
		if !p.isEmpty(v) {
			r.CommunityID = p.strs.Copy(p.str(v))
		}
	case fLabel:
		p.label = v
	case fDetailedLabel:
		p.detail = v
	}
	return err
}

// str decodes Zeek's \xNN escapes when v has any; otherwise it returns v.
func (p *Parser) str(v []byte) []byte {
	if bytes.IndexByte(v, '\\') < 0 {
		return v
	}
	p.scratch = unescapeX(p.scratch[:0], v)
	return p.scratch
}

// finish fills what is derived from other fields.
func (p *Parser) finish(r *flow.Record) {
	if r.IPProto == 0 {
		r.IPProto = ipProto(r.Proto, r.OrigH)
	}
	if len(p.label) > 0 || len(p.detail) > 0 {
		r.Label = p.makeLabel(p.label, p.detail)
	}
}

// makeLabel joins a label and a detailed label as "Label/Detail"; values
// that mean "none" ("-", "(empty)", "") are dropped.
func (p *Parser) makeLabel(label, detail []byte) string {
	// Labelled logs repeat a few pairs: a small cache on the raw bytes
	// skips the trimming, joining and interning.
	e := &p.labels[(len(label)*7+len(detail))&(len(p.labels)-1)]
	if e.ok && string(e.label) == string(label) && string(e.detail) == string(detail) {
		return e.s
	}
	s := p.joinLabel(label, detail)
	e.label, e.detail = append(e.label[:0], label...), append(e.detail[:0], detail...)
	e.s, e.ok = s, true
	return s
}

func (p *Parser) joinLabel(label, detail []byte) string {
	label, detail = trimSpaces(label), trimSpaces(detail)
	if p.noLabel(detail) {
		if p.noLabel(label) {
			return ""
		}
		return p.strs.Intern(label)
	}
	p.scratch = append(append(append(p.scratch[:0], label...), '/'), detail...)
	return p.strs.Intern(p.scratch)
}

func (p *Parser) noLabel(b []byte) bool {
	return len(b) == 0 || string(b) == "-" || string(b) == "(empty)" || p.isUnset(b)
}

// trimSpaces trims blanks at both ends; it costs two byte tests when there
// are none.
func trimSpaces(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// ipProto derives the IP protocol number from Zeek's proto name.
func ipProto(proto string, orig netip.Addr) uint8 {
	switch proto {
	case flow.ProtoTCP:
		return 6
	case flow.ProtoUDP:
		return 17
	case flow.ProtoICMP:
		if orig.Is6() && !orig.Is4In6() {
			return 58
		}
		return 1
	}
	return 0
}

func isMaskedTS(v []byte) bool {
	if len(v) == 0 || v[0] != 'X' {
		return false
	}
	for _, c := range v {
		if c != 'X' && c != '.' {
			return false
		}
	}
	return true
}

// unescapeX appends v to dst with Zeek's \xNN escapes decoded (and "\\"
// as a backslash, which Zeek writes for a literal one).
func unescapeX(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+3 < len(v) && v[i+1] == 'x' {
			if h, ok := unhex(v[i+2]); ok {
				if l, ok := unhex(v[i+3]); ok {
					dst = append(dst, h<<4|l)
					i += 3
					continue
				}
			}
		}
		if c == '\\' && i+1 < len(v) && v[i+1] == '\\' {
			dst = append(dst, '\\')
			i++
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
