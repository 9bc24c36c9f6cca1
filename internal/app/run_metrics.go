package app

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/elastic"
	"github.com/mlads/mlads/internal/metrics"
	"github.com/mlads/mlads/internal/notify"
	"github.com/mlads/mlads/internal/pipeline"
	"github.com/mlads/mlads/internal/tail"
)

// The daemon's metrics and health, served on run.metrics_listen.
//
// The counters stay where they are counted. What other goroutines may read
// at any time (the tailer's Stats, the sink's atomic counters, the
// notifier's Stats) is read at scrape time. What only the daemon's
// goroutine may touch (the pipeline, the incident fold, the Elasticsearch
// sink's spool, the newest flow's time) is copied by that goroutine into a
// runSnapshot at most once a second, at a Tick, and the scrape reads the
// last one published. A scrape therefore costs the loop nothing, and its
// numbers are at most a second old.

// publishEvery is how often the daemon's loop publishes a runSnapshot.
const publishEvery = time.Second

// runSnapshot is what the daemon's goroutine publishes for the metrics and
// the health check.
type runSnapshot struct {
	Online    pipeline.OnlineStats
	Incidents alert.IncidentStats
	Elastic   *elastic.Stats // nil: no Elasticsearch sink
	Outputs   []outputState  // one per alert sink, run.output's JSON lines first
	Newest    time.Time      // end of the newest flow read
	ModelTime time.Time      // modification time of the model file loaded
	Lossy     []captureLoss  // the captured interfaces that lost frames within dropHold
	// ModelMinP is the smallest p-value the model can give a flow, and
	// ModelAlpha its alert threshold: a baseline too small to alert has
	// ModelMinP >= ModelAlpha (detect.Model.AlertLimit).
	ModelMinP, ModelAlpha float64
}

// outputState is what an alert sink's watch saw: its errors and, when its
// last Write or Flush failed, that error.
type outputState struct {
	Name    string
	Errors  uint64
	Failing string // the last call's error; "": it succeeded
}

// watchedSink is one of the daemon's alert sinks, as the metrics and the
// health check see it: it counts the errors of Write and Flush and keeps
// the last call's. Only the daemon's goroutine calls it.
type watchedSink struct {
	alert.Sink
	name    string
	errors  uint64
	failing error
}

func (w *watchedSink) Write(ctx context.Context, docs []*alert.Alert) (bool, error) {
	retry, err := w.Sink.Write(ctx, docs)
	w.seen(err)
	return retry, err
}

func (w *watchedSink) Flush(ctx context.Context) (bool, error) {
	retry, err := w.Sink.Flush(ctx)
	w.seen(err)
	return retry, err
}

func (w *watchedSink) seen(err error) {
	if err != nil {
		w.errors++
	}
	w.failing = err
}

// sinkName names an output sink in the metrics' sink label and the health
// reasons.
func sinkName(s alert.Sink) string {
	switch s.(type) {
	case *elastic.Sink:
		return "elasticsearch"
	case *notify.Notifier:
		return "notify"
	}
	return fmt.Sprintf("%T", s)
}

// elasticStats is the Elasticsearch sink (elastic.Sink), whose counters
// and spool go into the metrics.
type elasticStats interface {
	Stats() elastic.Stats
}

// publish copies the loop-owned counters into a new snapshot at now.
// Called by the daemon's goroutine only.
func (s *runSink) publish(now time.Time) {
	snap := &runSnapshot{Newest: s.newest}
	if s.live != nil {
		cs, _ := s.live.Stats()
		snap.Lossy = s.live.drops.look(now, cs)
	}
	if m := s.model; m != nil && m.online != nil {
		snap.Online = m.online.Stats()
		snap.ModelTime = m.modelTime
		snap.ModelMinP, snap.ModelAlpha = m.minP, m.m.Alpha
		if m.fold != nil {
			snap.Incidents = m.fold.Stats()
		}
		if m.elastic != nil {
			st := m.elastic.Stats()
			snap.Elastic = &st
		}
		for _, w := range m.watched {
			o := outputState{Name: w.name, Errors: w.errors}
			if w.failing != nil {
				o.Failing = w.failing.Error()
			}
			snap.Outputs = append(snap.Outputs, o)
		}
	}
	s.snap.Store(snap)
}

// heartbeat records a pass of the daemon's loop at now, and publishes a
// snapshot when the last one is publishEvery old.
func (s *runSink) heartbeat(now time.Time) {
	s.beat.Store(now.UnixNano())
	if now.Sub(s.published) >= publishEvery {
		s.published = now
		s.publish(now)
	}
}

