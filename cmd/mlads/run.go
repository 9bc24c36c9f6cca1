package main

import (
	"os"
	"os/signal"
	"syscall"

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
SIGINT or SIGTERM stop it after the outputs are flushed and the positions and the
detector state saved; a restart resumes where it stopped, as if it had never
stopped. SIGHUP reads the configuration again: a bad one is refused and logged,
the running one stays; hot keys take effect, others are logged as needing a
restart. A new model file at run.model is picked up without a restart.
Prometheus metrics and the health check are served at /metrics and /healthz on
run.metrics_listen (127.0.0.1:9464; empty turns them off).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			d := app.NewDaemon(cfg, cmd.OutOrStdout(), log)
			d.SetReload(app.Reload{Signals: hup, Load: g.reloadConfig, Level: &g.level})
			return d.Run(cmd.Context())
		},
	}
}
