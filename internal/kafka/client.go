package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/mlads/mlads/internal/flow"
)

// Options configure the group: where the brokers are, what to read, and how
// to authenticate. The caller resolves secrets (Password comes from the
// environment variable the configuration names).
type Options struct {
	Brokers []string
	Topics  []string // input topics: Zeek JSON logs and EVE JSON
	Group   string   // the consumer group; it names mlads's own topics too

	// Partitions and Replication size mlads's own topics when they are
	// created (<group>.flows, <group>.state, <group>.audit).
	Partitions  int
	Replication int

	// TLS: nil is plaintext.
	TLS *tls.Config
	// SASL mechanism ("", PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and
	// credentials.
	Mechanism, Username, Password string

	// Victim, when set, returns the host a flow counts for in the
	// per-victim detectors (behavior.FloodVictim): stage 1 then also
	// writes every flow with one to <group>.victims, keyed by it, and
	// stage 2 scores those with the Victims detectors. Zero Addr: none.
	Victim func(*flow.Record) netip.Addr

	// CommitInterval is the longest a transaction of the detecting stage
	// gathers polls: each partition's snapshot is written once per
	// transaction. Zero: one poll a transaction.
	CommitInterval time.Duration

	// ClientID names this process to the brokers (host name and pid).
	ClientID string
	Logger   *slog.Logger
}

// Topic names derived from the group.
func (o *Options) flowsTopic() string   { return o.Group + ".flows" }
func (o *Options) stateTopic() string   { return o.Group + ".state" }
func (o *Options) auditTopic() string   { return o.Group + ".audit" }
func (o *Options) victimsTopic() string { return o.Group + ".victims" }

// VictimsTopic is the topic of group g's flows keyed by their flood victim.
func VictimsTopic(g string) string { return g + ".victims" }

// FlowsTopic is the topic of re-keyed flows of group g.
func FlowsTopic(g string) string { return g + ".flows" }

// StateTopic is the compacted topic of group g's detector state.
func StateTopic(g string) string { return g + ".state" }

// AuditTopic is the topic where group g's stages record, inside each
// transaction, the offsets they consumed: read committed, the ranges of each
// partition tile its log exactly once.
func AuditTopic(g string) string { return g + ".audit" }

// TLSConfig builds the TLS configuration from a CA file and a client
// certificate and key (each optional).
func TLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: tls ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka: tls ca_file %s: no PEM certificate in it", caFile)
		}
		c.RootCAs = pool
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: tls cert_file %s and key_file %s: %w", certFile, keyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// clientOpts are the options every client of the group shares.
func (o *Options) clientOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(o.Brokers...),
		// a broker that is away is waited for, not given up on: records
		// stay buffered and Produce blocks when the buffer is full
		kgo.RetryTimeout(0),
		kgo.RequestRetries(math.MaxInt32),
		// a process killed mid-transaction holds back read-committed
		// consumers of what it wrote until its transaction times out
		kgo.TransactionTimeout(10 * time.Second),
		// a process that dies gives its partitions up after this long
		// (the default is 45 s)
		kgo.SessionTimeout(10 * time.Second),
		kgo.HeartbeatInterval(time.Second),
		kgo.ProducerBatchMaxBytes(maxMessageBytes),
		kgo.MaxBufferedRecords(1 << 16),
	}
	if o.ClientID != "" {
		opts = append(opts, kgo.ClientID(o.ClientID))
	}
	if o.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(o.TLS))
	}
	switch o.Mechanism {
	case "":
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: o.Username, Pass: o.Password}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: o.Username, Pass: o.Password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: o.Username, Pass: o.Password}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("kafka: SASL mechanism %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", o.Mechanism)
	}
	return opts, nil
}

// EnsureTopics creates mlads's own topics when they are missing: the
// flows, the compacted state (one record per partition of the flows, its
// latest snapshot) and the audit. A topic that exists is left as it is.
// It waits for the brokers until ctx ends.
func EnsureTopics(ctx context.Context, o *Options) error {
	copts, err := o.clientOpts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(copts...)
	if err != nil {
		return fmt.Errorf("kafka: client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	big := strconv.Itoa(maxMessageBytes) // a partition's snapshot may be large
	compact, retain := "compact", "delete"
	topics := []struct {
		name string
		cfg  map[string]*string
	}{
		{o.flowsTopic(), map[string]*string{"max.message.bytes": &big}},
		{o.victimsTopic(), map[string]*string{"max.message.bytes": &big}},
		{o.stateTopic(), map[string]*string{"cleanup.policy": &compact, "max.message.bytes": &big, "min.cleanable.dirty.ratio": new("0.1"), "segment.ms": new("600000")}},
		{o.auditTopic(), map[string]*string{"cleanup.policy": &retain, "max.message.bytes": &big}},
	}
	for _, t := range topics {
		for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
			resp, err := adm.CreateTopic(ctx, int32(o.Partitions), int16(o.Replication), t.cfg, t.name)
			if err == nil {
				err = resp.Err
			}
			if err == nil {
				o.Logger.Info("topic created", "topic", t.name, "partitions", o.Partitions, "replication", o.Replication)
				break
			}
			if errors.Is(err, kerr.TopicAlreadyExists) {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("kafka: create topic %s: %w", t.name, err)
			}
			o.Logger.Warn("cannot create topic; Kafka unreachable? waiting", "topic", t.name, "err", err, "retry_in", wait)
			select {
			case <-ctx.Done():
				return fmt.Errorf("kafka: create topic %s: %w", t.name, ctx.Err())
			case <-time.After(wait):
			}
		}
	}
	return nil
}

// maxMessageBytes bounds a batch the group produces, and so one
// partition's snapshot; mlads's topics are created to take it.
const maxMessageBytes = 64 << 20

// transactionalID is unique per process: fencing of a process that was
// replaced is done by the group generation (KIP-447), not by reusing IDs.
func transactionalID(group, stage, client string) string {
	return strings.Join([]string{group, stage, client, fmt.Sprintf("%x", time.Now().UnixNano())}, ".")
}
