// Package zeek reads Zeek conn.log files into flow.Records.
//
// It reads what Zeek and the datasets built on it really write:
//
//   - TSV driven by its headers: `#separator` (with `\x` escapes),
//     `#set_separator`, `#empty_field`, `#unset_field`, `#path`, `#fields`,
//     `#types`, `#open`/`#close`; columns in any order; unknown columns
//     ignored; missing optional columns left at their zero value; Zeek's
//     `\xNN` escapes in string values decoded. A header may be repeated
//     mid-file (concatenated logs) and replaces the previous one.
//   - Zeek's JSON lines (`LogAscii::use_json`), with `ts` as epoch seconds or
//     an ISO 8601 string and the id fields dotted ("id.orig_h") or nested
//     ("id": {"orig_h": ...}); unknown keys ignored; records whose "_path"
//     names another log (a mixed stream) skipped and counted.
//   - Labelled datasets: Stratosphere's extra `label`/`detailedlabel`
//     columns, IoT-23's `label`/`detailed-label` (including the original
//     IoT-23 conn.log.labeled whose last `#fields` entry is
//     "tunnel_parents   label   detailed-label", space separated, in one
//     tab column), and the IoT-23 CSV conversion (comma separated with a
//     header row, unset fields empty). The label goes to Record.Label as
//     "Label" or, with a detailed label, "Label/Detail".
//   - Header rows without `#` (zeek-cut -c output, CSV): a first line made of
//     known column names is taken as the field list.
//   - gzip-compressed files (by magic, not by name) and log folders as Zeek
//     leaves them (the current conn.log plus rotated conn.*.log[.gz]), read in
//     time order.
//
// Records get Source zeek and keep Zeek's uid; IPProto comes from an
// `ip_proto` column when there is one, else from proto (icmp is 58 for IPv6
// addresses); CommunityID from a `community_id` column, else it stays empty
// and the writers derive it (flow.Record.AppendCommunityID). A
// `#path` naming another log (dns, http, ...) is an error wrapping
// ErrNotConnLog, and ReadFile stops there.
//
// A `ts` masked by Zeek's test harness ("XXXXXXXXXX.XXXXXX") reads as the
// zero time, so Zeek's own test baselines can be compared field by field.
//
// Parser is the line-level API used by the tailer; ReadFile and ReadDir read
// whole files. Bad lines never stop a read: each one is a *logline.LineError
// naming the file and line, counted by kind in logline.Stats. Line reading,
// the gzip opener, the error kinds and the counters are package logline's,
// shared with the eve reader.
package zeek

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"time"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/jscan"
	"github.com/mlads/mlads/internal/logline"
)

// field is what a column holds.
type field uint8

const (
	fIgnore field = iota
	fTS
	fUID
	fOrigH
	fOrigP
	fRespH
	fRespP
	fProto
	fService
	fDuration
	fOrigBytes
	fRespBytes
	fConnState
	fMissedBytes
	fHistory
	fOrigPkts
	fOrigIPBytes
	fRespPkts
	fRespIPBytes
	fTunnelParents
	fIPProto
	fCommunityID
	fVLAN
	fInnerVLAN
	fLabel
	fDetailedLabel
	nFields
)

var fieldByName = map[string]field{
	"ts":             fTS,
	"uid":            fUID,
	"id.orig_h":      fOrigH,
	"id.orig_p":      fOrigP,
	"id.resp_h":      fRespH,
	"id.resp_p":      fRespP,
	"proto":          fProto,
	"service":        fService,
	"duration":       fDuration,
	"orig_bytes":     fOrigBytes,
	"resp_bytes":     fRespBytes,
	"conn_state":     fConnState,
	"missed_bytes":   fMissedBytes,
	"history":        fHistory,
	"orig_pkts":      fOrigPkts,
	"orig_ip_bytes":  fOrigIPBytes,
	"resp_pkts":      fRespPkts,
	"resp_ip_bytes":  fRespIPBytes,
	"tunnel_parents": fTunnelParents,
	"ip_proto":       fIPProto,
	"community_id":   fCommunityID,
	"vlan":           fVLAN,
	"inner_vlan":     fInnerVLAN,
	"label":          fLabel,
	"detailedlabel":  fDetailedLabel,
	"detailed-label": fDetailedLabel,
	"detailed_label": fDetailedLabel,
}

// Other columns Zeek writes in conn.log: known, so a header row made of them
// is recognised, but not stored.
var knownIgnored = map[string]bool{
	"local_orig": true, "local_resp": true, "orig_l2_addr": true, "resp_l2_addr": true,
	"speculative_service": true, "orig_cc": true, "resp_cc": true, "app": true,
	"_path": true, "_write_ts": true, "_node": true, "_system_name": true,
}

var fieldNames [nFields]string

func init() {
	for name, f := range fieldByName {
		if fieldNames[f] == "" || len(name) < len(fieldNames[f]) {
			fieldNames[f] = name
		}
	}
}

