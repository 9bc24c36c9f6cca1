package main

import (
	"errors"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlads/mlads/internal/app"
)

func newRules(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules check [PATH...]",
		Short: "Validate the rule files (allowlists, suppressions, severity overrides)",
	}
	check := &cobra.Command{
		Use:   "check [PATH...]",
		Short: "Validate rule files (default: rules.paths of the configuration) and report expired rules",
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				cfg, _, err := g.load()
				if err != nil {
					return err
				}
				args = cfg.Rules.Paths
			}
			if len(args) == 0 {
				return usageError{errors.New("no rule files: pass them or set rules.paths in the configuration")}
			}
			return app.RulesCheck(args, time.Now(), os.Stdout)
		},
	}
	cmd.AddCommand(check)
	return cmd
}
