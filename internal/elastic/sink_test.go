package elastic

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/detect"
)

// testAlerts returns n distinct alerts and, every tenth, an incident
// version, as the pipeline would hand them over.
func testAlerts(tb testing.TB, n int) []*alert.Alert {
	if tb != nil {
		tb.Helper()
	}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	inc := alert.NewIncidents(time.Hour, 1000)
	detectors := []string{"horizontal_scan", "vertical_scan", "beacon", "syn_flood", "volume"}
	var out []*alert.Alert
	for i := range n {
		host := netip.AddrFrom4([4]byte{10, 0, byte(i / 250 % 250), byte(i%250 + 1)}).String()
		f := &detect.Finding{
			Detector: detectors[i%len(detectors)], Host: host, Peer: "192.168.1.9",
			Start: t0.Add(time.Duration(i) * time.Second), End: t0.Add(time.Duration(i)*time.Second + time.Minute),
			PValue: 1e-6, Summary: fmt.Sprintf("test alert %d", i),
			Evidence: map[string]any{"port": 22, "proto": "tcp", "hosts": i % 97},
			UIDs:     []string{fmt.Sprintf("C%07d", i)},
		}
		a := alert.FromFinding(f, "sensor-a")
		out = append(out, a)
		if i%10 == 0 {
			// Repeats of one host and rule: the incident's versions.
			rep := *a
			rep.MLADS.Host = "10.9.9.9"
			v, _ := inc.Add(&rep)
			out = append(out, v)
		}
	}
	return out
}

