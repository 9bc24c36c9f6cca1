package elastic

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// testClient returns a client of the real node at $ES_URL, in a namespace
// of its own so tests do not see each other's documents, or skips.
func testClient(tb testing.TB, namespace string) *Client {
	tb.Helper()
	u := os.Getenv("ES_URL")
	if u == "" {
		tb.Skip("ES_URL is unset: start a node with ../shared/esnode/esnode-ci.sh start and set ES_URL to the URL it prints")
	}
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
	defer res.Body.Close()
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
