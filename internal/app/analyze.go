package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/pipeline"
	"github.com/mlads/mlads/internal/rules"
)

// AnalyzeOptions configures Analyze.
type AnalyzeOptions struct {
	Paths []string
	// Model is the model file; empty learns from the input itself (with
	// trimming, since the input may hold attacks) and then scores it.
	Model          string
	Input          Input
	Detect         detect.Config
	BehaviorConfig *behavior.Config // nil takes behavior.DefaultConfig
	Observer       string           // observer.name of the alerts (the sensor)
	// EveryAlert writes every alert as it comes instead of folding repeats
	// of the same host and rule within an hour into incidents.
	EveryAlert bool
	Out        io.Writer
	// Sinks (Elasticsearch, contacts) get every alert and the incidents as
	// they change (alert.Fold, live), each wrapped by its builder as it
	// needs (alert.Retry).
	Sinks []alert.Sink
	// Rules (allowlists, suppressions, severity overrides) mark the
	// alerts before any sink sees them; nil applies none.
	Rules  *rules.Set
	Logger *slog.Logger
}

// Analyze scores the flows of the files and writes the alerts, flow alerts
// and behavioural findings, as JSON lines: alert documents (ECS, with the
// explanation under mlads.*; see package alert). Repeats of the same rule
// and host within an hour are folded into one incident document (its
// count, first and last seen), written once it is final (its window
// closed, or the input ended), in the order the incidents opened;
// EveryAlert writes each alert as it comes instead.
//
// The inputs are read once (pipeline.Batch): the flows are kept, the model
// is learned from them when none is given, and then they are scored.
func Analyze(ctx context.Context, opts AnalyzeOptions) (rep ScoreReport, err error) {
	t0 := time.Now()
	var m *detect.Model
	if opts.Model != "" {
		if m, err = detect.ReadFile(opts.Model); err != nil {
			return rep, fmt.Errorf("analyze: %w", err)
		}
	}
	bo := pipeline.BatchOptions{Behavior: behaviorConfig(opts.BehaviorConfig)}
	if m == nil {
		// learning from the input itself: its behaviours are what is
		// looked for, so none of them counts as known
		bo.Learn = &opts.Detect
	} else {
		bo.Known = m.KnownBehaviors
	}
	b := pipeline.NewBatch(bo)
	defer func() {
		if cerr := b.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("analyze: %w", cerr)
		}
	}()
	_, bad, readErr := opts.Input.readFlowsAside(ctx, opts.Paths, true, b.Add)
	rep.BadLines = bad
	// a bad input does not stop the others; an interrupt does, and so does
	// having nothing to learn from
	if readErr != nil && (ctx.Err() != nil || (m == nil && b.Len() == 0)) {
		return rep, fmt.Errorf("analyze: %w", readErr)
	}
	b.End()
	if m == nil {
		if m, err = b.Fit(); err != nil {
			return rep, fmt.Errorf("analyze: %w", errors.Join(readErr, err))
		}
	}
	rep.LoadTime = time.Since(t0)
	logLimit(opts.Logger, "analyze", m)
	rep.Findings, rep.Spilled = len(b.Findings()), b.Spilled()

	// stdout gets one document per incident, in its final state (or every
	// alert); the other sinks keep documents by ID or notify, so they get
	// every alert and the incidents as they change, as the daemon's do
	var sink alert.Sink = alert.NewJSONLines(opts.Out, "stdout", nil)
	if !opts.EveryAlert {
		sink = alert.NewFold(sink, time.Hour, 0, false)
	}
	if len(opts.Sinks) > 0 {
		sink = alert.Fanout{sink, alert.NewFold(alert.Fanout(opts.Sinks), time.Hour, 0, true)}
		sink = WatchDrops(sink, opts.Sinks, opts.Observer)
	}
	if opts.Rules != nil {
		sink = &rules.Mark{Rules: opts.Rules, Next: sink}
	}
	al := pipeline.NewAlerter(sink, opts.Observer)
	det := b.Detector(m, opts.Detect)
	t1 := time.Now()
	for i := range b.Findings() {
		if err := al.Finding(ctx, &b.Findings()[i]); err != nil {
			return rep, fmt.Errorf("analyze: write: %w", err)
		}
	}
	// the flows are scored on two cores (Detector.AlertEach), and their
	// alert documents made and written on a goroutine of their own
	aside := newAlertAside(ctx, al)
	err = det.AlertEach(b.Each, func(r *flow.Record, v *detect.Verdict) error {
		return aside.Flow(ctx, r, v)
	})
	// what was found is written even when an input failed
	if ferr := aside.Flush(ctx); err == nil {
		err = ferr
	}
	aside.Close()
	err = rep.finish("analyze", det.Stats(), t1, opts.Logger, errors.Join(readErr, err)) // before rep is returned: it fills rep
	return rep, err
}
