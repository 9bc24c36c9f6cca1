package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mlads/mlads/internal/config"
)

// TestSetupCommand runs what `mlads setup` runs against the real node and
// a stand-in Kibana, twice, then the dry run.
func TestSetupCommand(t *testing.T) {
	esURL := os.Getenv("ES_URL")
	if esURL == "" {
		t.Skip("ES_URL is unset: start a node with ../shared/esnode/esnode-ci.sh start and set ES_URL to the URL it prints")
	}
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
}
