package elastic

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestHealthDocuments: a report with two captured interfaces is three
// documents in the health stream, the sensor's and one per interface,
// each interface's counters under mlads.health.capture beside its name in
// observer.ingress.interface.name, mapped as the template says; the same
// report sent again is stored once (its IDs derive from the sensor, the
// time and the interface).
func TestHealthDocuments(t *testing.T) {
	c := lockedClient(t, "healthcap", false)
	resetNamespace(t, c)
	ctx := context.Background()
	s := testSink(t, c, SinkOptions{})
	h := Health{
		Time: time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC), Observer: "sensor-9", Inputs: 2, Flows: 10,
		Capture: []CaptureHealth{
			{Interface: "eth1", Packets: 1000, KernelDrops: 3, RingDrops: 4, DecodeErrs: 5},
			{Interface: "eth2", Packets: 2000},
		},
	}
	for range 2 {
		if _, err := s.WriteHealth(ctx, h); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Stored != 3 || st.Duplicates != 3 || st.DeadLetters != 0 {
		t.Errorf("stored %d, duplicates %d, dead letters %d: want 3, 3, 0", st.Stored, st.Duplicates, st.DeadLetters)
	}
	esDo(t, "POST", "/"+c.names.Health+"/_refresh", nil, 200)
	var res struct {
		Hits struct {
			Hits []struct {
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	// searched by the mapped fields: keyword and long
	esDo(t, "POST", "/"+c.names.Health+"/_search", &res, 200,
		[]byte(`{"query":{"bool":{"filter":[{"term":{"observer.ingress.interface.name":"eth1"}},{"range":{"mlads.health.capture.ring_drops":{"gte":4}}}]}}}`))
	if len(res.Hits.Hits) != 1 {
		t.Fatalf("%d documents of eth1 with 4 ring drops, want 1", len(res.Hits.Hits))
	}
	want := `{"@timestamp":"2026-12-04T21:00:00Z","event":{"kind":"metric","dataset":"mlads.health","module":"mlads"},` +
		`"observer":{"name":"sensor-9","type":"ids","vendor":"mlads","product":"mlads","ingress":{"interface":{"name":"eth1"}}},` +
		`"mlads":{"health":{"capture":{"packets":1000,"kernel_drops":3,"ring_drops":4,"decode_errors":5}}}}`
	if got := string(res.Hits.Hits[0].Source); got != want {
		t.Errorf("eth1's document:\n got %s\nwant %s", got, want)
	}
	var count struct{ Count int }
	esDo(t, "POST", "/"+c.names.Health+"/_count", &count, 200, []byte(`{"query":{"exists":{"field":"mlads.health.flows"}}}`))
	if count.Count != 1 {
		t.Errorf("%d sensor documents, want 1", count.Count)
	}
	// and mapped as the template says, not guessed from the values
	var mapping map[string]json.RawMessage
	esDo(t, "GET", "/"+c.names.Health+"/_mapping", &mapping, 200)
	if len(mapping) == 0 {
		t.Fatal("no mapping of the health stream")
	}
	for index, m := range mapping {
		for _, f := range []string{`"ingress":{"properties":{"interface":{"properties":{"name":{"type":"keyword"`,
			`"capture":{"properties":{"decode_errors":{"type":"long"},"kernel_drops":{"type":"long"},"packets":{"type":"long"},"ring_drops":{"type":"long"}}}`} {
			if !strings.Contains(string(m), f) {
				t.Errorf("index %s: no %s in its mapping: %s", index, f, m)
			}
		}
	}
}
