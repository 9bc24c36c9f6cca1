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
	"errors"
	"fmt"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/jscan"
	"github.com/mlads/mlads/internal/logline"
)

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
