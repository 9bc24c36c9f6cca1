package app

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/kafka"
	"github.com/mlads/mlads/internal/pipeline"
	"github.com/mlads/mlads/internal/rules"
)

// runKafka is `mlads run` as a member of a consumer group on Kafka
// (kafka.* set): run.inputs are not followed.
//
//	input topics ──▶ kafka.Rekey ──▶ <group>.flows ──▶ kafka.Detect ──▶ per partition: pipeline.Online
//	(Zeek JSON, EVE)  (parse, key by      (keyed by        (owns partitions,      ──▶ alert.Fold ──▶ JSON lines (run.output)
//	                   orig host; txn)     orig host)        state in <group>.state)                └─▶ other sinks
//
// The two stages run on two goroutines, each with its own transactional
// session; the first error stops both. The JSON-lines output is appended to
// (the offsets that say what was written are Kafka's, not a positions
// file).
func (d *Daemon) runKafka(ctx context.Context) (err error) {
	k := d.all.Kafka
	s := newRunSink(d.cfg, d.stdout, d.log)
	if err := d.detect(ctx, s); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	m := s.model
	defer func() {
		if cerr := m.closeSinks(); err == nil && cerr != nil {
			err = fmt.Errorf("run: %w", cerr)
		}
	}()
	out, err := openOut(d.cfg.Output, d.stdout, "", 0, d.log)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if err := out.cutPartialLine(d.log); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	defer func() {
		if cerr := out.close(); err == nil && cerr != nil {
			err = fmt.Errorf("run: %w", cerr)
		}
	}()
	var base alert.Sink = alert.NewJSONLines(out, d.cfg.Output, out.Sync)
	if len(m.sinks) > 0 {
		base = append(alert.Fanout{base}, m.sinks...)
	}
	var watch *rules.Watcher
	if m.rules != nil {
		watch = rules.NewWatcher(m.rules, m.rulePaths, func(err error) { d.log.Error("rules not reloaded; the last good set stays in force", "err", err) })
	}
	var alerts atomic.Int64
	byRule := &ruleCounts{}
	// the model every partition scores with; watchKafkaModel puts a new
	// one here when run.model changes, and each partition switches to it
	// at its next flow
	var current atomic.Pointer[detect.Model]
	current.Store(m.m)
	newPartition := func(kind kafka.Kind, p int32, snap []byte) (kafka.Partition, error) {
		eng := behavior.New(d.all.Detect.Behavior)
		eng.SetKnown(m.m.KnownBehaviors)
		fold := alert.NewFold(base, time.Hour, 0, true)
		var sink alert.Sink = fold
		if m.rules != nil {
			sink = &rules.Mark{Rules: m.rules, Watch: watch, Next: sink}
		}
		sink = countAlerts{sink, &alerts, byRule}
		if kind == kafka.Victims {
			vp := &victimPartition{eng: eng, fold: fold, al: pipeline.NewAlerter(sink, m.observer)}
			if snap != nil {
				if err := vp.restore(snap); err != nil {
					return nil, err
				}
			}
			return vp, nil
		}
		// the per-victim findings are made in the victims partitions,
		// which see every flow of a victim
		sink = dropDetector{sink, behavior.SYNFlood}
		model := current.Load()
		on := pipeline.NewOnline(pipeline.NewDetector(model, m.dc), eng, pipeline.NewAlerter(sink, m.observer))
		on.SetFold(fold)
		if snap != nil {
			if err := on.Restore(bytes.NewReader(snap)); err != nil {
				return nil, err
			}
		}
		return &kafkaPartition{on: on, current: &current, model: model, dc: m.dc}, nil
	}

	opts, err := kafkaOptions(d, os.Getenv)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	d.log.Info("consuming Kafka", "brokers", k.Brokers, "topics", k.Topics, "group", k.Group,
		"flows_topic", kafka.FlowsTopic(k.Group), "state_topic", kafka.StateTopic(k.Group), "output", d.cfg.Output, "model", d.cfg.Model)
	if len(d.cfg.Inputs) > 0 {
		d.log.Info("run.inputs are not followed while kafka.* is set", "inputs", d.cfg.Inputs)
	}
	if err := kafka.EnsureTopics(ctx, opts); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("run: %w", err)
	}

	stats := &kafka.Stats{}
	stopMetrics, err := d.serveKafkaMetrics(ctx, stats, &alerts, byRule, m.notifier)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	defer stopMetrics()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, stage := range []interface{ Run(context.Context) error }{kafka.NewRekey(opts, stats), kafka.NewDetect(opts, stats, newPartition)} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = stage.Run(ctx); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.watchKafkaModel(ctx, &current)
	}()
	if d.cfg.StatsInterval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(d.cfg.StatsInterval)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					d.logKafkaStats("stats", stats, &alerts)
				}
			}
		}()
	}
	wg.Wait()
	d.logKafkaStats("stopped", stats, &alerts)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}

// watchKafkaModel looks at run.model every modelLookEvery until ctx ends,
// and puts a new model file, once it loads, in current. A file that does
// not load is reported once per change; the running model stays.
func (d *Daemon) watchKafkaModel(ctx context.Context, current *atomic.Pointer[detect.Model]) {
	stamp, _ := stampModel(d.cfg.Model)
	tick := time.NewTicker(modelLookEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		st, err := stampModel(d.cfg.Model)
		if err != nil || st == stamp {
			continue
		}
		stamp = st
		nm, err := detect.ReadFile(d.cfg.Model)
		if err != nil {
			d.log.Error("new model file not loaded; the running model stays in force", "err", err)
			continue
		}
		current.Store(nm)
		d.log.Info("model switched; each partition takes it at its next flow, keeping its state", "model", d.cfg.Model,
			"groups", len(nm.Nodes), "alpha", nm.Alpha)
	}
}