// stallAfter is how long the daemon's loop may go without a pass before
// /healthz says it has stalled: a minute, or three commit intervals when
// that is longer.
func stallAfter(commit time.Duration) time.Duration { return max(time.Minute, 3*commit) }

// health is the daemon's /healthz judgement at now. The daemon is healthy
// when its loop is advancing and its outputs are healthy:
//   - the loop has made a pass over the inputs (read what was there,
//     ticked, committed when due) within stallAfter: a sink or a disk that
//     hangs stops it;
//   - every alert sink's last Write and Flush succeeded;
//   - the Elasticsearch spool is empty (documents in it are not in the
//     cluster: it does not answer, or refuses them);
//   - no notification channel is failing (its last message failed);
//   - no captured interface lost frames (by the kernel, or in a full ring)
//     within dropHold: the sensor does not see all the traffic.
//
// Quiet inputs are healthy: input_lag says how old the newest flow is.
func (s *runSink) health(now time.Time, notifier notifyStats) []string {
	var why []string
	beat := s.beat.Load()
	switch {
	case beat == 0:
		return []string{"starting: the inputs have not been read yet"}
	case now.Sub(time.Unix(0, beat)) > stallAfter(s.cfg.CommitInterval):
		why = append(why, fmt.Sprintf("stalled: the daemon's loop has made no pass over the inputs for %s (a sink or the disk hangs)",
			now.Sub(time.Unix(0, beat)).Round(time.Second)))
	}
	snap := s.snap.Load()
	if snap == nil {
		return why
	}
	for _, o := range snap.Outputs {
		if o.Failing != "" {
			why = append(why, fmt.Sprintf("output %s: last write or flush failed: %s", o.Name, o.Failing))
		}
	}
	for _, l := range snap.Lossy {
		if now.Sub(l.Last) < dropHold {
			why = append(why, fmt.Sprintf("capture %s: %d frames lost since %s (kernel %d, ring %d), the last %s ago: the sensor does not see all the traffic",
				l.Name, l.Kernel+l.Ring, l.Since.UTC().Format(time.RFC3339), l.Kernel, l.Ring, now.Sub(l.Last).Round(time.Second)))
		}
	}
	if e := snap.Elastic; e != nil && e.Spool.Docs > 0 {
		why = append(why, fmt.Sprintf("output elasticsearch: %d documents spooled in %s, not in the cluster (it does not answer or refuses them)",
			e.Spool.Docs, e.Spool.Dir))
	}
	return append(why, notifyHealth(notifier)...)
}

// serveMetrics starts the server of reg's metrics and of health on
// run.metrics_listen, unless that is empty; stop shuts it down and waits
// for it. The address is bound before serveMetrics returns, so one in use
// stops the daemon at start.
func (d *Daemon) serveMetrics(ctx context.Context, reg *prometheus.Registry, s *runSink) (stop func(), err error) {
	return d.startMetrics(ctx, reg, func(now time.Time) []string {
		var n notifyStats
		if s.model != nil {
			n = s.model.notifier
		}
		return s.health(now, n)
	})
}

// startMetrics serves reg (with the Go, process and build families added)
// and health on run.metrics_listen, unless that is empty, on a goroutine
// of its own; stop shuts it down and waits for it.
func (d *Daemon) startMetrics(ctx context.Context, reg *prometheus.Registry, health metrics.HealthFunc) (stop func(), err error) {
	if d.cfg.MetricsListen == "" {
		return func() {}, nil
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: "mlads"}))
	reg.MustRegister(buildInfo())
	log := d.log.With("component", "metrics")
	srv, err := metrics.Listen(d.cfg.MetricsListen, reg, health, log)
	if err != nil {
		return nil, err
	}
	log.Info("serving /metrics and /healthz", "addr", srv.Addr().String())
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Run(ctx); err != nil {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}

// ruleCounts counts alert documents by rule.name (the detector); safe for
// concurrent use. Alerts are few, so a lock each costs nothing that
// matters.
type ruleCounts struct {
	mu sync.Mutex
	n  map[string]uint64
}

func (r *ruleCounts) add(rule string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]uint64{}
	}
	r.n[rule]++
}

// family is mlads_alerts_total, by detector.
func (r *ruleCounts) family() prometheus.Collector {
	return metrics.NewFunc("mlads_alerts_total", "Alert documents made, by detector (rule.name); incident updates are not counted.",
		counter, []string{"detector"}, func(emit metrics.Emit) {
			r.mu.Lock()
			defer r.mu.Unlock()
			for k, v := range r.n {
				emit(float64(v), k)
			}
		})
}

