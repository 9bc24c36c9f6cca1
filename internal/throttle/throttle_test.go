package throttle_test

import (
	"testing"
	"time"

	"github.com/mlads/mlads/internal/throttle"
)

func TestCounterDue(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := throttle.Counter{Interval: 10 * time.Second}
	steps := []struct {
		at  time.Duration
		n   int64
		due bool
	}{
		{0, 1, true},                 // the first one is reported
		{time.Second, 1, false},      // held back
		{9 * time.Second, 2, false},  // held back
		{10 * time.Second, 3, true},  // Interval after the last reported: two held back and this one
		{15 * time.Second, 1, false}, // the count starts again
		{25 * time.Second, 2, true},  // due again
		{time.Hour, 1, true},         // after a quiet hour: just this one
		{time.Hour + time.Nanosecond, 1, false},
	}
	for i, s := range steps {
		n, due := c.Due(t0.Add(s.at))
		if n != s.n || due != s.due {
			t.Errorf("step %d (t0+%s): Due = %d, %v; want %d, %v", i, s.at, n, due, s.n, s.due)
		}
	}
}
