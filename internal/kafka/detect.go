package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mlads/mlads/internal/flow"
)

// Partition is the detector of one partition of the flows topic (in
// mlads, a pipeline.Online with its own sinks' incident fold), owned by one
// process at a time.
type Partition interface {
	// Flow scores one flow; r is read, not kept.
	Flow(ctx context.Context, r *flow.Record) error
	// Flush writes out the alerts gathered and flushes the sinks: after
	// it, every alert of the flows handed over is durable downstream.
	Flush(ctx context.Context) error
	// Snapshot returns the detector's state, to be restored where the
	// partition goes next; nil when it keeps none.
	Snapshot() ([]byte, error)
}

// Kind tells the two keyed topics apart.
type Kind uint8

// Kinds of partition.
const (
	// Hosts partitions hold flows keyed by originator: the per-flow
	// scorer and the per-host behaviours (scans, beacons, long
	// connections, fan-out, volume, new destinations).
	Hosts Kind = iota
	// Victims partitions hold flows keyed by flood victim: the per-victim
	// behaviours (syn_flood).
	Victims
)

func (k Kind) String() string {
	if k == Victims {
		return "victims"
	}
	return "hosts"
}

// NewPartition makes the detector of partition p of a keyed topic from its
// last committed snapshot (nil: none, start from the model).
type NewPartition func(kind Kind, p int32, snapshot []byte) (Partition, error)

// tp names a partition of one of the keyed topics.
type tp struct {
	kind Kind
	p    int32
}

// Detect is stage 2: it owns partitions of the flows topic in the group
// <group>.detect, one Partition each, and scores their flows. Each poll is
// one transaction that holds, with the group's offsets, the snapshot of
// every partition it touched (to <group>.state, compacted, keyed by
// partition) and an audit record of the offsets scored. When a partition
// comes to this process, its detector starts from the snapshot committed
// with the offsets it resumes from, so its state moves with it, as in
// Kafka Streams. Alerts are flushed to the sinks before the commit; a
// transaction that aborts after that is scored again, and its alerts come
// again with the same content-derived _id (Elasticsearch keeps one).
type Detect struct {
	opts  *Options
	stats *Stats
	log   *slog.Logger
	newP  NewPartition

	mu      sync.Mutex
	revoked map[tp]bool // partitions taken away since the loop last looked
}

// NewDetect returns stage 2, making each partition's detector with newP.
func NewDetect(o *Options, stats *Stats, newP NewPartition) *Detect {
	return &Detect{opts: o, stats: stats, log: o.Logger.With("stage", "detect"), newP: newP, revoked: map[tp]bool{}}
}

// Run consumes until ctx ends; see Rekey.Run for how a failed session is
// made again.
func (d *Detect) Run(ctx context.Context) error {
	return runSessions(ctx, d.log, d.stats, d.session)
}

func (d *Detect) onRevoked(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range m[d.opts.flowsTopic()] {
		d.revoked[tp{Hosts, p}] = true
	}
	for _, p := range m[d.opts.victimsTopic()] {
		d.revoked[tp{Victims, p}] = true
	}
}

// takeRevoked returns the partitions revoked or lost since the last call.
func (d *Detect) takeRevoked() []tp {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ps []tp
	for p := range d.revoked {
		ps = append(ps, p)
		delete(d.revoked, p)
	}
	return ps
}

// owned is a partition's detector and what the current transaction did
// with it.
type owned struct {
	det         Partition
	first, last int64 // offsets scored in this transaction; first < 0: none
	n           int64
}

