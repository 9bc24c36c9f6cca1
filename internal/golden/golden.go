// Package golden compares what a test produced with a golden file kept in
// testdata, and rewrites the file instead when the test runs with -update.
// It is for tests only.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current output")

// Check compares got with the file at path line by line, reporting each
// line that differs as -got +want (or, for content that is not text, the
// sizes and the first byte that differs); with -update it writes got to
// path instead. Review the diff of a rewritten file before committing it.
func Check(tb testing.TB, path string, got []byte) {
	tb.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run the test with -update to create it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	if !utf8.Valid(got) || !utf8.Valid(want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		tb.Errorf("%s differs: %d bytes, want %d; first difference at byte %d (run with -update to rewrite it)", path, len(got), len(want), i)
		return
	}
	g := bytes.Split(bytes.TrimSuffix(got, []byte("\n")), []byte("\n"))
	w := bytes.Split(bytes.TrimSuffix(want, []byte("\n")), []byte("\n"))
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl []byte
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if !bytes.Equal(gl, wl) {
			tb.Errorf("%s line %d:\n-%s\n+%s", path, i+1, gl, wl)
		}
	}
}

// Cases runs one subtest for each folder testdata/cases/<name>: render
// turns the folder's input file into output, which Check compares with the
// folder's want.ndjson (or writes it, with -update). render reports its own
// failures on the subtest's t.
func Cases(t *testing.T, render func(t *testing.T, input string) []byte) {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", "cases", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases in testdata/cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			Check(t, filepath.Join(dir, "want.ndjson"), render(t, filepath.Join(dir, "input")))
		})
	}
}
