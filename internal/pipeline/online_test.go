package pipeline

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/benchmeter"
)

// TestScoreHist: each score lands in the first bucket whose bound holds
// it; scores above the last bound count in Count only, NaN nowhere, and
// +Inf (a p-value of 0) is capped in Sum.
func TestScoreHist(t *testing.T) {
	tests := []struct {
		score  float64
		bucket int // -1: none
		sum    float64
	}{
		{0, 0, 0},
		{-1, 0, 0}, // negative scores are 0
		{0.5, 0, 0.5},
		{0.51, 1, 0.51},
		{4.2, 6, 4.2},
		{20, len(ScoreBounds) - 1, 20},
		{21, -1, 21},
		{math.Inf(1), -1, maxScore},
		{math.NaN(), -1, 0},
	}
	for _, tc := range tests {
		var h ScoreHist
		h.add(tc.score)
		var want ScoreHist
		if tc.bucket >= 0 {
			want.Counts[tc.bucket] = 1
		}
		if tc.score == tc.score {
			want.Count, want.Sum = 1, tc.sum
		}
		if h != want {
			t.Errorf("add(%v): got %+v, want %+v", tc.score, h, want)
		}
	}
}

// BenchmarkScoreHist is the score histogram's cost per flow, which the
// daemon pays on its hot path: a few comparisons, no allocation.
func BenchmarkScoreHist(b *testing.B) {
	var h ScoreHist
	scores := [...]float64{0.1, 0.7, 1.2, 2.5, 4.4, 9, 30}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.add(scores[i%len(scores)])
	}
	if h.Count == 0 {
		b.Fatal("nothing counted")
	}
}

// BenchmarkOnline is the per-flow layer with the behaviours, as the daemon
// runs it on each flow (pipeline.Online.Flow): the behavioural detectors,
// the evidence merged into the verdict, the scorer with host statistics
// and gated online updates, and the alerter (into alert.Discard). Three
// hours of office traffic are replayed, later in time on each pass. It
// reports flows per CPU-second of the process; allocs/op is per flow.
//
//	go test ./internal/pipeline -run '^$' -bench Online -benchmem
func BenchmarkOnline(b *testing.B) {
	o := benchOnline(b)
	rs := officeFlows(2, time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC), 180, false)
	base := make([]time.Time, len(rs))
	for i := range rs {
		base[i] = rs[i].TS
	}
	span := rs[len(rs)-1].TS.Sub(rs[0].TS) + time.Second
	ctx := context.Background()
	// one pass first: the tables fill, and per-host state is allocated
	// once, as in a daemon that has run for a while
	for i := range rs {
		if err := o.Flow(ctx, &rs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	c0 := benchmeter.CPU()
	i := 0
	for b.Loop() {
		k := i % len(rs)
		rs[k].TS = base[k].Add(time.Duration(1+i/len(rs)) * span)
		if err := o.Flow(ctx, &rs[k]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if c := benchmeter.CPU() - c0; c > 0 {
		b.ReportMetric(float64(i)/c.Seconds(), "flows/cpu-s")
	}
}
