package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/pipeline"
)

// ScoreOptions configures Score.
type ScoreOptions struct {
	Paths  []string
	Model  string // model file
	Input  Input
	Detect detect.Config
	// Behavior runs the behavioural detectors over the flows before they
	// are scored, so flows that make up a scan, flood or beacon carry it.
	Behavior bool
	// BehaviorConfig configures them; nil takes behavior.DefaultConfig.
	BehaviorConfig *behavior.Config
	Out            io.Writer
	Logger         *slog.Logger
}

// ScoreReport says what scoring did.
type ScoreReport struct {
	Flows     uint64
	Alerts    uint64
	Findings  int
	BadLines  int64
	Spilled   int // flows kept in the spill file between learning and scoring
	LoadTime  time.Duration
	ScoreTime time.Duration
	Stats     detect.ScorerStats
}

// Score writes every flow of the files as one JSON line: the flow's fields
// (Zeek's names, uid kept), then score, p_value, alert and reasons. Flows
// with a p-value of 0.05 or more are not unusual enough to explain: their
// reasons list only the behaviours they are part of, usually nothing.
// With behaviours, the inputs are read once into a pipeline.Batch and its
// flows are scored once every finding is known.
func Score(ctx context.Context, opts ScoreOptions) (ScoreReport, error) {
	var rep ScoreReport
	t0 := time.Now()
	m, err := detect.ReadFile(opts.Model)
	if err != nil {
		return rep, fmt.Errorf("score: %w", err)
	}
	rep.LoadTime = time.Since(t0)
	logLimit(opts.Logger, "score", m)
	det := pipeline.NewDetector(m, opts.Detect)
	det.ExplainBelow(0.05) // reasons for the unusual flows; clearly normal ones get none
	w := bufio.NewWriterSize(opts.Out, 1<<16)
	var v detect.Verdict
	var buf []byte
	write := func(r *flow.Record) error {
		det.Score(r, &v)
		buf = appendScored(buf[:0], r, &v)
		_, err := w.Write(buf)
		return err
	}
	t1 := time.Now()
	if !opts.Behavior {
		_, rep.BadLines, err = opts.Input.readFlows(ctx, opts.Paths, true, write)
	} else {
		b := pipeline.NewBatch(pipeline.BatchOptions{Behavior: behaviorConfig(opts.BehaviorConfig), Known: m.KnownBehaviors})
		var readErr error
		_, rep.BadLines, readErr = opts.Input.readFlowsAside(ctx, opts.Paths, true, b.Add)
		if ctx.Err() != nil {
			return rep, fmt.Errorf("score: %w", errors.Join(readErr, b.Close()))
		}
		b.End()
		det.Evidence().Add(b.Findings()...)
		rep.Findings, rep.Spilled = len(b.Findings()), b.Spilled()
		t1 = time.Now()
		// what could be read is scored even when an input failed
		err = errors.Join(readErr, b.Each(write), b.Close())
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	err = rep.finish("score", det.Stats(), t1, opts.Logger, err) // before rep is returned: it fills rep
	return rep, err
}

// finish completes a score or analyze report once the input is read: the
// scoring time and the scorer's counts. It wraps err with the command's
// name, or logs the report when there is none.
func (rep *ScoreReport) finish(cmd string, st detect.ScorerStats, start time.Time, l *slog.Logger, err error) error {
	rep.ScoreTime = time.Since(start)
	rep.Stats = st
	rep.Flows, rep.Alerts = rep.Stats.Flows, rep.Stats.Alerts
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if l != nil {
		logScore(l, cmd, *rep)
	}
	return nil
}

func logScore(l *slog.Logger, cmd string, rep ScoreReport) {
	rate := 0.0
	if s := rep.ScoreTime.Seconds(); s > 0 {
		rate = float64(rep.Flows) / s
	}
	l.Info("scored", "component", cmd, "flows", rep.Flows, "alerts", rep.Alerts, "findings", rep.Findings,
		"bad_lines", rep.BadLines, "spilled", rep.Spilled, "model_load", rep.LoadTime.Round(time.Microsecond), "flows_per_s", math.Round(rate),
		"hosts", rep.Stats.Hosts, "hosts_evicted", rep.Stats.HostsEvicted, "bytes_per_host", rep.Stats.BytesPerHost,
		"online_updates", rep.Stats.OnlineUpdates, "online_capped", rep.Stats.OnlineCapped, "known_dropped", rep.Stats.KnownDropped)
}

// appendScored appends one score line: the flow object with score,
// p_value, alert and reasons added at its end.
func appendScored(b []byte, r *flow.Record, v *detect.Verdict) []byte {
	b = flow.AppendJSON(b, r)
	b = b[:len(b)-1] // reopen the object
	b = append(b, `,"score":`...)
	b = strconv.AppendFloat(b, round4(v.Score), 'g', -1, 64)
	b = append(b, `,"p_value":`...)
	b = strconv.AppendFloat(b, v.PValue, 'g', 4, 64)
	b = append(b, `,"alert":`...)
	b = strconv.AppendBool(b, v.Alert)
	b = append(b, `,"reasons":[`...)
	for i, s := range reasons(v) {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, s)
	}
	return append(b, "]}\n"...)
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// reasons are the human lines of a verdict: detectors that fired, the most
// unusual features and the behaviours the flow is part of.
func reasons(v *detect.Verdict) []string {
	var out []string
	for _, b := range v.Behaviors {
		out = append(out, b.Detector+": "+b.Summary)
	}
	for _, h := range v.Hits {
		if h.Fired {
			out = append(out, fmt.Sprintf("%s p=%.2g", h.Detector, h.PValue))
		}
	}
	for _, f := range v.Features {
		out = append(out, f.Text)
	}
	return out
}

// behaviorConfig returns c, or the defaults when c is nil.
func behaviorConfig(c *behavior.Config) *behavior.Config {
	if c == nil {
		d := behavior.DefaultConfig()
		return &d
	}
	return c
}
