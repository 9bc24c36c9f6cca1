package pipeline

import (
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
)

// Detector scores flows: the model's per-flow scorer, with the
// behavioural evidence merged into each verdict (behavior.Evidence says
// how). Its online updates are gated (see Learn): every command that
// scores (score, analyze, eval, run) lets the same flows teach the model.
// It is not safe for concurrent use.
type Detector struct {
	sc    *detect.Scorer
	ev    *behavior.Evidence
	alpha float64
}

// NewDetector returns the Detector for m, with the alert threshold of the
// false-alarm budget in cfg (the model's own when they agree).
func NewDetector(m *detect.Model, cfg detect.Config) *Detector {
	if a := m.AlphaFor(cfg.AlertsPerDay, cfg.FalsePositiveRate); a != m.Alpha {
		m.SetAlpha(a)
	}
	// a finding may claim no more than the calibration reservoir resolves,
	// nor than its detector's rate on the baseline
	ev := behavior.NewEvidence()
	ev.SetFloors(1/float64(m.CalibFlows+1), m.BehaviorRates)
	sc := m.NewScorer(cfg)
	sc.GateUpdates()
	return &Detector{sc: sc, ev: ev, alpha: m.Alpha}
}

// Score scores r into v, then combines it with the evidence of the
// behaviours r is part of (behavior.Evidence.Attach): the flow's score for
// ranking (mlads score, eval). Then r teaches the model's online counts
// when Learn would let it.
func (d *Detector) Score(r *flow.Record, v *detect.Verdict) {
	d.sc.Score(r, v)
	d.ev.Attach(r, v)
	if !d.ev.Involves(r) {
		d.sc.Learn(r, v) // v has its evidence: Learn sees the combined p-value and the behaviours
	}
}

// Alert scores r into v for alerting and reports whether r alerts. A flow
// alerts on its own evidence only: a behaviour is an alert of its own, and
// lending its p-value to every flow of a scan would repeat that alert
// once per flow. A flow that alerts carries the behaviours it is part of
// in its explanation, and their evidence counts in its score as in Score.
func (d *Detector) Alert(r *flow.Record, v *detect.Verdict) bool {
	d.sc.Score(r, v)
	if !v.Alert {
		return false
	}
	d.ev.Attach(r, v)
	return true
}

// Learn lets a flow that did not alert teach the model's online counts
// (detect.Scorer.Learn) when it is clearly normal and, with the evidence
// attached, part of no behaviour: the flows of a scan, a flood or a beacon
// teach nothing, however ordinary each looks, nor do the ones that follow
// the finding (behavior.Evidence.Involves). Call it right after Alert
// returned false, with the same flow and verdict.
func (d *Detector) Learn(r *flow.Record, v *detect.Verdict) {
	if v.PValue <= detect.ClearlyNormal || d.ev.Involves(r) {
		return
	}
	d.ev.Attach(r, v)
	d.sc.Learn(r, v)
}

// Learned returns the model with what online updates taught (see
// detect.Scorer.Learned), for a model checkpoint.
func (d *Detector) Learned() *detect.Model { return d.sc.Learned() }

// Evidence returns the findings the Detector merges into verdicts; add to
// it before scoring the flows they concern.
func (d *Detector) Evidence() *behavior.Evidence { return d.ev }

// ExplainBelow sets the p-value under which verdicts are explained (see
// detect.Scorer.ExplainBelow).
func (d *Detector) ExplainBelow(p float64) { d.sc.ExplainBelow(p) }

// Alpha returns the alert threshold on the combined p-value.
func (d *Detector) Alpha() float64 { return d.alpha }

// Stats returns the scorer's counters.
func (d *Detector) Stats() detect.ScorerStats { return d.sc.Stats() }
