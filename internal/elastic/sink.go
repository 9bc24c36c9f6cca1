package elastic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/mlads/mlads/internal/alert"
)

// SinkOptions configure a Sink.
type SinkOptions struct {
	// Workers and FlushBytes size the bulk indexer (defaults 2 and 1 MiB);
	// FlushInterval bounds how long a document waits in a batch (1 s).
	Workers       int
	FlushBytes    int
	FlushInterval time.Duration
	// RetryTimeout bounds how long one Flush retries 429s and 5xx before
	// it spools what is left (30 s); RetryInitial and RetryMax bound each
	// wait (250 ms, 10 s).
	RetryTimeout, RetryInitial, RetryMax time.Duration
	// MaxPendingBytes bounds the failed documents held for retrying
	// between flushes; beyond it Write settles them at once (16 MiB).
	MaxPendingBytes int
	// DeadLetter is the path of the dead-letter file.
	DeadLetter string
	// SpoolDir, SpoolMaxBytes and SpoolWhenFull configure the spool;
	// ReplayInterval is how often a Flush tries to replay it (10 s).
	SpoolDir       string
	SpoolMaxBytes  int64
	SpoolWhenFull  string
	ReplayInterval time.Duration
	// Logger hears of spooling, replays and dead letters (never of
	// single documents). Nil discards.
	Logger *slog.Logger
	// Now is the clock for replay intervals; nil is time.Now.
	Now func() time.Time
}

// Sink writes alerts and incidents into the cluster; see the package doc
// for what happens to each document. It implements alert.Sink; like every
// sink it is called from one goroutine at a time.
type Sink struct {
	c     *Client
	o     SinkOptions
	log   *slog.Logger
	bi    esutil.BulkIndexer
	spool *Spool
	dead  *deadLetter

	mu           sync.Mutex // guards what the indexer's workers report
	pending      []*entry   // failed, worth retrying
	pendingBytes int
	unreachable  bool  // some item got no response at all
	authErr      error // 401/403, or a TLS failure: spool and report
	retryAfter   time.Duration

	lastReplay time.Time
	st         counters
}

type counters struct {
	stored, duplicates, retried, deadLetters, spooled, replayed, spoolDropped, authFailures atomic.Uint64
}

// Stats counts what a Sink did.
type Stats struct {
	Stored      uint64 // documents the cluster stored
	Duplicates  uint64 // 409s: already stored, or a newer incident version is
	Retried     uint64 // item retries after 429s and 5xx
	DeadLetters uint64 // documents refused for good, in the dead-letter file
	Spooled     uint64 // documents written to the spool
	Replayed    uint64 // documents replayed from the spool and stored
	// SpoolDropped counts documents dropped because the spool was full.
	SpoolDropped uint64
	AuthFailures uint64 // items refused with 401 or 403 (spooled)
	Spool        SpoolStatus
}

// NewSink opens the spool and the dead-letter file and returns a sink
// writing through c. Documents left in the spool by an earlier run are
// replayed by the first Flush that finds the cluster up.
func NewSink(c *Client, o SinkOptions) (*Sink, error) {
	o.Workers = cmpOr(o.Workers, 2)
	o.FlushBytes = cmpOr(o.FlushBytes, 1<<20)
	o.FlushInterval = cmpOr(o.FlushInterval, time.Second)
	o.RetryTimeout = cmpOr(o.RetryTimeout, 30*time.Second)
	o.RetryInitial = cmpOr(o.RetryInitial, 250*time.Millisecond)
	o.RetryMax = cmpOr(o.RetryMax, 10*time.Second)
	o.MaxPendingBytes = cmpOr(o.MaxPendingBytes, 16<<20)
	o.ReplayInterval = cmpOr(o.ReplayInterval, 10*time.Second)
	o.SpoolMaxBytes = cmpOr(o.SpoolMaxBytes, 1<<30)
	o.SpoolWhenFull = cmpOr(o.SpoolWhenFull, WhenFullBlock)
	o.SpoolDir = cmpOr(o.SpoolDir, "mlads-spool")
	o.DeadLetter = cmpOr(o.DeadLetter, "mlads-dead-letter.ndjson")
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sp, err := OpenSpool(o.SpoolDir, o.SpoolMaxBytes, o.SpoolWhenFull)
	if err != nil {
		return nil, fmt.Errorf("elastic: %w", err)
	}
	s := &Sink{c: c, o: o, log: log, spool: sp, dead: &deadLetter{path: o.DeadLetter}}
	if st := sp.Status(); st.Docs > 0 {
		log.Info("documents wait in the spool from an earlier run", "docs", st.Docs, "bytes", st.Bytes, "dir", st.Dir)
	}
	return s, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// indexer returns the bulk indexer, starting it on first use.
func (s *Sink) indexer() (esutil.BulkIndexer, error) {
	if s.bi != nil {
		return s.bi, nil
	}
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client:        bulkTransport{s.c},
		NumWorkers:    s.o.Workers,
		FlushBytes:    s.o.FlushBytes,
		FlushInterval: s.o.FlushInterval,
		// Per-item results carry what we need; errors, types and reasons only.
		FilterPath: []string{"errors", "items.*.status", "items.*.error.type", "items.*.error.reason"},
	})
	if err != nil {
		return nil, fmt.Errorf("elastic: bulk indexer: %w", err)
	}
	s.bi = bi
	return bi, nil
}

