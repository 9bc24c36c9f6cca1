package tail

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// positionsVersion is the format of the positions file.
const positionsVersion = 1

// positions is the positions file: one entry per known file and the sink's
// checkpoint committed with them.
type positions struct {
	Version    int             `json:"version"`
	Checkpoint json.RawMessage `json:"checkpoint,omitempty"`
	Files      []savedFile     `json:"files"`
}

// savedFile is the saved position of one file.
type savedFile struct {
	Path   string            `json:"path"`
	Dev    uint64            `json:"dev"`
	Ino    uint64            `json:"ino"`
	FP     string            `json:"fingerprint"` // hex SHA-256 of the first fp_len bytes
	FPLen  int               `json:"fp_len"`
	Offset int64             `json:"offset"` // start of the next unread line
	Line   int64             `json:"line"`   // lines before offset
	fp     [sha256.Size]byte `json:"-"`
}

// readPositions reads the positions file; a missing file is an empty one.
func readPositions(path string) (*positions, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &positions{Version: positionsVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tail: positions file: %w", err)
	}
	var p positions
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("tail: positions file %s: %w", path, err)
	}
	if p.Version != positionsVersion {
		return nil, fmt.Errorf("tail: positions file %s: version %d, want %d", path, p.Version, positionsVersion)
	}
	for i := range p.Files {
		f := &p.Files[i]
		h, err := hex.DecodeString(f.FP)
		if err != nil || len(h) != sha256.Size || f.FPLen < 0 || f.Offset < 0 {
			return nil, fmt.Errorf("tail: positions file %s: entry %d (%s): bad fingerprint or offset", path, i, f.Path)
		}
		copy(f.fp[:], h)
	}
	return &p, nil
}

// lockPositions takes an exclusive lock on path+".lock", so that two
// processes never follow into the same positions file (and cut back each
// other's output). The kernel drops the lock when the process dies.
func lockPositions(path string) (*os.File, error) {
	lp := path + ".lock"
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("tail: positions lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close() // the lock error is the one to report
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("tail: positions file %s is in use by another process (lock %s)", path, lp)
		}
		return nil, fmt.Errorf("tail: positions lock %s: %w", lp, err)
	}
	return f, nil
}

// tempPrefix is the name prefix of the temporary files writePositions
// renames over the positions file.
func tempPrefix(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
}

// removeStaleTemps removes temporary positions files left by a process
// killed while writing one.
func removeStaleTemps(path string) {
	old, _ := filepath.Glob(tempPrefix(path) + "*") // the pattern is a plain prefix
	for _, f := range old {
		_ = os.Remove(f) // best effort: a leftover is only litter
	}
}

// writePositions replaces the positions file atomically: a temporary file
// in the same directory is written and synced, renamed over the old one,
// and the directory synced, so a crash leaves either the old or the new
// file, whole.
func writePositions(path string, p *positions) error {
	p.Version = positionsVersion
	for i := range p.Files {
		p.Files[i].FP = hex.EncodeToString(p.Files[i].fp[:])
	}
	b, err := json.MarshalIndent(p, "", " ")
	if err != nil {
		return fmt.Errorf("tail: positions file: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(tempPrefix(path))+"*")
	if err != nil {
		return fmt.Errorf("tail: positions file: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // fails harmlessly once renamed
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		_ = tmp.Close() // the write error is the one to report
		return fmt.Errorf("tail: positions file: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close() // the write error is the one to report
		return fmt.Errorf("tail: positions file: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("tail: positions file: close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("tail: positions file: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("tail: positions file: %w", err)
	}
	defer func() { _ = d.Close() }() // read-only
	if err := d.Sync(); err != nil {
		return fmt.Errorf("tail: positions file: sync directory %s: %w", dir, err)
	}
	return nil
}
