package benchmeter

import "testing"

func TestMedianRatio(t *testing.T) {
	spin := func(perItem int) func(int) {
		return func(n int) {
			x := 0
			for i := 0; i < n*perItem; i++ {
				x += i
			}
			_ = x
		}
	}
	// b does ten times the work per item of a: a is clearly faster.
	ratio, rate := MedianRatio(spin(100), spin(1000), 2000, 2000, 9)
	if ratio < 2 || rate <= 0 {
		t.Errorf("MedianRatio = %.2f, %.0f; want a ratio well above 1 and a positive rate", ratio, rate)
	}
}

func TestCPUAdvances(t *testing.T) {
	c0 := CPU()
	x := 0
	for i := 0; i < 50_000_000; i++ {
		x += i
	}
	_ = x
	if c0 != 0 && CPU() <= c0 {
		t.Errorf("CPU did not advance over a busy loop: %v then %v", c0, CPU())
	}
}
