package detect

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mlads/mlads/internal/atomicfile"
)

// ModelVersion is the version of the model file this build writes and
// reads. Bump it whenever the Model layout or the meaning of a feature
// changes: an old file must fail to load rather than score wrongly.
const ModelVersion = 3

// modelMagic opens every model file.
var modelMagic = [8]byte{'M', 'L', 'A', 'D', 'S', 'M', 'D', 'L'}

// Errors returned when a model file cannot be used.
var (
	ErrNotModel     = errors.New("not an mlads model file")
	ErrModelVersion = errors.New("incompatible model version")
	ErrModelCorrupt = errors.New("corrupt model file")
)

// The file layout: magic (8 bytes), version (uint32 big endian), payload
// length (uint64), payload (gob of Model; no maps, so the bytes are
// deterministic), SHA-256 of the payload (32 bytes).
const headerLen = 8 + 4 + 8

// modelData is Model without its methods, so gob encodes the fields
// rather than calling MarshalBinary again.
type modelData Model

// MarshalBinary encodes the model in the file format.
func (m *Model) MarshalBinary() ([]byte, error) {
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode((*modelData)(m)); err != nil {
		return nil, fmt.Errorf("detect: encode model: %w", err)
	}
	out := make([]byte, headerLen, headerLen+payload.Len()+sha256.Size)
	copy(out, modelMagic[:])
	binary.BigEndian.PutUint32(out[8:], ModelVersion)
	binary.BigEndian.PutUint64(out[12:], uint64(payload.Len()))
	out = append(out, payload.Bytes()...)
	sum := sha256.Sum256(payload.Bytes())
	return append(out, sum[:]...), nil
}

// UnmarshalModel decodes and validates a model file's bytes.
func UnmarshalModel(b []byte) (*Model, error) {
	if len(b) < headerLen || !bytes.Equal(b[:8], modelMagic[:]) {
		return nil, ErrNotModel
	}
	if v := binary.BigEndian.Uint32(b[8:]); v != ModelVersion {
		return nil, fmt.Errorf("%w: file has version %d, this mlads reads version %d; retrain with mlads train", ErrModelVersion, v, ModelVersion)
	}
	n := binary.BigEndian.Uint64(b[12:])
	if n > uint64(len(b)) || uint64(len(b)) != headerLen+n+sha256.Size {
		return nil, fmt.Errorf("%w: payload length %d does not match file size %d (truncated?)", ErrModelCorrupt, n, len(b))
	}
	payload := b[headerLen : headerLen+n]
	sum := sha256.Sum256(payload)
	if !bytes.Equal(sum[:], b[headerLen+n:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrModelCorrupt)
	}
	m := &Model{}
	if err := gob.NewDecoder(bytes.NewReader(payload)).Decode((*modelData)(m)); err != nil {
		return nil, fmt.Errorf("%w: decode: %w", ErrModelCorrupt, err)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModelCorrupt, err)
	}
	m.index()
	return m, nil
}

// validate checks the invariants scoring relies on, so a file that passed
// the checksum but was written by a broken build fails here, not mid-score.
func (m *Model) validate() error {
	if m.Version != ModelVersion {
		return fmt.Errorf("payload version %d", m.Version)
	}
	if m.Combine != CombineFisher && m.Combine != CombineCauchy {
		return fmt.Errorf("unknown combination %q", m.Combine)
	}
	if len(m.Nodes) == 0 || len(m.Forests) == 0 {
		return errors.New("no traffic groups")
	}
	for i := range m.Nodes {
		n := &m.Nodes[i]
		if n.Forest < 0 || int(n.Forest) >= len(m.Forests) {
			return fmt.Errorf("group %d: forest %d out of range", i, n.Forest)
		}
		for j := range n.Cat {
			if len(n.Cat[j]) > len(m.Vocab[j]) {
				return fmt.Errorf("group %d: %s counts exceed vocabulary", i, categoricalNames[j])
			}
		}
	}
	for i := range m.Forests {
		f := &m.Forests[i]
		inner := 1<<f.Depth - 1
		if f.Depth < 1 || f.Depth > 24 || len(f.Feat) != f.Trees*inner || len(f.Thr) != f.Trees*inner || len(f.Leaf) != f.Trees*(inner+1) {
			return fmt.Errorf("forest %d: inconsistent layout", i)
		}
		for _, j := range f.Feat {
			if int(j) >= NumNumeric {
				return fmt.Errorf("forest %d: feature %d out of range", i, j)
			}
		}
	}
	if len(m.KnownKeys) != len(m.KnownCounts) || len(m.GroupKeys) != len(m.GroupCounts) {
		return errors.New("table lengths differ")
	}
	cals := append(m.Calib[:0:0], m.Calib[:]...)
	for i, c := range append(cals, m.Final) {
		if c.N <= 0 || len(c.Scores) == 0 || len(c.Scores) > c.N || c.Tail <= 0 || c.Tail > c.N || !(c.Beta > 0) {
			return fmt.Errorf("calibrator %d: inconsistent reservoir", i)
		}
	}
	if !(m.Alpha > 0 && m.Alpha < 1) {
		return fmt.Errorf("threshold %g out of (0, 1)", m.Alpha)
	}
	return nil
}

// WriteFile writes the model to path atomically and durably (package
// atomicfile: a crash never leaves a half-written model, and a daemon that
// watches the file sees the old model or the new one, whole) and returns
// its size in bytes.
func (m *Model) WriteFile(path string) (int, error) {
	b, err := m.MarshalBinary()
	if err != nil {
		return 0, err
	}
	if err := atomicfile.Write(path, b, 0o644); err != nil {
		return 0, fmt.Errorf("detect: model: %w", err)
	}
	return len(b), nil
}

// ReadFile loads and validates a model file.
func ReadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("detect: model %s: %w", path, err)
	}
	defer func() { _ = f.Close() }() // read only: nothing to lose
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("detect: model %s: %w", path, err)
	}
	m, err := UnmarshalModel(b)
	if err != nil {
		return nil, fmt.Errorf("detect: model %s: %w", path, err)
	}
	return m, nil
}

// SetAlpha overrides the alert threshold (a false-positive rate) learned
// at training time.
func (m *Model) SetAlpha(alpha float64) {
	if alpha > 0 && alpha < 1 {
		m.Alpha = alpha
	}
}

// AlphaFor converts a budget into the model's threshold: a false-positive
// rate when fpr > 0, else alerts per day over the baseline's flow rate.
func (m *Model) AlphaFor(alertsPerDay, fpr float64) float64 {
	switch {
	case fpr > 0:
		return fpr
	case m.FlowsPerDay > 0:
		return min(0.5, alertsPerDay/m.FlowsPerDay)
	}
	return m.Alpha
}
