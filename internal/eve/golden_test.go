package eve_test

import (
	"context"
	"testing"

	"github.com/mlads/mlads/internal/eve"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/golden"
)

// TestGoldenCases reads testdata/cases/<name>/input (written by hand: one
// case per format variant) and compares the records, as flow's JSON lines,
// with want.ndjson. go test -run TestGoldenCases -update rewrites them;
// review the diff before committing.
func TestGoldenCases(t *testing.T) {
	golden.Cases(t, func(t *testing.T, input string) []byte {
		var got []byte
		st, err := eve.ReadFile(context.Background(), input, func(r *flow.Record) error {
			got = append(flow.AppendJSON(got, r), '\n')
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.Bad != 0 {
			t.Errorf("bad lines: %v", st.Examples)
		}
		return got
	})
}
