package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/capture"
	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/elastic"
	"github.com/mlads/mlads/internal/eve"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/input"
	"github.com/mlads/mlads/internal/notify"
	"github.com/mlads/mlads/internal/pipeline"
	"github.com/mlads/mlads/internal/rules"
	"github.com/mlads/mlads/internal/tail"
	"github.com/mlads/mlads/internal/throttle"
	"github.com/mlads/mlads/internal/zeek"
)

// Daemon is `mlads run`: it follows the configured logs, scores every flow
// read from them with the model (run.model) and writes the alert documents
// as JSON lines to the output and to the configured sinks, until its
// context ends. Without a model it writes the flows instead. Each file's
// format is told from its first line (input.DetectBytes): Suricata EVE,
// else Zeek conn.log (TSV by its headers, CSV, or JSON).
//
//	tail.Tailer ──Line──▶ per-file parser ──▶ pipeline.Online ──▶ alert.Fold (live) ──▶ JSON lines (run.output)
//	     ▲                      │            (behaviour + score)                   └─▶ other sinks
//	     │                      └──▶ flows as JSON lines (run.flows_output; run.output without a model)
//	     └───────── Commit: flush the sinks, fsync, then positions + output lengths
//
// Everything runs in the tailer's goroutine, so a commit sees exactly the
// lines handed over so far; a second goroutine only logs counters, and the
// metrics server (run.metrics_listen, run_metrics.go) only reads them: the
// atomics, and a snapshot of the rest that the tailer's goroutine publishes
// at a Tick. The interfaces of run.interfaces are captured on goroutines of
// their own, whose flows the tailer's goroutine takes in at every Tick
// (run_capture.go). When an
// output is a file, its committed length is saved with the positions and
// the output is cut back to it on start: a crash at any moment neither loses
// nor repeats what was committed (see package tail). The detectors' own
// state (host statistics, behavioural windows, evidence, open incidents) is
// committed with the positions, in a state file the checkpoint names by
// generation and SHA-256 (run_state.go): after a crash, the lines after the
// saved positions are scored as if the daemon had never stopped, so a scan
// that straddles the crash is still one scan.
//
// EVE netflow halves wait for their partner in one eve.Pairer shared by all
// the EVE files followed (a rotation may fall between two halves). The
// halves waiting at a commit, as their lines, and the Pairer's event-time
// clock are part of the checkpoint, and are put back into the Pairer on
// start before any line is read: the lines after the saved positions then
// pair as they would have without the crash. A half whose partner never
// comes is written one-sided once event time has moved a minute past it
// (eve.IdleTimeout), once no EVE line has come for a minute of wall-clock
// time (Tick), when 16,384 newer halves wait, or when the daemon stops. A pair split by a rotation merges, as the tailer reads files in
// the order they were written: the new files of one scan (several
// rotations while the daemon was down) oldest first by modification time.
// Only files whose times tie within the filesystem's timestamp granularity
// (a few ms) can be read out of order; a pair split between those comes
// out as two one-sided flows, or merged with its sides swapped.
type Daemon struct {
	reload  *Reload
	cfg     config.Run
	all     config.Config
	stdout  io.Writer
	log     *slog.Logger
	tailLog *slog.Logger

	// openCapture opens run.interfaces; nil is capture.Open. Tests open
	// them inside a network namespace.
	openCapture func(capture.Config) (*capture.Capture, error)
}

// NewDaemon returns the daemon for cfg. stdout is where output "-" goes.
func NewDaemon(cfg config.Config, stdout io.Writer, log *slog.Logger) *Daemon {
	return &Daemon{cfg: cfg.Run, all: cfg, stdout: stdout,
		log: log.With("component", "run"), tailLog: log.With("component", "tail")}
}

// SetReload makes the daemon take a new configuration on the signals of
// r (see Reload and hotKeys).
func (d *Daemon) SetReload(r Reload) { d.reload = &r }

