package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/mlads/mlads/internal/app"
	"github.com/mlads/mlads/internal/config"
)

func newTrain(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "train --out MODEL FILE...",
		Short: "Learn normal traffic from logs and write a model file",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageError{fmt.Errorf("train: --out MODEL is required")}
			}
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			rep, err := app.Train(cmd.Context(), app.TrainOptions{Paths: args, Out: out, Detect: app.DetectConfig(cfg.Detect), BehaviorConfig: &cfg.Detect.Behavior,
				Input: inputOf(cfg), Logger: log})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.ErrOrStderr(), "mlads: model %s: %d flows, %d bytes, %d traffic groups, threshold p < %.3g, smallest reachable p %.3g (read %s, fit %s)\n",
				out, rep.Flows, rep.ModelBytes, rep.Groups, rep.Alpha, rep.MinPValue, rep.ReadTime.Round(1e6), rep.FitTime.Round(1e6))
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "model file to write")
	return cmd
}

// inputOf is how the detection commands read: the configured flow meter,
// progress and the input summary on stderr.
func inputOf(cfg config.Config) app.Input {
	pc := app.PcapConfig(cfg.Pcap)
	return app.Input{Pcap: &pc, Status: os.Stderr}
}
