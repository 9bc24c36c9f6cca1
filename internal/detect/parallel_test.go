package detect

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// parallel runs every job exactly once, runs alongside on the calling
// goroutine, hands each goroutine its own worker number, and leaves no
// goroutine behind.
func TestParallelRunsEveryJobOnceAndJoins(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, tc := range []struct{ n, workers int }{{0, 1}, {1, 1}, {5, 1}, {5, 2}, {1000, 3}, {3, 8}} {
		done := make([]atomic.Int32, tc.n)
		var alongside, badWorker atomic.Int32
		parallel(tc.n, tc.workers, func(w, i int) {
			if w < 0 || w >= tc.workers {
				badWorker.Add(1)
			}
			done[i].Add(1)
		}, func() { alongside.Add(1) })
		for i := range done {
			if c := done[i].Load(); c != 1 {
				t.Errorf("n %d workers %d: job %d ran %d times", tc.n, tc.workers, i, c)
			}
		}
		if alongside.Load() != 1 || badWorker.Load() != 0 {
			t.Errorf("n %d workers %d: alongside ran %d times, %d calls with a bad worker number", tc.n, tc.workers, alongside.Load(), badWorker.Load())
		}
	}
	var covered atomic.Int64
	forChunks(3*chunk+5, func(lo, hi int) { covered.Add(int64(hi - lo)) })
	if covered.Load() != 3*chunk+5 {
		t.Errorf("forChunks covered %d of %d items", covered.Load(), 3*chunk+5)
	}
	// a joined goroutine may take a moment to be gone after Done
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines before, %d after", before, after)
	}
}
