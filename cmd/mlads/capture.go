package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mlads/mlads/internal/app"
	"github.com/mlads/mlads/internal/flow"
)

func newCapture(g *globals) *cobra.Command {
	var (
		o       app.CaptureOptions
		fanout  int
		cpus    []int
		snaplen int
	)
	cmd := &cobra.Command{
		Use:   "capture -i IFACE [--filter BPF] [--for DURATION] [--format json|zeek] [--write FILE.pcap]",
		Short: "Write the flows of live interfaces, exactly as flows writes them for a file",
		Long: `capture reads one or more network interfaces (AF_PACKET with a TPACKET_V3 ring on
Linux) and writes each flow when it ends, as mlads flows does for a capture file. It
runs until SIGINT/SIGTERM or --for has passed, then writes the flows still open and
a summary with every drop counted (kernel, ring, decoder). It needs CAP_NET_RAW,
promiscuous mode included. Settings not given as flags come from the
capture and pcap sections of the configuration.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Format != flow.FormatJSON && o.Format != flow.FormatZeek {
				return usageError{fmt.Errorf("--format %q: want json or zeek", o.Format)}
			}
			if len(o.Interfaces) == 0 {
				return usageError{fmt.Errorf("-i: give at least one interface")}
			}
			if o.For < 0 {
				return usageError{fmt.Errorf("--for %s: must not be negative", o.For)}
			}
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("fanout") {
				cfg.Capture.Fanout = fanout
			}
			if cmd.Flags().Changed("cpus") {
				cfg.Capture.CPUs = cpus
			}
			if cmd.Flags().Changed("snaplen") {
				cfg.Capture.Snaplen = snaplen
			}
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			o.Out, o.Status, o.Log = cmd.OutOrStdout(), cmd.ErrOrStderr(), log
			return app.Capture(cmd.Context(), cfg, o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&o.Interfaces, "interface", "i", nil, "interface to capture (repeat or comma-separate for several)")
	f.StringVar(&o.Filter, "filter", "", "BPF filter, tcpdump's language (default: capture.filter)")
	f.DurationVar(&o.For, "for", 0, "stop after this long (default: until SIGINT/SIGTERM)")
	f.StringVar(&o.Format, "format", flow.FormatJSON, "output format: json (JSON lines) or zeek (conn.log TSV)")
	f.StringVar(&o.Write, "write", "", "also write the packets to this pcap file")
	f.IntVar(&fanout, "fanout", 1, "sockets sharing each interface, one core each (default: capture.fanout)")
	f.IntSliceVar(&cpus, "cpus", nil, "pin socket i's reader thread to CPU cpus[i % len], e.g. 0,1 (default: capture.cpus; none: unpinned)")
	f.IntVar(&snaplen, "snaplen", 262144, "bytes kept of each frame (default: capture.snaplen)")
	return cmd
}
