package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
)

// DetectConfig converts the config file's detect section into the
// detector's settings.
func DetectConfig(c config.Detect) detect.Config {
	return detect.Config{
		AlertsPerDay: c.AlertsPerDay, FalsePositiveRate: c.FalsePositiveRate, Seed: c.Seed,
		Trees: c.Trees, Trim: c.Trim, CalibrationFraction: c.CalibrationFraction,
		MaxHosts: c.MaxHosts, MaxKnown: c.MaxKnown, OnlineUpdates: c.OnlineUpdates, OnlineHostCap: c.OnlineHostCap,
		Combine: c.Combine, MaxTrainFlows: c.MaxTrainFlows,
	}
}

// TrainOptions configures Train.
type TrainOptions struct {
	Paths  []string
	Out    string // model file to write
	Input  Input
	Detect detect.Config
	// BehaviorConfig configures the behavioural detectors that learn which
	// behaviours (timers, long connections) the baseline already has;
	// nil takes behavior.DefaultConfig.
	BehaviorConfig *behavior.Config
	Logger         *slog.Logger
}

// TrainReport says what training did.
type TrainReport struct {
	Flows      int
	BadLines   int64
	ModelBytes int
	Groups     int
	Forests    int
	Alpha      float64
	// MinPValue is the smallest p-value any flow can get from the model,
	// and Limit says, when it is not "", what the baseline is too small to
	// alert on (detect.Model.AlertLimit).
	MinPValue float64
	Limit     string
	// KnownBehaviors counts the keys of the behaviours the baseline had
	// (behavior.Learner).
	KnownBehaviors int
	ReadTime       time.Duration
	FitTime        time.Duration
}

// Train learns a model from the flows of the given files and writes it.
// An input that cannot be read does not stop the others: the model is
// written from the rest and the error is returned.
func Train(ctx context.Context, opts TrainOptions) (TrainReport, error) {
	var rep TrainReport
	t0 := time.Now()
	tr := detect.NewTrainer(opts.Detect)
	learn := behavior.NewLearner(*behaviorConfig(opts.BehaviorConfig))
	_, bad, err := opts.Input.readFlows(ctx, opts.Paths, true, func(r *flow.Record) error {
		tr.Add(r)
		learn.Add(r)
		return nil
	})
	rep.BadLines = bad
	readErr := err
	// a bad input does not stop training on the others; an interrupt does
	if err != nil && (ctx.Err() != nil || tr.Len() == 0) {
		return rep, fmt.Errorf("train: %w", err)
	}
	rep.Flows = tr.Len()
	rep.ReadTime = time.Since(t0)
	t1 := time.Now()
	m, err := tr.Fit()
	if err != nil {
		return rep, fmt.Errorf("train: %w", err)
	}
	m.KnownBehaviors, m.BehaviorRates = learn.Finish()
	rep.KnownBehaviors = len(m.KnownBehaviors)
	rep.FitTime = time.Since(t1)
	n, err := m.WriteFile(opts.Out)
	if err != nil {
		return rep, fmt.Errorf("train: %w", err)
	}
	rep.ModelBytes = n
	rep.Groups, rep.Forests = len(m.Nodes), len(m.Forests)
	rep.Alpha = m.Alpha
	rep.MinPValue, rep.Limit = m.MinPValue(), m.AlertLimit()
	if opts.Logger != nil {
		opts.Logger.Info("model written", "component", "train", "path", opts.Out, "flows", rep.Flows,
			"bad_lines", rep.BadLines, "bytes", rep.ModelBytes, "groups", rep.Groups, "forests", rep.Forests, "known_behaviors", rep.KnownBehaviors,
			"alpha", rep.Alpha, "min_p", rep.MinPValue, "read", rep.ReadTime.Round(time.Millisecond), "fit", rep.FitTime.Round(time.Millisecond))
	}
	logLimit(opts.Logger, "train", m)
	if readErr != nil {
		return rep, fmt.Errorf("train: model written from the inputs that could be read: %w", readErr)
	}
	return rep, nil
}

// logLimit warns when the model's baseline is too small to alert on what
// the budget asks (detect.Model.AlertLimit).
func logLimit(l *slog.Logger, cmd string, m *detect.Model) {
	if lim := m.AlertLimit(); lim != "" && l != nil {
		l.Warn("model: "+lim, "component", cmd, "alpha", m.Alpha, "min_p", m.MinPValue(), "calibration_flows", m.CalibFlows, "baseline_flows", m.TrainFlows)
	}
}
