package app

import (
	"context"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/input"
)

// readFlows reads the flows of every file in order (pcap/pcapng, Zeek conn
// logs, EVE; format from content) and calls emit for each; emit must copy
// the record to keep it. It returns the number of records and of bad lines
// skipped.
func readFlows(ctx context.Context, paths []string, emit func(*flow.Record) error) (records, bad int64, err error) {
	sum, err := input.ReadFiles(ctx, paths, input.Options{}, emit)
	return sum.Records, sum.Bad, err
}
