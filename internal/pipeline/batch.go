package pipeline

import (
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
)

// Batch is the one pass of a command over its input files: Add keeps each
// flow, runs the behavioural detectors over it and, when the Batch learns,
// gives it to the trainer. After the last flow, End closes the behavioural
// windows; the findings, the fitted model and the kept flows are then
// ready for scoring.
type Batch struct {
	store    *Store
	eng      *behavior.Engine // nil: behaviours off
	tr       *detect.Trainer  // nil: a model is given
	findings []detect.Finding
}

// BatchOptions configures a Batch.
type BatchOptions struct {
	// Behavior configures the behavioural detectors; nil turns them off.
	Behavior *behavior.Config
	// Known are the behaviours the model's baseline had
	// (detect.Model.KnownBehaviors), not reported again.
	Known []uint64
	// Learn, when set, trains a model with this configuration on the
	// flows (see Fit).
	Learn *detect.Config
	// MemFlows and SpillDir configure the Store (see NewStore).
	MemFlows int
	SpillDir string
}

// NewBatch returns an empty Batch; Close it to remove its spill file.
func NewBatch(o BatchOptions) *Batch {
	b := &Batch{store: NewStore(o.MemFlows, o.SpillDir)}
	if o.Behavior != nil {
		b.eng = behavior.New(*o.Behavior)
		b.eng.SetKnown(o.Known)
	}
	if o.Learn != nil {
		b.tr = detect.NewTrainer(*o.Learn)
	}
	return b
}

// Add takes the next flow of the input. r is copied.
func (b *Batch) Add(r *flow.Record) error {
	if b.tr != nil {
		b.tr.Add(r)
	}
	if b.eng != nil {
		b.findings = append(b.findings, b.eng.Observe(r)...)
	}
	return b.store.Add(r)
}

// End closes the behavioural windows still open after the last flow.
func (b *Batch) End() {
	if b.eng != nil {
		b.findings = append(b.findings, b.eng.Flush()...)
	}
}

// Len returns the number of flows added.
func (b *Batch) Len() int { return b.store.Len() }

// Fit trains the model on the flows added (the Batch must learn).
func (b *Batch) Fit() (*detect.Model, error) { return b.tr.Fit() }

// Findings returns the behavioural findings of the whole input, in the
// order they became certain.
func (b *Batch) Findings() []detect.Finding { return b.findings }

// BehaviorStats returns the behavioural detectors' counters.
func (b *Batch) BehaviorStats() behavior.Stats {
	if b.eng == nil {
		return behavior.Stats{}
	}
	return b.eng.Stats()
}

// Detector returns a Detector for m that holds every finding of the input
// as evidence.
func (b *Batch) Detector(m *detect.Model, cfg detect.Config) *Detector {
	d := NewDetector(m, cfg)
	d.ev.Add(b.findings...)
	return d
}

// Each calls fn with every flow added, in order (see Store.Each).
func (b *Batch) Each(fn func(r *flow.Record) error) error { return b.store.Each(fn) }

// Spilled returns how many flows went to the spill file.
func (b *Batch) Spilled() int { return b.store.Spilled() }

// Close removes the spill file.
func (b *Batch) Close() error { return b.store.Close() }
