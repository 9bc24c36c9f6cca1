package jscan

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"time"
	"unsafe"
)

// The value parsers below read the byte slices that sensors write for
// numbers and times without converting them to strings first, so a reader
// that uses them allocates nothing per value.

var (
	errEmpty    = errors.New("empty")
	errSyntax   = errors.New("invalid syntax")
	errRange    = errors.New("out of range")
	errTimeForm = errors.New("not epoch seconds or ISO 8601")
)

// ParseUint parses a decimal unsigned integer.
func ParseUint(b []byte) (uint64, error) {
	if len(b) == 0 {
		return 0, errEmpty
	}
	if len(b) > 20 {
		return 0, errRange
	}
	var n uint64
	for _, c := range b {
		d := c - '0'
		if d > 9 {
			return 0, errSyntax
		}
		if n > (math.MaxUint64-uint64(d))/10 {
			return 0, errRange
		}
		n = n*10 + uint64(d)
	}
	return n, nil
}

// ParseUint16 parses a decimal integer in 0..65535.
func ParseUint16(b []byte) (uint16, error) {
	if len(b) > 5 {
		return 0, errRange
	}
	n, err := ParseUint(b)
	if err != nil {
		return 0, err
	}
	if n > math.MaxUint16 {
		return 0, errRange
	}
	return uint16(n), nil
}

// ParseSecondsNanos parses a non-negative or negative decimal number of
// seconds ("1415775123.888211", "0.012166976928710938", "13") into
// nanoseconds, exactly for up to nine fractional digits and rounded to the
// nearest nanosecond beyond. Exponent forms ("1e-05") go through
// strconv.ParseFloat.
func ParseSecondsNanos(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, errEmpty
	}
	neg := false
	i := 0
	if b[0] == '-' {
		neg = true
		i = 1
	}
	var sec int64
	digits := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if sec > (math.MaxInt64/1_000_000_000-9)/10 {
			return 0, errRange
		}
		sec = sec*10 + int64(b[i]-'0')
		digits++
	}
	var frac int64
	if i < len(b) && b[i] == '.' {
		i++
		n := 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			switch {
			case n < 9:
				frac = frac*10 + int64(b[i]-'0')
			case n == 9 && b[i] >= '5':
				frac++ // round half up on the tenth digit
			}
			n++
			digits++
		}
		for ; n < 9; n++ {
			frac *= 10
		}
	}
	if i != len(b) {
		if i < len(b) && (b[i] == 'e' || b[i] == 'E') && digits > 0 {
			f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
			if err != nil || math.IsNaN(f) || math.Abs(f) > math.MaxInt64/1e9 {
				return 0, errSyntax
			}
			return int64(math.Round(f * 1e9)), nil
		}
		return 0, errSyntax
	}
	if digits == 0 {
		return 0, errSyntax
	}
	ns := sec*1e9 + frac
	if neg {
		ns = -ns
	}
	return ns, nil
}

// ParseTime parses a time written as epoch seconds with an optional
// fraction or as ISO 8601 / RFC 3339 ("2024-12-17T19:19:11.815121-0500",
// "2019-01-01T12:34:56.123456Z", offsets with or without a colon). The
// result is in UTC.
func ParseTime(b []byte) (time.Time, error) {
	if len(b) >= 10 && b[4] == '-' && b[7] == '-' {
		return ParseISO8601(b)
	}
	ns, err := ParseSecondsNanos(b)
	if err != nil {
		if errors.Is(err, errSyntax) {
			return time.Time{}, errTimeForm
		}
		return time.Time{}, err
	}
	return time.Unix(ns/1e9, ns%1e9).UTC(), nil
}

// ParseISO8601 parses YYYY-MM-DD[Thh:mm[:ss[.frac]]][Z|±hh[:]mm], the forms
// Suricata and Zeek write. A missing zone means UTC.
func ParseISO8601(b []byte) (time.Time, error) {
	if t, ok := parseISOFast(b); ok {
		return t, nil
	}
	num := func(i, n int) (int, bool) {
		if i+n > len(b) {
			return 0, false
		}
		v := 0
		for _, c := range b[i : i+n] {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	if !ok1 || !ok2 || !ok3 || b[4] != '-' || b[7] != '-' || month < 1 || month > 12 || day < 1 || day > 31 {
		return time.Time{}, errTimeForm
	}
	var hour, minute, sec, nsec int
	i := 10
	if i < len(b) && (b[i] == 'T' || b[i] == ' ') {
		var ok4, ok5 bool
		hour, ok4 = num(11, 2)
		minute, ok5 = num(14, 2)
		if !ok4 || !ok5 || b[13] != ':' || hour > 23 || minute > 59 {
			return time.Time{}, errTimeForm
		}
		i = 16
		if i < len(b) && b[i] == ':' {
			var ok bool
			if sec, ok = num(17, 2); !ok || sec > 60 {
				return time.Time{}, errTimeForm
			}
			i = 19
			if i < len(b) && (b[i] == '.' || b[i] == ',') {
				i++
				n := 0
				for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
					if n < 9 {
						nsec = nsec*10 + int(b[i]-'0')
					}
					n++
				}
				if n == 0 {
					return time.Time{}, errTimeForm
				}
				for ; n < 9; n++ {
					nsec *= 10
				}
			}
		}
	}
	offset := 0
	if i < len(b) {
		switch b[i] {
		case 'Z', 'z':
			i++
		case '+', '-':
			sign := 1
			if b[i] == '-' {
				sign = -1
			}
			oh, ok := num(i+1, 2)
			if !ok {
				return time.Time{}, errTimeForm
			}
			j := i + 3
			if j < len(b) && b[j] == ':' {
				j++
			}
			om := 0
			if j < len(b) {
				if om, ok = num(j, 2); !ok {
					return time.Time{}, errTimeForm
				}
				j += 2
			}
			if oh > 23 || om > 59 {
				return time.Time{}, errTimeForm
			}
			offset = sign * (oh*3600 + om*60)
			i = j
		default:
			return time.Time{}, errTimeForm
		}
	}
	if i != len(b) {
		return time.Time{}, errTimeForm
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), nil
}

// parseISOFast parses the exact form Suricata writes,
// "2024-12-17T19:19:11.815121-0500" (six fraction digits, ±hhmm), without
// time.Date; ok=false sends anything else to the general parser.
func parseISOFast(b []byte) (time.Time, bool) {
	if len(b) != 31 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' ||
		b[19] != '.' || (b[26] != '+' && b[26] != '-') {
		return time.Time{}, false
	}
	b = b[:31]
	// Every other byte must be a digit: test them eight at a time. The
	// separators (checked above) are below 0x8a after the xor, so they
	// carry nothing into the digit bytes above them.
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	nonDigit := func(x uint64) uint64 {
		t := x ^ (lo * '0')
		return ((t + lo*0x76) | t) & hi
	}
	w0 := binary.LittleEndian.Uint64(b[0:])  // "2024-12-"
	w1 := binary.LittleEndian.Uint64(b[8:])  // "17T19:19"
	w2 := binary.LittleEndian.Uint64(b[16:]) // ":11.8151"
	w3 := binary.LittleEndian.Uint64(b[23:]) // "121-0500"
	if nonDigit(w0)&0x0080800080808080|nonDigit(w1)&0x8080008080008080|
		nonDigit(w2)&0x8080808000808000|nonDigit(w3)&0x8080808000808080 != 0 {
		return time.Time{}, false
	}
	two := func(i int) int64 { return int64(b[i]-'0')*10 + int64(b[i+1]-'0') }
	year := two(0)*100 + two(2)
	month, day := two(5), two(8)
	hour, minute, sec := two(11), two(14), two(17)
	oh, om := two(27), two(29)
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 || oh > 23 || om > 59 {
		return time.Time{}, false
	}
	usec := two(20)*10000 + two(22)*100 + two(24)
	// Days from 1970-01-01 to the date (Howard Hinnant's days_from_civil).
	y := year
	if month <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400 // floor division: year 0's January and February
	}
	yoe := y - era*400
	mp := (month + 9) % 12
	doy := (153*mp+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	days := era*146097 + doe - 719468
	unix := days*86400 + hour*3600 + minute*60 + sec
	off := oh*3600 + om*60
	if b[26] == '+' {
		unix -= off
	} else {
		unix += off
	}
	return time.Unix(unix, usec*1000).UTC(), true
}
