package app

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlads/mlads/internal/kafka"
	"github.com/mlads/mlads/internal/metrics"
)

// kafkaMetrics is the registry of the daemon as a Kafka consumer: the
// group's counters (kafka.Stats, atomics any goroutine may read), the
// alerts by detector and the notifier's families. The sinks' own counters
// (the Elasticsearch spool) are not read here: the partitions' goroutines
// own them.
func kafkaMetrics(st *kafka.Stats, byRule *ruleCounts, n notifyStats) *prometheus.Registry {
	a := func(v *atomic.Int64) func(metrics.Emit) {
		return func(emit metrics.Emit) { emit(float64(v.Load())) }
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		metrics.NewFunc("mlads_kafka_records_total", "Input records consumed and committed.", counter, nil, a(&st.Records)),
		metrics.NewFunc("mlads_kafka_bad_records_total", "Input records that did not parse.", counter, nil, a(&st.BadRecords)),
		metrics.NewFunc("mlads_kafka_skipped_records_total", "Input records carrying no flow.", counter, nil, a(&st.Skipped)),
		metrics.NewFunc("mlads_flows_total", "Flows read from the input topics and re-keyed into the flows topic.", counter, nil, a(&st.Flows)),
		metrics.NewFunc("mlads_flows_scored_total", "Flows scored, in committed transactions.", counter, nil, a(&st.Scored)),
		metrics.NewFunc("mlads_kafka_partitions", "Partitions of the flows topic this process owns now.", gauge, nil, a(&st.Partitions)),
		metrics.NewFunc("mlads_kafka_restores_total", "Partition states read back from the state topic.", counter, nil, a(&st.Restores)),
		metrics.NewFunc("mlads_kafka_state_bytes", "Size of the last partition snapshots written, summed.", gauge, nil, a(&st.StateBytes)),
		metrics.NewFunc("mlads_kafka_aborted_transactions_total", "Transactions aborted (a rebalance or an error); their records are read again.", counter, nil, a(&st.Aborted)),
		metrics.NewFunc("mlads_kafka_brokers_down_since_timestamp_seconds", "Since when the brokers have not answered (Unix time); absent while they answer.", gauge, nil,
			func(emit metrics.Emit) {
				if t := st.BrokerDown(); !t.IsZero() {
					emit(float64(t.UnixNano()) / 1e9)
				}
			}),
		byRule.family(),
	)
	reg.MustRegister(notifyMetrics(n)...)
	return reg
}

// kafkaHealth is /healthz for the Kafka consumer: unhealthy while the
// brokers do not answer, and while a notification channel fails.
func kafkaHealth(st *kafka.Stats, n notifyStats) metrics.HealthFunc {
	return func(now time.Time) []string {
		var why []string
		if t := st.BrokerDown(); !t.IsZero() {
			why = append(why, fmt.Sprintf("input kafka: the brokers have not answered since %s (%s)",
				t.UTC().Format(time.RFC3339), now.Sub(t).Round(time.Second)))
		}
		return append(why, notifyHealth(n)...)
	}
}
