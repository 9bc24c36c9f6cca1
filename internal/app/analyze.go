package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
)

// AnalyzeOptions configures Analyze.
type AnalyzeOptions struct {
	Paths []string
	// Model is the model file; empty learns from the input itself (with
	// trimming, since the input may hold attacks) and then scores it.
	Model    string
	Input    Input
	Detect   detect.Config
	Observer string // observer.name of the alerts (the sensor)
	// EveryAlert writes every alert as it comes instead of folding repeats
	// of the same host and rule within an hour into incidents.
	EveryAlert bool
	Out        io.Writer
	Logger     *slog.Logger
}

// Analyze scores the flows of the files and writes the alerts, flow alerts
// and behavioural findings, as JSON lines: alert documents (ECS, with the
// explanation under mlads.*; see package alert). Repeats of the same rule
// and host within an hour are folded into one incident document (its
// count, first and last seen), written when the input ends, in the order
// the incidents opened; EveryAlert writes each alert as it comes instead.
func Analyze(ctx context.Context, opts AnalyzeOptions) (ScoreReport, error) {
	var rep ScoreReport
	t0 := time.Now()
	var m *detect.Model
	var beh *behaviorIndex
	var err error
	if opts.Model != "" {
		m, err = detect.ReadFile(opts.Model)
		if err != nil {
			return rep, fmt.Errorf("analyze: %w", err)
		}
		if a := m.AlphaFor(opts.Detect.AlertsPerDay, opts.Detect.FalsePositiveRate); a != m.Alpha {
			m.SetAlpha(a)
		}
		// a bad input does not stop the others: the scoring pass meets it
		// again and reports it
		if beh, err = runBehavior(ctx, opts.Input, opts.Paths); err != nil && ctx.Err() == nil {
			err = nil
		}
	} else {
		m, beh, err = learnFromInput(ctx, opts.Input, opts.Paths, opts.Detect)
	}
	if err != nil {
		return rep, fmt.Errorf("analyze: %w", err)
	}
	rep.LoadTime = time.Since(t0)
	rep.Findings = len(beh.findings)

	w := bufio.NewWriterSize(opts.Out, 1<<16)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	out := newAlertSink(enc, !opts.EveryAlert)
	for i := range beh.findings {
		if err := out.add(alert.FromFinding(&beh.findings[i], opts.Observer)); err != nil {
			return rep, fmt.Errorf("analyze: write: %w", err)
		}
	}
	sc := m.NewScorer(opts.Detect)
	var v detect.Verdict
	t1 := time.Now()
	_, bad, err := opts.Input.readFlows(ctx, opts.Paths, true, func(r *flow.Record) error {
		sc.Score(r, &v)
		if !v.Alert {
			return nil
		}
		beh.attach(r, &v, m.Alpha)
		return out.add(alert.FromFlow(r, &v, opts.Observer))
	})
	// what was found is written even when an input failed
	if ferr := out.flush(); err == nil {
		err = ferr
	}
	rep.BadLines = bad
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	err = rep.finish("analyze", sc, t1, opts.Logger, err) // before rep is returned: it fills rep
	return rep, err
}

// learnFromInput trains on the input itself, running the behavioural
// detectors in the same pass.
func learnFromInput(ctx context.Context, in Input, paths []string, cfg detect.Config) (*detect.Model, *behaviorIndex, error) {
	tr := detect.NewTrainer(cfg)
	e := behavior.New(behavior.DefaultConfig())
	var fs []detect.Finding
	_, _, readErr := in.readFlows(ctx, paths, false, func(r *flow.Record) error {
		tr.Add(r)
		fs = append(fs, e.Observe(r)...)
		return nil
	})
	if readErr != nil && (ctx.Err() != nil || tr.Len() == 0) {
		return nil, nil, readErr
	}
	fs = append(fs, e.Flush()...)
	bi := newBehaviorIndex(fs, e.Stats())
	m, err := tr.Fit()
	if err != nil {
		return nil, nil, errors.Join(readErr, err)
	}
	// a bad input does not stop the others: the scoring pass meets it again
	// and reports it
	return m, bi, nil
}

// alertSink writes alert documents, folding them into incidents first when
// asked. Incidents are written at the end, each in its final state: the
// batch commands have no index to update in place.
type alertSink struct {
	enc    *json.Encoder
	inc    *alert.Incidents
	order  []string
	latest map[string]*alert.Alert
}

func newAlertSink(enc *json.Encoder, fold bool) *alertSink {
	s := &alertSink{enc: enc}
	if fold {
		s.inc = alert.NewIncidents(time.Hour, 0)
		s.latest = map[string]*alert.Alert{}
	}
	return s
}

func (s *alertSink) add(a *alert.Alert) error {
	if s.inc == nil {
		return s.enc.Encode(a)
	}
	snap, _ := s.inc.Add(a)
	id := snap.ID()
	if _, ok := s.latest[id]; !ok {
		s.order = append(s.order, id)
	}
	s.latest[id] = snap
	return nil
}

func (s *alertSink) flush() error {
	for _, id := range s.order {
		if err := s.enc.Encode(s.latest[id]); err != nil {
			return err
		}
	}
	return nil
}
