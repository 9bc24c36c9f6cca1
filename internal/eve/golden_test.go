package eve_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlads/mlads/internal/eve"
	"github.com/mlads/mlads/internal/flow"
)

var update = flag.Bool("update", false, "rewrite the golden want.ndjson files from the current output")

// TestGoldenCases reads testdata/cases/<name>/input (written by hand: one
// case per format variant) and compares the records, as flow's JSON lines,
// with want.ndjson. go test -run TestGoldenCases -update rewrites them;
// review the diff before committing.
func TestGoldenCases(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "cases", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var got []byte
			st, err := eve.ReadFile(context.Background(), filepath.Join(dir, "input"), func(r *flow.Record) error {
				got = append(flow.AppendJSON(got, r), '\n')
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if st.Bad != 0 {
				t.Errorf("bad lines: %v", st.Examples)
			}
			wantPath := filepath.Join(dir, "want.ndjson")
			if *update {
				if err := os.WriteFile(wantPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			diffLines(t, got, want)
		})
	}
}

// diffLines reports the lines that differ as -got +want.
func diffLines(tb testing.TB, got, want []byte) {
	tb.Helper()
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
			tb.Errorf("record %d:\n-%s\n+%s", i+1, gl, wl)
		}
	}
}