// registerMetrics adds the daemon's families to reg: the inputs (t), and
// the flows, scores, alerts, drops, queues and outputs of s. A new source
// or sink adds its families here, in one line each.
func registerMetrics(reg *prometheus.Registry, t *tail.Tailer, s *runSink) {
	reg.MustRegister(tailMetrics(t)...)
	reg.MustRegister(s.metrics()...)
	if s.model != nil {
		reg.MustRegister(notifyMetrics(s.model.notifier)...)
	}
	if s.live != nil {
		reg.MustRegister(s.live.metrics()...)
	}
	reg.MustRegister(metrics.NewFunc("mlads_drops_total", "What the bounds dropped or forgot, by reason (see README, Metrics and health).",
		counter, []string{"reason"}, func(emit metrics.Emit) {
			st := t.Stats()
			emit(float64(st.LongLines), "long_line")
			emit(float64(st.LostTruncations), "lost_truncation")
			if s.live != nil {
				c := s.live.c.Stats().Total()
				emit(float64(c.KernelDrops), "capture_kernel")
				emit(float64(c.RingDrops), "capture_ring")
			}
			s.drops(emit)
		}))
}

const (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue
)

// buildInfo is mlads_build_info: 1, labelled with the version, the VCS
// revision and the Go release the binary was built from.
func buildInfo() prometheus.Collector {
	version, revision := "(devel)", "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; v != "" {
			version = v
		}
		for _, st := range info.Settings {
			if st.Key == "vcs.revision" {
				revision = st.Value
			}
		}
	}
	return metrics.NewFunc("mlads_build_info", "A constant 1, labelled with the build's version, VCS revision and Go release.",
		gauge, []string{"version", "revision", "goversion"}, func(emit metrics.Emit) {
			emit(1, version, revision, runtime.Version())
		})
}

// tailMetrics are the inputs' families, from the tailer's atomic counters.
func tailMetrics(t *tail.Tailer) []prometheus.Collector {
	st := func(f func(tail.Stats) int64) func(metrics.Emit) {
		return func(emit metrics.Emit) { emit(float64(f(t.Stats()))) }
	}
	return []prometheus.Collector{
		metrics.NewFunc("mlads_input_files", "Files followed now (descriptors held).", gauge, nil,
			st(func(s tail.Stats) int64 { return s.Files })),
		metrics.NewFunc("mlads_input_lines_total", "Log lines read.", counter, nil,
			st(func(s tail.Stats) int64 { return s.Lines })),
		metrics.NewFunc("mlads_input_bytes_total", "Bytes of the log lines read, newlines included.", counter, nil,
			st(func(s tail.Stats) int64 { return s.Bytes })),
		metrics.NewFunc("mlads_input_rotations_total", "Files renamed, deleted or copied away while followed.", counter, nil,
			st(func(s tail.Stats) int64 { return s.Rotations })),
		metrics.NewFunc("mlads_input_truncations_total", "Files truncated while followed.", counter, nil,
			st(func(s tail.Stats) int64 { return s.Truncations })),
		metrics.NewFunc("mlads_commits_total", "Commits: outputs flushed and synced, positions saved.", counter, nil,
			st(func(s tail.Stats) int64 { return s.Commits })),
	}
}

