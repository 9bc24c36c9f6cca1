package main

import (
	"github.com/spf13/cobra"

	"github.com/mlads/mlads/internal/app"
)

func newRun(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "The daemon: follow the configured logs (run.inputs), score them with run.model and write alerts until stopped",
		Long: `run follows the files and globs in run.inputs through rotation (rename+create,
copytruncate) and detects each file's format. With a model (run.model, from mlads
train) it scores every flow and runs the behavioural detectors as the flows arrive,
and writes the alert documents as JSON lines to run.output (and every flow to
run.flows_output when set). Without a model it writes the flows to run.output.
SIGINT or SIGTERM stop it after the outputs are flushed and the positions saved; a
restart resumes where it stopped. Prometheus metrics and the health check are served
at /metrics and /healthz on run.metrics_listen (127.0.0.1:9464; empty turns them off).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			return app.NewDaemon(cfg, cmd.OutOrStdout(), log).Run(cmd.Context())
		},
	}
}
