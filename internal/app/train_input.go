package app

import (
	"context"
	"fmt"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/zeek"
)

// readFlows reads the flows of every file in order and calls emit for each;
// emit must copy the record to keep it. It returns the number of records and
// of bad lines skipped.
//
// Zeek conn logs (TSV or JSON, plain or gzip) for now; the commands move to
// input.ReadFiles (pcap and EVE too) when that package lands.
func readFlows(ctx context.Context, paths []string, emit func(*flow.Record) error) (records, bad int64, err error) {
	for _, p := range paths {
		st, err := zeek.ReadFile(ctx, p, emit)
		records += st.Records
		bad += st.Bad
		if err != nil {
			return records, bad, fmt.Errorf("%s: %w", p, err)
		}
	}
	return records, bad, nil
}
