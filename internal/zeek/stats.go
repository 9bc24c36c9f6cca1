package zeek

import (
	"errors"
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
	File   string // the name given to NewParser
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

// ErrNotConnLog is wrapped by the error for a `#path` header naming another
// log (dns, http, ...): ReadFile stops there instead of reporting every line.
var ErrNotConnLog = errors.New("not a conn log")

// maxValueInError bounds how much of a bad value an error quotes.
const maxValueInError = 64

func shorten(b []byte) string {
	if len(b) > maxValueInError {
		return string(b[:maxValueInError]) + "..."
	}
	return string(b)
}

// MaxExamples is how many bad-line errors Stats keeps verbatim.
const MaxExamples = 5

// Stats counts what a read saw.
type Stats struct {
	Files    int                 // files read
	Lines    int64               // lines read, headers and bad lines included
	Headers  int64               // header and comment lines
	Skipped  int64               // JSON records of other logs in a mixed stream (_path not conn)
	Records  int64               // records emitted
	Bad      int64               // bad lines, skipped
	BadKinds map[ErrorKind]int64 // bad lines by kind
	Examples []string            // the first MaxExamples bad-line errors, naming file and line
}

// AddBad counts one bad line.
func (s *Stats) AddBad(err error) {
	s.Bad++
	kind := ErrorKind("other")
	var le *LineError
	if errors.As(err, &le) {
		kind = le.Kind
	}
	if s.BadKinds == nil {
		s.BadKinds = make(map[ErrorKind]int64)
	}
	s.BadKinds[kind]++
	if len(s.Examples) < MaxExamples {
		s.Examples = append(s.Examples, err.Error())
	}
}

// Add adds the counts of o to s.
func (s *Stats) Add(o Stats) {
	s.Files += o.Files
	s.Lines += o.Lines
	s.Headers += o.Headers
	s.Skipped += o.Skipped
	s.Records += o.Records
	s.Bad += o.Bad
	for k, v := range o.BadKinds {
		if s.BadKinds == nil {
			s.BadKinds = make(map[ErrorKind]int64)
		}
		s.BadKinds[k] += v
	}
	for _, e := range o.Examples {
		if len(s.Examples) < MaxExamples {
			s.Examples = append(s.Examples, e)
		}
	}
}

// NewLineError builds a LineError for reader ("zeek", "eve"). When field is
// set, val is quoted in the message (shortened); a val holding control bytes
// makes the kind KindBinary.
func NewLineError(reader, file string, line int64, kind ErrorKind, field string, val []byte, err error) *LineError {
	e := &LineError{Reader: reader, File: file, Line: line, Kind: kind, Field: field, Err: err}
	if field != "" {
		e.Value = shorten(val)
	}
	if isBinary(val) {
		e.Kind = KindBinary
		e.Err = fmt.Errorf("not text (control bytes): %w", err)
	}
	return e
}