// Run follows the inputs until ctx ends, then drains, flushes and saves the
// positions and returns nil; or returns the first output or positions
// error.
func (d *Daemon) Run(ctx context.Context) (err error) {
	if d.all.Kafka.Enabled() {
		return d.runKafka(ctx)
	}
	s := newRunSink(d.cfg, d.stdout, d.log)
	s.reload, s.running = d.reload, d.all
	if d.cfg.Model != "" {
		if err := d.detect(ctx, s); err != nil {
			return fmt.Errorf("run: %w", err)
		}
		// the sinks are closed after the tailer's last commit flushed them
		defer func() {
			if cerr := s.model.closeSinks(); err == nil && cerr != nil {
				err = fmt.Errorf("run: %w", cerr)
			}
		}()
	} else {
		d.log.Warn("no model (run.model): not detecting; the flows read are written to run.output", "output", d.cfg.Output)
	}
	reg := prometheus.NewRegistry()
	stopMetrics, err := d.serveMetrics(ctx, reg, s)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	defer stopMetrics()
	var live *liveFlows
	if len(d.cfg.Interfaces) > 0 {
		if live, err = openLive(d.all, d.log, d.openCapture); err != nil {
			return fmt.Errorf("run: %w", err)
		}
		s.live = live
	}
	t, err := tail.New(tail.Config{
		NoInputsOK:     live != nil,
		Inputs:         d.cfg.Inputs,
		Positions:      d.cfg.Positions,
		MaxLineBytes:   d.cfg.MaxLineBytes,
		PollInterval:   d.cfg.PollInterval,
		CommitInterval: d.cfg.CommitInterval,
		StartAtEnd:     d.cfg.StartAt == config.StartAtEnd,
		Logger:         d.tailLog,
	}, s.open)
	if err != nil {
		if live != nil {
			live.c.Close()
		}
		return fmt.Errorf("run: %w", err)
	}
	if live != nil {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		live.start(ctx, cancel)
		defer func() {
			cancel(nil)
			live.stop()
			if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
				err = fmt.Errorf("run: %w", cause)
			}
		}()
	}
	s.inputs = func() int { return int(t.Stats().Files) }
	registerMetrics(reg, t, s)
	defer func() {
		if cerr := s.close(); err == nil && cerr != nil {
			err = fmt.Errorf("run: %w", cerr)
		}
	}()
	d.log.Info("following", "inputs", d.cfg.Inputs, "interfaces", d.cfg.Interfaces, "output", d.cfg.Output, "flows_output", d.cfg.FlowsOutput,
		"positions", d.cfg.Positions, "model", d.cfg.Model)

	var wg sync.WaitGroup
	statsDone := make(chan struct{})
	if d.cfg.StatsInterval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(d.cfg.StatsInterval)
			defer tick.Stop()
			for {
				select {
				case <-statsDone:
					return
				case <-tick.C:
					d.logStats("stats", t, s)
				}
			}
		}()
	}
	err = t.Run(ctx)
	close(statsDone)
	wg.Wait()
	d.logStats("stopped", t, s)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}

