package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/mlads/mlads/internal/app"
	"github.com/mlads/mlads/internal/flow"
)

func newFlows(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "flows [--format json|zeek] FILE...",
		Short: "Write the flows of captures and sensor logs (format detected from content)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != flow.FormatJSON && format != flow.FormatZeek {
				return usageError{fmt.Errorf("--format %q: want json or zeek", format)}
			}
			cfg, _, err := g.load()
			if err != nil {
				return err
			}
			return app.Flows(cmd.Context(), cfg, app.FlowsOptions{
				Format: format, Paths: args, Out: os.Stdout, Status: os.Stderr,
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", flow.FormatJSON, "output format: json (JSON lines) or zeek (conn.log TSV)")
	return cmd
}
