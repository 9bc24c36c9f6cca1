package kafka

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mlads/mlads/internal/throttle"
)

// brokerHealth is a client hook that notices when the brokers stop
// answering and when they answer again: it sets Stats.BrokerDownSince,
// and logs the change (throttled while down).
type brokerHealth struct {
	stats *Stats
	log   *slog.Logger
	mu    *sync.Mutex // guards warn: the client calls the hook from its connections' goroutines
	warn  *throttle.Counter
}

func newBrokerHealth(stats *Stats, log *slog.Logger) brokerHealth {
	return brokerHealth{stats: stats, log: log, mu: new(sync.Mutex), warn: &throttle.Counter{Interval: 10 * time.Second}}
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (h brokerHealth) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	now := time.Now()
	if errors.Is(err, context.Canceled) {
		return // a dial given up by the client itself (shutdown, a request done elsewhere)
	}
	if err != nil {
		if h.stats.BrokerDownSince.CompareAndSwap(0, now.UnixNano()) {
			h.log.Warn("Kafka broker unreachable; waiting for it (nothing is lost: uncommitted records are read again)", "broker", meta.Host, "port", meta.Port, "err", err)
			return
		}
		h.mu.Lock()
		n, due := h.warn.Due(now)
		h.mu.Unlock()
		if due {
			h.log.Warn("Kafka broker still unreachable; waiting", "broker", meta.Host, "port", meta.Port, "since", h.stats.BrokerDown().Format(time.RFC3339), "failed_connects_since_last_warning", n, "err", err)
		}
		return
	}
	if since := h.stats.BrokerDownSince.Swap(0); since != 0 {
		h.log.Info("Kafka broker reachable again", "broker", meta.Host, "port", meta.Port, "down_for", now.Sub(time.Unix(0, since)).Round(time.Millisecond))
	}
}

var _ kgo.HookBrokerConnect = brokerHealth{}

// fetchErrors logs the errors of a poll and returns the one that ends the
// session: a closed client. Others (a broker away, a partition moving)
// the client retries itself.
func fetchErrors(fs kgo.Fetches, log *slog.Logger, stats *Stats) error {
	var end error
	fs.EachError(func(topic string, partition int32, err error) {
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		case errors.Is(err, kgo.ErrClientClosed):
			end = err
		default:
			log.Warn("fetch error; the client retries", "topic", topic, "partition", partition, "err", err)
		}
	})
	return end
}

// slogger hands franz-go's own warnings and errors to slog.
type slogger struct{ log *slog.Logger }

func (l slogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l slogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelWarn
	if level == kgo.LogLevelError {
		lv = slog.LevelError
	}
	l.log.Log(context.Background(), lv, "franz-go: "+msg, keyvals...)
}
