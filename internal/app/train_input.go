package app

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/input"
	"github.com/mlads/mlads/internal/pcap"
)

// Input says how the detection commands (train, score, analyze) read their
// files. The zero value reads with pcap.DefaultConfig and reports nothing.
type Input struct {
	// Pcap configures the flow meter for captures; nil means the defaults.
	Pcap *pcap.Config
	// Status, when set, gets a progress line while a pass reads (on a
	// terminal only) and the one-line summary of the inputs after the last
	// pass.
	Status io.Writer
}

// readFlows reads the flows of every file in order (pcap/pcapng, Zeek conn
// logs, EVE; format from content) and calls emit for each; emit must copy
// the record to keep it. summary prints the inputs' summary line to Status
// (the last pass over the inputs does). It returns the number of records
// and of bad lines skipped. A bad input does not stop the others.
func (in Input) readFlows(ctx context.Context, paths []string, summary bool, emit func(*flow.Record) error) (records, bad int64, err error) {
	var prog *Progress
	if f, ok := in.Status.(*os.File); ok {
		var total int64
		for _, p := range paths {
			if st, err := os.Stat(p); err == nil {
				total += st.Size()
			}
		}
		prog = NewProgress(f, total)
	}
	opts := input.Options{Pcap: in.Pcap, Progress: func(p input.Progress) {
		prog.Update(p.BytesRead, p.Packets, uint64(p.Records))
	}}
	sum, err := input.ReadFiles(ctx, paths, opts, emit)
	prog.Done()
	if summary && in.Status != nil {
		fmt.Fprintln(in.Status, "mlads: "+inputSummary(&sum))
	}
	return sum.Records, sum.Bad, err
}
