package app

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"go.uber.org/goleak"

	"github.com/mlads/mlads/internal/alert"
)

// listSink records the IDs it is given; it fails the Write of failAt.
type listSink struct {
	ids     []string
	writes  int
	failAt  int
	flushes int
}

func (l *listSink) Write(_ context.Context, docs []*alert.Alert) (bool, error) {
	l.writes++
	if l.writes == l.failAt {
		return true, errors.New("disk full")
	}
	for _, d := range docs {
		l.ids = append(l.ids, d.Event.ID)
	}
	return false, nil
}

func (l *listSink) Flush(context.Context) (bool, error) { l.flushes++; return false, nil }

func TestWriteAsideKeepsOrderAndReportsTheFirstError(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx := context.Background()
	batch := func(from int) []*alert.Alert {
		var docs []*alert.Alert
		for i := from; i < from+3; i++ {
			docs = append(docs, &alert.Alert{Event: alert.Event{ID: strconv.Itoa(i)}})
		}
		return docs
	}
	for _, tc := range []struct {
		name    string
		failAt  int
		wantIDs int
		wantErr bool
	}{
		{"all written", 0, 30, false},
		{"fourth write fails", 4, 9, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &listSink{failAt: tc.failAt}
			w := newWriteAside(ctx, l)
			buf := make([]*alert.Alert, 0, 3)
			for i := 0; i < 30; i += 3 {
				buf = append(buf[:0], batch(i)...) // the caller reuses its slice
				if _, err := w.Write(ctx, buf); err != nil {
					t.Fatal(err) // errors come back at Flush: nothing was flushed yet
				}
			}
			_, err := w.Flush(ctx)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Flush: %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				if _, err := w.Write(ctx, buf); err == nil {
					t.Error("a Write after the failure was taken")
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if len(l.ids) != tc.wantIDs {
				t.Fatalf("%d documents written, want %d", len(l.ids), tc.wantIDs)
			}
			for i, id := range l.ids {
				if id != strconv.Itoa(i) {
					t.Fatalf("document %d is %s: out of order", i, id)
				}
			}
			if !tc.wantErr && l.flushes != 1 {
				t.Errorf("%d flushes of the sink, want 1", l.flushes)
			}
		})
	}
}
