package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/mlads/mlads/internal/app"
	"github.com/mlads/mlads/internal/eval"
)

// dataEnv names the environment variable that points at the shared data
// folder when --data is not given (the tests read the same one).
const dataEnv = "SHARED_DATA"

// defaultData is where eval looks for the labelled sets when neither --data
// nor $SHARED_DATA says: relative to the working directory, which is the
// repository root for `go run ./cmd/mlads eval`.
const defaultData = "../shared/data"

func newEval(g *globals) *cobra.Command {
	var (
		data    string
		peers   string
		python  string
		split   float64
		withBeh bool
	)
	cmd := &cobra.Command{
		Use:   "eval [FILE...]",
		Short: "Measure detection on labelled conn logs against peer detectors (IsolationForest, KNN, LOF, HBOS, ECOD, COPOD)",
		Long: `eval runs the time-ordered protocol on each labelled conn log (Zeek TSV with
Stratosphere label columns, or IoT-23 CSV): train on the benign flows of the
first half, score every flow of the second half, and report ROC-AUC, PR-AUC,
recall at the configured budget and the alert rate on benign flows, next to
the best of the peer detectors on the same features and split: scikit-learn's
IsolationForest and PyOD's KNN, LOF, HBOS, ECOD and COPOD, run by --peers
(bench/eval/peers.py; python3 -m pip install scikit-learn numpy pyod). A
second table gives every peer's ROC-AUC and PR-AUC. The floors column checks
ROC-AUC >= best peer - 0.005 and PR-AUC >= best peer. The test half goes
through the same pipeline as mlads score; --behavior merges the behavioural
detectors' evidence into the scores as score does. Without FILEs it
uses the labelled sets of --data (default $SHARED_DATA, else ../shared/data
from the working directory).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := g.load()
			if err != nil {
				return err
			}
			var sets []eval.Set
			for _, a := range args {
				sets = append(sets, eval.Set{Name: a, Path: a})
			}
			if len(sets) == 0 {
				if data == "" {
					data = os.Getenv(dataEnv)
				}
				if data == "" {
					data = defaultData
				}
				sets = eval.DefaultSets(data)
				if len(sets) == 0 {
					return usageError{fmt.Errorf("eval: no FILE given and no labelled sets under %s", data)}
				}
			}
			if peers != "" {
				if _, err := os.Stat(peers); err != nil {
					return fmt.Errorf("eval: peers script: %w", err)
				}
			}
			opts := eval.Options{Detect: app.DetectConfig(cfg.Detect), Peers: peers, Python: python, Split: split}
			if withBeh {
				opts.Behavior = &cfg.Detect.Behavior
			}
			res, err := eval.Evaluate(cmd.Context(), sets, opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if err := eval.WriteTable(out, res); err != nil {
				return err
			}
			if peers == "" {
				return nil
			}
			if _, err := fmt.Fprintln(out); err != nil {
				return err
			}
			return eval.WritePeerTable(out, res)
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "shared data folder holding the labelled sets (default $"+dataEnv+", else "+defaultData+")")
	cmd.Flags().StringVar(&peers, "peers", "bench/eval/peers.py", "peer detectors' script; empty to skip")
	cmd.Flags().StringVar(&python, "python", "python3", "Python interpreter for the peers")
	cmd.Flags().Float64Var(&split, "split", 0.5, "share of each log, in time, to train on (the rest is scored)")
	cmd.Flags().BoolVar(&withBeh, "behavior", false, "merge the behavioural detectors' evidence into the scores, as mlads score does")
	return cmd
}