func (d *Detect) session(ctx context.Context) error {
	base, err := d.opts.clientOpts()
	if err != nil {
		return err
	}
	group := d.opts.Group + ".detect"
	sess, err := kgo.NewGroupTransactSession(append(base,
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(d.topics()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.TransactionalID(transactionalID(d.opts.Group, "detect", d.opts.ClientID)),
		kgo.RecordPartitioner(partitioner()),
		kgo.OnPartitionsRevoked(d.onRevoked),
		kgo.OnPartitionsLost(d.onRevoked),
		kgo.WithHooks(newBrokerHealth(d.stats, d.log)),
		kgo.WithLogger(slogger{d.log}),
	)...)
	if err != nil {
		return fmt.Errorf("kafka: detect: %w", err)
	}
	defer sess.Close()
	st, err := newStateReader(d.opts, base)
	if err != nil {
		return err
	}
	defer st.close()

	parts := map[tp]*owned{}
	defer d.stats.Partitions.Store(0)
	dec := NewDecoder()
	var (
		rec    flow.Record
		out    []kgo.Record
		failed error
	)
	// a transaction begun goes to its end even when ctx ends meanwhile:
	// only the poll stops at ctx
	work := context.WithoutCancel(ctx)
	// ensure returns the detector of a fetched partition, made from its
	// committed snapshot when the partition is new here
	ensure := func(ftp kgo.FetchTopicPartition) (*owned, error) {
		key := tp{Hosts, ftp.Partition}
		if ftp.Topic == d.opts.victimsTopic() {
			key.kind = Victims
		}
		if o := parts[key]; o != nil {
			return o, nil
		}
		snap, err := st.read(work, key)
		if err != nil {
			return nil, err
		}
		det, err := d.newP(key.kind, key.p, snap)
		if err != nil {
			return nil, &fatalError{fmt.Errorf("kafka: detect: %s partition %d: %w", key.kind, key.p, err)}
		}
		if snap != nil {
			d.stats.Restores.Add(1)
		}
		d.log.Info("partition assigned", "topic", ftp.Topic, "partition", ftp.Partition, "state_bytes", len(snap), "from_offset", ftp.Records[0].Offset)
		o := &owned{det: det, first: -1}
		parts[key] = o
		return o, nil
	}
	for {
		fs := sess.PollFetches(ctx)
		for _, p := range d.takeRevoked() {
			delete(parts, p)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err := fetchErrors(fs, d.log, d.stats); err != nil {
			return err
		}
		if fs.Empty() {
			d.stats.Partitions.Store(int64(len(parts)))
			continue
		}
		// the partitions new here are restored before the transaction
		// begins: reading their state must not count against its timeout
		fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
			if failed == nil && len(ftp.Records) > 0 {
				_, failed = ensure(ftp)
			}
		})
		if failed != nil {
			err := failed
			failed = nil
			clear(parts)
			return err
		}
		if err := sess.Begin(); err != nil {
			return fmt.Errorf("kafka: detect: begin: %w", err)
		}
		for _, o := range parts {
			o.first, o.n = -1, 0
		}
		// one transaction takes the polls of up to CommitInterval: a
		// partition's snapshot is written once per transaction
		deadline := time.Now().Add(d.opts.CommitInterval)
		for {
			fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
				if failed != nil || len(ftp.Records) == 0 {
					return
				}
				o, err := ensure(ftp)
				if err != nil {
					failed = err
					return
				}
				for _, r := range ftp.Records {
					if err := dec.Decode(r.Value, &rec); err != nil {
						// written by a different version: counted, not scored
						d.log.Warn("flow record skipped", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
						continue
					}
					if err := o.det.Flow(work, &rec); err != nil {
						failed = fmt.Errorf("kafka: detect: partition %d offset %d: %w", r.Partition, r.Offset, err)
						return
					}
					o.n++
				}
				if o.first < 0 {
					o.first = ftp.Records[0].Offset
				}
				o.last = ftp.Records[len(ftp.Records)-1].Offset
			})
			if failed != nil || !time.Now().Before(deadline) {
				break
			}
			pctx, cancel := context.WithDeadline(ctx, deadline)
			fs = sess.PollFetches(pctx)
			cancel()
			if ctx.Err() != nil {
				break
			}
			if err := fetchErrors(fs, d.log, d.stats); err != nil {
				failed = err
				break
			}
		}
		out = out[:0]
		var stateBytes, scored int64
		for p, o := range parts {
			if failed != nil || o.first < 0 {
				continue
			}
			if err := o.det.Flush(work); err != nil {
				failed = fmt.Errorf("kafka: detect: %s partition %d: alerts: %w", p.kind, p.p, err)
				break
			}
			snap, err := o.det.Snapshot()
			if err != nil {
				failed = fmt.Errorf("kafka: detect: %s partition %d: snapshot: %w", p.kind, p.p, err)
				break
			}
			if snap != nil {
				out = append(out, kgo.Record{Topic: d.opts.stateTopic(), Key: stateKey(p), Value: snap})
				stateBytes += int64(len(snap))
			}
			from := d.opts.flowsTopic()
			if p.kind == Victims {
				from = d.opts.victimsTopic()
			} else {
				scored += o.n
			}
			out = append(out, auditRecord(d.opts.auditTopic(), "detect", from, p.p, o.first, o.last, o.n))
		}
		if failed == nil {
			for i := range out {
				sess.Produce(work, &out[i], nil)
			}
		}
		try := kgo.TryCommit
		if failed != nil {
			try = kgo.TryAbort
		}
		committed, err := sess.End(work, try)
		if err != nil || failed != nil || !committed {
			// the detectors are ahead of the committed offsets: they
			// start again from the last committed snapshots
			clear(parts)
			d.stats.Aborted.Add(1)
		}
		if err != nil {
			return fmt.Errorf("kafka: detect: end transaction: %w", err)
		}
		if failed != nil {
			err := failed
			failed = nil
			return err
		}
		if !committed {
			d.log.Info("transaction aborted (rebalance); its flows are scored again")
			continue
		}
		d.stats.Scored.Add(scored)
		d.stats.StateBytes.Store(stateBytes)
		d.stats.Partitions.Store(int64(len(parts)))
	}
}

