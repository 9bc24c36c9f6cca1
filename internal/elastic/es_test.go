package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/elastic/estest"
)

// testClient returns a client of the real node at $ES_URL, in a namespace
// of its own so tests do not see each other's documents, or skips. It
// holds the shared test lock (estest.Lock) until the test ends.
func testClient(tb testing.TB, namespace string) *Client {
	tb.Helper()
	return lockedClient(tb, namespace, false)
}

// lockedClient is testClient with the lock exclusive or shared.
func lockedClient(tb testing.TB, namespace string, exclusive bool) *Client {
	tb.Helper()
	u := estest.URL(tb)
	estest.Lock(tb, exclusive)
	c, err := New(Options{URL: u, Namespace: namespace, Retention: "30d", Timeout: 30 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// esGet performs a GET on the test node and decodes its JSON answer.
func esGet(tb testing.TB, path string, into any) {
	tb.Helper()
	res, err := http.Get(strings.TrimRight(os.Getenv("ES_URL"), "/") + path)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		tb.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
	if err := json.Unmarshal(b, into); err != nil {
		tb.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

func TestSetupTwice(t *testing.T) {
	c := testClient(t, "setup")
	ctx := context.Background()
	for i := range 2 {
		if err := c.Setup(ctx, false, io.Discard); err != nil {
			t.Fatalf("setup #%d: %v", i+1, err)
		}
	}
	var tpl struct {
		IndexTemplates []struct {
			Name          string `json:"name"`
			IndexTemplate struct {
				Meta map[string]any `json:"_meta"`
			} `json:"index_template"`
		} `json:"index_templates"`
	}
	esGet(t, "/_index_template/"+templateAlert, &tpl)
	if len(tpl.IndexTemplates) != 1 || tpl.IndexTemplates[0].IndexTemplate.Meta["version"] != float64(MappingVersion) {
		t.Fatalf("installed template: %+v", tpl)
	}
}

// esDo sends a request to the test node, checks its status against ok and
// decodes the answer into into (when not nil).
func esDo(tb testing.TB, method, path string, into any, okStatus ...any) {
	tb.Helper()
	var body io.Reader
	var codes []int
	for _, o := range okStatus {
		switch v := o.(type) {
		case int:
			codes = append(codes, v)
		case []byte:
			body = bytes.NewReader(v)
		}
	}
	req, err := http.NewRequest(method, strings.TrimRight(os.Getenv("ES_URL"), "/")+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(res.Body)
	if !slices.Contains(codes, res.StatusCode) {
		tb.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			tb.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// testLogger logs to the test's output.
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestSetupTemplateConflict installs a foreign template that overlaps
// ours at the same priority: Setup must fail with one error naming it.
// It uses the health template, which no test writes through.
func TestSetupTemplateConflict(t *testing.T) {
	c := lockedClient(t, "conflict", true)
	esDo(t, "DELETE", "/_data_stream/metrics-mlads.health-*", nil, 200, 404)
	esDo(t, "DELETE", "/_index_template/"+templateHealth, nil, 200, 404)
	esDo(t, "PUT", "/_index_template/someone-elses", nil, 200,
		[]byte(`{"index_patterns":["metrics-mlads.health-conflict*"],"priority":200,"data_stream":{}}`))
	err := c.Setup(context.Background(), false, io.Discard)
	esDo(t, "DELETE", "/_index_template/someone-elses", nil, 200, 404)
	if err == nil || !strings.Contains(err.Error(), "put index template metrics-mlads.health: HTTP 400") ||
		!strings.Contains(err.Error(), "someone-elses") {
		t.Fatalf("got %v, want a 400 naming the conflicting template", err)
	}
	t.Log(err)
	if err := c.Setup(context.Background(), false, io.Discard); err != nil {
		t.Fatal(err)
	}
}

// TestSetupUpgradesMapping installs the templates as an older mlads
// (mapping version 0) would have left them, with a data stream written
// to, and checks that Setup rolls it over so new documents get the new
// mapping; and that a newer installed version is refused.
func TestSetupUpgradesMapping(t *testing.T) {
	c := lockedClient(t, "upgrade", true)
	resetNamespace(t, c)
	ctx := context.Background()
	s := testSink(t, c, SinkOptions{})
	if _, err := s.Write(ctx, testAlerts(t, 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	generation := func() int {
		var ds struct {
			DataStreams []struct {
				Generation int `json:"generation"`
			} `json:"data_streams"`
		}
		esGet(t, "/_data_stream/"+c.names.Alerts, &ds)
		if len(ds.DataStreams) != 1 {
			t.Fatalf("data streams: %+v", ds)
		}
		return ds.DataStreams[0].Generation
	}
	before := generation()
	setMeta := func(version int) {
		var tpl struct {
			IndexTemplates []struct {
				IndexTemplate map[string]any `json:"index_template"`
			} `json:"index_templates"`
		}
		esGet(t, "/_index_template/"+templateAlert, &tpl)
		it := tpl.IndexTemplates[0].IndexTemplate
		it["_meta"].(map[string]any)["version"] = version
		b, _ := json.Marshal(it)
		esDo(t, "PUT", "/_index_template/"+templateAlert, nil, 200, b)
	}
	setMeta(0)
	if err := c.Setup(ctx, false, io.Discard); err != nil {
		t.Fatal(err)
	}
	if after := generation(); after != before+1 {
		t.Errorf("generation %d after the upgrade, want %d: not rolled over", after, before+1)
	}
	if err := c.Setup(ctx, false, io.Discard); err != nil {
		t.Fatal(err)
	}
	if after := generation(); after != before+1 {
		t.Errorf("generation %d after a second setup, want %d: rolled over again", after, before+1)
	}
	setMeta(MappingVersion + 1)
	err := c.Setup(ctx, false, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "newer than this mlads's") {
		t.Errorf("newer installed mapping: %v", err)
	}
	setMeta(MappingVersion)
}
