package zeek

import (
	"bytes"
	"errors"
	"time"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/jscan"
	"github.com/mlads/mlads/internal/logline"
)

var (
	// errSkip tells ParseLine the line is a record of another log.
	errSkip      = errors.New("zeek: not a conn record")
	errNotString = errors.New("string expected")
	errNotNumber = errors.New("number expected")
	errNoAddrs   = errors.New("no id.orig_h and id.resp_h: not a conn record")
)

// parseJSON parses one Zeek JSON conn record. The keys are read through
// a jscan.Order, which after the first lines matches each key with the one
// expected at its place instead of scanning and looking it up.
func (p *Parser) parseJSON(line []byte, r *flow.Record) error {
	*r = flow.Record{Source: flow.SourceZeek}
	p.label, p.detail = nil, nil
	it := &p.jit
	if err := it.Init(line); err != nil {
		return p.lineErr(logline.KindJSON, fIgnore, line, err)
	}
	o := &p.jkeys
	o.Start()
	for {
		key, esc, code, kind, val, err := o.Next(it, jsonKeyCode)
		if err != nil {
			if errors.Is(err, jscan.ErrEnd) {
				break
			}
			return p.lineErr(logline.KindJSON, fIgnore, line, err)
		}
		if esc {
			continue // no conn.log key needs an escape
		}
		if kind == jscan.Object {
			if string(key) == "id" {
				if err := p.jsonID(val, r); err != nil {
					return err
				}
			}
			continue
		}
		f := field(code)
		if f == fIgnore {
			if string(key) == "_path" && kind == jscan.String && !bytes.HasPrefix(val, []byte("conn")) {
				// A record of another log in a mixed stream (json-streaming-logs,
				// a shipper's single file): not a flow, not an error.
				p.skipped++
				return errSkip
			}
			continue
		}
		if err := p.jsonField(f, kind, val, r); err != nil {
			return err
		}
	}
	if !r.OrigH.IsValid() || !r.RespH.IsValid() {
		return p.lineErr(logline.KindMissing, fIgnore, nil, errNoAddrs)
	}
	p.finish(r)
	return nil
}

func jsonKeyCode(k []byte) uint8 { return uint8(lookupField(k)) }

// jsonID reads a nested "id": {"orig_h": ...} object.
func (p *Parser) jsonID(obj []byte, r *flow.Record) error {
	it := &p.jsub
	if err := p.jit.Enter(it); err != nil {
		return p.lineErr(logline.KindJSON, fIgnore, obj, err)
	}
	for {
		key, _, kind, val, err := it.Next()
		if err != nil {
			if errors.Is(err, jscan.ErrEnd) {
				return nil
			}
			return p.lineErr(logline.KindJSON, fIgnore, obj, err)
		}
		var f field
		switch string(key) {
		case "orig_h":
			f = fOrigH
		case "orig_p":
			f = fOrigP
		case "resp_h":
			f = fRespH
		case "resp_p":
			f = fRespP
		default:
			continue
		}
		if err := p.jsonField(f, kind, val, r); err != nil {
			return err
		}
	}
}

// jsonField stores one JSON value; null means unset.
func (p *Parser) jsonField(f field, kind jscan.Kind, v []byte, r *flow.Record) error {
	if kind == jscan.Null {
		return nil
	}
	switch f {
	case fTS:
		if kind != jscan.String && kind != jscan.Number {
			return p.lineErr(logline.KindTime, f, v, errNotNumber)
		}
		t, err := jscan.ParseTime(v)
		if err != nil {
			return p.lineErr(logline.KindTime, f, v, err)
		}
		r.TS = t
		return nil
	case fTunnelParents:
		if kind != jscan.Array {
			return p.lineErr(logline.KindJSON, f, v, errors.New("array expected"))
		}
		var perr error
		err := jscan.ArrayEach(v, func(k jscan.Kind, e []byte) error {
			if k != jscan.String {
				perr = p.lineErr(logline.KindJSON, f, e, errNotString)
				return perr
			}
			r.TunnelParents = append(r.TunnelParents, p.strs.Copy(p.jstr(e)))
			return nil
		})
		if perr != nil {
			return perr
		}
		if err != nil {
			return p.lineErr(logline.KindJSON, f, v, err)
		}
		return nil
	case fDuration:
		if kind != jscan.Number && kind != jscan.String {
			return p.lineErr(logline.KindNumber, f, v, errNotNumber)
		}
		if len(v) == 0 {
			return nil
		}
		ns, err := jscan.ParseSecondsNanos(v)
		if err != nil || ns < 0 {
			if err == nil {
				err = errors.New("negative")
			}
			return p.lineErr(logline.KindNumber, f, v, err)
		}
		r.Duration = time.Duration(ns)
		return nil
	case fLabel, fDetailedLabel:
		if kind == jscan.String {
			if f == fLabel {
				p.label = v
			} else {
				p.detail = v
			}
		}
		return nil
	}
	switch f {
	case fUID, fOrigH, fRespH, fProto, fService, fConnState, fHistory, fCommunityID:
		if kind != jscan.String {
			return p.lineErr(logline.KindJSON, f, v, errNotString)
		}
		if len(v) == 0 {
			return nil
		}
		switch f {
		case fUID:
			r.UID = p.strs.Copy(p.jstr(v))
		case fCommunityID:
			r.CommunityID = p.strs.Copy(p.jstr(v))
		case fOrigH, fRespH:
			a, err := logline.ParseAddr(p.jstr(v))
			if err != nil {
				return p.lineErr(logline.KindAddr, f, v, err)
			}
			if f == fOrigH {
				r.OrigH = a
			} else {
				r.RespH = a
			}
		case fProto:
			r.Proto = p.strs.Intern(v)
		case fService:
			r.Service = p.strs.Intern(p.jstr(v))
		case fConnState:
			r.ConnState = p.strs.Intern(v)
		case fHistory:
			r.History = p.strs.Intern(p.jstr(v))
		}
		return nil
	}
	// The rest are numbers; some shippers quote them ("orig_bytes":"123").
	if kind != jscan.Number && kind != jscan.String {
		return p.lineErr(logline.KindNumber, f, v, errNotNumber)
	}
	if kind == jscan.String && len(v) == 0 {
		return nil // an empty string: unset
	}
	return p.setField(f, v, r)
}

// jstr decodes JSON escapes when v has any; otherwise it returns v.
func (p *Parser) jstr(v []byte) []byte {
	if bytes.IndexByte(v, '\\') < 0 {
		return v
	}
	out, err := jscan.Unescape(p.scratch[:0], v)
	if err != nil {
		return v
	}
	p.scratch = out
	return out
}
