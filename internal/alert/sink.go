package alert

import (
	"context"
	"errors"
)

// Sink is where alert documents go: a JSON-lines file, Elasticsearch, the
// contacts. It follows Alertmanager's notifier contract: a failed call says
// whether trying the same call again may succeed (a 429, a timeout, a reset
// connection) or never will (a bad request, a rejected credential).
//
// The stream holds two kinds of documents, told apart by IsIncident:
// alerts, each written once and never changed, and incident documents,
// which stand for the repeats of one host and rule and are written again,
// under the same ID(), whenever their count or last-seen time moves. A
// sink that keeps documents by ID (Elasticsearch) updates the incident in
// place; one that appends (JSON lines) writes each version.
//
// Write takes a batch; the documents are the caller's and must not be
// changed, but may be kept. Flush makes everything written so far durable:
// on disk (synced) or delivered. The daemon calls Flush before it saves its
// read positions, so what a sink has flushed is never handed to it again
// after a crash, and what it has not flushed is handed again. Sinks are
// called from one goroutine at a time.
type Sink interface {
	Write(ctx context.Context, docs []*Alert) (retry bool, err error)
	Flush(ctx context.Context) (retry bool, err error)
}

// IsIncident reports whether a is an incident document (the folded
// repeats of one host and rule) rather than a single alert.
func (a *Alert) IsIncident() bool { return a.MLADS.Incident != nil }

// Fanout writes to every sink in turn. All of them are tried even when one
// fails; the errors are joined, and the batch is worth retrying when every
// failure is. A retry goes to all the sinks again, so the sinks of a
// Fanout must take a repeated document as the same one (by its ID) or be
// wrapped in Retry themselves.
type Fanout []Sink

// Write writes docs to every sink.
func (f Fanout) Write(ctx context.Context, docs []*Alert) (bool, error) {
	return f.each(func(s Sink) (bool, error) { return s.Write(ctx, docs) })
}

// Flush flushes every sink.
func (f Fanout) Flush(ctx context.Context) (bool, error) {
	return f.each(func(s Sink) (bool, error) { return s.Flush(ctx) })
}

func (f Fanout) each(call func(Sink) (bool, error)) (bool, error) {
	var errs []error
	retry := true
	for _, s := range f {
		r, err := call(s)
		if err != nil {
			errs = append(errs, err)
			retry = retry && r
		}
	}
	if len(errs) == 0 {
		return false, nil
	}
	return retry, errors.Join(errs...)
}

// Discard is a Sink that drops everything: the daemon's sink when it
// writes flows only.
type Discard struct{}

// Write drops docs.
func (Discard) Write(context.Context, []*Alert) (bool, error) { return false, nil }

// Flush does nothing.
func (Discard) Flush(context.Context) (bool, error) { return false, nil }
