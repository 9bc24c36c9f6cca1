package pipeline

import (
	"context"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

// Alerter turns findings and alerting verdicts into alert documents and
// writes them to a sink in batches of BatchSize. The sink's errors come
// back from the call that wrote the batch, or from Flush.
type Alerter struct {
	sink     alert.Sink
	observer string
	batch    []*alert.Alert

	flows, findings uint64
}

// BatchSize is how many documents an Alerter gathers before it writes them.
const BatchSize = 256

// NewAlerter returns an Alerter writing to sink; observer is the
// documents' observer.name (the sensor).
func NewAlerter(sink alert.Sink, observer string) *Alerter {
	return &Alerter{sink: sink, observer: observer}
}

// Finding writes the alert for a behavioural finding. f is read, not kept.
func (a *Alerter) Finding(ctx context.Context, f *detect.Finding) error {
	a.findings++
	return a.add(ctx, alert.FromFinding(f, a.observer))
}

// Flow writes the alert for a flow whose verdict alerted. r and v are read,
// not kept.
func (a *Alerter) Flow(ctx context.Context, r *flow.Record, v *detect.Verdict) error {
	a.flows++
	return a.add(ctx, alert.FromFlow(r, v, a.observer))
}

func (a *Alerter) add(ctx context.Context, doc *alert.Alert) error {
	a.batch = append(a.batch, doc)
	if len(a.batch) < BatchSize {
		return nil
	}
	return a.write(ctx)
}

func (a *Alerter) write(ctx context.Context) error {
	if len(a.batch) == 0 {
		return nil
	}
	if _, err := a.sink.Write(ctx, a.batch); err != nil {
		return err
	}
	a.batch = a.batch[:0]
	return nil
}

// Flush writes the documents gathered so far, then flushes the sink: on
// success, every document handed over is durable downstream.
func (a *Alerter) Flush(ctx context.Context) error {
	if err := a.write(ctx); err != nil {
		return err
	}
	_, err := a.sink.Flush(ctx)
	return err
}

// Counts returns how many flow alerts and finding alerts were made.
func (a *Alerter) Counts() (flows, findings uint64) { return a.flows, a.findings }
