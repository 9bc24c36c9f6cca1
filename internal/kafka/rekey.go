package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/throttle"
)

// Rekey is stage 1: it reads the input topics in the group, parses each
// record into a flow and writes the flow to the flows topic keyed by its
// originator (id.orig_h), so that every flow of a host reaches the same
// partition and so the same detector; and, with Options.Victim, to the
// victims topic keyed by its flood victim. Each poll is one transaction: the
// flows produced, an audit record per input partition and the group's
// offsets commit together or not at all (franz-go's GroupTransactSession),
// so across crashes and rebalances every input record becomes its flows
// exactly once.
type Rekey struct {
	opts  *Options
	stats *Stats
	log   *slog.Logger

	badWarn throttle.Counter
}

// NewRekey returns stage 1; it counts into stats.
func NewRekey(o *Options, stats *Stats) *Rekey {
	return &Rekey{opts: o, stats: stats, log: o.Logger.With("stage", "rekey"), badWarn: throttle.Counter{Interval: 10 * time.Second}}
}

// Run consumes until ctx ends. A session that fails (an error Kafka says
// cannot be retried) is closed and made again after a pause: the
// transaction in flight is aborted and its records are read again.
func (k *Rekey) Run(ctx context.Context) error {
	return runSessions(ctx, k.log, k.stats, k.session)
}

func (k *Rekey) session(ctx context.Context) error {
	base, err := k.opts.clientOpts()
	if err != nil {
		return err
	}
	sess, err := kgo.NewGroupTransactSession(append(base,
		kgo.ConsumerGroup(k.opts.Group),
		kgo.ConsumeTopics(k.opts.Topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.TransactionalID(transactionalID(k.opts.Group, "rekey", k.opts.ClientID)),
		kgo.RecordPartitioner(partitioner()),
		kgo.WithHooks(newBrokerHealth(k.stats, k.log)),
		kgo.WithLogger(slogger{k.log}),
	)...)
	if err != nil {
		return fmt.Errorf("kafka: rekey: %w", err)
	}
	defer sess.Close()

	p := NewParser()
	var (
		rec    flow.Record
		arena  []byte       // keys and values of this transaction's records
		slab   []kgo.Record // reused once End has flushed them
		audits []kgo.Record
	)
	// a transaction begun goes to its end even when ctx ends meanwhile:
	// only the poll stops at ctx
	work := context.WithoutCancel(ctx)
	for {
		fs := sess.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err := fetchErrors(fs, k.log, k.stats); err != nil {
			return err
		}
		if fs.Empty() {
			continue
		}
		if err := sess.Begin(); err != nil {
			return fmt.Errorf("kafka: rekey: begin: %w", err)
		}
		arena, slab, audits = arena[:0], slab[:0], audits[:0]
		var records, flows, bad, skipped int64
		emit := func(r *flow.Record) error {
			kstart := len(arena)
			if r.OrigH.IsValid() {
				arena = r.OrigH.AppendTo(arena)
			}
			vstart := len(arena)
			arena = AppendFlow(arena, r)
			val := arena[vstart:len(arena):len(arena)]
			slab = append(slab, kgo.Record{Topic: k.opts.flowsTopic(), Key: arena[kstart:vstart:vstart], Value: val})
			if k.opts.Victim != nil {
				if v := k.opts.Victim(r); v.IsValid() {
					kstart = len(arena)
					arena = v.AppendTo(arena)
					slab = append(slab, kgo.Record{Topic: k.opts.victimsTopic(), Key: arena[kstart:len(arena):len(arena)], Value: val})
				}
			}
			flows++
			return nil
		}
		fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
			if len(ftp.Records) == 0 {
				return
			}
			before := flows
			for _, r := range ftp.Records {
				records++
				skipBefore := p.Skipped
				ok, err := p.Parse(r.Topic, r.Partition, r.Offset, r.Value, &rec)
				if err != nil {
					bad++
					k.warnBad(err)
					continue
				}
				if p.Skipped != skipBefore {
					skipped++
				}
				if ok {
					_ = emit(&rec) // never fails
				}
			}
			first, last := ftp.Records[0].Offset, ftp.Records[len(ftp.Records)-1].Offset
			audits = append(audits, auditRecord(k.opts.auditTopic(), "rekey", ftp.Topic, ftp.Partition, first, last, flows-before))
		})
		_ = p.FlushNetflow(emit) // never fails: emit does not
		// arena may have moved while it grew: the records point into
		// whichever array held their bytes, each still valid
		for i := range slab {
			sess.Produce(work, &slab[i], nil)
		}
		for i := range audits {
			sess.Produce(work, &audits[i], nil)
		}
		committed, err := sess.End(work, kgo.TryCommit)
		if err != nil {
			return fmt.Errorf("kafka: rekey: end transaction: %w", err)
		}
		if !committed {
			k.stats.Aborted.Add(1)
			k.log.Info("transaction aborted (rebalance); its records are read again", "records", records)
			continue
		}
		k.stats.Records.Add(records)
		k.stats.Flows.Add(flows)
		k.stats.BadRecords.Add(bad)
		k.stats.Skipped.Add(skipped)
	}
}

func (k *Rekey) warnBad(err error) {
	if n, due := k.badWarn.Due(time.Now()); due {
		k.log.Warn("bad record skipped", "err", err, "bad_records_since_last_warning", n)
	}
}

// auditRecord says that a stage consumed offsets first..last of a
// partition and produced n records from them, in the transaction it is
// part of. Key: stage/topic/partition; value: "first last n".
func auditRecord(topic, stage, from string, partition int32, first, last, n int64) kgo.Record {
	key := stage + "/" + from + "/" + strconv.Itoa(int(partition))
	val := strconv.FormatInt(first, 10) + " " + strconv.FormatInt(last, 10) + " " + strconv.FormatInt(n, 10)
	return kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(val)}
}

// runSessions runs session until ctx ends, making it again after a pause
// when it fails: a failed transactional client cannot go on, but a new one
// resumes from the group's committed offsets.
func runSessions(ctx context.Context, log *slog.Logger, stats *Stats, session func(context.Context) error) error {
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		t0 := time.Now()
		err := session(ctx)
		if time.Since(t0) > 10*time.Minute {
			wait = time.Second // it ran well for a while: this is a new failure, not the same one again
		}
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			return nil
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			return err
		}
		stats.Aborted.Add(1)
		log.Error("Kafka session failed; its transaction is aborted and a new session resumes from the committed offsets", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// fatalError is an error a new session would meet again (a detector that
// cannot be built); it stops the stage.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }
