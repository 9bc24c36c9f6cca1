// Package jscan is a small, allocation-free scanner for one-line JSON
// objects, shared by the Zeek JSON and Suricata EVE readers.
//
// It walks the members of an object in order and hands out each key and the
// raw bytes of its value without building any tree; nested objects are
// walked the same way when the caller asks for them. It validates what it
// walks (strings are terminated, members are separated by ':' and ',',
// brackets balance, literals are spelled right) but it does not check the
// digits of a number or the UTF-8 of a string: the callers parse the values
// they use and ignore the rest.
//
// Why not encoding/json: it decodes about 154k EVE flow events/s per core on
// the reference machine, a tenth of what mlads needs. Why not
// buger/jsonparser or goccy/go-json: both would do (1.4-1.7 M events/s), but
// the readers only need "iterate members, skip what is unknown", which is
// two hundred lines here, allocation-free, fuzzed with the readers, and keeps
// the module free of another dependency.
//
// Returned slices alias the input; they are valid as long as it is.
package jscan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// Kind is the JSON type of a value.
type Kind uint8

// The kinds of JSON values.
const (
	Invalid Kind = iota
	String
	Number
	True
	False
	Null
	Object
	Array
)

var kindNames = [...]string{"invalid", "string", "number", "true", "false", "null", "object", "array"}

// String returns the kind's JSON name.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// Error is a syntax error at a byte offset of the scanned object.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("json: %s at byte %d", e.Msg, e.Offset) }

// ErrEnd is returned by Iter.Next after the last member.
var ErrEnd = errors.New("jscan: end of object")

// Iter walks the members of one JSON object.
type Iter struct {
	b     []byte
	i     int
	first bool
	done  bool
	esc   bool // the last string read had escapes

	// An object value is not skipped when Next returns it: the caller may
	// Enter it, walking its bytes once. pending is set until it is entered
	// to the end or skipped by the following Next.
	pending  bool
	objStart int
	parent   *Iter // set on an Iter started by Enter
}

// Init starts walking the object b (which must begin with '{' after optional
// white space). Trailing bytes after the object are an error reported by the
// Next call that reaches the end, unless they are white space.
func (it *Iter) Init(b []byte) error {
	it.b, it.i, it.first, it.done, it.pending, it.parent = b, 0, true, false, false, nil
	it.skipWS()
	if it.i >= len(b) || b[it.i] != '{' {
		return it.errf("object expected")
	}
	it.i++
	return nil
}

// Next returns the next member: its key (raw, without quotes, escapes not
// decoded; escaped reports whether it holds any), the value's kind, and the
// value's raw bytes (for strings without the quotes, for arrays with their
// brackets). For an object, val starts at its '{' and runs to the end of the
// input: the object is not scanned until the caller Enters it or calls Next
// again. After the last member it returns ErrEnd.
func (it *Iter) Next() (key []byte, escaped bool, kind Kind, val []byte, err error) {
	if it.done {
		return nil, false, Invalid, nil, ErrEnd
	}
	if it.pending {
		it.pending = false
		it.i = it.objStart
		if err := it.skipNested(); err != nil {
			return nil, false, Invalid, nil, err
		}
	}
	it.skipWS()
	if it.i >= len(it.b) {
		return nil, false, Invalid, nil, it.errf("unexpected end of input")
	}
	if it.b[it.i] == '}' {
		it.i++
		it.done = true
		if it.parent != nil {
			// The end of an entered object: the parent resumes after it.
			it.parent.i, it.parent.pending = it.i, false
			return nil, false, Invalid, nil, ErrEnd
		}
		it.skipWS()
		if it.i != len(it.b) {
			return nil, false, Invalid, nil, it.errf("trailing data after object")
		}
		return nil, false, Invalid, nil, ErrEnd
	}
	if !it.first {
		if it.b[it.i] != ',' {
			return nil, false, Invalid, nil, it.errf("',' or '}' expected")
		}
		it.i++
		it.skipWS()
	}
	it.first = false
	if it.i >= len(it.b) || it.b[it.i] != '"' {
		return nil, false, Invalid, nil, it.errf("string key expected")
	}
	// Keys are short and plain: a byte loop inline, str for anything else.
	j := it.i + 1
	for j < len(it.b) && !special[it.b[j]] {
		j++
	}
	if j < len(it.b) && it.b[j] == '"' {
		key = it.b[it.i+1 : j]
		it.i = j + 1
	} else if key, escaped, err = it.str(); err != nil {
		return nil, false, Invalid, nil, err
	}
	it.skipWS()
	if it.i >= len(it.b) || it.b[it.i] != ':' {
		return nil, false, Invalid, nil, it.errf("':' expected")
	}
	it.i++
	it.skipWS()
	kind, val, err = it.value(true)
	return key, escaped, kind, val, err
}

