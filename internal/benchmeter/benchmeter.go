// Package benchmeter holds what mlads's benchmarks share to report rates
// that hold on a busy machine: the process's CPU time (items per CPU-second
// is what one core does, whatever else runs) and the median speed ratio of
// two functions run in alternating rounds (both suffer the same
// neighbours). It is for benchmarks only.
package benchmeter

import (
	"sort"
	"testing"
	"time"
)

// SetLineBytes makes the benchmark report MB/s for one of lines per
// iteration: their average length, newline included.
func SetLineBytes(b *testing.B, lines [][]byte) {
	var total int
	for _, l := range lines {
		total += len(l) + 1
	}
	b.SetBytes(int64(total / len(lines)))
}

// ReportRates reports b.N items per wall-clock second (unit+"/s") and per
// second of CPU time the process used since cpu0 (unit+"/cpu-s"), where
// cpu0 is CPU() taken before the timed loop.
func ReportRates(b *testing.B, cpu0 time.Duration, unit string) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit+"/s")
	if cpu := CPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), unit+"/cpu-s")
	}
}

// Repeat runs run b.N times, each a whole job of size bytes that must
// report want items (lines, flows), and reports items per wall-clock
// second (unit+"/s") and per second of CPU time (unit+"/cpu-s").
func Repeat(b *testing.B, size, want int64, unit string, run func() int64) {
	b.Helper()
	b.SetBytes(size)
	cpu0 := CPU()
	b.ResetTimer()
	for range b.N {
		if n := run(); n != want {
			b.Fatalf("%d %s, want %d", n, unit, want)
		}
	}
	b.StopTimer()
	items := float64(want) * float64(b.N)
	b.ReportMetric(items/b.Elapsed().Seconds(), unit+"/s")
	if cpu := CPU() - cpu0; cpu > 0 {
		b.ReportMetric(items/cpu.Seconds(), unit+"/cpu-s")
	}
}

// MedianRatio runs a (na items) and b (nb items) alternately for rounds
// rounds and returns the median of (a's items/s)/(b's items/s) and a's
// median rate in items/s.
func MedianRatio(a, b func(n int), na, nb, rounds int) (ratio, rate float64) {
	var ratios, rates []float64
	for range rounds {
		t0 := time.Now()
		a(na)
		t1 := time.Now()
		b(nb)
		t2 := time.Now()
		ra := float64(na) / t1.Sub(t0).Seconds()
		rb := float64(nb) / t2.Sub(t1).Seconds()
		ratios = append(ratios, ra/rb)
		rates = append(rates, ra)
	}
	sort.Float64s(ratios)
	sort.Float64s(rates)
	return ratios[len(ratios)/2], rates[len(rates)/2]
}
