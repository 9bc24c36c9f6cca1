package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/mlads/mlads/internal/atomicfile"
	"github.com/mlads/mlads/internal/pipeline"
)

// The detector state (pipeline.Online.Snapshot: behavioural windows, host
// statistics, evidence, open incidents) is committed with the positions.
// At each commit that follows new flows, the snapshot is written to a
// state file beside the positions file (atomicfile: temporary file, fsync,
// rename, fsync of the folder), and only then is the positions file
// written, naming the state's generation, file and SHA-256. Generations
// alternate between two files (POSITIONS.state.0 and .1), so the file the
// saved positions name is never the one being written: a crash at any
// moment leaves a positions file whose state file is whole and matches.
// On start the named state is read back and checked against its SHA-256;
// a state that is missing, does not match or cannot be restored is
// reported (a warning naming the file and what is wrong) and the daemon
// detects from the model alone, as before any state existed.

// stateRef is what the positions file's checkpoint says of the state.
type stateRef struct {
	File   string `json:"file"`
	Gen    uint64 `json:"gen"`
	SHA256 string `json:"sha256"`
	Bytes  int    `json:"bytes"`
}

// statePath is the state file of generation gen.
func statePath(positions string, gen uint64) string {
	return positions + ".state." + strconv.FormatUint(gen%2, 10)
}

// saveState writes the detector state when flows came since the last
// write, and returns the reference to put in the checkpoint.
func (s *runSink) saveState() (*stateRef, error) {
	if s.state != nil && s.flows.Load() == s.stateFlows {
		return s.state, nil
	}
	t0 := time.Now()
	s.stateBuf.Reset()
	if err := s.model.online.Snapshot(&s.stateBuf); err != nil {
		return nil, fmt.Errorf("detector state: %w", err)
	}
	gen := s.stateGen + 1
	ref := &stateRef{File: statePath(s.cfg.Positions, gen), Gen: gen, Bytes: s.stateBuf.Len()}
	sum := sha256.Sum256(s.stateBuf.Bytes())
	ref.SHA256 = hex.EncodeToString(sum[:])
	if err := atomicfile.Write(ref.File, s.stateBuf.Bytes(), 0o600); err != nil {
		return nil, fmt.Errorf("detector state: %w", err)
	}
	s.state, s.stateGen, s.stateFlows = ref, gen, s.flows.Load()
	s.stateBytes.Store(int64(ref.Bytes))
	s.stateNanos.Store(int64(time.Since(t0)))
	return ref, nil
}

// restoreState puts the committed detector state back into the pipeline;
// when it cannot, it says why and leaves a fresh pipeline.
func (s *runSink) restoreState(ref *stateRef) {
	s.stateGen = ref.Gen
	if err := s.readState(ref); err != nil {
		s.log.Warn("detector state not restored; detecting from the model alone", "err", err)
		s.newOnline()
		return
	}
	st := s.model.online.Stats()
	s.log.Info("detector state restored", "file", ref.File, "generation", ref.Gen, "bytes", ref.Bytes,
		"sources", st.Behavior.Hosts, "hosts", st.Scorer.Hosts, "evidence", st.Evidence)
}

func (s *runSink) readState(ref *stateRef) error {
	if ref.Bytes > pipeline.MaxSnapshotBytes {
		return fmt.Errorf("state file %s: %d bytes, more than %d", ref.File, ref.Bytes, pipeline.MaxSnapshotBytes)
	}
	b, err := os.ReadFile(ref.File)
	if err != nil {
		return fmt.Errorf("state file (generation %d): %w", ref.Gen, err)
	}
	sum := sha256.Sum256(b)
	if len(b) != ref.Bytes || hex.EncodeToString(sum[:]) != ref.SHA256 {
		return fmt.Errorf("state file %s: %d bytes that do not match generation %d of the positions file %s (%d bytes, sha256 %.12s…)",
			ref.File, len(b), ref.Gen, s.cfg.Positions, ref.Bytes, ref.SHA256)
	}
	if err := s.model.online.Restore(bytes.NewReader(b)); err != nil {
		return fmt.Errorf("state file %s: %w", ref.File, err)
	}
	return nil
}
