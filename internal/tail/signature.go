package tail

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
)

// match finds the position whose fingerprint head matches: among detached
// or not yet bound positions (live=false), or among positions bound to a
// file (live=true, comparing the bytes both have).
func (t *Tailer) match(head []byte, live bool) *state {
	var best *state
	for _, s := range t.files {
		if live {
			if !s.bound || s.prefix == nil {
				continue
			}
			n := min(len(head), len(s.prefix))
			if n > 0 && bytes.Equal(head[:n], s.prefix[:n]) {
				return s
			}
			continue
		}
		// Free positions: detached by a truncation, or saved and not
		// found at their inode by this process.
		free := !s.bound || s.seenGen == 0
		if !free || s.done || s.f != nil || s.fpLen > len(head) {
			continue
		}
		if sha256.Sum256(head[:s.fpLen]) != s.fp {
			continue
		}
		// Prefer the longest fingerprint, then the oldest.
		if best == nil || s.fpLen > best.fpLen {
			best = s
		}
	}
	return best
}

// readHead reads the first FingerprintBytes of a file (fewer if shorter),
// through f when open. The result is valid until the next call.
func (t *Tailer) readHead(path string, f *os.File) ([]byte, error) {
	if f == nil {
		var err error
		f, err = os.Open(path)
		if err != nil {
			return nil, err
		}
		defer func() { _ = f.Close() }() // read-only
	}
	n, err := f.ReadAt(t.head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return t.head[:n], nil
}

// matches reports whether head starts with this position's fingerprint.
func (s *state) matches(head []byte) bool {
	if len(head) < s.fpLen {
		return false
	}
	if s.prefix != nil {
		return bytes.Equal(head[:s.fpLen], s.prefix)
	}
	if sha256.Sum256(head[:s.fpLen]) != s.fp {
		return false
	}
	s.prefix = append([]byte(nil), head[:s.fpLen]...)
	return true
}

// setHead makes head (the file's first bytes, up to FingerprintBytes) the
// fingerprint.
func (s *state) setHead(head []byte) {
	s.prefix = append(s.prefix[:0], head...)
	s.fpLen = len(head)
	s.fp = sha256.Sum256(head)
}

// headUnchanged reports whether the file's first fpLen bytes are still the
// fingerprinted ones.
func (t *Tailer) headUnchanged(s *state) bool {
	if s.fpLen == 0 {
		return true
	}
	head, err := t.readHead("", s.f)
	if err != nil {
		return false
	}
	return s.matches(head)
}

// isCompressed reports whether head starts like a gzip, bzip2, xz or zstd
// file: a rotated and compressed log, which the batch readers handle and
// which is never appended to.
func isCompressed(head []byte) bool {
	for _, magic := range [][]byte{{0x1f, 0x8b}, []byte("BZh"), {0xfd, '7', 'z', 'X', 'Z', 0}, {0x28, 0xb5, 0x2f, 0xfd}} {
		if bytes.HasPrefix(head, magic) {
			return true
		}
	}
	return false
}
