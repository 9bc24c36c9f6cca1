package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/mlads/mlads/internal/app"
)

func newSetup(g *globals) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "setup [--dry-run]",
		Short: "Install the Elasticsearch templates and lifecycle policies, and import the Kibana dashboards",
		Long: `setup installs mlads's lifecycle policies, component templates and index
templates into elasticsearch.url, then imports the Kibana saved objects (data
views, the alert search, the dashboards) into kibana.url when it is set. It is
idempotent. Credentials come from the environment variables named by
elasticsearch.password_env and api_key_env. --dry-run prints every request
instead of sending it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			return app.Setup(cmd.Context(), cfg, app.SetupOptions{DryRun: dryRun, Out: cmd.OutOrStdout(), Getenv: os.Getenv, Logger: log})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the requests instead of sending them")
	return cmd
}
