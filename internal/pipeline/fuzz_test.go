package pipeline

import (
	"bytes"
	"testing"
	"time"
)

// FuzzRestoreState gives each component's state decoder (behaviour
// engine, scorer, evidence, incidents) arbitrary bytes, seeded with the
// parts of a real snapshot: a state file is read from disk, so a damaged
// one must give an error, never a panic, and the pipeline must then take
// flows. (Restore checks a SHA-256 before any of them runs; this is the
// defence behind it.)
func FuzzRestoreState(f *testing.F) {
	var out bytes.Buffer
	o := testOnline(f, &out)
	rs := officeFlows(6, time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC), 25, true)
	feed(f, o, rs[:len(rs)/2])
	for _, part := range [](func() ([]byte, error)){o.eng.MarshalState, o.det.sc.MarshalState, o.det.ev.MarshalState, o.fold.MarshalState} {
		b, err := part()
		if err != nil {
			f.Fatal(err)
		}
		for i := range 4 {
			f.Add(uint8(i), b)
		}
	}
	rest := rs[len(rs)/2:]
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		var out bytes.Buffer
		p := testOnline(t, &out)
		var err error
		switch which % 4 {
		case 0:
			err = p.eng.RestoreState(b)
		case 1:
			err = p.det.sc.RestoreState(b)
		case 2:
			_, err = p.det.ev.RestoreState(b, MaxEvidence)
		case 3:
			err = p.fold.RestoreState(b)
		}
		if err != nil {
			return
		}
		feed(t, p, rest[:20])
	})
}
