package main

import (
	"github.com/spf13/cobra"

	"github.com/mlads/mlads/internal/app"
)

func newRun(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Follow the configured logs (run.inputs) and write their flows as JSON lines until stopped",
		Long: `run follows the files and globs in run.inputs through rotation (rename+create,
copytruncate), detects each file's format, and writes every flow as a JSON line to
run.output. SIGINT or SIGTERM stop it after the output is flushed and the positions
saved; a restart resumes where it stopped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			return app.NewDaemon(cfg.Run, cmd.OutOrStdout(), log).Run(cmd.Context())
		},
	}
}
