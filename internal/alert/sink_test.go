package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// memSink records what it is given; fail makes its next calls fail.
type memSink struct {
	docs    []*Alert
	flushes int
	fail    []error // errors for the next calls, in order
	retry   bool
}

func (m *memSink) next() error {
	if len(m.fail) == 0 {
		return nil
	}
	err := m.fail[0]
	m.fail = m.fail[1:]
	return err
}

func (m *memSink) Write(_ context.Context, docs []*Alert) (bool, error) {
	if err := m.next(); err != nil {
		return m.retry, err
	}
	m.docs = append(m.docs, docs...)
	return false, nil
}

func (m *memSink) Flush(context.Context) (bool, error) {
	if err := m.next(); err != nil {
		return m.retry, err
	}
	m.flushes++
	return false, nil
}

func scanAlert(host string, at time.Time) *Alert {
	a := newAlert("test")
	a.Timestamp, a.Event.Start, a.Event.End = at, at, at.Add(time.Minute)
	a.Rule = Rule{ID: "mlads.behavior.horizontal_scan", Name: "horizontal_scan"}
	a.MLADS.Host, a.MLADS.PValue, a.MLADS.Summary = host, 1e-9, host+" scanned"
	a.finish()
	return a
}

func TestFoldBatchWritesEachIncidentOnceAtFlush(t *testing.T) {
	ctx := context.Background()
	var m memSink
	f := NewFold(&m, time.Hour, 0, false)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		if _, err := f.Write(ctx, []*Alert{scanAlert("10.0.0.1", t0.Add(time.Duration(i)*time.Minute)), scanAlert("10.0.0.2", t0)}); err != nil {
			t.Fatal(err)
		}
	}
	if len(m.docs) != 0 {
		t.Fatalf("batch fold wrote %d documents before Flush", len(m.docs))
	}
	if _, err := f.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(m.docs) != 2 || m.flushes != 1 {
		t.Fatalf("%d documents, %d flushes; want 2 incidents and 1 flush", len(m.docs), m.flushes)
	}
	if c := m.docs[0].MLADS.Incident.Count; c != 5 || m.docs[0].MLADS.Host != "10.0.0.1" || !m.docs[0].IsIncident() {
		t.Errorf("first incident: host %s count %d", m.docs[0].MLADS.Host, c)
	}
}

func TestFoldLivePassesAlertsAndUpdatesIncidentsPerFlush(t *testing.T) {
	ctx := context.Background()
	var m memSink
	f := NewFold(&m, time.Hour, 0, true)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(as ...*Alert) {
		t.Helper()
		if _, err := f.Write(ctx, as); err != nil {
			t.Fatal(err)
		}
	}
	write(scanAlert("10.0.0.1", t0))
	if len(m.docs) != 2 || m.docs[0].IsIncident() || !m.docs[1].IsIncident() || m.docs[1].ID() != m.docs[0].ID() {
		t.Fatalf("a new incident: want the alert then its incident (same ID), got %d docs", len(m.docs))
	}
	write(scanAlert("10.0.0.1", t0.Add(time.Minute)), scanAlert("10.0.0.1", t0.Add(2*time.Minute)))
	if len(m.docs) != 4 {
		t.Fatalf("repeats: want the 2 alerts passed on at once, got %d docs", len(m.docs))
	}
	if _, err := f.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(m.docs) != 5 || m.docs[4].MLADS.Incident.Count != 3 {
		t.Fatalf("flush: want one incident update with count 3; %d docs", len(m.docs))
	}
	if _, err := f.Flush(ctx); err != nil || len(m.docs) != 5 {
		t.Fatalf("a second flush wrote again: %d docs, %v", len(m.docs), err)
	}
	// a failed flush keeps the update for the next one
	write(scanAlert("10.0.0.1", t0.Add(3*time.Minute)))
	m.fail = []error{errors.New("down")}
	if _, err := f.Flush(ctx); err == nil {
		t.Fatal("flush: no error")
	}
	if _, err := f.Flush(ctx); err != nil || m.docs[len(m.docs)-1].MLADS.Incident.Count != 4 {
		t.Fatalf("the update after a failed flush: %v", err)
	}
}