// detect loads the model and sets s up to score: the online pipeline,
// writing alerts to run.output through the live incident fold.
func (d *Daemon) detect(ctx context.Context, s *runSink) error {
	t0 := time.Now()
	stamp, _ := stampModel(d.cfg.Model) // before reading: a model written meanwhile is seen as new
	m, err := detect.ReadFile(d.cfg.Model)
	if err != nil {
		return err
	}
	observer := d.cfg.Observer
	if observer == "" {
		observer, _ = os.Hostname()
	}
	rs, err := LoadRules(d.all)
	if err != nil {
		return err
	}
	sinks, closeSinks, err := OutputSinks(d.all, d.log)
	if err != nil {
		return err
	}
	var health healthWriter
	var notifier notifyStats
	var es elasticStats
	for _, sk := range sinks {
		if h, ok := sk.(healthWriter); ok {
			health = h
		}
		if n, ok := sk.(notifyStats); ok {
			notifier = n
		}
		if e, ok := sk.(elasticStats); ok {
			es = e
		}
	}
	s.modelStamp = stamp
	s.model = &runModel{
		m: m, dc: DetectConfig(d.all.Detect), bcfg: d.all.Detect.Behavior,
		observer: observer, ctx: context.WithoutCancel(ctx), sinks: sinks, closeSinks: closeSinks, health: health, notifier: notifier, rules: rs, rulePaths: d.all.Rules.Paths,
		elastic: es, byRule: &ruleCounts{},
	}
	if fi, err := os.Stat(d.cfg.Model); err == nil {
		s.model.modelTime = fi.ModTime()
	}
	s.model.minP = m.MinPValue()
	d.log.Info("model loaded", "model", d.cfg.Model, "load_time", time.Since(t0).Round(time.Millisecond),
		"groups", len(m.Nodes), "alpha", m.Alpha, "known_behaviors", len(m.KnownBehaviors), "observer", observer)
	logLimit(d.log, "run", m)
	return nil
}

func (d *Daemon) logStats(msg string, t *tail.Tailer, s *runSink) {
	st := t.Stats()
	d.log.Info(msg, "files", st.Files, "lines", st.Lines, "bytes", st.Bytes,
		"flows", s.flows.Load(), "alerts", s.alerts.Load(), "bad_lines", s.bad.Load(), "skipped_lines", s.skipped.Load(),
		"netflow_halves_waiting", s.waiting.Load(),
		"long_lines", st.LongLines, "rotations", st.Rotations, "truncations", st.Truncations,
		"lost_truncations", st.LostTruncations, "commits", st.Commits,
		"state_bytes", s.stateBytes.Load(), "state_write_time", time.Duration(s.stateNanos.Load()).Round(time.Microsecond))
	if s.live != nil {
		cs, stalls := s.live.Stats()
		for _, i := range cs.Interfaces {
			d.log.Info(msg, "interface", i.Name, "engine", i.Engine, "sockets", i.Sockets, "received", i.Received,
				"flows", i.Flows, "active", i.Active, "packets", i.Packets, "decode_errors", i.DecodeErrs,
				"kernel_drops", i.KernelDrops, "ring_drops", i.RingDrops, "ring_freezes", i.RingFreezes,
				"evicted", i.Evicted, "queue_stalls", stalls)
		}
	}
}

// checkpoint is what the daemon commits with the positions: the length of
// each output file (none for stdout), and the EVE netflow halves waiting
// for their partner (absent before any netflow was read, and in the
// checkpoints of versions that did not save them). Output is run.output
// (alerts, or flows without a model); Flows is run.flows_output.
type checkpoint struct {
	Output      string          `json:"output"`
	Offset      int64           `json:"offset"`
	Flows       string          `json:"flows_output,omitempty"`
	FlowsOffset int64           `json:"flows_offset,omitempty"`
	Netflow     eve.PairerState `json:"netflow,omitzero"`
	State       *stateRef       `json:"state,omitempty"`
}

// lineParser turns one log line into a record: zeek.Parser (TSV and JSON)
// or eve.Parser.
type lineParser interface {
	ParseLine(line []byte, r *flow.Record) (ok bool, err error)
	SetLineNumber(n int64)
}

// runFile is the sink's state for one followed file.
type runFile struct {
	p    lineParser
	eve  bool // p is an eve.Parser of the sink's Pairer
	skip bool // not a conn log or a capture: lines counted, not parsed
}

