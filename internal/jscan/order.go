package jscan

// MaxOrderKeys bounds the keys an Order remembers.
const MaxOrderKeys = 64

// lookahead is how many remembered keys Next compares before it reads the
// key: a few are left out when unset (Suricata writes tcp.syn, fin, ...
// only when true), and each comparison costs a few word operations.
const lookahead = 8

// Order remembers the keys of the objects of one kind (Zeek conn records,
// EVE events, their flow or tcp objects) in the order they come, each with
// the caller's code for it. Sensors write every object of a kind with the
// same keys in the same order, leaving out some (unset fields, a tcp object
// for UDP), so Next first tries the key expected at this place (NextKey),
// which skips scanning and looking up the key. A key that is not the
// expected one is read with Iter.Next and searched for further on in the
// order (the expected ones were left out), or looked up and inserted.
// After a line or two every line of the same kinds matches.
//
// The zero value is ready to use. An Order allocates only while it learns
// keys; it is not safe for concurrent use.
type Order struct {
	keys []orderKey
	k    int // the place of the next expected key
}

type orderKey struct {
	key  Key
	code uint8
}

// Start begins an object.
func (o *Order) Start() { o.k = 0 }

// Next returns the next member of it like Iter.Next, with the code of its
// key: remembered, or from lookup the first time the key is seen. Escaped
// keys are looked up every time and not remembered.
func (o *Order) Next(it *Iter, lookup func(key []byte) uint8) (key []byte, escaped bool, code uint8, kind Kind, val []byte, err error) {
	// The expected key, else one of the few after it (keys left out).
	for j := o.k; j < len(o.keys) && j < o.k+lookahead; j++ {
		e := &o.keys[j]
		kind, val, ok, err := it.NextKey(&e.key)
		if err != nil {
			return nil, false, 0, Invalid, nil, err
		}
		if ok {
			o.k = j + 1
			return e.key.Raw(), false, e.code, kind, val, nil
		}
	}
	key, escaped, kind, val, err = it.Next()
	if err != nil {
		return nil, false, 0, Invalid, nil, err
	}
	if escaped {
		return key, true, lookup(key), kind, val, nil
	}
	for j := o.k; j < len(o.keys); j++ {
		if e := &o.keys[j]; string(e.key.Raw()) == string(key) {
			o.k = j + 1
			return key, false, e.code, kind, val, nil
		}
	}
	code = lookup(key)
	if len(o.keys) < MaxOrderKeys {
		// Insert at the current place, reusing the buffers past the end.
		n := len(o.keys)
		if n < cap(o.keys) {
			o.keys = o.keys[:n+1]
		} else {
			o.keys = append(o.keys, orderKey{})
		}
		spare := o.keys[n]
		copy(o.keys[o.k+1:], o.keys[o.k:n])
		o.keys[o.k] = spare
		o.keys[o.k].key.Set(key)
		o.keys[o.k].code = code
		o.k++
	}
	return key, false, code, kind, val, nil
}
