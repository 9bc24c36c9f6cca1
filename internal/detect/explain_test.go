package detect

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// The explanations' sentences are built with strconv, not fmt (they are
// written for every alert); they must read exactly as the fmt verbs they
// replace.
func TestExplainTextMatchesFmt(t *testing.T) {
	// human as it was written with fmt
	human := func(x float64, unit string) string {
		if x == 0 {
			x = 0
		}
		switch unit {
		case "B":
			a := math.Abs(x)
			switch {
			case a >= 1e9:
				return fmt.Sprintf("%.3g GB", x/1e9)
			case a >= 1e6:
				return fmt.Sprintf("%.3g MB", x/1e6)
			case a >= 1e3:
				return fmt.Sprintf("%.3g kB", x/1e3)
			}
			return fmt.Sprintf("%.3g B", x)
		case "":
			return fmt.Sprintf("%.3g", x)
		}
		return fmt.Sprintf("%.3g %s", x, unit)
	}
	vals := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 0.04999, -0.05, 0.95, 9.95, 99.95, 999.5, 999.4999,
		1e3, 999999, 1e6, 1e9, 1e21, 1e-7, -1e-7, 5e-324, math.MaxFloat64, -math.MaxFloat64,
		math.Inf(1), math.Inf(-1), math.NaN(), 1234.5678, 2.1e6, 211, 10.6}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		vals = append(vals, math.Exp(rng.NormFloat64()*15)*float64(1-2*rng.IntN(2)))
	}
	for _, x := range vals {
		for _, u := range []string{"B", "", "s", "B/pkt", "flows"} {
			if got, want := string(appendHuman(nil, x, u)), human(x, u); got != want {
				t.Errorf("appendHuman(%v, %q) = %q, want %q", x, u, got, want)
			}
		}
		if got, want := string(appendSigned([]byte("z "), x, 'f', 1)), fmt.Sprintf("z %+.1f", x); got != want {
			t.Errorf("appendSigned(%v) = %q, want %q", x, got, want)
		}
		if got, want := string(strconv.AppendFloat(nil, x, 'g', 2, 64)), fmt.Sprintf("%.2g", x); got != want {
			t.Errorf("AppendFloat(%v, 'g', 2) = %q, want %%.2g's %q", x, got, want)
		}
	}
}
