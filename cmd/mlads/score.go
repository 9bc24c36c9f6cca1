package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/mlads/mlads/internal/app"
)

func newScore(g *globals) *cobra.Command {
	var (
		model      string
		noBehavior bool
	)
	cmd := &cobra.Command{
		Use:   "score --model MODEL FILE...",
		Short: "Write every flow as a JSON line with its score, p-value, alert flag and reasons",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if model == "" {
				return usageError{fmt.Errorf("score: --model MODEL is required")}
			}
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			_, err = app.Score(cmd.Context(), app.ScoreOptions{Paths: args, Model: model, Detect: app.DetectConfig(cfg.Detect), Input: inputOf(cfg),
				Behavior: !noBehavior, BehaviorConfig: &cfg.Detect.Behavior, Out: os.Stdout, Logger: log})
			return err
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "model file written by mlads train")
	cmd.Flags().BoolVar(&noBehavior, "no-behavior", false, "skip the behavioural detectors (flows are scored as they are read, not kept)")
	return cmd
}