func TestFanoutTriesEverySinkAndJoinsRetry(t *testing.T) {
	ctx := context.Background()
	a, b := &memSink{fail: []error{errors.New("a down")}, retry: true}, &memSink{}
	retry, err := Fanout{a, b}.Write(ctx, []*Alert{scanAlert("10.0.0.1", time.Now())})
	if err == nil || !retry || len(b.docs) != 1 {
		t.Fatalf("retry %v err %v, b got %d", retry, err, len(b.docs))
	}
	a.fail, a.retry = []error{errors.New("bad request")}, false
	b.fail, b.retry = []error{errors.New("timeout")}, true
	if retry, err := (Fanout{a, b}).Flush(ctx); err == nil || retry {
		t.Fatalf("one permanent failure: retry %v err %v", retry, err)
	}
}

func TestRetryBacksOffHonoursRetryAfterAndStopsOnPermanent(t *testing.T) {
	ctx := context.Background()
	m := &memSink{retry: true, fail: []error{errors.New("503"), &backoff.RetryAfterError{Duration: 30 * time.Millisecond}, errors.New("reset")}}
	r := Retry{Sink: m, Initial: time.Millisecond, Max: 5 * time.Millisecond}
	t0 := time.Now()
	if _, err := r.Write(ctx, []*Alert{scanAlert("10.0.0.1", t0)}); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el < 30*time.Millisecond {
		t.Errorf("Retry-After of 30ms not honoured: done in %s", el)
	}
	if len(m.docs) != 1 {
		t.Fatalf("%d documents after retries", len(m.docs))
	}
	m.fail, m.retry = []error{errors.New("400"), errors.New("never reached")}, false
	if retry, err := r.Flush(ctx); err == nil || retry || len(m.fail) != 1 {
		t.Fatalf("permanent failure: retry %v, err %v, %d calls left", retry, err, len(m.fail))
	}
	m.fail, m.retry = []error{errors.New("a"), errors.New("b"), errors.New("c"), errors.New("d")}, true
	r.MaxElapsed = 3 * time.Millisecond
	if retry, err := r.Flush(ctx); err == nil || !retry {
		t.Fatalf("gave up on time: retry %v, err %v; want retry true", retry, err)
	}
}

func TestJSONLinesWritesOneDocumentALineAndSyncs(t *testing.T) {
	var buf bytes.Buffer
	syncs := 0
	j := NewJSONLines(&buf, "test", func() error { syncs++; return nil })
	ctx := context.Background()
	if _, err := j.Write(ctx, []*Alert{scanAlert("10.0.0.1", time.Now()), scanAlert("10.0.0.2", time.Now())}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Fatal("written before Flush")
	}
	if _, err := j.Flush(ctx); err != nil || syncs != 1 {
		t.Fatalf("flush: %v, %d syncs", err, syncs)
	}
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var a Alert
	if err := json.Unmarshal(lines[1], &a); err != nil || a.MLADS.Host != "10.0.0.2" {
		t.Fatalf("line 2: %v %+v", err, a.MLADS)
	}
}

