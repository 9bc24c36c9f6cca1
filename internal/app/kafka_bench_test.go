package app

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/kafka"
	"github.com/mlads/mlads/internal/pipeline"
)

// groupBenchFlows is how many flows the group benchmarks stream:
// $KAFKA_BENCH_FLOWS (bench/kafka/run.sh sets 1,000,000), else 6 copies of
// the labelled conn log.
func groupBenchFlows(tb testing.TB, c kafkaCase) []flow.Record {
	n := 6 * len(c.flows)
	if s := os.Getenv("KAFKA_BENCH_FLOWS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			tb.Fatalf("KAFKA_BENCH_FLOWS=%q: %v", s, err)
		}
		n = v
	}
	return streamOf(c.flows, (n+len(c.flows)-1)/len(c.flows))[:n]
}

// BenchmarkKafkaGroup streams flows through a group of 1 and 2 `mlads run`
// processes on the real broker: the input topic is filled first, then the
// processes start, and the time runs until the audit topic says every flow
// was scored. flows/s of procs=2 over procs=1 is the scaling ratio
// (bench/kafka/run.sh prints it).
func BenchmarkKafkaGroup(b *testing.B) {
	broker := os.Getenv("KAFKA_BOOTSTRAP")
	if broker == "" {
		b.Skip("KAFKA_BOOTSTRAP is not set: no Kafka broker (.ci/run starts one from ../shared/kafkanode)")
	}
	c := newKafkaCase(b)
	flows := groupBenchFlows(b, c)
	run := fmt.Sprintf("bench%d", time.Now().UnixNano())
	topic := run + ".conn"
	if err := <-publishPaced(b, broker, topic, flows, 0); err != nil {
		b.Fatal(err)
	}
	for _, procs := range []int{1, 2} {
		b.Run(fmt.Sprintf("procs=%d", procs), func(b *testing.B) {
			for i := range b.N {
				dir := b.TempDir()
				group := fmt.Sprintf("%s.p%d.%d", run, procs, i)
				t0 := time.Now()
				var children []*kafkaChild
				for j := range procs {
					children = append(children, startKafkaChild(b, dir, fmt.Sprintf("p%d", j), broker, topic, group, c.model))
				}
				waitDrained(b, broker, group, len(flows), children, 10*time.Minute)
				el := time.Since(t0)
				var outs []string
				for _, ch := range children {
					ch.stop(b)
					outs = append(outs, ch.output)
				}
				b.ReportMetric(float64(len(flows))/el.Seconds(), "flows/s")
				b.ReportMetric(float64(len(alertIDs(b, outs...)))/el.Seconds(), "alerts/s")
			}
		})
	}
}

// BenchmarkKafkaStages is where a flow's time goes inside one process,
// per stage on one core: parsing the input record (parse), encoding it
// for the flows topic and decoding it there (codec), and the detectors
// (score: pipeline.Online with the behaviours). What a group spends beyond
// their sum, per flow, is the broker and the clients (fetch, produce,
// transactions).
func BenchmarkKafkaStages(b *testing.B) {
	c := newKafkaCase(b)
	values := make([][]byte, len(c.flows))
	for i := range c.flows {
		values[i] = flow.AppendJSON(nil, &c.flows[i])
	}
	b.Run("parse", func(b *testing.B) {
		p := kafka.NewParser()
		var r flow.Record
		for i := 0; b.Loop(); i++ {
			if _, err := p.Parse("t", 0, int64(i), values[i%len(values)], &r); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
	})
	b.Run("codec", func(b *testing.B) {
		d := kafka.NewDecoder()
		var buf []byte
		var r flow.Record
		for i := 0; b.Loop(); i++ {
			buf = kafka.AppendFlow(buf[:0], &c.flows[i%len(c.flows)])
			if err := d.Decode(buf, &r); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
	})
	b.Run("score", func(b *testing.B) {
		m, err := detect.ReadFile(c.model)
		if err != nil {
			b.Fatal(err)
		}
		eng := behavior.New(behavior.DefaultConfig())
		eng.SetKnown(m.KnownBehaviors)
		on := pipeline.NewOnline(pipeline.NewDetector(m, detect.DefaultConfig()), eng,
			pipeline.NewAlerter(alert.NewFold(idSink{ids: map[string]bool{}}, time.Hour, 0, true), "bench"))
		stream := streamOf(c.flows, 20)
		ctx := context.Background()
		for i := 0; b.Loop(); i++ {
			if err := on.Flow(ctx, &stream[i%len(stream)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
		// the state a partition commits, per host it tracks
		if err := on.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		var snap bytes.Buffer
		if err := on.Snapshot(&snap); err != nil {
			b.Fatal(err)
		}
		st := on.Stats()
		if hosts := max(st.Scorer.Hosts, st.Behavior.Hosts); hosts > 0 {
			b.ReportMetric(float64(snap.Len())/float64(hosts), "state-B/host")
			b.ReportMetric(float64(hosts), "hosts")
			b.ReportMetric(float64(st.Scorer.BytesPerHost), "scorer-mem-B/host")
		}
	})
}