// topics are the keyed topics stage 2 reads.
func (d *Detect) topics() []string {
	if d.opts.Victim == nil {
		return []string{d.opts.flowsTopic()}
	}
	return []string{d.opts.flowsTopic(), d.opts.victimsTopic()}
}

// stateKey is the key of a partition's snapshot in the state topic.
func stateKey(p tp) []byte { return []byte(p.kind.String() + "/" + strconv.Itoa(int(p.p))) }

// stateReader reads the last committed snapshot of a partition.
type stateReader struct {
	opts *Options
	base []kgo.Opt
	adm  *kadm.Client
	cl   *kgo.Client
}

func newStateReader(o *Options, base []kgo.Opt) (*stateReader, error) {
	cl, err := kgo.NewClient(base...)
	if err != nil {
		return nil, fmt.Errorf("kafka: state reader: %w", err)
	}
	return &stateReader{opts: o, base: base, adm: kadm.NewClient(cl), cl: cl}, nil
}

func (s *stateReader) close() { s.cl.Close() }

// read returns the snapshot of partition p last committed (nil: none). It
// reads the tail of the state partition that holds p's key, read
// committed, looking further back only when the tail holds no record of p
// (aborted transactions, other partitions' snapshots).
func (s *stateReader) read(ctx context.Context, p tp) ([]byte, error) {
	topic := s.opts.stateTopic()
	key := stateKey(p)
	ends, err := s.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("kafka: state of %s partition %d: end offsets of %s: %w", p.kind, p.p, topic, err)
	}
	var sp int32 = -1
	var end int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Partition == int32(partitionOf(key, len(ends[topic]))) {
			sp, end = o.Partition, o.Offset
			if o.Err != nil {
				err = o.Err
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("kafka: state of %s partition %d: end offset of %s: %w", p.kind, p.p, topic, err)
	}
	if sp < 0 || end == 0 {
		return nil, nil
	}
	for back := int64(256); ; back *= 16 {
		start := max(0, end-back)
		v, found, err := s.scan(ctx, topic, sp, start, end, key)
		if err != nil || found || start == 0 {
			return v, err
		}
	}
}

// scan reads [start, end) of one partition, read committed, and returns
// the last value under key.
func (s *stateReader) scan(ctx context.Context, topic string, sp int32, start, end int64, key []byte) ([]byte, bool, error) {
	cl, err := kgo.NewClient(append(s.base,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {sp: kgo.NewOffset().At(start)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxPartitionBytes(maxMessageBytes), kgo.FetchMaxBytes(maxMessageBytes),
	)...)
	if err != nil {
		return nil, false, fmt.Errorf("kafka: state reader: %w", err)
	}
	defer cl.Close()
	var (
		last  []byte
		found bool
	)
	// A committed transaction ends with a control record that read
	// committed never returns, so the last offset before end is seldom
	// seen: the end is reached when a fetch brings nothing for a while
	// (the broker answers a fetch at once while data is there).
	for {
		rctx, cancel := context.WithTimeout(ctx, stateIdle)
		fs := cl.PollFetches(rctx)
		cancel()
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				ferr = err
			}
		})
		if ferr != nil {
			return nil, false, fmt.Errorf("kafka: state of %s partition %d: %w", topic, sp, ferr)
		}
		if fs.Empty() {
			return last, found, nil
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == string(key) {
				last, found = r.Value, true
			}
			if r.Offset >= end-1 {
				done = true
			}
		})
		if done {
			return last, found, nil
		}
	}
}

// stateIdle is how long a state read waits for more records before it
// takes the end of the partition as reached.
const stateIdle = 200 * time.Millisecond