// TestJSONLinesLargeBatchInOrder: a batch large enough to be encoded on
// several cores is written as one document after the other would be; a
// document that does not encode stops the write after the ones before it.
func TestJSONLinesLargeBatchInOrder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	r, v := benchFlow()
	docs := make([]*Alert, 3*encodeRound+77)
	var want bytes.Buffer
	for i := range docs {
		r.OrigP = uint16(i)
		docs[i] = FromFlow(r, v, "sensor-1")
		b, err := Encode(docs[i])
		if err != nil {
			t.Fatal(err)
		}
		want.Write(append(b, '\n'))
	}
	ctx := context.Background()
	var got bytes.Buffer
	j := NewJSONLines(&got, "test", nil)
	if _, err := j.Write(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("%d bytes written, want the %d of the documents in order", got.Len(), want.Len())
	}

	bad := *docs[encodeRound+300]
	bad.MLADS.Evidence = map[string]any{"x": math.NaN()}
	docs[encodeRound+300] = &bad
	got.Reset()
	j = NewJSONLines(&got, "test", nil)
	if _, err := j.Write(ctx, docs); err == nil {
		t.Fatal("no error for a document that does not encode")
	}
	if _, err := j.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(got.Bytes(), []byte("\n")); n != encodeRound+300 || !bytes.HasPrefix(want.Bytes(), got.Bytes()) {
		t.Errorf("%d documents written before the failed one; want the %d before it", n, encodeRound+300)
	}
}

// BenchmarkJSONLinesLargeBatch writes 10,000 flow alerts in one batch (a
// batch Fold's Flush) to io.Discard; run it with -cpu 1,2 to compare one
// core with two.
func BenchmarkJSONLinesLargeBatch(b *testing.B) {
	r, v := benchFlow()
	docs := make([]*Alert, 10_000)
	for i := range docs {
		r.OrigP = uint16(i)
		docs[i] = FromFlow(r, v, "sensor-1")
	}
	j := NewJSONLines(io.Discard, "bench", nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := j.Write(ctx, docs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(docs)), "ns/doc")
}

// TestFoldBatchWritesClosedIncidentsEarly: over hours of alerts from many
// hosts, a batch Fold writes the incidents whose window closed before
// Flush, and what it writes in all is each incident once, in its final
// state, in the order the incidents opened: what Incidents says.
func TestFoldBatchWritesClosedIncidentsEarly(t *testing.T) {
	r, v := benchFlow()
	var docs []*Alert
	for i := range 20_000 {
		r.OrigH = netip.AddrFrom4([4]byte{10, 0, byte(i % 700 >> 8), byte(i % 700)})
		r.TS = t0.Add(time.Duration(i) * time.Second)
		r.UID = fmt.Sprintf("C%d", i)
		docs = append(docs, FromFlow(r, v, "sensor-1"))
	}
	inc := NewIncidents(time.Hour, 0)
	var order []string
	final := map[string]*Alert{}
	for _, a := range docs {
		snap, _ := inc.Add(a)
		if _, ok := final[snap.ID()]; !ok {
			order = append(order, snap.ID())
		}
		final[snap.ID()] = snap
	}
	var want bytes.Buffer
	for _, id := range order {
		b, err := Encode(final[id])
		if err != nil {
			t.Fatal(err)
		}
		want.Write(append(b, '\n'))
	}

	ctx := context.Background()
	var got bytes.Buffer
	j := NewJSONLines(&got, "test", nil) // encodes in Write: a document changed after it was written shows
	count := &countSink{next: j}
	f := NewFold(count, time.Hour, 0, false)
	for i := 0; i < len(docs); i += 256 {
		if _, err := f.Write(ctx, docs[i:min(i+256, len(docs))]); err != nil {
			t.Fatal(err)
		}
	}
	early := count.n
	if _, err := f.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("%d incidents written, want %d, or not the same", count.n, len(order))
	}
	if early == 0 || early == len(order) {
		t.Errorf("%d of %d incidents written before Flush; want some, not all", early, len(order))
	}
	t.Logf("%d alerts, %d incidents, %d written before Flush", len(docs), len(order), early)
}

// countSink counts the documents written through it.
type countSink struct {
	next Sink
	n    int
}

func (c *countSink) Write(ctx context.Context, docs []*Alert) (bool, error) {
	c.n += len(docs)
	return c.next.Write(ctx, docs)
}

func (c *countSink) Flush(ctx context.Context) (bool, error) { return c.next.Flush(ctx) }
