package detect

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// workersFor returns how many goroutines a parallel step of Fit uses for n
// jobs: GOMAXPROCS, but never more than there are jobs, and at least one.
func workersFor(n int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n))
}

// parallel calls do(w, i) once for every job i in [0, n), on workers
// goroutines of which the calling goroutine is one; w in [0, workers)
// numbers the goroutine, so do may use per-worker scratch. Jobs are handed
// out in order of i, one at a time. alongside, when not nil, runs on the
// calling goroutine before it takes jobs, while the others already do: it
// is for sequential work (the forests, which share one random sequence)
// that can overlap the jobs. parallel returns when every call has
// returned, so no goroutine outlives it. With one worker it starts no
// goroutine at all.
//
// The jobs must not depend on each other or on their order: the results
// are the same whichever goroutine runs a job and when.
func parallel(n, workers int, do func(w, i int), alongside func()) {
	var next atomic.Int64
	work := func(w int) {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			do(w, i)
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Go(func() { work(w) })
	}
	if alongside != nil {
		alongside()
	}
	work(0)
	wg.Wait()
}

// chunk is how many items forChunks hands out at a time: enough that
// handing out costs nothing next to the work, few enough to balance.
const chunk = 4096

// forChunks calls do(lo, hi) for consecutive ranges [lo, hi) that cover
// [0, n), in parallel (see parallel). Each call must write only to its
// own range's items.
func forChunks(n int, do func(lo, hi int)) {
	jobs := (n + chunk - 1) / chunk
	parallel(jobs, workersFor(jobs), func(_, k int) {
		do(k*chunk, min((k+1)*chunk, n))
	}, nil)
}
