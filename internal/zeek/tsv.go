package zeek

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"time"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/logline"
)

// nextCol returns the next column of line and the rest after its separator.
func (p *Parser) nextCol(line []byte) (col, rest []byte, more bool) {
	if p.csv && len(line) > 0 && line[0] == '"' {
		return p.quotedCSV(line)
	}
	var i int
	if len(p.sep) == 1 {
		i = bytes.IndexByte(line, p.sep[0])
	} else {
		i = bytes.Index(line, p.sep)
	}
	if i < 0 {
		return line, nil, false
	}
	return line[:i], line[i+len(p.sep):], true
}

// quotedCSV reads a double-quoted CSV field ("" is a quote inside it).
func (p *Parser) quotedCSV(line []byte) (col, rest []byte, more bool) {
	// Append-only within a line (reset in parseColsSlow): earlier quoted
	// columns of the line stay valid while later ones are read.
	from := len(p.csvBuf)
	i := 1
	for i < len(line) {
		c := line[i]
		if c == '"' {
			if i+1 < len(line) && line[i+1] == '"' {
				p.csvBuf = append(p.csvBuf, '"')
				i += 2
				continue
			}
			i++
			break
		}
		p.csvBuf = append(p.csvBuf, c)
		i++
	}
	col = p.csvBuf[from:len(p.csvBuf):len(p.csvBuf)]
	if i < len(line) && line[i] == ',' {
		return col, line[i+1:], true
	}
	return col, nil, false
}

func (p *Parser) parseTSV(line []byte, r *flow.Record) error {
	*r = flow.Record{Source: flow.SourceZeek}
	p.label, p.detail = nil, nil
	if p.csv || len(p.sep) != 1 || p.fast == nil {
		return p.parseColsSlow(line, r)
	}
	// Fast path: one separator byte, plain columns, one pass over the line.
	// Numbers, times, IPv4 addresses and strings without escapes are parsed
	// while their end is found, touching each byte once; anything unusual
	// (unset, IPv6, a bad value) goes to setField, the general path.
	sep := p.sep[0]
	start := 0
	for n, f := range p.fast {
		if start > len(line) {
			return p.lineErr(logline.KindColumns, fIgnore, line,
				fmt.Errorf("%d columns, the #fields header has %d", n, len(p.cols)))
		}
		end := -1
		switch f {
		case fIgnore:
			end = indexByteFrom(line, start, sep)
		case fOrigBytes, fRespBytes, fMissedBytes, fOrigPkts, fOrigIPBytes, fRespPkts, fRespIPBytes, fOrigP, fRespP:
			// Most counts and ports end within the next eight bytes: that
			// case is written out here, without a call.
			v, j := uint64(0), -1
			if start+8 <= len(line) {
				x := binary.LittleEndian.Uint64(line[start:])
				if m := nonDigits(x); m != 0 {
					if n := bits.TrailingZeros64(m) >> 3; n > 0 && line[start+n] == sep {
						v, j = digits8(x, n), start+n
					}
				}
			}
			if j < 0 {
				var k int
				v, k = digitsAt(line, start)
				if k == start || k-start > 19 || (k < len(line) && line[k] != sep) {
					break
				}
				j = k
			}
			if f == fOrigP || f == fRespP {
				if j-start > 5 || v > 65535 {
					break
				}
				if f == fOrigP {
					r.OrigP = uint16(v)
				} else {
					r.RespP = uint16(v)
				}
				end = j
				break
			}
			end = j
			switch f {
			case fOrigBytes:
				r.OrigBytes = v
			case fRespBytes:
				r.RespBytes = v
			case fMissedBytes:
				r.MissedBytes = v
			case fOrigPkts:
				r.OrigPkts = v
			case fOrigIPBytes:
				r.OrigIPBytes = v
			case fRespPkts:
				r.RespPkts = v
			default:
				r.RespIPBytes = v
			}
		case fTS, fDuration:
			if f == fTS {
				if t, ok := tsAt(line, start, sep); ok {
					r.TS = t
					end = start + 17
					break
				}
			}
			if f == fDuration {
				if d, j, ok := durationAt(line, start, sep); ok {
					r.Duration, end = d, j
					break
				}
			}
			sec, j := digitsAt(line, start)
			if j == start || j-start > 12 || j >= len(line) || line[j] != '.' || sec > 9_000_000_000 {
				break // beyond 9e9 s the general path checks the range
			}
			frac, k := digitsAt(line, j+1)
			m := k - j - 1
			if m == 0 || m > 9 || (k < len(line) && line[k] != sep) {
				break
			}
			end = k
			frac *= pow10[9-m]
			if f == fTS {
				r.TS = time.Unix(int64(sec), int64(frac)).UTC()
			} else {
				r.Duration = time.Duration(int64(sec)*1e9 + int64(frac))
			}
		case fOrigH, fRespH:
			a, j, ok := p.addrs.ipv4(line, start, sep)
			if !ok || (j < len(line) && line[j] != sep) {
				break // IPv6, or not an address
			}
			end = j
			if f == fOrigH {
				r.OrigH = a
			} else {
				r.RespH = a
			}
		case fLabel, fDetailedLabel:
			// Stored raw: makeLabel trims them and drops unset values.
			end = indexByteFrom(line, start, sep)
			if f == fLabel {
				p.label = line[start:end]
			} else {
				p.detail = line[start:end]
			}
		case fTunnelParents:
			j := indexByteFrom(line, start, sep)
			if v := line[start:j]; p.isEmpty(v) || p.isUnset(v) {
				end = j
			}
		case fProto, fService, fConnState, fHistory:
			if s, j, ok := p.words.str(line, start, sep, &p.strs); ok {
				end = j
				p.setWord(f, s, r)
				break
			}
			fallthrough // long, escaped or at the end of the line
		case fUID:
			j, esc := indexSepEsc(line, start, sep)
			if esc {
				break
			}
			end = j
			if v := line[start:j]; !p.isUnset(v) {
				p.setString(f, v, r)
			}
		}
		if end < 0 {
			end = indexByteFrom(line, start, sep)
			if err := p.setField(f, line[start:end], r); err != nil {
				return err
			}
		}
		start = end + 1
	}
	if start <= len(line) {
		return p.lineErr(logline.KindColumns, fIgnore, line,
			fmt.Errorf("more than the %d columns of the #fields header", len(p.cols)))
	}
	p.finish(r)
	return nil
}

