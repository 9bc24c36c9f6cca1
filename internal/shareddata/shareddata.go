// Package shareddata locates, for tests and benchmarks, the public captures
// and logs kept beside the checkout in ../shared/data (see that folder's
// README.md). They are read from there and never copied into the project;
// a test that needs them is skipped, with a message, when they are absent.
package shareddata

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"
)

// EnvVar names the environment variable that points at the data folder
// when it is not at ../shared/data beside the module root. It deliberately
// lacks the MLADS_ prefix, which belongs to configuration keys.
const EnvVar = "SHARED_DATA"

// Lookup returns the data folder and whether it exists.
func Lookup() (string, bool) {
	dir := os.Getenv(EnvVar)
	if dir == "" {
		root, ok := moduleRoot()
		if !ok {
			return "", false
		}
		dir = filepath.Join(root, "..", "shared", "data")
	}
	st, err := os.Stat(dir)
	return dir, err == nil && st.IsDir()
}

// Dir returns the data folder, skipping the test when it is absent.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir, ok := Lookup()
	if !ok {
		tb.Skipf("shared test data not found (looked at %q; set %s to its folder)", dir, EnvVar)
	}
	return dir
}

// Path returns a file or folder inside the data folder, skipping the test
// when the data folder or that path is absent.
func Path(tb testing.TB, elem ...string) string {
	tb.Helper()
	p := filepath.Join(append([]string{Dir(tb)}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared test data: %v", err)
	}
	return p
}

// Lines returns up to n lines from the start of each named file inside the
// data folder, for seeding fuzz tests: files that are absent (or the whole
// folder) give nothing.
func Lines(n int, rel ...string) []string {
	dir, ok := Lookup()
	if !ok {
		return nil
	}
	var out []string
	for _, r := range rel {
		f, err := os.Open(filepath.Join(dir, r))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for i := 0; i < n && sc.Scan(); i++ {
			out = append(out, sc.Text())
		}
		_ = f.Close() // read only
	}
	return out
}

// moduleRoot walks up from the working directory (a test runs in its
// package's folder) to the folder holding go.mod.
func moduleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}