// runSink parses lines, scores their flows when there is a model, and
// writes alerts and flows; it is the tailer's tail.Sink.
type runSink struct {
	cfg    config.Run
	stdout io.Writer
	log    *slog.Logger

	model *runModel // nil: no detection, flows go to run.output

	out      *outFile      // run.output
	flowsOut *outFile      // where flows go: run.output without a model, else run.flows_output (nil when unset)
	flowsW   *bufio.Writer // buffer in front of flowsOut
	rec      flow.Record
	buf      []byte

	pairer *eve.Pairer // netflow halves of all EVE files, committed with the positions
	live   *liveFlows  // the flows of run.interfaces; nil: none

	eveLines      int64     // EVE lines handed over, for Tick
	eveLinesSeen  int64     // eveLines at the last Tick that saw it change
	eveQuietSince time.Time // when that was

	newest     time.Time  // end of the newest flow read, for the health report's lag
	nextHealth time.Time  // when the next health report is due
	inputs     func() int // files followed now (the tailer's), for the health report

	state      *stateRef    // the detector state in the last checkpoint; nil before the first
	stateGen   uint64       // its generation
	stateFlows int64        // flows when it was written
	stateBuf   bytes.Buffer // the snapshot, reused

	flows, alerts, bad, skipped atomic.Int64
	stateBytes, stateNanos      atomic.Int64 // size of the last state written and the time it took

	reload            *Reload       // SIGHUP; nil: none
	running           config.Config // the configuration in force (hot keys applied)
	modelStamp        modelStamp    // of the model file loaded
	nextModelLook     time.Time
	nextCheckpoint    time.Time        // of the model
	checkpointUpdates uint64           // online updates in the last model checkpoint
	waiting           atomic.Int64     // netflow halves in the last checkpoint
	badWarn           throttle.Counter // bad lines are reported at most every 10 s

	// for the metrics and /healthz (run_metrics.go)
	snap      atomic.Pointer[runSnapshot] // the loop-owned counters, published by heartbeat
	beat      atomic.Int64                // wall time of the loop's last pass, Unix ns; 0: none yet
	published time.Time                   // when snap was last published
}

// runModel is the daemon's detection: the online pipeline and where its
// alerts go, set up by open.
type runModel struct {
	m        *detect.Model   // the model: a consumer group makes a detector of it per partition
	dc       detect.Config   // and the settings of those detectors
	bcfg     behavior.Config // the behavioural detectors' settings
	observer string
	ctx      context.Context // for the sinks: not cancelled at shutdown, so the last commit completes

	online     *pipeline.Online
	sinks      []alert.Sink // besides run.output (Elasticsearch, contacts), each wrapped as it needs
	closeSinks func() error
	health     healthWriter // the sink that takes health reports; nil: none
	notifier   notifyStats  // the contacts' sink, for the health reports; nil: none
	rules      *rules.Set   // marks the alerts before the sinks see them; nil: none
	rulePaths  []string     // rules.paths, watched for changes
	watch      *rules.Watcher

	// for the metrics and /healthz
	modelTime time.Time      // the model file's modification time
	minP      float64        // m.MinPValue(), for /metrics
	elastic   elasticStats   // the Elasticsearch sink; nil: none
	fold      *alert.Fold    // the incident fold, set by open
	byRule    *ruleCounts    // alert documents by rule.name
	watched   []*watchedSink // every alert sink, run.output first, set by open
}

// newRunSink returns the sink for cfg; open must be called before use.
func newRunSink(cfg config.Run, stdout io.Writer, log *slog.Logger) *runSink {
	return &runSink{cfg: cfg, stdout: stdout, log: log, pairer: eve.NewPairer(), badWarn: throttle.Counter{Interval: 10 * time.Second}}
}