// testSink returns a sink of c with its spool and dead-letter file in a
// temporary folder.
func testSink(tb testing.TB, c *Client, o SinkOptions) *Sink {
	tb.Helper()
	dir := tb.TempDir()
	if o.SpoolDir == "" {
		o.SpoolDir = filepath.Join(dir, "spool")
	}
	o.DeadLetter = filepath.Join(dir, "dead.ndjson")
	o.Logger = testLogger(tb)
	s, err := NewSink(c, o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// resetNamespace deletes the namespace's data streams and incident indices
// and installs the templates.
func resetNamespace(tb testing.TB, c *Client) {
	tb.Helper()
	esDo(tb, "DELETE", "/_data_stream/"+c.names.Alerts+","+c.names.Health, nil, 200, 404)
	esDo(tb, "DELETE", "/"+c.names.Incidents+"*", nil, 200, 404)
	if err := c.Setup(context.Background(), false, io.Discard); err != nil {
		tb.Fatal(err)
	}
}

// storedIDs returns the docKey of every document in the namespace's alert
// stream and incident indices, with how often each is there.
func storedIDs(tb testing.TB, c *Client) map[string]int {
	tb.Helper()
	esDo(tb, "POST", "/"+c.names.Alerts+","+c.names.Incidents+"*/_refresh?ignore_unavailable=true&allow_no_indices=true", nil, 200)
	ids := map[string]int{}
	var res struct {
		Hits struct {
			Hits []struct {
				ID     string `json:"_id"`
				Index  string `json:"_index"`
				Source struct {
					Event struct {
						ID string `json:"id"`
					} `json:"event"`
				} `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	for _, target := range []string{c.names.Alerts, c.names.Incidents + "*"} {
		var after string
		for {
			body := `{"size":5000,"_source":["event.id"],"sort":[{"event.id":"asc"}]`
			if after != "" {
				body += `,"search_after":["` + after + `"]`
			}
			body += "}"
			res.Hits.Hits = nil
			esDo(tb, "POST", "/"+target+"/_search?ignore_unavailable=true&allow_no_indices=true", &res, 200, []byte(body))
			for _, h := range res.Hits.Hits {
				ids[docKey(strings.HasPrefix(h.Index, c.names.Incidents), h.ID)]++
				if h.Source.Event.ID != h.ID {
					tb.Errorf("document %s has event.id %q", h.ID, h.Source.Event.ID)
				}
				after = h.Source.Event.ID
			}
			if len(res.Hits.Hits) < 5000 {
				break
			}
		}
	}
	return ids
}

// docKey tells an incident from the alert it started with: they share
// the ID, in different indices.
func docKey(incident bool, id string) string {
	if incident {
		return "incident/" + id
	}
	return id
}

// checkExactlyOnce checks that every document of want is stored once,
// and nothing else.
func checkExactlyOnce(tb testing.TB, c *Client, want []*alert.Alert) {
	tb.Helper()
	ids := storedIDs(tb, c)
	wantIDs := map[string]bool{}
	for _, a := range want {
		wantIDs[docKey(a.IsIncident(), a.ID())] = true
	}
	missing, dup := 0, 0
	for id := range wantIDs {
		switch ids[id] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	if missing > 0 || dup > 0 || len(ids) != len(wantIDs) {
		tb.Fatalf("stored %d distinct IDs, want %d: %d missing, %d duplicated", len(ids), len(wantIDs), missing, dup)
	}
}

func TestSinkIndexesAlerts(t *testing.T) {
	c := testClient(t, "sink")
	resetNamespace(t, c)
	s := testSink(t, c, SinkOptions{})
	docs := testAlerts(t, 500)
	ctx := context.Background()
	if _, err := s.Write(ctx, docs[:300]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, docs[300:]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Writing everything again stores nothing twice.
	if _, err := s.Write(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, c, docs)
	checkIncidentsLatest(t, c, docs)

	// Found as the issue says: event.kind alert in the mlads data streams.
	var cnt struct {
		Count int `json:"count"`
	}
	esDo(t, "POST", "/*mlads*/_count", &cnt, 200, []byte(`{"query":{"term":{"event.kind":"alert"}}}`))
	if cnt.Count < 500 {
		t.Errorf("event.kind:alert finds %d documents, want at least 500", cnt.Count)
	}
	// The incident holds its latest version.
	var inc struct {
		Source alert.Alert `json:"_source"`
	}
	last := docs[len(docs)-1]
	for i := len(docs) - 1; i >= 0; i-- {
		if docs[i].IsIncident() {
			last = docs[i]
			break
		}
	}
	idx := c.names.Incidents + last.MLADS.Incident.FirstSeen.Format("2006.01")
	esDo(t, "GET", "/"+idx+"/_doc/"+last.ID(), &inc, 200)
	if inc.Source.MLADS.Incident.Count != last.MLADS.Incident.Count {
		t.Errorf("incident count %d, want %d", inc.Source.MLADS.Incident.Count, last.MLADS.Incident.Count)
	}
	st := s.Stats()
	if st.DeadLetters != 0 || st.Spooled != 0 {
		t.Errorf("stats %+v", st)
	}
	if st.Duplicates < uint64(len(docs)-50) {
		t.Errorf("second write: %d duplicates (409), want about %d", st.Duplicates, len(docs))
	}
}

// checkIncidentsLatest checks that every incident holds its newest
// version (the highest count written), however the writes were reordered.
func checkIncidentsLatest(tb testing.TB, c *Client, docs []*alert.Alert) {
	tb.Helper()
	want := map[string]int{}
	for _, a := range docs {
		if a.IsIncident() {
			want[a.ID()] = max(want[a.ID()], a.MLADS.Incident.Count)
		}
	}
	var res struct {
		Hits struct {
			Hits []struct {
				ID     string      `json:"_id"`
				Source alert.Alert `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	esDo(tb, "POST", "/"+c.names.Incidents+"*/_search", &res, 200, []byte(`{"size":1000}`))
	if len(res.Hits.Hits) != len(want) {
		tb.Fatalf("%d incidents stored, want %d", len(res.Hits.Hits), len(want))
	}
	for _, h := range res.Hits.Hits {
		if got := h.Source.MLADS.Incident.Count; got != want[h.ID] {
			tb.Errorf("incident %s: count %d, want the latest %d", h.ID, got, want[h.ID])
		}
	}
}