// metrics are the families of the daemon's sink: flows, scores, alerts,
// drops, queues, outputs and the model. The loop-owned ones read the last
// snapshot; before the first there is none, and they are left out.
func (s *runSink) metrics() []prometheus.Collector {
	snap := func(read func(*runSnapshot, metrics.Emit)) func(metrics.Emit) {
		return func(emit metrics.Emit) {
			if sn := s.snap.Load(); sn != nil {
				read(sn, emit)
			}
		}
	}
	atom := func(n *atomic.Int64) func(metrics.Emit) {
		return func(emit metrics.Emit) { emit(float64(n.Load())) }
	}
	cs := []prometheus.Collector{
		metrics.NewFunc("mlads_flows_total", "Flows read from the inputs.", counter, nil, atom(&s.flows)),
		metrics.NewFunc("mlads_input_bad_lines_total", "Lines that did not parse (reported with file and line, throttled).", counter, nil, atom(&s.bad)),
		metrics.NewFunc("mlads_input_skipped_lines_total", "Lines of followed files that are not conn logs.", counter, nil, atom(&s.skipped)),
		metrics.NewFunc("mlads_netflow_halves_waiting", "EVE netflow halves waiting for their partner at the last commit.", gauge, nil, atom(&s.waiting)),
		metrics.NewFunc("mlads_loop_last_pass_timestamp_seconds", "When the daemon's loop last made a pass over the inputs (Unix time).", gauge, nil,
			func(emit metrics.Emit) {
				if b := s.beat.Load(); b != 0 {
					emit(float64(b) / 1e9)
				}
			}),
		metrics.NewFunc("mlads_input_lag_seconds", "How far the newest flow read (its end) is behind the wall clock.", gauge, nil,
			snap(func(sn *runSnapshot, emit metrics.Emit) {
				if !sn.Newest.IsZero() {
					emit(max(0, time.Since(sn.Newest).Seconds()))
				}
			})),
	}
	if s.model == nil {
		return cs
	}
	return append(cs,
		metrics.NewFunc("mlads_flows_scored_total", "Flows scored by the model.", counter, nil,
			snap(func(sn *runSnapshot, emit metrics.Emit) { emit(float64(sn.Online.Scorer.Flows)) })),
		metrics.NewHistogramFunc("mlads_flow_score", "Flows by score: -log10 of the flow's combined p-value.", func() (metrics.Histogram, bool) {
			sn := s.snap.Load()
			if sn == nil {
				return metrics.Histogram{}, false
			}
			h := sn.Online.Scores
			return metrics.Histogram{Bounds: pipeline.ScoreBounds[:], Counts: h.Counts[:], Count: h.Count, Sum: h.Sum}, true
		}),
		s.model.byRule.family(),
		metrics.NewFunc("mlads_findings_total", "Behavioural findings, by detector.", counter, []string{"detector"},
			snap(func(sn *runSnapshot, emit metrics.Emit) {
				for k, v := range sn.Online.Behavior.Findings {
					emit(float64(v), k)
				}
			})),
		metrics.NewFunc("mlads_incidents_open", "Incidents open in the fold now.", gauge, nil,
			snap(func(sn *runSnapshot, emit metrics.Emit) { emit(float64(sn.Incidents.Open)) })),
		metrics.NewFunc("mlads_incidents_total", "Incidents opened.", counter, nil,
			snap(func(sn *runSnapshot, emit metrics.Emit) { emit(float64(sn.Incidents.New)) })),
		metrics.NewFunc("mlads_tracked_hosts", "Hosts tracked now, by table.", gauge, []string{"table"},
			snap(func(sn *runSnapshot, emit metrics.Emit) {
				emit(float64(sn.Online.Scorer.Hosts), "scorer")
				emit(float64(sn.Online.Behavior.Hosts), "behavior")
			})),
		metrics.NewFunc("mlads_evidence_findings", "Behavioural findings held as evidence for the flows still to come.", gauge, nil,
			snap(func(sn *runSnapshot, emit metrics.Emit) { emit(float64(sn.Online.Evidence)) })),
		metrics.NewFunc("mlads_output_errors_total", "Failed writes and flushes, by alert sink.", counter, []string{"sink"},
			snap(func(sn *runSnapshot, emit metrics.Emit) {
				for _, o := range sn.Outputs {
					emit(float64(o.Errors), o.Name)
				}
			})),
		metrics.NewFunc("mlads_model_timestamp_seconds", "Modification time of the model file loaded (Unix time).", gauge, nil,
			snap(func(sn *runSnapshot, emit metrics.Emit) {
				if !sn.ModelTime.IsZero() {
					emit(float64(sn.ModelTime.UnixNano()) / 1e9)
				}
			})),
		metrics.NewFunc("mlads_model_age_seconds", "Age of the model file loaded (from its modification time).", gauge, nil,
			snap(func(sn *runSnapshot, emit metrics.Emit) {
				if !sn.ModelTime.IsZero() {
					emit(time.Since(sn.ModelTime).Seconds())
				}
			})),
		metrics.NewFunc("mlads_model_min_p_value", "Smallest p-value the model can give a flow; at or above mlads_model_alert_threshold the baseline is too small to alert.", gauge, nil,
			snap(func(sn *runSnapshot, emit metrics.Emit) {
				if sn.ModelAlpha > 0 {
					emit(sn.ModelMinP)
				}
			})),
		metrics.NewFunc("mlads_model_alert_threshold", "Alert threshold on a flow's combined p-value (from the false-alarm budget).", gauge, nil,
			snap(func(sn *runSnapshot, emit metrics.Emit) {
				if sn.ModelAlpha > 0 {
					emit(sn.ModelAlpha)
				}
			})),
		metrics.NewFunc("mlads_elasticsearch_documents_total", "Documents the Elasticsearch sink handled, by result.", counter, []string{"result"},
			snap(func(sn *runSnapshot, emit metrics.Emit) {
				if e := sn.Elastic; e != nil {
					emit(float64(e.Stored), "stored")
					emit(float64(e.Duplicates), "duplicate")
					emit(float64(e.DeadLetters), "dead_letter")
					emit(float64(e.Spooled), "spooled")
					emit(float64(e.Replayed), "replayed")
					emit(float64(e.AuthFailures), "auth_failure")
				}
			})),
		metrics.NewFunc("mlads_elasticsearch_retries_total", "Document retries after 429s and 5xx.", counter, nil,
			snap(func(sn *runSnapshot, emit metrics.Emit) {
				if e := sn.Elastic; e != nil {
					emit(float64(e.Retried))
				}
			})),
		metrics.NewFunc("mlads_elasticsearch_spool_documents", "Documents in the Elasticsearch spool, not yet in the cluster.", gauge, nil,
			snap(func(sn *runSnapshot, emit metrics.Emit) {
				if e := sn.Elastic; e != nil {
					emit(float64(e.Spool.Docs))
				}
			})),
		metrics.NewFunc("mlads_elasticsearch_spool_bytes", "Size of the Elasticsearch spool.", gauge, nil,
			snap(func(sn *runSnapshot, emit metrics.Emit) {
				if e := sn.Elastic; e != nil {
					emit(float64(e.Spool.Bytes))
				}
			})),
		metrics.NewFunc("mlads_elasticsearch_spool_max_bytes", "Bound of the Elasticsearch spool (elasticsearch.spool.max_bytes).", gauge, nil,
			snap(func(sn *runSnapshot, emit metrics.Emit) {
				if e := sn.Elastic; e != nil {
					emit(float64(e.Spool.MaxBytes))
				}
			})),
	)
}