// parseColsSlow splits columns with nextCol: CSV quoting and separators
// longer than a byte.
func (p *Parser) parseColsSlow(line []byte, r *flow.Record) error {
	p.csvBuf = p.csvBuf[:0]
	rest := line
	more := true
	n := 0
	for more {
		var col []byte
		col, rest, more = p.nextCol(rest)
		if n >= len(p.cols) {
			return p.lineErr(logline.KindColumns, fIgnore, line,
				fmt.Errorf("more than the %d columns of the #fields header", len(p.cols)))
		}
		if err := p.column(&p.cols[n], col, r); err != nil {
			return err
		}
		n++
	}
	if n != len(p.cols) {
		return p.lineErr(logline.KindColumns, fIgnore, line,
			fmt.Errorf("%d columns, the #fields header has %d", n, len(p.cols)))
	}
	p.finish(r)
	return nil
}

func (p *Parser) column(c *column, col []byte, r *flow.Record) error {
	if c.sub != nil {
		return p.combined(c.sub, col, r)
	}
	if c.f == fIgnore {
		return nil
	}
	return p.setField(c.f, col, r)
}

// combined splits a column holding several space-separated fields.
func (p *Parser) combined(sub []field, col []byte, r *flow.Record) error {
	parts := 0
	for len(col) > 0 && parts < len(sub) {
		col = bytes.TrimLeft(col, " ")
		if len(col) == 0 {
			break
		}
		v := col
		if i := bytes.IndexByte(col, ' '); i >= 0 && parts < len(sub)-1 {
			v, col = col[:i], col[i:]
		} else {
			col = nil
		}
		if err := p.setField(sub[parts], v, r); err != nil {
			return err
		}
		parts++
	}
	return nil
}