// open puts the committed netflow halves back into the Pairer, opens the
// outputs and cuts them back to their committed lengths.
func (s *runSink) open(cp []byte) (tail.Sink, error) {
	var c checkpoint
	if len(cp) > 0 {
		if err := json.Unmarshal(cp, &c); err != nil {
			return nil, fmt.Errorf("positions file %s: checkpoint %.200s: %w", s.cfg.Positions, cp, err)
		}
	}
	if err := s.pairer.Restore(c.Netflow); err != nil {
		return nil, fmt.Errorf("positions file %s: checkpoint: netflow halves: %w", s.cfg.Positions, err)
	}
	if n := s.pairer.Pending(); n > 0 {
		s.log.Info("EVE netflow halves waiting for their partner restored from the positions file", "halves", n)
	}
	var err error
	if s.out, err = openOut(s.cfg.Output, s.stdout, c.Output, c.Offset, s.log); err != nil {
		return nil, err
	}
	switch {
	case s.model == nil:
		s.flowsOut = s.out
	case s.cfg.FlowsOutput != "":
		if s.flowsOut, err = openOut(s.cfg.FlowsOutput, s.stdout, c.Flows, c.FlowsOffset, s.log); err != nil {
			return nil, errors.Join(err, s.out.close())
		}
	}
	if s.flowsOut != nil {
		s.flowsW = bufio.NewWriterSize(s.flowsOut, 256<<10)
	}
	if m := s.model; m != nil {
		m.watched = []*watchedSink{{Sink: alert.NewJSONLines(s.out, s.cfg.Output, s.out.Sync), name: "jsonlines"}}
		for _, sk := range m.sinks {
			m.watched = append(m.watched, &watchedSink{Sink: sk, name: sinkName(sk)})
		}
		if m.rules != nil {
			// rule files are read again when they change; a bad new set is
			// refused, logged, and the last good one stays in force
			m.watch = rules.NewWatcher(m.rules, m.rulePaths, func(err error) { s.log.Error("rules not reloaded; the last good set stays in force", "err", err) })
		}
		s.newOnline()
		if c.State != nil {
			s.restoreState(c.State)
		}
	}
	return s, nil
}

// newOnline builds the detection pipeline afresh, from the model alone:
// the behavioural engine and the detector, and the sink chain in front of
// the outputs with its live incident fold.
func (s *runSink) newOnline() {
	m := s.model
	var sink alert.Sink = m.watched[0]
	if len(m.watched) > 1 {
		fan := make(alert.Fanout, len(m.watched))
		for i, w := range m.watched {
			fan[i] = w
		}
		sink = fan
	}
	m.fold = alert.NewFold(sink, time.Hour, 0, true)
	sink = WatchDrops(m.fold, m.sinks, m.observer, s.live.interfaceDrops()...)
	if m.watch != nil {
		sink = &rules.Mark{Rules: m.rules, Watch: m.watch, Next: sink}
	}
	eng := behavior.New(m.bcfg)
	eng.SetKnown(m.m.KnownBehaviors)
	m.online = pipeline.NewOnline(pipeline.NewDetector(m.m, m.dc), eng, pipeline.NewAlerter(countAlerts{sink, &s.alerts, m.byRule}, m.observer))
	m.online.SetFold(m.fold)
}

// countAlerts counts the alert documents (not incident updates) that
// reach the sinks, in all and, unless byRule is nil, by rule.name.
type countAlerts struct {
	alert.Sink
	n      *atomic.Int64
	byRule *ruleCounts
}

func (c countAlerts) Write(ctx context.Context, docs []*alert.Alert) (bool, error) {
	for _, d := range docs {
		if !d.IsIncident() {
			c.n.Add(1)
			if c.byRule != nil {
				c.byRule.add(d.Rule.Name)
			}
		}
	}
	return c.Sink.Write(ctx, docs)
}

func (s *runSink) close() error {
	var err error
	if s.flowsOut != s.out {
		err = s.flowsOut.close()
	}
	return errors.Join(err, s.out.close())
}