// Write queues docs. It blocks while the indexer's workers are busy. Its
// errors are the spool's (full with the block policy: retry) or the
// context's; the cluster's answers are settled by Flush.
func (s *Sink) Write(ctx context.Context, docs []*alert.Alert) (bool, error) {
	for _, a := range docs {
		e, err := s.entry(a)
		if err != nil {
			s.deadLetter(e, 0, "encode", err.Error())
			continue
		}
		if !s.spool.Empty() {
			if err := s.toSpool(e); err != nil {
				return errors.Is(err, ErrSpoolFull), err
			}
			continue
		}
		if err := s.add(ctx, e); err != nil {
			return false, err
		}
	}
	s.mu.Lock()
	over := s.pendingBytes > s.o.MaxPendingBytes
	s.mu.Unlock()
	if over {
		return s.settle(ctx)
	}
	return false, nil
}

// entry encodes a as the document to send.
func (s *Sink) entry(a *alert.Alert) (*entry, error) {
	e := &entry{Op: "create", Index: s.c.names.Alerts, ID: a.ID()}
	if a.IsIncident() {
		e.Op, e.Version = "index", int64(a.MLADS.Incident.Count)
		e.Index = s.c.names.Incidents + a.MLADS.Incident.FirstSeen.UTC().Format("2006.01")
	}
	doc, err := alert.Encode(a)
	e.Doc = doc
	return e, err
}

// add hands e to the bulk indexer.
func (s *Sink) add(ctx context.Context, e *entry) error {
	bi, err := s.indexer()
	if err != nil {
		return err
	}
	item := esutil.BulkIndexerItem{
		Index: e.Index, Action: e.Op, DocumentID: e.ID, Body: bytes.NewReader(e.Doc),
		OnSuccess: func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem) { s.st.stored.Add(1) },
		OnFailure: func(_ context.Context, _ esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
			s.failed(e, res, err)
		},
	}
	if e.Version > 0 {
		v := e.Version
		item.Version, item.VersionType = &v, "external_gte"
	}
	if err := bi.Add(ctx, item); err != nil {
		return fmt.Errorf("elastic: queue document: %w", err)
	}
	return nil
}

// failed sorts out one item the cluster did not store (called by the
// indexer's workers).
func (s *Sink) failed(e *entry, res esutil.BulkIndexerResponseItem, err error) {
	status, typ, reason := res.Status, res.Error.Type, res.Error.Reason
	var ee *Error
	if err != nil {
		if errors.As(err, &ee) {
			status, typ, reason = ee.Status, ee.Type, ee.Error()
		} else {
			status, reason = 0, s.c.scrubString(err.Error())
		}
	}
	// A TLS failure or a server that is not Elasticsearch will not mend
	// by itself: like refused credentials, spool and report.
	permanent := ee != nil && ee.Status == 0 && !ee.Retry
	switch {
	case status == http.StatusConflict:
		s.st.duplicates.Add(1)
		return
	case status == http.StatusUnauthorized || status == http.StatusForbidden || permanent:
		s.st.authFailures.Add(1)
		s.mu.Lock()
		if s.authErr == nil {
			if ee == nil {
				ee = &Error{Op: "bulk " + e.Op + " " + e.Index, Where: s.c.where(), Status: status, Type: typ, Reason: reason}
			}
			s.authErr = ee
		}
		s.pending = append(s.pending, e)
		s.pendingBytes += e.size()
		s.mu.Unlock()
		return
	case status == 0 || status == http.StatusTooManyRequests || status >= 500 || (ee != nil && ee.Retry):
		s.mu.Lock()
		s.pending = append(s.pending, e)
		s.pendingBytes += e.size()
		if status == 0 || (ee != nil && ee.Unreachable) {
			s.unreachable = true
		}
		if ee != nil && ee.RetryAfter > s.retryAfter {
			s.retryAfter = ee.RetryAfter
		}
		s.mu.Unlock()
		return
	}
	s.deadLetter(e, status, typ, reason)
}

