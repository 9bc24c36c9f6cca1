package flow

import (
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// Writer writes Records in one output format. Implementations buffer
// internally: Flush pushes what is buffered to the underlying io.Writer, and
// Close writes what the format needs at its end (Zeek's #close line), then
// flushes. Close does not close the underlying io.Writer. A Writer is not
// safe for concurrent use.
type Writer interface {
	Write(r *Record) error
	Flush() error
	Close() error
}

// Output format names, as `mlads flows --format` takes them.
const (
	FormatJSON = "json"
	FormatZeek = "zeek"
)

// NewWriter returns a Writer for the named format (FormatJSON or FormatZeek)
// that writes to w.
func NewWriter(format string, w io.Writer) (Writer, error) {
	switch format {
	case FormatJSON:
		return NewJSONWriter(w), nil
	case FormatZeek:
		return NewZeekWriter(w), nil
	}
	return nil, fmt.Errorf("flow: unknown output format %q (want %s or %s)", format, FormatJSON, FormatZeek)
}

// micros returns t as microseconds since the Unix epoch: Zeek's resolution.
func micros(t time.Time) int64 { return t.UnixMicro() }

// durationMicros returns the record's duration in microseconds as Zeek
// computes it: the difference of the two timestamps at microsecond resolution.
func durationMicros(r *Record) int64 { return micros(r.End()) - micros(r.TS) }

// appendFixed6 appends us microseconds as seconds with exactly six decimals,
// the way Zeek's ASCII writer renders time and interval values.
func appendFixed6(b []byte, us int64) []byte {
	u := uint64(us)
	if us < 0 {
		b = append(b, '-')
		u = uint64(-us)
	}
	b = appendUint(b, u/1e6)
	frac := u % 1e6
	b = append(b, '.',
		byte('0'+frac/100000), byte('0'+frac/10000%10), byte('0'+frac/1000%10),
		byte('0'+frac/100%10), byte('0'+frac/10%10), byte('0'+frac%10))
	return b
}

// appendUint is strconv.AppendUint(b, u, 10) without the call overhead for
// the small numbers that dominate flow records.
func appendUint(b []byte, u uint64) []byte {
	if u < 10 {
		return append(b, byte('0'+u))
	}
	var tmp [20]byte
	i := len(tmp)
	for u >= 10 {
		i--
		tmp[i] = byte('0' + u%10)
		u /= 10
	}
	i--
	tmp[i] = byte('0' + u)
	return append(b, tmp[i:]...)
}

const hexDigits = "0123456789abcdef"

// appendHexEscape appends c as Zeek's \xNN escape (lower-case hex).
func appendHexEscape(b []byte, c byte) []byte {
	return append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
}

// invalidUTF8At reports whether s[i:] starts with a byte that is not part
// of a valid UTF-8 sequence, and otherwise the length of the sequence.
func invalidUTF8At(s string, i int) (invalid bool, size int) {
	r, size := utf8.DecodeRuneInString(s[i:])
	return r == utf8.RuneError && size == 1, size
}
