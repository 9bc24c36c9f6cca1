package logline

import "unsafe"

// Strings is where a parser gets the strings it stores in records without
// allocating one per value: small repeated values (proto, service,
// conn_state, history, labels) are interned in a bounded table, and unique
// ones (uid, community_id) are copied into large shared chunks. A string
// from a chunk keeps that chunk alive, never changes, and is safe to retain.
//
// The zeek and eve parsers each keep one.
type Strings struct {
	intern map[string]string
	chunk  []byte
	front  [256]string // direct-mapped cache in front of intern
}

// Bounds of the two stores: the intern table stops growing at maxIntern
// entries (later new values are copied instead), and a chunk is chunkSize
// bytes (values longer than a quarter of it get their own allocation).
const (
	maxIntern = 4096
	chunkSize = 32 << 10
)

// Intern returns a string equal to b, shared with earlier calls for the same
// bytes while the table has room.
func (s *Strings) Intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	h := (uint(len(b))*31 + uint(b[0])*7 + uint(b[len(b)-1])) & 255
	if f := s.front[h]; f == string(b) {
		return f
	}
	if v, ok := s.intern[string(b)]; ok { // no allocation for the lookup
		s.front[h] = v
		return v
	}
	if s.intern == nil {
		s.intern = make(map[string]string, 64)
	}
	v := string(b)
	if len(s.intern) < maxIntern && len(b) <= 64 {
		s.intern[v] = v
		s.front[h] = v
	}
	return v
}

// Copy returns a string equal to b carved from a shared chunk.
func (s *Strings) Copy(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > chunkSize/4 {
		return string(b)
	}
	if len(s.chunk)+len(b) > cap(s.chunk) {
		s.chunk = make([]byte, 0, chunkSize)
	}
	start := len(s.chunk)
	s.chunk = append(s.chunk, b...)
	// The bytes from start on are never written again: later appends only
	// go past them and a full chunk is replaced, not reused.
	return unsafe.String(&s.chunk[start], len(b))
}

// view returns a string that aliases b, for passing to parse functions that
// do not retain their argument (netip.ParseAddr and strconv). Never store it.
func view(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