// takePending returns and clears what failed since the last call.
func (s *Sink) takePending() (p []*entry, unreachable bool, authErr error, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, unreachable, authErr, retryAfter = s.pending, s.unreachable, s.authErr, s.retryAfter
	s.pending, s.pendingBytes, s.unreachable, s.authErr, s.retryAfter = nil, 0, false, nil, 0
	return
}

// Flush returns once every document written so far is stored, dead-lettered
// or spooled and synced. It then replays the spool when it is time to.
func (s *Sink) Flush(ctx context.Context) (bool, error) {
	if retry, err := s.settle(ctx); err != nil {
		return retry, err
	}
	if err := s.spool.Sync(); err != nil {
		return true, fmt.Errorf("elastic: %w", err)
	}
	if err := s.dead.sync(); err != nil {
		return true, err
	}
	if !s.spool.Empty() && s.o.Now().Sub(s.lastReplay) >= s.o.ReplayInterval {
		s.lastReplay = s.o.Now()
		if err := s.Replay(ctx); err != nil {
			s.log.Warn("spool replay stopped; documents stay spooled", "err", err, "spool_docs", s.spool.Status().Docs)
		}
	}
	return false, nil
}

// settle flushes the indexer and retries what failed (drain); what is
// left, and everything when the cluster does not answer at all, goes to
// the spool.
func (s *Sink) settle(ctx context.Context) (bool, error) {
	if s.bi == nil {
		return false, nil
	}
	left, why, authErr, err := s.drain(ctx)
	if len(left) > 0 {
		s.log.Warn("spooling documents", "why", why, "docs", len(left))
		for _, e := range left {
			if serr := s.toSpool(e); serr != nil {
				return errors.Is(serr, ErrSpoolFull), serr
			}
		}
		if serr := s.spool.Sync(); serr != nil {
			return true, fmt.Errorf("elastic: %w", serr)
		}
		s.lastReplay = s.o.Now()
	}
	if err != nil {
		return false, err
	}
	return false, authErr
}

// drain flushes the indexer and retries what failed: only the failed
// items, with capped exponential backoff and jitter, for at most
// RetryTimeout. It stops early when the cluster does not answer at all or
// refuses the credentials (authErr), or when ctx ends (err), and returns
// the documents not stored and why.
func (s *Sink) drain(ctx context.Context) (left []*entry, why string, authErr, err error) {
	deadline := s.o.Now().Add(s.o.RetryTimeout)
	wait := s.o.RetryInitial
	for {
		if ferr := s.bi.Flush(ctx); ferr != nil && ctx.Err() != nil {
			p, _, _, _ := s.takePending()
			return p, "canceled", nil, fmt.Errorf("elastic: flush: %w", ctx.Err())
		}
		p, unreachable, authErr, retryAfter := s.takePending()
		switch {
		case len(p) == 0:
			return nil, "", nil, nil
		case authErr != nil:
			return p, "refused: " + authErr.Error(), authErr, nil
		case unreachable:
			return p, "cluster unreachable", nil, nil
		case !s.o.Now().Before(deadline):
			return p, "retries exhausted", nil, nil
		}
		d := wait/2 + rand.N(wait/2+1) // jitter: half to all of the step
		if retryAfter > d {
			d = retryAfter
		}
		d = min(d, s.o.RetryMax, max(deadline.Sub(s.o.Now()), time.Millisecond))
		select {
		case <-ctx.Done():
			return p, "canceled", nil, fmt.Errorf("elastic: flush: %w", ctx.Err())
		case <-time.After(d):
		}
		wait = min(2*wait, s.o.RetryMax)
		for i, e := range p {
			s.st.retried.Add(1)
			if aerr := s.add(ctx, e); aerr != nil {
				return p[i:], "canceled", nil, aerr
			}
		}
	}
}

