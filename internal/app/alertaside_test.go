package app

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/pipeline"
)

// portSink records the destination port of each alert; its Write fails
// from the failAt-th call on.
type portSink struct {
	ports          []int
	writes, failAt int
	flushes        int
}

func (p *portSink) Write(_ context.Context, docs []*alert.Alert) (bool, error) {
	p.writes++
	if p.failAt > 0 && p.writes >= p.failAt {
		return true, errors.New("disk full")
	}
	for _, d := range docs {
		p.ports = append(p.ports, d.Destination.Port)
	}
	return false, nil
}

func (p *portSink) Flush(context.Context) (bool, error) { p.flushes++; return false, nil }

func TestAlertAsideKeepsOrderCopiesAndReportsTheFirstError(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent()) // what runs already (other tests' idle connections) is not ours
	const n = 3*pipeline.BatchSize + 17
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		failAt  int
		wantErr bool
	}{
		{"all written", 0, false},
		{"second write fails", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &portSink{failAt: tc.failAt}
			aside := newAlertAside(ctx, pipeline.NewAlerter(sink, "test"))
			r := flow.Record{TS: time.Unix(1e9, 0), OrigH: netip.MustParseAddr("10.0.0.1"), RespH: netip.MustParseAddr("10.0.0.2"),
				Proto: "tcp", TunnelParents: []string{"C1"}}
			v := detect.Verdict{PValue: 1e-6, Score: 6, Alert: true, Hits: []detect.Hit{{Detector: "hbos", PValue: 1e-6, Fired: true}}}
			var err error
			for i := 0; i < n && err == nil; i++ {
				r.RespP = uint16(i)
				v.Hits[0].PValue = float64(i) // the caller reuses its verdict: the stage must have copied it
				err = aside.Flow(ctx, &r, &v)
			}
			if err == nil {
				err = aside.Flush(ctx)
			}
			aside.Close()
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want one: %v", err, tc.wantErr)
			}
			if tc.wantErr {
				if len(sink.ports) != pipeline.BatchSize {
					t.Errorf("%d alerts written before the failure, want %d", len(sink.ports), pipeline.BatchSize)
				}
				return
			}
			if len(sink.ports) != n || sink.flushes != 1 {
				t.Fatalf("%d alerts and %d flushes, want %d and 1", len(sink.ports), sink.flushes, n)
			}
			for i, p := range sink.ports {
				if p != i {
					t.Fatalf("alert %d has port %d: out of order or not copied", i, p)
				}
			}
		})
	}
}
