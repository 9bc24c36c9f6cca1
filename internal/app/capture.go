package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/mlads/mlads/internal/capture"
	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/flow"
)

// CaptureOptions is what `mlads capture` was asked to do.
type CaptureOptions struct {
	Interfaces []string      // -i, at least one
	Filter     string        // --filter; empty keeps capture.filter
	For        time.Duration // --for; 0: until stopped
	Format     string        // flow.FormatJSON or flow.FormatZeek
	Write      string        // --write: the packets as a pcap file too
	Out        io.Writer
	Status     io.Writer // stderr: the summary
	Log        *slog.Logger
}

// CaptureConfig builds the capture of the given interfaces from the
// configuration's capture and pcap sections.
func CaptureConfig(cfg config.Config, ifaces []string, log *slog.Logger) capture.Config {
	c := capture.DefaultConfig(ifaces...)
	cc := cfg.Capture
	c.Filter, c.Snaplen, c.Promiscuous, c.Fanout = cc.Filter, cc.Snaplen, cc.Promiscuous, cc.Fanout
	c.RingBytes, c.Engine, c.Idle = cc.RingMB<<20, cc.Engine, cc.Idle
	c.CPUs = cc.CPUs
	c.Meter = PcapConfig(cfg.Pcap)
	c.Log = log
	return c
}

// Capture writes the flows of live interfaces to o.Out, exactly as Flows
// writes those of a file, until ctx ends or o.For has passed; then the
// open flows are flushed and a summary goes to o.Status.
func Capture(ctx context.Context, cfg config.Config, o CaptureOptions) (err error) {
	cc := CaptureConfig(cfg, o.Interfaces, o.Log)
	if o.Filter != "" {
		cc.Filter = o.Filter
	}
	bw := bufio.NewWriterSize(o.Out, 1<<16)
	w, err := flow.NewWriter(o.Format, bw)
	if err != nil {
		return err
	}
	c, err := capture.Open(cc)
	if err != nil {
		return err
	}
	if o.Write != "" {
		f, err := os.Create(o.Write)
		if err != nil {
			c.Close()
			return fmt.Errorf("capture: --write: %w", err)
		}
		pw := bufio.NewWriterSize(f, 1<<20)
		defer func() {
			ferr := pw.Flush()
			if cerr := f.Close(); ferr == nil {
				ferr = cerr
			}
			if ferr != nil {
				err = errors.Join(err, fmt.Errorf("capture: --write %s: %w", o.Write, ferr))
			}
		}()
		if err := c.WritePackets(pw); err != nil {
			c.Close()
			return err
		}
	}
	if o.For > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.For)
		defer cancel()
	}
	// On a terminal each flow is shown as it ends; a pipe or file gets
	// them in large writes.
	live := false
	if f, ok := o.Out.(*os.File); ok {
		live = isTerminal(f)
	}
	runErr := c.Run(ctx, func(r *flow.Record) error {
		if err := w.Write(r); err != nil {
			return err
		}
		if live {
			return bw.Flush()
		}
		return nil
	})
	werr := w.Close()
	if werr == nil {
		werr = bw.Flush()
	}
	if o.Status != nil {
		writeCaptureSummary(o.Status, c.Stats())
	}
	if werr != nil {
		return errors.Join(runErr, fmt.Errorf("writing flows: %w", werr))
	}
	return runErr
}

// writeCaptureSummary is the account of a capture: one line per interface
// with every place a packet can be lost, after a line for each interface
// whose checksums auto mode stopped verifying.
func writeCaptureSummary(w io.Writer, s capture.Stats) {
	for _, i := range s.Interfaces {
		if i.Checksums.Off {
			fmt.Fprintf(w, "mlads: %s: %s\n", i.Name, i.Checksums)
		}
	}
	for _, i := range s.Interfaces {
		fmt.Fprintln(w, "mlads: "+captureLine(i))
	}
}

// captureLine is one interface's counters on a line.
func captureLine(i capture.InterfaceStats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s, %d sockets): %d frames received, %d flows; packets %d", i.Name, i.Engine, i.Sockets,
		i.Received, i.Flows, i.Packets)
	if i.DecodeErrs == 0 {
		b.WriteString(", no decode errors")
	} else {
		fmt.Fprintf(&b, ", decode errors %d (%s)", i.DecodeErrs, i.Decode.ErrorsString())
	}
	fmt.Fprintf(&b, "; dropped: kernel %d, ring %d (freezes %d); evicted %d", i.KernelDrops, i.RingDrops, i.RingFreezes, i.Evicted)
	return b.String()
}