// Line parses one line and writes its flow, if any. Bad lines are counted
// and reported (throttled); they never stop the daemon.
func (s *runSink) Line(l *tail.Line) error {
	rf, _ := l.File.Value.(*runFile)
	if rf == nil {
		rf = s.newFile(l)
		l.File.Value = rf
	}
	if rf.skip {
		if !l.Replay {
			s.skipped.Add(1)
		}
		return nil
	}
	rf.p.SetLineNumber(l.Num - 1)
	ok, err := rf.p.ParseLine(l.Bytes, &s.rec)
	if err != nil {
		if errors.Is(err, zeek.ErrNotConnLog) {
			rf.skip = true
			s.log.Warn("not a conn log; its lines are skipped", "path", l.File.Path, "err", err)
			return nil
		}
		if !l.Replay {
			s.bad.Add(1)
			s.warnBad(err)
		}
		return nil
	}
	if ok && !l.Replay {
		if err := s.write(&s.rec); err != nil {
			return err
		}
	}
	if rf.eve {
		s.eveLines++
		return s.pairer.FlushIdle(s.write)
	}
	return nil
}

// write takes one flow: it is scored when there is a model, and written
// as a JSON line when flows are written.
func (s *runSink) write(r *flow.Record) error {
	s.flows.Add(1)
	if end := r.End(); end.After(s.newest) {
		s.newest = end
	}
	if s.model != nil {
		if err := s.model.online.Flow(s.model.ctx, r); err != nil {
			return fmt.Errorf("alerts: %w", err)
		}
	}
	if s.flowsW == nil {
		return nil
	}
	s.buf = flow.AppendJSON(s.buf[:0], r)
	s.buf = append(s.buf, '\n')
	_, err := s.flowsW.Write(s.buf)
	return err
}

// Drain writes the EVE netflow halves still waiting for their partner, each
// as a one-sided flow, when the daemon stops (tail.Drainer), and a last
// health report with the final counts; the last commit flushes both.
func (s *runSink) Drain() error {
	if s.live != nil {
		// the capture flushes its open flows when the context ends
		if err := s.live.drain(s.write); err != nil {
			return err
		}
	}
	if err := s.pairer.Flush(s.write); err != nil {
		return err
	}
	s.checkpointModel(time.Now(), true)
	if s.model != nil && s.model.health != nil && s.cfg.HealthInterval > 0 {
		return s.writeHealth(time.Now())
	}
	return nil
}

// Tick writes out the netflow halves still waiting, one-sided, once no EVE
// line has come for eve.IdleTimeout of wall-clock time (tail.Ticker).
// Suricata writes both halves of a flow together, so after a quiet minute
// none of them has a partner coming; event time alone, which only moves
// with new halves, would hold them until traffic resumes.
func (s *runSink) Tick(now time.Time) (wrote bool, err error) {
	s.heartbeat(now)
	s.hangup()
	s.watchModel(now)
	s.checkpointModel(now, false)
	if s.live != nil {
		if wrote, err = s.live.take(s.write); err != nil {
			return wrote, err
		}
	}
	if s.model != nil && s.model.health != nil && s.cfg.HealthInterval > 0 && !now.Before(s.nextHealth) {
		s.nextHealth = now.Add(s.cfg.HealthInterval)
		if err := s.writeHealth(now); err != nil {
			return false, err
		}
		wrote = true // the next commit flushes it
	}
	if s.eveLines != s.eveLinesSeen || s.eveQuietSince.IsZero() {
		s.eveLinesSeen, s.eveQuietSince = s.eveLines, now
		return wrote, nil
	}
	if s.pairer.Pending() == 0 || now.Sub(s.eveQuietSince) <= eve.IdleTimeout {
		return wrote, nil
	}
	before := s.flows.Load()
	err = s.pairer.Flush(s.write)
	return wrote || s.flows.Load() > before, err
}

// healthWriter is a sink that takes sensor-health reports
// (elastic.Sink).
type healthWriter interface {
	WriteHealth(ctx context.Context, h elastic.Health) (bool, error)
}

// notifyStats is the contacts' sink (notify.Notifier), whose failing
// channels and pending messages go into the health reports.
type notifyStats interface {
	Stats() notify.Stats
}

