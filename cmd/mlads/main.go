// Command mlads finds anomalies in network traffic and tells the right
// people. This file parses flags and configuration, sets up signals and
// hands over to internal/app; it is the only place that calls os.Exit.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mlads/mlads/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mlads:", err)
		if errors.As(err, new(usageError)) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError marks errors in how mlads was called (exit status 2).
type usageError struct{ error }

// globals are the flags every command shares.
type globals struct {
	configPath      string
	ignoreChecksums bool
	level           slog.LevelVar // the logger's level, which the daemon's SIGHUP may change
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "mlads",
		Short:         "Find anomalies in network traffic and tell the right people",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "configuration file (default: built-in defaults; see configs/mlads.yaml)")
	root.PersistentFlags().BoolVarP(&g.ignoreChecksums, "ignore-checksums", "C", false, "analyse packets with bad checksums, like zeek -C (sets pcap.verify_checksums to false)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newVersion(),
		newFlows(g),
		newCapture(g),
		newEval(g),
		newRun(g),
		newTrain(g),
		newScore(g),
		newAnalyze(g),
		newSetup(g),
		newSpool(g),
		newContacts(g),
		newRules(g),
	)
	return root
}

// reloadConfig reads the configuration again, as load does, for the
// daemon's SIGHUP.
func (g *globals) reloadConfig() (config.Config, error) {
	cfg, err := config.Load(g.configPath, os.Environ())
	if err == nil && g.ignoreChecksums {
		cfg.Pcap.VerifyChecksums = config.ChecksumsOff
	}
	return cfg, err
}

// load reads the configuration and builds the logger every command uses.
func (g *globals) load() (config.Config, *slog.Logger, error) {
	cfg, err := config.Load(g.configPath, os.Environ())
	if err != nil {
		return cfg, nil, err
	}
	if g.ignoreChecksums {
		cfg.Pcap.VerifyChecksums = config.ChecksumsOff
	}
	if err := g.level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		return cfg, nil, fmt.Errorf("config: log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: &g.level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if cfg.Log.Format == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	return cfg, slog.New(h), nil
}
