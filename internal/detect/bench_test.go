package detect

import (
	"testing"
	"time"

	"github.com/mlads/mlads/internal/benchmeter"
	"github.com/mlads/mlads/internal/flow"
)

// BenchmarkScore measures the whole per-flow layer: features, host
// statistics, the detectors, calibration and online updates.
func BenchmarkScore(b *testing.B) {
	cfg := DefaultConfig()
	m, o := trainOffice(b, cfg, 11, 20000)
	s := m.NewScorer(cfg)
	recs := make([]flow.Record, 65536)
	for i := range recs {
		o.next(&recs[i])
	}
	var v Verdict
	b.ReportAllocs()
	b.ResetTimer()
	c0 := benchmeter.CPU()
	span := recs[len(recs)-1].TS.Sub(recs[0].TS) + time.Second
	for i := 0; i < b.N; i++ {
		k := i % len(recs)
		if k == 0 && i > 0 {
			// replay later in time, so host statistics see time pass
			for j := range recs {
				recs[j].TS = recs[j].TS.Add(span)
			}
		}
		s.Score(&recs[k], &v)
	}
	// per CPU-second of this process, so a busy shared machine does not
	// understate the per-core rate
	b.ReportMetric(float64(b.N)/(benchmeter.CPU()-c0).Seconds(), "flows/s")
	b.ReportMetric(float64(BytesPerHost()), "bytes/host")
}

// BenchmarkScoreExplain is BenchmarkScore with every flow explained (as
// ExplainBelow(1) asks), for the cost of the explanations, which allocate
// their sentences.
func BenchmarkScoreExplain(b *testing.B) {
	cfg := DefaultConfig()
	m, o := trainOffice(b, cfg, 11, 20000)
	s := m.NewScorer(cfg)
	s.ExplainBelow(1)
	recs := make([]flow.Record, 65536)
	for i := range recs {
		o.next(&recs[i])
		if i%3 == 0 { // an unusual upload now and then, so there is something to explain
			recs[i].OrigBytes *= 1000
		}
	}
	var v Verdict
	b.ReportAllocs()
	b.ResetTimer()
	c0 := benchmeter.CPU()
	for i := 0; i < b.N; i++ {
		s.Score(&recs[i%len(recs)], &v)
	}
	b.ReportMetric(float64(b.N)/(benchmeter.CPU()-c0).Seconds(), "flows/s")
}

// BenchmarkTrain1M measures training on one million flows (reading aside),
// in wall-clock and CPU seconds, and the model's size and load time.
func BenchmarkTrain1M(b *testing.B) {
	const n = 1_000_000
	o := newOffice(13, day0, 86400.0/n)
	recs := make([]flow.Record, n)
	for i := range recs {
		o.next(&recs[i])
	}
	cfg := DefaultConfig()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0, c0 := time.Now(), benchmeter.CPU()
		tr := NewTrainer(cfg)
		for j := range recs {
			tr.Add(&recs[j])
		}
		m, err := tr.Fit()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(t0).Seconds(), "s/1M-flows")
		b.ReportMetric((benchmeter.CPU() - c0).Seconds(), "cpu-s/1M-flows")
		buf, _ := m.MarshalBinary()
		b.ReportMetric(float64(len(buf)), "model-bytes")
		t1 := time.Now()
		if _, err := UnmarshalModel(buf); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(t1).Microseconds())/1e3, "load-ms")
	}
}

// BenchmarkFit measures Trainer.Fit alone on 300,000 flows (a fresh
// Trainer each time, filled outside the timer): the traffic groups'
// statistics, forests, trimming and calibration, in wall-clock and CPU
// seconds, so the use of several cores shows.
func BenchmarkFit(b *testing.B) {
	const n = 300_000
	o := newOffice(17, day0, 86400.0/n)
	recs := make([]flow.Record, n)
	for i := range recs {
		o.next(&recs[i])
	}
	cfg := DefaultConfig()
	var wall, cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tr := NewTrainer(cfg)
		for j := range recs {
			tr.Add(&recs[j])
		}
		b.StartTimer()
		t0, c0 := time.Now(), benchmeter.CPU()
		if _, err := tr.Fit(); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(t0)
		cpu += benchmeter.CPU() - c0
	}
	b.ReportMetric(wall.Seconds()/float64(b.N), "s/fit")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/fit")
}
