package pipeline

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"time"
)

// A snapshot is the Online pipeline's whole detector state, so that a new
// Online restored from it scores the flows that follow exactly as the one
// that wrote it would have: the behavioural engine (every source's open
// window, first contacts, baselines, random walk and beacon pairs; the
// flood victims), the scorer's host statistics and online known-entity
// counts, the findings held as evidence, the Alerter's counters and the
// open incidents of the Fold (SetFold). The model and the configuration
// are not part of it: they come from the files, as at any start.
//
// The layout, as the model file's: magic (8 bytes), version (uint32 big
// endian), payload length (uint64), payload (gob of onlineState, whose
// parts are each component's own encoding, compressed with DEFLATE: the
// open incidents are JSON documents), SHA-256 of the payload.

// SnapshotVersion is the version of the snapshot this build writes and
// reads; bump it when a component's state changes meaning. 2: the
// scorer's host table is a packed byte string, no longer a gob list.
const SnapshotVersion = 2

// MaxSnapshotBytes bounds the snapshot Restore reads: far above what the
// default limits make (about 100 k sources), far below what would hurt.
const MaxSnapshotBytes = 1 << 30

var snapshotMagic = [8]byte{'M', 'L', 'A', 'D', 'S', 'S', 'T', 'A'}

// Errors of Restore, for errors.Is.
var (
	ErrNotSnapshot       = errors.New("not an mlads state snapshot")
	ErrSnapshotVersion   = errors.New("incompatible state snapshot version")
	ErrSnapshotCorrupt   = errors.New("corrupt state snapshot")
	ErrSnapshotUnflushed = errors.New("alerts not flushed")
)

type onlineState struct {
	Now, NextExpire time.Time
	EvidenceExpired uint64
	FlowAlerts      uint64
	FindingAlerts   uint64
	Engine          []byte // nil: behaviours off
	Scorer          []byte
	Evidence        []byte
	Incidents       []byte    // nil: no Fold
	Scores          ScoreHist // absent (zero) in the snapshots of builds before it
}

// Snapshot writes the pipeline's state to w (see Restore). Call it after
// Flush: alerts gathered and not yet written are not part of a state, and
// Snapshot refuses with ErrSnapshotUnflushed while there are some.
func (o *Online) Snapshot(w io.Writer) error {
	if n := len(o.al.batch); n > 0 {
		return fmt.Errorf("pipeline: snapshot: %w: %d", ErrSnapshotUnflushed, n)
	}
	s := onlineState{Now: o.now, NextExpire: o.nextExpire, EvidenceExpired: o.expired,
		FlowAlerts: o.al.flows, FindingAlerts: o.al.findings, Scores: o.scores}
	var err error
	if o.eng != nil {
		if s.Engine, err = o.eng.MarshalState(); err != nil {
			return fmt.Errorf("pipeline: snapshot: %w", err)
		}
	}
	if s.Scorer, err = o.det.sc.MarshalState(); err != nil {
		return fmt.Errorf("pipeline: snapshot: %w", err)
	}
	if s.Evidence, err = o.det.ev.MarshalState(); err != nil {
		return fmt.Errorf("pipeline: snapshot: %w", err)
	}
	if o.fold != nil {
		if s.Incidents, err = o.fold.MarshalState(); err != nil {
			return fmt.Errorf("pipeline: snapshot: %w", err)
		}
	}
	var payload bytes.Buffer
	zw, err := flate.NewWriter(&payload, flate.BestSpeed)
	if err != nil {
		return fmt.Errorf("pipeline: snapshot: %w", err)
	}
	if err := gob.NewEncoder(zw).Encode(&s); err != nil {
		return fmt.Errorf("pipeline: snapshot: encode: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("pipeline: snapshot: compress: %w", err)
	}
	head := make([]byte, 20)
	copy(head, snapshotMagic[:])
	binary.BigEndian.PutUint32(head[8:], SnapshotVersion)
	binary.BigEndian.PutUint64(head[12:], uint64(payload.Len()))
	sum := sha256.Sum256(payload.Bytes())
	for _, b := range [][]byte{head, payload.Bytes(), sum[:]} {
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("pipeline: snapshot: %w", err)
		}
	}
	return nil
}

// Restore replaces the pipeline's state with a snapshot read from r. It
// reads at most MaxSnapshotBytes and checks the magic, the version and the
// checksum before it changes anything; errors wrap ErrNotSnapshot,
// ErrSnapshotVersion or ErrSnapshotCorrupt. A state that a component
// refuses after others took theirs (its limits are lower than the
// snapshot's, say) leaves the Online half restored: on any error, make a
// fresh Online instead of using this one.
func (o *Online) Restore(r io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(r, MaxSnapshotBytes+1))
	if err != nil {
		return fmt.Errorf("pipeline: restore: %w", err)
	}
	s, err := decodeSnapshot(b)
	if err != nil {
		return fmt.Errorf("pipeline: restore: %w", err)
	}
	if (s.Engine != nil) != (o.eng != nil) {
		return fmt.Errorf("pipeline: restore: %w: behavioural state present %v, detectors on %v",
			ErrSnapshotVersion, s.Engine != nil, o.eng != nil)
	}
	if o.eng != nil {
		if err := o.eng.RestoreState(s.Engine); err != nil {
			return fmt.Errorf("pipeline: restore: %w", err)
		}
	}
	if err := o.det.sc.RestoreState(s.Scorer); err != nil {
		return fmt.Errorf("pipeline: restore: %w", err)
	}
	n, err := o.det.ev.RestoreState(s.Evidence, MaxEvidence)
	if err != nil {
		return fmt.Errorf("pipeline: restore: %w", err)
	}
	if o.fold != nil && s.Incidents != nil {
		if err := o.fold.RestoreState(s.Incidents); err != nil {
			return fmt.Errorf("pipeline: restore: %w", err)
		}
	}
	o.now, o.nextExpire, o.expired = s.Now, s.NextExpire, s.EvidenceExpired+uint64(n)
	o.al.flows, o.al.findings = s.FlowAlerts, s.FindingAlerts
	o.scores = s.Scores
	return nil
}

func decodeSnapshot(b []byte) (*onlineState, error) {
	const headLen = 20
	switch {
	case len(b) > MaxSnapshotBytes:
		return nil, fmt.Errorf("%w: more than %d bytes", ErrSnapshotCorrupt, MaxSnapshotBytes)
	case len(b) < headLen || !bytes.Equal(b[:8], snapshotMagic[:]):
		return nil, ErrNotSnapshot
	}
	if v := binary.BigEndian.Uint32(b[8:]); v != SnapshotVersion {
		return nil, fmt.Errorf("%w: version %d, this mlads reads version %d", ErrSnapshotVersion, v, SnapshotVersion)
	}
	n := binary.BigEndian.Uint64(b[12:])
	if n > uint64(len(b)) || uint64(len(b)) != headLen+n+sha256.Size {
		return nil, fmt.Errorf("%w: payload length %d does not match the size %d (cut short?)", ErrSnapshotCorrupt, n, len(b))
	}
	payload := b[headLen : headLen+n]
	if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], b[headLen+n:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrSnapshotCorrupt)
	}
	var s onlineState
	zr := flate.NewReader(bytes.NewReader(payload))
	defer func() { _ = zr.Close() }() // a reader over memory: nothing to report
	if err := gob.NewDecoder(io.LimitReader(zr, MaxSnapshotBytes)).Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSnapshotCorrupt, err)
	}
	return &s, nil
}
