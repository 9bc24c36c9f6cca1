package zeek

import (
	"bytes"
	"fmt"

	"github.com/mlads/mlads/internal/logline"
)

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
