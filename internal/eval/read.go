package eval

import (
	"context"
	"fmt"
	"strings"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/zeek"
)

// readLabelled reads a labelled conn log (plain or gzip; Zeek TSV with the
// Stratosphere or IoT-23 label columns, Zeek JSON lines with the same
// fields, or the IoT-23 CSV form) through the zeek reader, which puts the
// label in Record.Label as "class/detail" ("Malicious/C&C") or just the
// class. A bad line is an error: a measurement must not silently skip
// flows.
func readLabelled(ctx context.Context, path string) ([]flow.Record, error) {
	var out []flow.Record
	st, err := zeek.ReadFile(ctx, path, func(r *flow.Record) error {
		out = append(out, *r) // a shallow copy is independent of the reader's record
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	if st.Bad > 0 {
		return nil, fmt.Errorf("eval: %s: %d bad lines, the first: %s", path, st.Bad, st.Examples[0])
	}
	return out, nil
}

// malicious reports whether a label marks an attack; Benign, Background
// and Unknown all count as not malicious.
func malicious(label string) bool {
	return len(label) >= 9 && strings.EqualFold(label[:9], "malicious")
}
