package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/detect"
)

// esConfig returns a configuration that indexes into the node at $ES_URL
// under a namespace of the test's own, with the templates installed; it
// skips without ES_URL (.ci/run starts a real node).
func esConfig(t *testing.T) config.Config {
	t.Helper()
	url := os.Getenv("ES_URL")
	if url == "" {
		t.Skip("ES_URL is not set: no Elasticsearch node to index into (.ci/run starts one)")
	}
	cfg := config.Default()
	cfg.Elasticsearch.URL = url
	cfg.Elasticsearch.Namespace = fmt.Sprintf("app%d", time.Now().UnixNano())
	cfg.Elasticsearch.Spool.Dir = filepath.Join(t.TempDir(), "spool")
	cfg.Elasticsearch.DeadLetter = filepath.Join(t.TempDir(), "dead.ndjson")
	c, err := ElasticClient(cfg.Elasticsearch, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Setup(context.Background(), false, io.Discard); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// esAlertIDs returns the _id of every document with event.kind alert in
// the namespace's alert data stream, with how often each is there, and
// checks that event.id equals _id.
func esAlertIDs(t *testing.T, cfg config.Config) map[string]int {
	t.Helper()
	stream := "logs-mlads.alert-" + cfg.Elasticsearch.Namespace
	post := func(path, body string, into any) {
		resp, err := http.Post(cfg.Elasticsearch.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		if into != nil {
			if err := json.Unmarshal(b, into); err != nil {
				t.Fatal(err)
			}
		}
	}
	post("/"+stream+"/_refresh", "", nil)
	// paged by event.id (a keyword equal to _id), so that any number of
	// alerts is counted, not only a search's first 10,000
	ids := map[string]int{}
	after := ""
	for {
		var res struct {
			Hits struct {
				Hits []struct {
					ID     string `json:"_id"`
					Source struct {
						Event struct {
							ID string `json:"id"`
						} `json:"event"`
					} `json:"_source"`
					Sort []string `json:"sort"`
				} `json:"hits"`
			} `json:"hits"`
		}
		page := `{"size":10000,"query":{"term":{"event.kind":"alert"}},"_source":["event.id"],"sort":[{"event.id":"asc"}]`
		if after != "" {
			b, _ := json.Marshal([]string{after})
			page += `,"search_after":` + string(b)
		}
		post("/"+stream+"/_search", page+"}", &res)
		for _, h := range res.Hits.Hits {
			ids[h.ID]++
			if h.Source.Event.ID != h.ID {
				t.Errorf("document %s has event.id %q", h.ID, h.Source.Event.ID)
			}
		}
		if len(res.Hits.Hits) < 10000 {
			break
		}
		after = res.Hits.Hits[len(res.Hits.Hits)-1].Sort[0]
	}
	// a copy that ties with a page's last document is not on the next
	// page: the count of all documents tells
	var count struct{ Count int }
	post("/"+stream+"/_count", `{"query":{"term":{"event.kind":"alert"}}}`, &count)
	seen := 0
	for _, n := range ids {
		seen += n
	}
	if seen != count.Count {
		t.Errorf("%d alert documents in %s, %d seen by paging: the missing ones are copies", count.Count, stream, seen)
	}
	return ids
}

// TestAnalyzeIndexesEveryAlert: mlads analyze with elasticsearch.url set
// indexes every alert it made (stdout holds their incidents), each once,
// found by event.kind: alert; a second run of the same input adds nothing.
func TestAnalyzeIndexesEveryAlert(t *testing.T) {
	cfg := esConfig(t)
	sample := filepath.Join("..", "..", "testdata", "sample.pcap")
	for run := range 2 {
		sinks, closeSinks, err := OutputSinks(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		rep, err := Analyze(context.Background(), AnalyzeOptions{Paths: []string{sample}, Detect: detect.DefaultConfig(),
			Observer: "es-test", Out: &out, Sinks: sinks})
		if err := closeSinks(); err != nil {
			t.Fatal(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		ids := esAlertIDs(t, cfg)
		want := int(rep.Alerts) + rep.Findings
		if len(ids) != want {
			t.Errorf("run %d: %d alerts indexed, want %d (%d flow alerts, %d findings)", run+1, len(ids), want, rep.Alerts, rep.Findings)
		}
		for id, n := range ids {
			if n != 1 {
				t.Errorf("alert %s indexed %d times", id, n)
			}
		}
		for line := range strings.Lines(out.String()) {
			var d struct {
				Event struct{ ID string } `json:"event"`
			}
			if err := json.Unmarshal([]byte(line), &d); err != nil || ids[d.Event.ID] != 1 {
				t.Errorf("the first alert of a printed incident, %s, is not indexed once (%v)", d.Event.ID, err)
			}
		}
	}
}
