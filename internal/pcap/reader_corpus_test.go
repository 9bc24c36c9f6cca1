package pcap

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/shareddata"
)

// sharedData is the project's shared test data folder, beside the checkout.
// sharedDataDir returns the shared data folder or skips the test.
func sharedDataDir(tb testing.TB) string {
	tb.Helper()
	return shareddata.Dir(tb)
}

// sharedCaptures lists every file under dir whose content looks like a
// capture (pcap, pcapng, gzip), whatever its name.
func sharedCaptures(tb testing.TB, dir string) []string {
	tb.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		if looksLikeCapture(path) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("walk %s: %v", dir, err)
	}
	sort.Strings(files)
	return files
}

func looksLikeCapture(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var head [4]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return false
	}
	return head[0] == 0x1f && head[1] == 0x8b || isPcapMagic(head[:]) || string(head[:]) == string(magicPcapngLE)
}

// TestSourceSharedCorpus runs the Source over every capture in the shared
// data: no panic, and a summary of what was decoded.
func TestSourceSharedCorpus(t *testing.T) {
	dir := sharedDataDir(t)
	start := time.Now()
	files := sharedCaptures(t, dir)
	var total DecodeStats
	var openErrs, readErrs int
	var pkts []Packet
	for _, path := range files {
		s, err := OpenFile(path)
		if err != nil {
			openErrs++
			t.Logf("open: %v", err)
			continue
		}
		for {
			pkts, err = s.Next(pkts)
			if err != nil {
				break
			}
		}
		if !errors.Is(err, io.EOF) {
			readErrs++
			t.Logf("read: %v", err)
		}
		total.Add(s.Stats())
		if err := s.Close(); err != nil {
			t.Errorf("close %s: %v", path, err)
		}
	}
	t.Logf("%d capture files in %v: %d could not be opened, %d ended with a read error", len(files), time.Since(start).Round(time.Millisecond), openErrs, readErrs)
	t.Logf("%v", total)
	if len(files) == 0 {
		t.Fatalf("no capture files under %s", dir)
	}
}
