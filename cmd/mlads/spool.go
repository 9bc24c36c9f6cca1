package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/mlads/mlads/internal/app"
)

func newSpool(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "spool status|flush",
		Short: "Show what waits in the Elasticsearch spool (elasticsearch.spool.dir), or send it now",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Show how many documents wait in the spool",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := g.load()
			if err != nil {
				return err
			}
			return app.SpoolStatus(cfg.Elasticsearch, cmd.OutOrStdout())
		},
	}, &cobra.Command{
		Use:   "flush",
		Short: "Send the spooled documents to elasticsearch.url now; fails if any are left",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			return app.SpoolFlush(cmd.Context(), cfg.Elasticsearch, cmd.OutOrStdout(), os.Getenv, log)
		},
	})
	return cmd
}
