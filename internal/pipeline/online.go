package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
)

// Online is the daemon's pipeline: every flow goes through the behavioural
// detectors and the Detector as it arrives, and what alerts goes to the
// Alerter. Findings stay in the Detector's evidence while they can still
// concern new flows: until EvidenceHorizon of flow time after they ended,
// and at most MaxEvidence of them.
type Online struct {
	det  *Detector
	eng  *behavior.Engine // nil: behaviours off
	al   *Alerter
	fold *alert.Fold // nil: incidents are not part of the snapshot
	v    detect.Verdict

	now, nextExpire time.Time // newest flow time seen; when evidence is next expired
	expired         uint64
	scores          ScoreHist
}

// Bounds of the evidence the daemon keeps.
const (
	EvidenceHorizon = time.Hour
	MaxEvidence     = 10000
)

// NewOnline returns the pipeline scoring with det and, unless eng is nil,
// running the behavioural detectors of eng; alerts go to al.
//
// A flow that does not alert teaches the model's known-entity counts only
// when it scored clearly normal and is part of no behaviour held as
// evidence so far (see Detector.Learn).
func NewOnline(det *Detector, eng *behavior.Engine, al *Alerter) *Online {
	return &Online{det: det, eng: eng, al: al}
}

// SetModel switches to a new model without losing state: the host
// statistics and online counts of the scorer, the evidence held and the
// behavioural windows carry over, and the behaviours the new model knows
// are no longer reported. cfg is as for NewDetector.
func (o *Online) SetModel(m *detect.Model, cfg detect.Config) error {
	d := NewDetector(m, cfg)
	b, err := o.det.sc.MarshalState()
	if err != nil {
		return fmt.Errorf("pipeline: switch model: %w", err)
	}
	if err := d.sc.RestoreState(b); err != nil {
		return fmt.Errorf("pipeline: switch model: %w", err)
	}
	d.ev.Add(o.det.ev.Findings()...)
	if o.eng != nil {
		o.eng.SetKnown(m.KnownBehaviors)
	}
	o.det = d
	return nil
}

// Learned returns the model with what the gated online updates taught,
// for a model checkpoint (detect.Scorer.Learned).
func (o *Online) Learned() *detect.Model { return o.det.Learned() }

// SetFold names the alert.Fold in front of the Alerter's sink (the
// daemon's live incident fold): its open incidents are then part of
// Snapshot and Restore.
func (o *Online) SetFold(f *alert.Fold) { o.fold = f }

// Flow takes the next flow. r is read, not kept. An error is the sink's.
func (o *Online) Flow(ctx context.Context, r *flow.Record) error {
	if r.TS.After(o.now) {
		o.now = r.TS
	}
	if o.eng != nil {
		fs := o.eng.Observe(r)
		for i := range fs {
			o.det.ev.Add(fs[i])
			if err := o.al.Finding(ctx, &fs[i]); err != nil {
				return err
			}
		}
		if !o.now.Before(o.nextExpire) {
			o.expired += uint64(o.det.ev.Expire(o.now.Add(-EvidenceHorizon), MaxEvidence))
			o.nextExpire = o.now.Add(time.Minute)
		}
	}
	alerted := o.det.Alert(r, &o.v)
	o.scores.add(o.v.Score)
	if alerted {
		return o.al.Flow(ctx, r, &o.v)
	}
	o.det.Learn(r, &o.v)
	return nil
}

// Flush writes out the alerts gathered and flushes the sinks (see
// Alerter.Flush).
func (o *Online) Flush(ctx context.Context) error { return o.al.Flush(ctx) }

// OnlineStats counts what the daemon's pipeline did.
type OnlineStats struct {
	Scorer          detect.ScorerStats
	Behavior        behavior.Stats
	FlowAlerts      uint64
	FindingAlerts   uint64
	Evidence        int       // findings held for new flows
	EvidenceExpired uint64    // findings forgotten
	Scores          ScoreHist // the flows' scores (-log10 p)
}

// Stats returns the counters.
func (o *Online) Stats() OnlineStats {
	s := OnlineStats{Scorer: o.det.Stats(), Evidence: o.det.ev.Len(), EvidenceExpired: o.expired, Scores: o.scores}
	s.FlowAlerts, s.FindingAlerts = o.al.Counts()
	if o.eng != nil {
		s.Behavior = o.eng.Stats()
	}
	return s
}

// ScoreBounds are the upper bounds of ScoreHist's buckets, in score
// (-log10 p): most clean flows score below 1, and the alert threshold is
// usually between 4 and 8.
var ScoreBounds = [...]float64{0.5, 1, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20}

// maxScore caps a score added to ScoreHist.Sum: a p-value of 0 scores +Inf.
const maxScore = 300

// ScoreHist counts flows by score: Counts[i] holds the scores in
// (ScoreBounds[i-1], ScoreBounds[i]] (not cumulative); those above the
// last bound are in Count only. Adding allocates nothing.
type ScoreHist struct {
	Counts [len(ScoreBounds)]uint64
	Count  uint64
	Sum    float64 // of the scores, each capped at 300
}

func (h *ScoreHist) add(score float64) {
	if score != score { // NaN: not scored
		return
	}
	score = min(max(score, 0), maxScore)
	h.Count++
	h.Sum += score
	for i, b := range ScoreBounds {
		if score <= b {
			h.Counts[i]++
			return
		}
	}
}
