package pipeline

import (
	"math"
	"testing"
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
