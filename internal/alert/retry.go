package alert

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Retry wraps a Sink: a call that fails with retry true is made again with
// exponential backoff and jitter (cenkalti/backoff) until it succeeds, a
// failure says it is not worth retrying, MaxElapsed has passed or the
// context ends. A sink that knows how long to wait (an HTTP Retry-After)
// says so by wrapping a *backoff.RetryAfterError in its error; that wait
// replaces the next backoff step.
//
// The wrapped call's last error is returned, with retry false when it
// was not worth retrying and true when the wrapper gave up on time: the
// caller (the daemon's commit) may try again later.
type Retry struct {
	Sink Sink
	// Initial and Max bound the wait between tries; MaxElapsed bounds
	// all the tries of one call. Zero values take 500 ms, 30 s and 2 min.
	Initial, Max, MaxElapsed time.Duration
	// Logger, when set, hears of every failed try (scoped by the caller).
	Logger *slog.Logger
}

// Write writes docs through the wrapped sink, retrying as above.
func (r Retry) Write(ctx context.Context, docs []*Alert) (bool, error) {
	return r.do(ctx, "write", func() (bool, error) { return r.Sink.Write(ctx, docs) })
}

// Flush flushes the wrapped sink, retrying as above.
func (r Retry) Flush(ctx context.Context) (bool, error) {
	return r.do(ctx, "flush", func() (bool, error) { return r.Sink.Flush(ctx) })
}

func (r Retry) do(ctx context.Context, what string, call func() (bool, error)) (bool, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = cmpOr(r.Initial, 500*time.Millisecond)
	b.MaxInterval = cmpOr(r.Max, 30*time.Second)
	permanent := false
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		retry, err := call()
		if err != nil && !retry {
			permanent = true
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(cmpOr(r.MaxElapsed, 2*time.Minute)),
		backoff.WithNotify(func(err error, wait time.Duration) {
			if r.Logger != nil {
				r.Logger.Warn("sink failed; retrying", "op", what, "err", err, "wait", wait.Round(time.Millisecond))
			}
		}))
	if err == nil {
		return false, nil
	}
	return !permanent && !errors.Is(err, context.Canceled), err
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
