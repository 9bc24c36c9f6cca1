package tail

import (
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// candidate is a file found by a scan.
type candidate struct {
	path  string
	id    devIno
	size  int64
	mtime time.Time
}

// scan expands the globs, binds each file found to a known position or a
// new one, and forgets positions of files gone for ForgetAfter.
func (t *Tailer) scan(now time.Time) {
	t.gen++
	t.fdWait = false
	var cands []candidate
	seen := map[devIno]bool{}
	for _, in := range t.cfg.Inputs {
		paths, _ := filepath.Glob(in) // the pattern was checked in New
		sort.Strings(paths)
		for _, p := range paths {
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			id := fileID(fi)
			if seen[id] {
				continue
			}
			seen[id] = true
			cands = append(cands, candidate{path: p, id: id, size: fi.Size(), mtime: fi.ModTime()})
		}
	}

	for id := range t.ignored {
		if !seen[id] {
			delete(t.ignored, id)
		}
	}

	// Pass 1: files whose inode is known and whose head still matches.
	byID := map[devIno]*state{}
	for _, s := range t.files {
		if s.bound {
			byID[s.id] = s
		}
	}
	var unknown []candidate
	for _, c := range cands {
		s := byID[c.id]
		if s == nil {
			unknown = append(unknown, c)
			continue
		}
		// The head is checked through the open descriptor (a pread), or
		// for a closed file when its size or time changed (or on first
		// sight), so idle rotated files cost a stat per scan.
		unchanged := s.seenGen > 0 && c.size == s.size && c.mtime.Equal(s.mtime)
		if s.f != nil || !unchanged {
			head, err := t.readHead(c.path, s.f)
			if err != nil {
				continue
			}
			if !s.matches(head) {
				t.detach(s, "truncated")
				unknown = append(unknown, c)
				continue
			}
		}
		s.size, s.mtime = c.size, c.mtime
		if s.file.Path != c.path && s.seenGen > 0 {
			t.stats.rotations.Add(1)
		}
		s.file.Path = c.path
		s.seenGen, s.lastSeen = t.gen, now
		if s.f == nil && (c.size > s.offset || s.skipping) {
			t.open(s, c.path, now)
		}
	}

	// Pass 2: unknown files: a detached or saved position whose head they
	// match, or else new. New files are taken oldest first (by
	// modification time), so that files rotated while mlads was down are
	// read before their successors whatever their names.
	sort.SliceStable(unknown, func(i, j int) bool { return unknown[i].mtime.Before(unknown[j].mtime) })
	for _, c := range unknown {
		if t.ignored[c.id] {
			continue
		}
		head, err := t.readHead(c.path, nil)
		if err != nil {
			continue
		}
		if s := t.match(head, false); s != nil {
			s.id, s.bound = c.id, true
			s.file.Path = c.path
			s.seenGen, s.lastSeen = t.gen, now
			if s.prefix == nil {
				s.prefix = append([]byte(nil), head[:s.fpLen]...)
			}
			delete(t.deferred, c.id)
			t.open(s, c.path, now)
			continue
		}
		if len(head) == 0 {
			continue // nothing to know it by yet (a copy just created?)
		}
		if isCompressed(head) {
			t.ignored[c.id] = true
			t.log.Info("compressed file matches the inputs; not followed", "path", c.path)
			continue
		}
		if live := t.match(head, true); live != nil {
			// A copy of a file still followed, or one being written, or a
			// new file that starts like it (the same header): a full
			// match is a copy; a short one is looked at again for a few
			// scans, while a copy would grow past the shared bytes.
			full := len(head) == t.cfg.FingerprintBytes && live.fpLen == t.cfg.FingerprintBytes
			first, ok := t.deferred[c.id]
			if !ok {
				first = t.gen
				t.deferred[c.id] = first
			}
			if full || t.gen-first < deferScans {
				continue
			}
		}
		delete(t.deferred, c.id)
		t.seq++
		s := &state{seq: t.seq, file: &File{Path: c.path}, id: c.id, bound: true,
			seenGen: t.gen, lastSeen: now}
		s.setHead(head)
		if t.startAtEnd {
			if err := t.skipExisting(s, c.path); err != nil {
				t.warn("cannot skip to the end; reading from the beginning", "path", c.path, "err", err)
			}
		}
		t.files = append(t.files, s)
		t.open(s, c.path, now)
		t.dirty = true
	}
	t.startAtEnd = false
	for id, g := range t.deferred {
		if g < t.gen-2*deferScans {
			delete(t.deferred, id)
		}
	}

	// Forget positions of files gone for long.
	kept := t.files[:0]
	for _, s := range t.files {
		if s.done {
			t.dirty = true
			continue
		}
		if s.f == nil && s.seenGen != t.gen && now.Sub(s.lastSeen) > t.cfg.ForgetAfter {
			if !s.bound {
				t.stats.lost.Add(1)
				t.warn("file truncated and its rotated copy not found among the inputs; lines between the last read and the truncation may be lost",
					"path", s.file.Path, "offset", s.offset, "line", s.line)
			}
			t.dirty = true
			continue
		}
		kept = append(kept, s)
	}
	clear(t.files[len(kept):])
	t.files = kept
	sort.SliceStable(t.files, func(i, j int) bool { return t.files[i].seq < t.files[j].seq })
}

// detach separates a position from the file it was bound to, whose head no
// longer matches: the file was truncated (copytruncate). A copy matching
// the fingerprint takes the position over at the next scan.
func (t *Tailer) detach(s *state, why string) {
	t.closeFile(s)
	s.bound = false
	s.id = devIno{}
	s.seenGen = 0
	s.lastSeen = time.Now()
	s.skipping = false
	t.stats.truncations.Add(1)
	t.dirty = true
	t.log.Info("file "+why+"; looking for its rotated copy", "path", s.file.Path, "offset", s.offset, "line", s.line)
}

func (t *Tailer) open(s *state, path string, now time.Time) {
	if s.f != nil {
		return
	}
	if t.stats.files.Load() >= int64(t.cfg.MaxOpenFiles) {
		t.fdWait = true // a file at its end gives its descriptor up
		return
	}
	f, err := os.Open(path)
	if err != nil {
		return // gone again; the next scan decides
	}
	fi, err := f.Stat()
	if err != nil || fileID(fi) != s.id {
		_ = f.Close() // read-only
		return
	}
	s.f = f
	s.lastData = now
	t.stats.files.Add(1)
}

func (t *Tailer) closeFile(s *state) {
	if s.f != nil {
		_ = s.f.Close() // read-only
		s.f = nil
		t.stats.files.Add(-1)
	}
}

func fileID(fi os.FileInfo) devIno {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return devIno{dev: uint64(st.Dev), ino: st.Ino} //nolint:unconvert // Dev is uint32 on some platforms
	}
	return devIno{}
}