// Key is a member key prepared for NextKey: the bytes `"key":` Next would
// have read, and their first 24 as three words for a quick comparison.
type Key struct {
	lit []byte    // `"key":`
	w   [3]uint64 // lit's first 24 bytes, zero-padded
	m   [3]uint64 // which bytes of w lit has
}

// Set makes k the key raw (its bytes as Next returns them), reusing k's
// buffer.
func (k *Key) Set(raw []byte) {
	k.lit = append(append(append(k.lit[:0], '"'), raw...), '"', ':')
	var buf [24]byte
	n := copy(buf[:], k.lit)
	for j := range k.w {
		k.w[j] = binary.LittleEndian.Uint64(buf[8*j:])
		switch left := n - 8*j; {
		case left >= 8:
			k.m[j] = ^uint64(0)
		case left <= 0:
			k.m[j] = 0
		default:
			k.m[j] = 1<<(8*left) - 1
		}
	}
}

// Raw returns the key's bytes as Next returns them.
func (k *Key) Raw() []byte { return k.lit[1 : len(k.lit)-2] }

// NextKey reads the next member like Next when its key is k, written
// without white space before the colon, and returns ok=false, having read
// nothing, when it is not. Readers of logs whose lines repeat the same keys
// in the same order (Zeek, EVE) try the key the previous line had at this
// place first, which skips scanning the key and looking it up.
func (it *Iter) NextKey(k *Key) (kind Kind, val []byte, ok bool, err error) {
	if it.done {
		return Invalid, nil, false, nil
	}
	if it.pending {
		it.pending = false
		it.i = it.objStart
		if err := it.skipNested(); err != nil {
			return Invalid, nil, false, err
		}
	}
	b, i := it.b, it.i
	if !it.first {
		if i >= len(b) || b[i] != ',' {
			return Invalid, nil, false, nil
		}
		i++
	}
	n := len(k.lit)
	if n <= 24 && i+24 <= len(b) {
		b := b[i : i+24]
		x0, x1, x2 := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[16:])
		if (x0^k.w[0])&k.m[0]|(x1^k.w[1])&k.m[1]|(x2^k.w[2])&k.m[2] != 0 {
			return Invalid, nil, false, nil
		}
	} else if i+n > len(b) || string(b[i:i+n]) != string(k.lit) {
		return Invalid, nil, false, nil
	}
	it.i, it.first = i+n, false
	it.skipWS()
	kind, val, err = it.value(true)
	return kind, val, true, err
}

func (it *Iter) errf(msg string) error { return &Error{Offset: it.i, Msg: msg} }

func (it *Iter) skipWS() {
	if it.i < len(it.b) && it.b[it.i] > ' ' {
		return
	}
	for it.i < len(it.b) {
		switch it.b[it.i] {
		case ' ', '\t', '\r', '\n':
			it.i++
		default:
			return
		}
	}
}

// special marks the bytes a string scan must stop at: the closing quote,
// a backslash, and control characters (invalid inside JSON strings).
var special = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

const lo, hi = 0x0101010101010101, 0x8080808080808080

// str reads a string starting at the opening quote and returns its raw
// contents and whether it holds escapes.
func (it *Iter) str() ([]byte, bool, error) {
	b := it.b
	start := it.i + 1
	esc := false
	j := start
	for {
		// Eight bytes at a time (SWAR) while none of them is special: the
		// lowest flagged byte of each test below is exact, so is their OR's,
		// and b[j] is then the first special byte.
		found := false
		for j+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[j:])
			q := x ^ (lo * '"')
			e := x ^ (lo * '\\')
			t := ((q - lo) &^ q) | ((e - lo) &^ e) | ((x - lo*0x20) &^ x)
			if t &= hi; t != 0 {
				j += bits.TrailingZeros64(t) >> 3
				found = true
				break
			}
			j += 8
		}
		if !found {
			for j < len(b) && !special[b[j]] {
				j++
			}
			if j >= len(b) {
				it.i = len(b)
				return nil, false, it.errf("unterminated string")
			}
		}
		switch b[j] {
		case '"':
			it.i = j + 1
			it.esc = esc
			return b[start:j], esc, nil
		case '\\':
			esc = true
			j += 2 // skip the escaped byte; \uXXXX digits are plain bytes
			if j > len(b) {
				it.i = len(b)
				return nil, false, it.errf("unterminated string")
			}
		default:
			it.i = j
			return nil, false, it.errf("control character in string")
		}
	}
}

