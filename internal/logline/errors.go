package logline

import (
	"fmt"
	"strings"
)

// ErrorKind classifies a bad line, so a reader can count them by kind.
type ErrorKind string

// The kinds of bad lines.
const (
	KindColumns  ErrorKind = "columns"   // wrong number of columns for the #fields header
	KindNumber   ErrorKind = "number"    // a count, port or interval that does not parse
	KindAddr     ErrorKind = "addr"      // an address that does not parse
	KindTime     ErrorKind = "time"      // a ts that does not parse
	KindJSON     ErrorKind = "json"      // broken JSON
	KindBinary   ErrorKind = "binary"    // control bytes or NULs: not text
	KindNoHeader ErrorKind = "no_header" // a TSV data line before any #fields header
	KindTooLong  ErrorKind = "too_long"  // longer than the reader's line limit
	KindMissing  ErrorKind = "missing"   // a JSON record without its addresses
	KindNotConn  ErrorKind = "not_conn"  // a header that says this is not a conn log
)

// LineError is a bad line: where it is and what is wrong with it.
type LineError struct {
	Reader string // "zeek" or "eve": the package that read the line ("" means zeek)
	File   string // the name given to the reader's parser
	Line   int64  // 1-based line number
	Kind   ErrorKind
	Field  string // the column at fault, "" when the line as a whole is bad
	Value  string // the offending text, shortened
	Err    error
}

// Error formats the error as
// `zeek: conn.log line 1043: field duration: parse "abc": invalid syntax`.
func (e *LineError) Error() string {
	var b strings.Builder
	reader := e.Reader
	if reader == "" {
		reader = "zeek"
	}
	fmt.Fprintf(&b, "%s: %s line %d: ", reader, e.File, e.Line)
	if e.Field != "" {
		fmt.Fprintf(&b, "field %s: parse %q: ", e.Field, e.Value)
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *LineError) Unwrap() error { return e.Err }

// maxValueInError bounds how much of a bad value an error quotes.
const maxValueInError = 64

// Shorten returns b as a string for quoting in an error, cut after its
// first 64 bytes (with "..." appended when cut).
func Shorten(b []byte) string {
	if len(b) > maxValueInError {
		return string(b[:maxValueInError]) + "..."
	}
	return string(b)
}

// IsBinary reports whether b holds bytes no text log has.
func IsBinary(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' || c == 0x7f {
			return true
		}
	}
	return false
}

// NewLineError builds a LineError for reader ("zeek", "eve"). When field is
// set, val is quoted in the message (shortened); a val holding control bytes
// makes the kind KindBinary.
func NewLineError(reader, file string, line int64, kind ErrorKind, field string, val []byte, err error) *LineError {
	e := &LineError{Reader: reader, File: file, Line: line, Kind: kind, Field: field, Err: err}
	if field != "" {
		e.Value = Shorten(val)
	}
	if IsBinary(val) {
		e.Kind = KindBinary
		e.Err = fmt.Errorf("not text (control bytes): %w", err)
	}
	return e
}