// toSpool appends e to the spool, counting what the policy drops.
func (s *Sink) toSpool(e *entry) error {
	dropped, err := s.spool.Append(e)
	if err != nil {
		return fmt.Errorf("elastic: %w", err)
	}
	if dropped > 0 {
		s.st.spoolDropped.Add(uint64(dropped))
		s.log.Warn("spool full: documents dropped", "dropped", dropped, "policy", s.o.SpoolWhenFull,
			"total_dropped", s.st.spoolDropped.Load())
	}
	s.st.spooled.Add(1)
	return nil
}

// Dropped counts the documents dropped because the spool was full (an
// alert.Dropper: the pipeline raises a health alert when it grows).
func (s *Sink) Dropped() uint64 { return s.st.spoolDropped.Load() }

// Replay sends the spool's documents, oldest segment first, if the
// cluster answers. A segment is deleted once all its documents are
// stored (or dead-lettered); replay stops at the first one that is not.
func (s *Sink) Replay(ctx context.Context) error {
	if s.spool.Empty() {
		return nil
	}
	if err := s.c.Ping(ctx); err != nil {
		return err
	}
	if err := s.spool.closeCurrent(); err != nil {
		return err
	}
	start := s.o.Now()
	if _, err := s.indexer(); err != nil {
		return err
	}
	n, err := s.spool.replay(func(seg []*entry) (bool, error) {
		for _, e := range seg {
			if err := s.add(ctx, e); err != nil {
				return false, err
			}
		}
		// Failed items are retried like any others; what is still not
		// stored keeps the segment (and replay stops here, in order).
		left, why, authErr, err := s.drain(ctx)
		if err != nil {
			return false, err
		}
		if authErr != nil {
			return false, authErr
		}
		if len(left) > 0 {
			s.log.Info("spool replay paused", "why", why, "not_stored", len(left))
		}
		return len(left) == 0, nil
	})
	s.st.replayed.Add(uint64(n))
	if n > 0 {
		s.log.Info("spool replayed", "docs", n, "took", s.o.Now().Sub(start).Round(time.Millisecond),
			"left", s.spool.Status().Docs)
	}
	if err == nil && !s.spool.Empty() {
		err = errors.New("elastic: spool: some documents were not stored; they stay spooled")
	}
	return err
}

// Client returns the client the sink writes through.
func (s *Sink) Client() *Client { return s.c }

// Stats returns the counters and the spool's state.
func (s *Sink) Stats() Stats {
	return Stats{
		Stored: s.st.stored.Load(), Duplicates: s.st.duplicates.Load(), Retried: s.st.retried.Load(),
		DeadLetters: s.st.deadLetters.Load(), Spooled: s.st.spooled.Load(), Replayed: s.st.replayed.Load(),
		SpoolDropped: s.st.spoolDropped.Load(), AuthFailures: s.st.authFailures.Load(), Spool: s.spool.Status(),
	}
}

// Close flushes (storing or spooling everything written) and closes the
// indexer, the spool and the dead-letter file.
func (s *Sink) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.o.RetryTimeout+s.c.opts.Timeout)
	defer cancel()
	_, err := s.settle(ctx)
	if s.bi != nil {
		if cerr := s.bi.Close(ctx); cerr != nil && err == nil {
			err = fmt.Errorf("elastic: close bulk indexer: %w", cerr)
		}
		s.bi = nil
	}
	err = errors.Join(err, s.spool.Close(), s.dead.close())
	return err
}

// bulkTransport turns a bulk response with a non-2xx status into an
// *Error, so the indexer's per-item failure callbacks see the status and
// Retry-After instead of a formatted string.
type bulkTransport struct{ c *Client }

// Perform sends req through the client.
func (t bulkTransport) Perform(req *http.Request) (*http.Response, error) {
	res, err := t.c.es.Perform(req)
	if err != nil {
		return nil, t.c.transportError("bulk", err)
	}
	if res.StatusCode >= 300 && strings.HasSuffix(req.URL.Path, "/_bulk") {
		defer func() { _ = res.Body.Close() }()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(http.MaxBytesReader(nil, res.Body, 64<<10))
		return nil, t.c.statusError("bulk", res.StatusCode, res.Header, buf.Bytes())
	}
	return res, nil
}
