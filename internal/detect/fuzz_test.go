package detect

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

// frame wraps a payload in a valid header and checksum, so the fuzzer
// reaches the decoder and the validation behind the checksum.
func frame(payload []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(payload)+sha256.Size)
	copy(b, modelMagic[:])
	binary.BigEndian.PutUint32(b[8:], ModelVersion)
	binary.BigEndian.PutUint64(b[12:], uint64(len(payload)))
	b = append(b, payload...)
	sum := sha256.Sum256(payload)
	return append(b, sum[:]...)
}

// FuzzUnmarshalModel: a model file is input from disk; whatever its bytes,
// loading returns a model that scores, or an error, never a panic. Inputs
// that do not start with the magic are framed as a payload.
func FuzzUnmarshalModel(f *testing.F) {
	small := testConfig()
	small.Trees = 1 // a small seed keeps the fuzzer fast
	m, _ := trainOffice(f, small, 1, 300)
	good, err := m.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[headerLen : len(good)-sha256.Size]) // the payload alone
	f.Add([]byte("MLADSMDL"))
	f.Add([]byte{})
	cfg := testConfig()
	f.Fuzz(func(t *testing.T, b []byte) {
		if !bytes.HasPrefix(b, modelMagic[:]) {
			b = frame(b)
		}
		m, err := UnmarshalModel(b)
		if err != nil {
			return
		}
		s := m.NewScorer(cfg)
		o := newOffice(2, day0, 10)
		var v Verdict
		for i := 0; i < 20; i++ {
			r := o.nextRecord()
			s.Score(&r, &v)
		}
	})
}
