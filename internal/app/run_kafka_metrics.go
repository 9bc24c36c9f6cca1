package app

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mlads/mlads/internal/kafka"
	"github.com/mlads/mlads/internal/metrics"
)

// serveKafkaMetrics serves /metrics and /healthz of a group member on
// run.metrics_listen, unless that is empty. Everything it reads is atomic
// or locked (kafka.Stats, the alert counts, the notifier's Stats), so a
// scrape never touches the stages. /healthz is unhealthy while the brokers
// do not answer (the member waits for them and loses nothing, but it does
// no work either) and while a notification channel fails.
func (d *Daemon) serveKafkaMetrics(ctx context.Context, st *kafka.Stats, alerts *atomic.Int64, byRule *ruleCounts, n notifyStats) (stop func(), err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(kafkaMetrics(st, alerts)...)
	reg.MustRegister(byRule.family())
	reg.MustRegister(notifyMetrics(n)...)
	return d.startMetrics(ctx, reg, kafkaHealth(st, n))
}

// kafkaHealth is a group member's /healthz judgement.
func kafkaHealth(st *kafka.Stats, n notifyStats) metrics.HealthFunc {
	return func(time.Time) []string {
		var why []string
		if t := st.BrokerDown(); !t.IsZero() {
			why = append(why, fmt.Sprintf("kafka: broker unreachable since %s; waiting for it (uncommitted records are read again, nothing is lost)",
				t.UTC().Format(time.RFC3339)))
		}
		return append(why, notifyHealth(n)...)
	}
}

// kafkaMetrics are a group member's families.
func kafkaMetrics(st *kafka.Stats, alerts *atomic.Int64) []prometheus.Collector {
	f := func(name, help string, typ prometheus.ValueType, v func() float64) prometheus.Collector {
		return metrics.NewFunc(name, help, typ, nil, func(emit metrics.Emit) { emit(v()) })
	}
	return []prometheus.Collector{
		f("mlads_kafka_records_total", "Input records consumed and committed by stage 1.", counter, func() float64 { return float64(st.Records.Load()) }),
		f("mlads_kafka_flows_rekeyed_total", "Flows stage 1 wrote to the flows topic, in committed transactions.", counter, func() float64 { return float64(st.Flows.Load()) }),
		f("mlads_kafka_bad_records_total", "Input records that did not parse.", counter, func() float64 { return float64(st.BadRecords.Load()) }),
		f("mlads_kafka_skipped_records_total", "Input records that carry no flow (other logs and events).", counter, func() float64 { return float64(st.Skipped.Load()) }),
		f("mlads_kafka_flows_scored_total", "Flows stage 2 scored, in committed transactions.", counter, func() float64 { return float64(st.Scored.Load()) }),
		f("mlads_kafka_transactions_aborted_total", "Transactions aborted (a rebalance or an error); their records are processed again.", counter, func() float64 { return float64(st.Aborted.Load()) }),
		f("mlads_kafka_state_restores_total", "Partition states read back from the state topic.", counter, func() float64 { return float64(st.Restores.Load()) }),
		f("mlads_kafka_partitions", "Partitions of the keyed topics this process detects now.", gauge, func() float64 { return float64(st.Partitions.Load()) }),
		f("mlads_kafka_state_bytes", "Bytes of the snapshots written in the last transaction.", gauge, func() float64 { return float64(st.StateBytes.Load()) }),
		f("mlads_kafka_broker_up", "1 while the brokers answer, 0 while they do not.", gauge, func() float64 {
			if st.BrokerDown().IsZero() {
				return 1
			}
			return 0
		}),
		f("mlads_alerts_written_total", "Alert documents written to the sinks (incident updates not counted).", counter, func() float64 { return float64(alerts.Load()) }),
	}
}