func (f field) String() string { return fieldNames[f] }

// lookupField is fieldByName as a switch, which the compiler turns into a
// length-then-bytes search that beats a map lookup on the per-key JSON path.
func lookupField(k []byte) field {
	switch string(k) {
	case "ts":
		return fTS
	case "uid":
		return fUID
	case "id.orig_h":
		return fOrigH
	case "id.orig_p":
		return fOrigP
	case "id.resp_h":
		return fRespH
	case "id.resp_p":
		return fRespP
	case "proto":
		return fProto
	case "service":
		return fService
	case "duration":
		return fDuration
	case "orig_bytes":
		return fOrigBytes
	case "resp_bytes":
		return fRespBytes
	case "conn_state":
		return fConnState
	case "missed_bytes":
		return fMissedBytes
	case "history":
		return fHistory
	case "orig_pkts":
		return fOrigPkts
	case "orig_ip_bytes":
		return fOrigIPBytes
	case "resp_pkts":
		return fRespPkts
	case "resp_ip_bytes":
		return fRespIPBytes
	case "tunnel_parents":
		return fTunnelParents
	case "ip_proto":
		return fIPProto
	case "community_id":
		return fCommunityID
	case "vlan":
		return fVLAN
	case "inner_vlan":
		return fInnerVLAN
	case "label":
		return fLabel
	case "detailedlabel", "detailed-label", "detailed_label":
		return fDetailedLabel
	}
	return fIgnore
}

// column is one column of the TSV layout. A combined column (IoT-23's
// "tunnel_parents   label   detailed-label") holds several fields separated
// by runs of spaces.
type column struct {
	f   field
	sub []field
}

// labelEntry caches the label made of one raw (label, detail) pair.
type labelEntry struct {
	label, detail []byte
	s             string
	ok            bool
}

// Parser parses conn.log lines one at a time, keeping the header state of
// the file it reads. It is not safe for concurrent use.
type Parser struct {
	name string
	line int64

	sep    []byte // column separator
	setSep []byte // separator of set elements
	empty  []byte // an empty set or string
	unset  []byte // an unset value
	csv    bool   // comma separated with a header row: empty means unset

	cols       []column
	fast       []field // cols as plain fields; nil when a column is combined
	haveFields bool

	strs    logline.Strings
	scratch []byte
	csvBuf  []byte // unquoted CSV columns of the current line
	jit     jscan.Iter
	jkeys   jscan.Order // key order of the JSON lines
	jsub    jscan.Iter
	label   []byte
	detail  []byte
	labels  [16]labelEntry
	addrs   addrCache // IPv4 addresses by their text
	words   strCache  // proto, service, conn_state and history by their text
	skipped int64     // JSON records of other logs (_path not conn)
}

// NewParser returns a parser for the file called name (used in errors),
// with Zeek's default header values until the file's own headers arrive.
func NewParser(name string) *Parser {
	p := &Parser{name: name}
	p.resetHeader()
	return p
}

func (p *Parser) resetHeader() {
	p.sep = []byte{'\t'}
	p.setSep = []byte{','}
	p.empty = []byte("(empty)")
	p.unset = []byte("-")
	p.csv = false
	p.cols = p.cols[:0]
	p.haveFields = false
	p.clearLabels()
}

// clearLabels empties the label cache, whose entries depend on the unset
// value and the CSV flag.
func (p *Parser) clearLabels() {
	for i := range p.labels {
		p.labels[i].ok = false
	}
}

// utf8BOM is the byte order mark some editors put at the start of a file.
var utf8BOM = []byte("\xef\xbb\xbf")

// SetLineNumber sets the number of the last line read, so the next line
// parsed is n+1. The tailer calls it when it resumes mid-file.
func (p *Parser) SetLineNumber(n int64) { p.line = n }

// LineNumber returns the number of the last line parsed.
func (p *Parser) LineNumber() int64 { return p.line }

// Skipped returns how many JSON records of other logs (a "_path" other
// than conn, in a mixed stream) the parser has passed over.
func (p *Parser) Skipped() int64 { return p.skipped }

// Name returns the file name the parser uses in errors.
func (p *Parser) Name() string { return p.name }

