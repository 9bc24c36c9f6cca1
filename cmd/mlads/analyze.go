package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/mlads/mlads/internal/app"
)

func newAnalyze(g *globals) *cobra.Command {
	var (
		model      string
		observer   string
		everyAlert bool
	)
	cmd := &cobra.Command{
		Use:   "analyze [--model MODEL] FILE...",
		Short: "Write explained alerts as JSON lines; without --model, learn from the input itself first",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			if observer == "" {
				observer, _ = os.Hostname()
			}
			rs, err := app.LoadRules(cfg)
			if err != nil {
				return err
			}
			sinks, closeSinks, err := app.OutputSinks(cfg, log)
			if err != nil {
				return err
			}
			_, err = app.Analyze(cmd.Context(), app.AnalyzeOptions{Paths: args, Model: model, Detect: app.DetectConfig(cfg.Detect), BehaviorConfig: &cfg.Detect.Behavior, Input: inputOf(cfg),
				Observer: observer, EveryAlert: everyAlert, Out: os.Stdout, Sinks: sinks, Rules: rs, Logger: log})
			return errors.Join(err, closeSinks())
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "model file written by mlads train (default: learn from the input)")
	cmd.Flags().StringVar(&observer, "observer", "", "observer.name of the alerts (default: host name)")
	cmd.Flags().BoolVar(&everyAlert, "every-alert", false, "write every alert as it comes instead of one incident per rule and host an hour")
	return cmd
}
