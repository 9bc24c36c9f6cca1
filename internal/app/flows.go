package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/input"
	"github.com/mlads/mlads/internal/logline"
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
	pc.VerifyChecksums = c.VerifyChecksums != config.ChecksumsOff
	pc.AutoChecksums = c.VerifyChecksums == config.ChecksumsAuto
	pc.Shards = c.Shards
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
	opts := input.Options{Pcap: &pc, Progress: func(p input.Progress) {
		prog.Update(p.BytesRead, p.Packets, uint64(p.Records))
	}}

	sum, readErr := input.ReadFiles(ctx, o.Paths, opts, w.Write)
	prog.Done()
	werr := w.Close()
	if werr == nil {
		werr = bw.Flush()
	}
	writeSummary(o.Status, &sum)
	if werr != nil {
		return fmt.Errorf("writing flows: %w", werr)
	}
	return readErr
}

// writeSummary writes the summary line of a run over inputs, after one
// line for each capture whose checksums auto mode stopped verifying.
func writeSummary(w io.Writer, s *input.Summary) {
	for i := range s.Pcap {
		for _, c := range s.Pcap[i].Checksums {
			fmt.Fprintf(w, "mlads: %s: %s\n", c.File, c.ChecksumDecision)
		}
	}
	fmt.Fprintln(w, "mlads: "+inputSummary(s))
}

// inputSummary is the one-line account of a run over inputs of any
// format: what was read, what was found, and every kind of problem counted.
func inputSummary(s *input.Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d files, %d flows", len(s.Files), s.Records)
	var failed int
	for _, f := range s.Files {
		if f.Err != nil {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(&b, " (%d files with errors)", failed)
	}
	var ps pcap.Summary
	for i := range s.Pcap {
		p := &s.Pcap[i]
		ps.Packets += p.Packets
		ps.Evicted += p.Evicted
		ps.Dropped += p.Dropped
		ps.DecodeErrors = mergeKinds(ps.DecodeErrors, p.DecodeErrors)
	}
	if len(s.Pcap) > 0 {
		fmt.Fprintf(&b, "; packets %d", ps.Packets)
		if len(ps.DecodeErrors) == 0 {
			b.WriteString(", no decode errors")
		} else {
			b.WriteString(", decode errors:")
			for _, k := range ps.DecodeErrors {
				fmt.Fprintf(&b, " %s %d", k.Kind, k.Count)
			}
		}
		fmt.Fprintf(&b, ", evicted %d, dropped %d", ps.Evicted, ps.Dropped)
	}
	if lines := s.Zeek.Lines + s.EVE.Lines; lines > 0 {
		fmt.Fprintf(&b, "; log lines %d, bad %d", lines, s.Bad)
		writeBadKinds(&b, s.Zeek.BadKinds)
		writeBadKinds(&b, s.EVE.BadKinds)
		if s.EVE.Skipped > 0 {
			fmt.Fprintf(&b, ", EVE events without a flow skipped %d", s.EVE.Skipped)
		}
	}
	return b.String()
}

func mergeKinds(a, b []pcap.KindCount) []pcap.KindCount {
	for _, k := range b {
		found := false
		for i := range a {
			if a[i].Kind == k.Kind {
				a[i].Count += k.Count
				found = true
			}
		}
		if !found {
			a = append(a, k)
		}
	}
	sort.Slice(a, func(i, j int) bool { return a[i].Kind < a[j].Kind })
	return a
}

func writeBadKinds(b *strings.Builder, kinds map[logline.ErrorKind]int64) {
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, string(k))
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(b, " %s %d", n, kinds[logline.ErrorKind(n)])
	}
}
