package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/pcap"
)

// FlowsOptions is what `mlads flows` was asked to do.
type FlowsOptions struct {
	Format string   // flow.FormatJSON or flow.FormatZeek
	Paths  []string // inputs, in order
	Out    io.Writer
	Status *os.File // stderr: progress on a terminal and the summary line
}

// PcapConfig turns the configuration's pcap section into the meter's config.
func PcapConfig(c config.Pcap) pcap.Config {
	pc := pcap.DefaultConfig()
	pc.Table.MaxFlows = c.MaxFlows
	pc.Table.TCPInactivity = c.TCPInactivity
	pc.Table.UDPInactivity = c.UDPInactivity
	pc.Table.ICMPInactivity = c.ICMPInactivity
	pc.VerifyChecksums = c.VerifyChecksums
	return pc
}

// Flows writes the flows of the inputs to o.Out and a one-line summary to
// o.Status. A bad input does not stop the others: its error is returned
// after every input was read and every flow found was written.
func Flows(ctx context.Context, cfg config.Config, o FlowsOptions) error {
	bw := bufio.NewWriterSize(o.Out, 1<<16)
	w, err := flow.NewWriter(o.Format, bw)
	if err != nil {
		return err
	}
	var total int64
	for _, p := range o.Paths {
		if st, err := os.Stat(p); err == nil {
			total += st.Size()
		}
	}
	prog := NewProgress(o.Status, total)
	pc := PcapConfig(cfg.Pcap)
	pc.Progress = func(p pcap.Progress) { prog.Update(p.BytesRead, p.Packets, p.Flows) }

	sum, readErr := pcap.ReadFiles(ctx, o.Paths, pc, w.Write)
	prog.Done()
	werr := w.Close()
	if werr == nil {
		werr = bw.Flush()
	}
	fmt.Fprintln(o.Status, "mlads: "+pcapSummary(&sum))
	if werr != nil {
		return fmt.Errorf("writing flows: %w", werr)
	}
	return readErr
}

// pcapSummary is the one-line account of a metering run.
func pcapSummary(s *pcap.Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d files, %d packets, %d flows", s.Files, s.Packets, s.Flows)
	if len(s.DecodeErrors) == 0 {
		b.WriteString(", no decode errors")
	} else {
		b.WriteString(", decode errors:")
		for _, k := range s.DecodeErrors {
			fmt.Fprintf(&b, " %s %d", k.Kind, k.Count)
		}
	}
	fmt.Fprintf(&b, ", evicted %d, dropped %d", s.Evicted, s.Dropped)
	return b.String()
}
