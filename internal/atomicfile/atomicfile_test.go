package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWrite replaces a file whole, leaves no temporary file behind, and
// names the path when the folder is missing.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state")
	for _, s := range []string{"first", "second, longer"} {
		if err := Write(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != s {
			t.Fatalf("read %q, %v; want %q", b, err, s)
		}
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode())
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("folder holds %d entries; want only the file", len(es))
	}
	missing := filepath.Join(dir, "no", "state")
	if err := Write(missing, nil, 0o600); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Write into a missing folder: %v", err)
	}
}