// notifyMetrics are the notifier's families, read at scrape time from
// its Stats (safe from any goroutine); none without a notifier.
func notifyMetrics(n notifyStats) []prometheus.Collector {
	if n == nil {
		return nil
	}
	read := func(f func(notify.Stats, metrics.Emit)) func(metrics.Emit) {
		return func(emit metrics.Emit) { f(n.Stats(), emit) }
	}
	return []prometheus.Collector{
		metrics.NewFunc("mlads_notify_messages_total", "Notification messages, by result.", counter, []string{"result"},
			read(func(st notify.Stats, emit metrics.Emit) {
				emit(float64(st.Queued), "queued")
				emit(float64(st.Sent), "sent")
				emit(float64(st.Failed), "failed")
			})),
		metrics.NewFunc("mlads_notify_outbox_messages", "Notification messages pending in the outbox.", gauge, nil,
			read(func(st notify.Stats, emit metrics.Emit) { emit(float64(st.Pending)) })),
		metrics.NewFunc("mlads_notify_channels_failing", "Notification channels whose last message failed.", gauge, nil,
			read(func(st notify.Stats, emit metrics.Emit) { emit(float64(len(st.ChannelsFailing))) })),
	}
}

// notifyHealth is the reasons the notifier gives /healthz: one per channel
// failing now.
func notifyHealth(n notifyStats) []string {
	if n == nil {
		return nil
	}
	var why []string
	failing := n.Stats().ChannelsFailing
	for _, ch := range slices.Sorted(maps.Keys(failing)) {
		why = append(why, fmt.Sprintf("output notify: channel %s failing since %s", ch, failing[ch].UTC().Format(time.RFC3339)))
	}
	return why
}

// drops emits the daemon's part of mlads_drops_total: the pipeline's,
// the fold's and the spool's drop counters, by reason.
func (s *runSink) drops(emit metrics.Emit) {
	if sn := s.snap.Load(); sn != nil && s.model != nil {
		o := sn.Online
		emit(float64(o.Scorer.HostsEvicted), "scorer_host_evicted")
		emit(float64(o.Scorer.KnownDropped), "known_table_full")
		emit(float64(o.Behavior.HostDrops), "behavior_host")
		emit(float64(o.Behavior.VictimDrops), "behavior_victim")
		emit(float64(o.Behavior.PairDrops), "behavior_pair")
		emit(float64(o.Behavior.ScanTargetDrops), "behavior_scan_target")
		emit(float64(o.EvidenceExpired), "evidence_expired")
		emit(float64(sn.Incidents.Evicted), "incident_evicted")
		if e := sn.Elastic; e != nil {
			emit(float64(e.SpoolDropped), "elasticsearch_spool_full")
		}
	}
}