// ParseLine parses one line (without its newline; a trailing '\r' is
// ignored). Header and comment lines update the parser's state and return
// ok=false with a nil error. A data line fills r and returns ok=true. A bad
// line returns a *logline.LineError naming the file and line number; the caller
// counts it and goes on.
//
// r is overwritten entirely. Its strings are never shared with line and stay
// valid; TunnelParents is a fresh slice when set, so a shallow copy of *r is
// an independent record.
func (p *Parser) ParseLine(line []byte, r *flow.Record) (ok bool, err error) {
	p.line++
	if p.line == 1 {
		line = bytes.TrimPrefix(line, utf8BOM) // written by some Windows tools
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) == 0 {
		return false, nil
	}
	switch line[0] {
	case '#':
		return false, p.header(line)
	case '{':
		if err := p.parseJSON(line, r); err != nil {
			if err == errSkip { //nolint:errorlint // a sentinel of this package, never wrapped
				return false, nil
			}
			return false, err
		}
		return true, nil
	case ' ', '\t':
		if t := bytes.TrimLeft(line, " \t"); len(t) > 0 && t[0] == '#' {
			return false, p.header(t) // seen in the wild: "\t#separator \x09"
		}
		if len(bytes.TrimSpace(line)) == 0 {
			return false, nil
		}
	}
	if !p.haveFields {
		if p.headerRow(line) {
			return false, nil
		}
		return false, p.lineErr(logline.KindNoHeader, fIgnore, line, errors.New("data line before any #fields header"))
	}
	if err := p.parseTSV(line, r); err != nil {
		return false, err
	}
	return true, nil
}

func (p *Parser) lineErr(kind logline.ErrorKind, f field, val []byte, err error) *logline.LineError {
	e := &logline.LineError{File: p.name, Line: p.line, Kind: kind, Err: err}
	if f != fIgnore {
		e.Field = f.String()
		e.Value = logline.Shorten(val)
	} else if kind != logline.KindNoHeader && kind != logline.KindJSON {
		e.Value = logline.Shorten(val)
	}
	if kind != logline.KindBinary && logline.IsBinary(val) {
		e.Kind = logline.KindBinary
		e.Err = fmt.Errorf("not text (control bytes): %w", err)
	}
	return e
}

// header handles a line starting with '#'.
func (p *Parser) header(line []byte) error {
	if v, ok := bytes.CutPrefix(line, []byte("#separator")); ok {
		p.resetHeader()
		v = bytes.TrimLeft(v, " \t")
		sep := unescapeX(nil, v)
		if len(sep) == 0 {
			sep = []byte{'\t'}
		}
		p.sep = sep
		return nil
	}
	name, rest, found := bytes.Cut(line, p.sep)
	if !found {
		return nil // a comment ("### BTest baseline ...") or a header without value
	}
	switch string(name) {
	case "#set_separator":
		p.setSep = unescapeX(p.setSep[:0], rest)
	case "#empty_field":
		p.empty = append(p.empty[:0], rest...)
	case "#unset_field":
		p.unset = append(p.unset[:0], rest...)
		p.clearLabels()
	case "#path":
		if !bytes.HasPrefix(rest, []byte("conn")) {
			return &logline.LineError{File: p.name, Line: p.line, Kind: logline.KindNotConn,
				Err: fmt.Errorf("#path %q: %w", logline.Shorten(rest), ErrNotConnLog)}
		}
	case "#fields":
		p.setFields(bytes.Split(rest, p.sep), false)
	}
	return nil
}

// setFields installs a column layout from column names.
func (p *Parser) setFields(names [][]byte, csv bool) {
	p.cols = p.cols[:0]
	p.fast = p.fast[:0]
	for _, n := range names {
		n = bytes.TrimSpace(n)
		if bytes.IndexByte(n, ' ') >= 0 {
			var c column
			for _, part := range bytes.Fields(n) {
				c.sub = append(c.sub, fieldByName[string(part)])
			}
			p.cols = append(p.cols, c)
			continue
		}
		p.cols = append(p.cols, column{f: fieldByName[string(n)]})
	}
	p.haveFields = true
	p.csv = csv
	p.clearLabels()
	if csv {
		p.sep = []byte{','}
	}
	for _, c := range p.cols {
		if c.sub != nil {
			p.fast = nil // a combined column: the general path
			return
		}
		p.fast = append(p.fast, c.f)
	}
	if p.fast == nil {
		p.fast = []field{}
	}
}

// headerRow recognises a first line of bare column names (zeek-cut -c
// output, a CSV header) and installs it as the field list.
func (p *Parser) headerRow(line []byte) bool {
	for _, sep := range []byte{'\t', ','} {
		if sep == ',' && bytes.IndexByte(line, '\t') >= 0 {
			continue
		}
		names := bytes.Split(line, []byte{sep})
		known := 0
		for _, n := range names {
			n = bytes.TrimSpace(n)
			if _, ok := fieldByName[string(n)]; ok {
				known++
			} else if !knownIgnored[string(n)] {
				known = -1
				break
			}
		}
		if known >= 2 || (known >= 1 && len(names) == 1) {
			p.setFields(names, sep == ',')
			if sep == '\t' {
				p.sep = []byte{'\t'}
			}
			return true
		}
	}
	return false
}

// IsHeaderRow reports whether line is a row of conn.log column names (tab
// or comma separated), as zeek-cut -c and CSV conversions start with.
func IsHeaderRow(line []byte) bool {
	var p Parser
	p.resetHeader()
	return p.headerRow(bytes.TrimRight(line, "\r"))
}

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