// writeHealth sends a sensor-health report: inputs, lag behind the newest
// flow, flows, bad lines, what the limits dropped and alerts made, and
// each captured interface's packets, drops and decode errors; the sink
// adds its own output errors and spool.
func (s *runSink) writeHealth(now time.Time) error {
	m := s.model
	st := m.online.Stats()
	h := elastic.Health{
		Time: now, Observer: m.observer,
		Flows: uint64(s.flows.Load()), BadLines: uint64(s.bad.Load()), Alerts: uint64(s.alerts.Load()),
		Drops: st.Scorer.HostsEvicted + st.Behavior.HostDrops + st.Behavior.VictimDrops + st.Behavior.PairDrops + st.EvidenceExpired,
	}
	if s.inputs != nil {
		h.Inputs = s.inputs()
	}
	if s.live != nil {
		// interfaces count as inputs; packets the kernel or a full ring
		// dropped count with what the limits dropped
		cs, _ := s.live.Stats()
		t := cs.Total()
		h.Inputs += len(cs.Interfaces)
		h.Drops += t.KernelDrops + t.RingDrops
		h.Capture = captureHealth(cs)
	}
	if !s.newest.IsZero() {
		h.LagSeconds = max(0, now.Sub(s.newest).Seconds())
	}
	if m.notifier != nil {
		ns := m.notifier.Stats()
		h.NotifyPending = ns.Pending
		for ch := range ns.ChannelsFailing {
			h.ChannelsFailing = append(h.ChannelsFailing, ch)
		}
		slices.Sort(h.ChannelsFailing)
	}
	if _, err := m.health.WriteHealth(m.ctx, h); err != nil {
		return fmt.Errorf("health report: %w", err)
	}
	return nil
}

// newFile picks the parser for a file from its first line, with
// input.DetectBytes: EVE, or Zeek (TSV, CSV or JSON; also the fallback, so
// that a file nobody recognises gets its bad lines reported). Captures are
// not followed.
func (s *runSink) newFile(l *tail.Line) *runFile {
	switch f := input.DetectBytes(l.Bytes); f {
	case input.EVE:
		return &runFile{p: s.pairer.NewParser(l.File.Path), eve: true}
	case input.Pcap, input.Pcapng:
		s.log.Warn("a capture matches the inputs; captures are read by `mlads flows`, not followed", "path", l.File.Path, "format", f)
		return &runFile{skip: true}
	}
	return &runFile{p: zeek.NewParser(l.File.Path)}
}

// warnBad reports a bad line at most every 10 s, with how many were not
// reported since.
func (s *runSink) warnBad(err error) {
	if n, due := s.badWarn.Due(time.Now()); due {
		s.log.Warn("bad line skipped", "err", err, "bad_lines_since_last_warning", n, "bad_lines", s.bad.Load())
	}
}

// Commit flushes the alert sinks (everything handed to them is then
// durable), flushes and syncs the flows output, and returns the outputs'
// lengths with the netflow halves waiting.
func (s *runSink) Commit() ([]byte, error) {
	if s.model != nil {
		if err := s.model.online.Flush(s.model.ctx); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
	}
	if s.flowsW != nil {
		if err := s.flowsW.Flush(); err != nil {
			return nil, err
		}
		if err := s.flowsOut.Sync(); err != nil {
			return nil, err
		}
	}
	c := checkpoint{Netflow: s.pairer.State()}
	if s.model != nil {
		// a state that cannot be saved is no reason to stop reading: this
		// commit names none, so a restart from it detects from the model
		// alone (and says so), and the next commit tries again
		ref, err := s.saveState()
		if err != nil {
			s.state = nil
			s.log.Error("detector state not saved; a restart from this commit detects from the model alone", "err", err)
		}
		c.State = ref
	}
	s.waiting.Store(int64(len(c.Netflow.Held)))
	c.Output, c.Offset = s.out.committed()
	if s.flowsOut != s.out {
		c.Flows, c.FlowsOffset = s.flowsOut.committed()
	}
	if c.Output == "" && c.Flows == "" && c.Netflow.IsZero() && c.State == nil {
		return nil, nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return b, nil
}