// Escaped reports whether the last string value returned by Next holds
// escapes (and needs Unescape).
func (it *Iter) Escaped() bool { return it.esc }

// value reads one value; with lazy set an object is left for Enter (see Next).
func (it *Iter) value(lazy bool) (Kind, []byte, error) {
	if it.i >= len(it.b) {
		return Invalid, nil, it.errf("value expected")
	}
	switch c := it.b[it.i]; {
	case c == '"':
		s, _, err := it.str()
		return String, s, err
	case c == '{' && lazy:
		it.pending, it.objStart = true, it.i
		return Object, it.b[it.i:], nil
	case c == '{' || c == '[':
		start := it.i
		if err := it.skipNested(); err != nil {
			return Invalid, nil, err
		}
		if c == '{' {
			return Object, it.b[start:it.i], nil
		}
		return Array, it.b[start:it.i], nil
	case c == '-' || (c >= '0' && c <= '9'):
		start := it.i
		it.i = numberEnd(it.b, it.i)
		return Number, it.b[start:it.i], nil
	case c == 't':
		return it.lit("true", True)
	case c == 'f':
		return it.lit("false", False)
	case c == 'n':
		return it.lit("null", Null)
	}
	return Invalid, nil, it.errf("value expected")
}

func (it *Iter) lit(word string, k Kind) (Kind, []byte, error) {
	if len(it.b)-it.i < len(word) || string(it.b[it.i:it.i+len(word)]) != word {
		return Invalid, nil, it.errf("bad literal")
	}
	v := it.b[it.i : it.i+len(word)]
	it.i += len(word)
	return k, v, nil
}

// numberEnd returns the index after the number bytes ("0123456789.eE+-")
// starting at b[i], eight at a time while they are digits.
func numberEnd(b []byte, i int) int {
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:]) ^ (lo * '0') // digits become 0..9
		if m := ((x + lo*0x76) | x) & hi; m != 0 {
			// The lowest flagged byte is the first that is not a digit.
			i += bits.TrailingZeros64(m) >> 3
			if !numByte[b[i]] {
				return i
			}
			i++
			continue
		}
		i += 8
	}
	for i < len(b) && numByte[b[i]] {
		i++
	}
	return i
}

var numByte = func() (t [256]bool) {
	for _, c := range []byte("0123456789.eE+-") {
		t[c] = true
	}
	return t
}()

// maxDepth bounds nesting so hostile input cannot make skipping expensive in
// surprising ways; real EVE records nest four or five levels.
const maxDepth = 64

// skipNested skips an object or array starting at it.i, checking that
// brackets balance and strings terminate (not the full grammar inside).
func (it *Iter) skipNested() error {
	var stack [maxDepth]byte
	depth := 0
	for it.i < len(it.b) {
		c := it.b[it.i]
		switch c {
		case '{', '[':
			if depth == maxDepth {
				return it.errf("nesting too deep")
			}
			if c == '{' {
				stack[depth] = '}'
			} else {
				stack[depth] = ']'
			}
			depth++
			it.i++
		case '}', ']':
			if depth == 0 || stack[depth-1] != c {
				return it.errf("unbalanced brackets")
			}
			depth--
			it.i++
			if depth == 0 {
				return nil
			}
		case '"':
			if _, _, err := it.str(); err != nil {
				return err
			}
		default:
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return it.errf("control character")
			}
			it.i++
		}
	}
	return it.errf("unterminated object or array")
}

// Enter starts sub on the object value the last Next returned, so its
// members are walked without scanning the object twice. Use it before
// calling it.Next again; when sub returns ErrEnd, it resumes after the
// object. An object that is not entered is skipped by the next Next.
func (it *Iter) Enter(sub *Iter) error {
	if !it.pending {
		return it.errf("no object to enter")
	}
	*sub = Iter{b: it.b, i: it.objStart + 1, first: true, parent: it}
	return nil
}

// ArrayEach calls fn for each element of the array value arr (as returned by
// Next) with the element's kind and raw bytes; it stops at fn's first error.
func ArrayEach(arr []byte, fn func(k Kind, v []byte) error) error {
	it := Iter{b: arr}
	it.skipWS()
	if it.i >= len(arr) || arr[it.i] != '[' {
		return it.errf("array expected")
	}
	it.i++
	first := true
	for {
		it.skipWS()
		if it.i >= len(arr) {
			return it.errf("unterminated array")
		}
		if arr[it.i] == ']' {
			return nil
		}
		if !first {
			if arr[it.i] != ',' {
				return it.errf("',' or ']' expected")
			}
			it.i++
			it.skipWS()
		}
		first = false
		k, v, err := it.value(false)
		if err != nil {
			return err
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
}
