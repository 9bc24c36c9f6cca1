package rules

import (
	"context"

	"github.com/mlads/mlads/internal/alert"
)

// Mark is the stage in front of the sinks that applies the rules to the
// alert stream: an alert an allow or suppress rule matches is still
// written, with mlads.suppressed_by naming the rule (the notifier does not
// send it), and a severity rule sets its severity, with
// mlads.severity_override_by. A document a rule changes is copied first;
// the others pass as they are.
type Mark struct {
	Rules *Set
	// Watch, when set, replaces Rules: its current set is used for each
	// batch, so changed rule files take effect while the daemon runs.
	Watch *Watcher
	Next  alert.Sink

	buf []*alert.Alert
}

// Write applies the rules to docs and writes them to the next sink.
func (m *Mark) Write(ctx context.Context, docs []*alert.Alert) (bool, error) {
	m.buf = m.buf[:0]
	if m.Watch != nil {
		m.Rules = m.Watch.Rules()
	}
	for _, a := range docs {
		d := m.Rules.Apply(a)
		if d.SuppressedBy != "" || d.OverrideBy != "" {
			c := *a
			c.MLADS.SuppressedBy = d.SuppressedBy
			if d.OverrideBy != "" {
				c.Event.Severity, c.MLADS.Severity = d.Severity, alert.SeverityName(d.Severity)
				c.MLADS.SeverityOverrideBy = d.OverrideBy
			}
			a = &c
		}
		m.buf = append(m.buf, a)
	}
	return m.Next.Write(ctx, m.buf)
}

// Flush flushes the next sink.
func (m *Mark) Flush(ctx context.Context) (bool, error) { return m.Next.Flush(ctx) }
