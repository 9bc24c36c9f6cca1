package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/elastic/estest"
)

// TestSetupCommand runs what `mlads setup` runs against the real node and
// a stand-in Kibana, twice, then the dry run.
func TestSetupCommand(t *testing.T) {
	esURL := estest.URL(t)
	estest.Lock(t, false)
	var imports atomic.Int64
	kibana := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/saved_objects/_import" || r.Header.Get("kbn-xsrf") == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		imports.Add(1)
		_, _ = io.WriteString(w, `{"success":true,"successCount":1}`)
	}))
	defer kibana.Close()

	cfg, err := config.Load("", []string{"MLADS_ELASTICSEARCH_URL=" + esURL, "MLADS_ELASTICSEARCH_NAMESPACE=setupcmd", "MLADS_KIBANA_URL=" + kibana.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	for i := range 2 {
		var out bytes.Buffer
		if err := Setup(ctx, cfg, SetupOptions{Out: &out, Getenv: os.Getenv, Logger: log}); err != nil {
			t.Fatalf("setup #%d: %v", i+1, err)
		}
		if !strings.Contains(out.String(), "templates and lifecycle policies installed") || !strings.Contains(out.String(), "kibana: 4 saved-object files imported") {
			t.Errorf("setup #%d said:\n%s", i+1, out.String())
		}
	}
	if n := imports.Load(); n != 8 {
		t.Errorf("%d imports, want 4 files twice", n)
	}

	var dry bytes.Buffer
	if err := Setup(ctx, cfg, SetupOptions{DryRun: true, Out: &dry, Getenv: os.Getenv, Logger: log}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PUT /_ilm/policy/mlads\n", "PUT /_index_template/logs-mlads.alert\n",
		"POST " + kibana.URL + "/api/saved_objects/_import?overwrite=true  (multipart file 10-alert-overview.ndjson"} {
		if !strings.Contains(dry.String(), want) {
			t.Errorf("dry run lacks %q", want)
		}
	}
	if imports.Load() != 8 {
		t.Error("the dry run imported")
	}
}

// TestElasticSinkOff checks that no sink is built without a URL, and that
// a username without its password is an error naming the variable.
func TestElasticSinkOff(t *testing.T) {
	s, c, err := ElasticSink(config.Default(), slog.New(slog.DiscardHandler))
	if s != nil || c != nil || err != nil {
		t.Fatalf("without elasticsearch.url: %v %v %v", s, c, err)
	}
	cfg := config.Default()
	cfg.Elasticsearch.URL = "http://127.0.0.1:1"
	cfg.Elasticsearch.Username = "mlads"
	cfg.Elasticsearch.PasswordEnv = "MLADS_TEST_UNSET_PASSWORD_VARIABLE"
	cfg.Elasticsearch.Spool.Dir = filepath.Join(t.TempDir(), "spool")
	if _, _, err := ElasticSink(cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "$MLADS_TEST_UNSET_PASSWORD_VARIABLE (elasticsearch.password_env) is empty") {
		t.Fatalf("username without a password: %v", err)
	}
	// An unreachable cluster is no reason not to start: alerts are spooled.
	cfg.Elasticsearch.Username = ""
	cfg.Elasticsearch.DeadLetter = filepath.Join(t.TempDir(), "dead")
	var logs bytes.Buffer
	s, c, err = ElasticSink(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil || s == nil {
		t.Fatalf("unreachable cluster: %v", err)
	}
	_ = c.Close()
	if !strings.Contains(logs.String(), "Elasticsearch does not answer; alerts are spooled until it does") {
		t.Errorf("no warning: %s", logs.String())
	}
	// Refused credentials are.
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer refuse.Close()
	cfg.Elasticsearch.URL = refuse.URL
	if _, _, err := ElasticSink(cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("refused credentials: %v", err)
	}
}

// TestAnalyzeIntoElasticsearch runs analyze on the bundled capture, hands
// its alert documents to the sink ElasticSink builds, and finds each by
// event.kind: alert with event.id equal to _id. (The pipeline will call
// the sink directly; this checks that what analyze writes indexes as is.)
func TestAnalyzeIntoElasticsearch(t *testing.T) {
	esURL := estest.URL(t)
	estest.Lock(t, false)
	cfg := config.Default()
	var out bytes.Buffer
	pc := PcapConfig(cfg.Pcap)
	if _, err := Analyze(context.Background(), AnalyzeOptions{Paths: []string{"../../testdata/sample.pcap"}, Detect: DetectConfig(cfg.Detect),
		Input: Input{Pcap: &pc}, Observer: "test-sensor", Out: &out, Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	var docs []*alert.Alert
	for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte{'\n'}) {
		var a alert.Alert
		if err := json.Unmarshal(line, &a); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, &a)
	}
	if len(docs) < 3 {
		t.Fatalf("analyze wrote %d alerts", len(docs))
	}

	const ns = "analyze"
	cfg.Elasticsearch.URL = esURL
	cfg.Elasticsearch.Namespace = ns
	cfg.Elasticsearch.Spool.Dir = filepath.Join(t.TempDir(), "spool")
	cfg.Elasticsearch.DeadLetter = filepath.Join(t.TempDir(), "dead")
	c, err := ElasticClient(cfg.Elasticsearch, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Setup(ctx, false, io.Discard); err != nil {
		t.Fatal(err)
	}
	esReq(t, "DELETE", esURL+"/_data_stream/logs-mlads.alert-"+ns, "")
	esReq(t, "DELETE", esURL+"/mlads-incident-"+ns+"-*", "")
	sink, closer, err := ElasticSink(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	esReq(t, "POST", esURL+"/*mlads*"+ns+"*/_refresh", "")
	var res struct {
		Hits struct {
			Hits []struct {
				ID     string      `json:"_id"`
				Source alert.Alert `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	b := esReq(t, "POST", esURL+"/*mlads*"+ns+"*/_search", `{"size":1000,"query":{"term":{"event.kind":"alert"}}}`)
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Hits.Hits) != len(docs) {
		t.Errorf("found %d documents by event.kind: alert, analyze wrote %d", len(res.Hits.Hits), len(docs))
	}
	for _, h := range res.Hits.Hits {
		if h.ID != h.Source.Event.ID {
			t.Errorf("_id %s, event.id %s", h.ID, h.Source.Event.ID)
		}
	}
}

func esReq(t *testing.T, method, url, body string) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return b
}