func (d *Daemon) logKafkaStats(msg string, st *kafka.Stats, alerts *atomic.Int64) {
	args := []any{"records", st.Records.Load(), "flows", st.Flows.Load(), "bad_records", st.BadRecords.Load(),
		"skipped_records", st.Skipped.Load(), "scored", st.Scored.Load(), "alerts", alerts.Load(),
		"partitions", st.Partitions.Load(), "restores", st.Restores.Load(), "state_bytes", st.StateBytes.Load(),
		"aborted", st.Aborted.Load()}
	if t := st.BrokerDown(); !t.IsZero() {
		args = append(args, "broker_down_since", t.Format(time.RFC3339))
	}
	d.log.Info(msg, args...)
}

// kafkaPartition is the detector of one partition of the flows topic. It
// switches to the model in current when that changes, keeping its state
// (pipeline.Online.SetModel).
type kafkaPartition struct {
	on      *pipeline.Online
	current *atomic.Pointer[detect.Model] // the member's model now
	model   *detect.Model                 // the one on scores with
	dc      detect.Config
}

func (p *kafkaPartition) Flow(ctx context.Context, r *flow.Record) error {
	if nm := p.current.Load(); nm != p.model {
		if err := p.on.SetModel(nm, p.dc); err != nil {
			return err
		}
		p.model = nm
	}
	return p.on.Flow(ctx, r)
}

func (p *kafkaPartition) Flush(ctx context.Context) error { return p.on.Flush(ctx) }

func (p *kafkaPartition) Snapshot() ([]byte, error) {
	var b bytes.Buffer
	if err := p.on.Snapshot(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// victimPartition is the detector of one partition of the victims topic:
// the behavioural engine, of which only the per-victim findings
// (syn_flood) alert, and their incidents. It scores no flow: the hosts
// partitions do.
type victimPartition struct {
	eng  *behavior.Engine
	fold *alert.Fold
	al   *pipeline.Alerter
}

// victimState is a victims partition's snapshot.
type victimState struct {
	Version           int
	Engine, Incidents []byte
}

func (p *victimPartition) Snapshot() ([]byte, error) {
	s := victimState{Version: 1}
	var err error
	if s.Engine, err = p.eng.MarshalState(); err != nil {
		return nil, err
	}
	if s.Incidents, err = p.fold.MarshalState(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(&s); err != nil {
		return nil, fmt.Errorf("victims state: %w", err)
	}
	return b.Bytes(), nil
}

func (p *victimPartition) restore(snap []byte) error {
	var s victimState
	if err := gob.NewDecoder(bytes.NewReader(snap)).Decode(&s); err != nil {
		return fmt.Errorf("victims state: %w", err)
	}
	if s.Version != 1 {
		return fmt.Errorf("victims state: version %d, this build reads 1", s.Version)
	}
	if err := p.eng.RestoreState(s.Engine); err != nil {
		return err
	}
	return p.fold.RestoreState(s.Incidents)
}

func (p *victimPartition) Flow(ctx context.Context, r *flow.Record) error {
	fs := p.eng.Observe(r)
	for i := range fs {
		if fs[i].Detector != behavior.SYNFlood {
			continue
		}
		if err := p.al.Finding(ctx, &fs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (p *victimPartition) Flush(ctx context.Context) error { return p.al.Flush(ctx) }

// dropDetector leaves out the alerts of one detector (rule.name).
type dropDetector struct {
	alert.Sink
	detector string
}

func (s dropDetector) Write(ctx context.Context, docs []*alert.Alert) (bool, error) {
	keep := docs[:0:0]
	for _, d := range docs {
		if d.Rule.Name != s.detector {
			keep = append(keep, d)
		}
	}
	return s.Sink.Write(ctx, keep)
}

// kafkaOptions builds the group's options from kafka.*; getenv reads the
// SASL password from the variable kafka.sasl.password_env names.
func kafkaOptions(d *Daemon, getenv func(string) string) (*kafka.Options, error) {
	k := d.all.Kafka
	host, _ := os.Hostname()
	o := &kafka.Options{
		Brokers: k.Brokers, Topics: k.Topics, Group: k.Group,
		Partitions: k.Partitions, Replication: k.Replication,
		Mechanism: k.SASL.Mechanism, Username: k.SASL.Username,
		ClientID: "mlads-" + host + "-" + strconv.Itoa(os.Getpid()),
		Logger:   d.log.With("component", "kafka"),
		Victim:   behavior.FloodVictim,

		CommitInterval: d.cfg.CommitInterval,
	}
	if k.SASL.Mechanism != "" {
		if o.Password = getenv(k.SASL.PasswordEnv); o.Password == "" {
			return nil, fmt.Errorf("kafka.sasl.mechanism is set but $%s (kafka.sasl.password_env) is empty", k.SASL.PasswordEnv)
		}
	}
	if k.TLS.Enabled {
		c, err := kafka.TLSConfig(k.TLS.CAFile, k.TLS.CertFile, k.TLS.KeyFile)
		if err != nil {
			return nil, err
		}
		o.TLS = c
	}
	return o, nil
}
