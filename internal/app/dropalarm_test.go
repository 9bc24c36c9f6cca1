package app

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/elastic"
)

// TestAnalyzeRaisesHealthAlertWhenSpoolDrops: Elasticsearch does not
// answer and its spool is too small for the alerts under drop_oldest, so
// documents are lost by policy; the alerts printed (the other outputs)
// include a health alert that says how many.
func TestAnalyzeRaisesHealthAlertWhenSpoolDrops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	_ = ln.Close() // nothing listens there now: the cluster is unreachable
	c, err := elastic.New(elastic.Options{URL: url, Namespace: "droptest", Retention: "30d"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	es, err := elastic.NewSink(c, elastic.SinkOptions{
		SpoolDir: filepath.Join(dir, "spool"), SpoolMaxBytes: 4 << 10, SpoolWhenFull: elastic.WhenFullDropOldest,
		DeadLetter: filepath.Join(dir, "dead.ndjson"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = es.Close() }()
	var out bytes.Buffer
	_, err = Analyze(context.Background(), AnalyzeOptions{Paths: []string{filepath.Join("..", "..", "testdata", "sample.pcap")},
		Detect: detect.DefaultConfig(), Observer: "drop-test", Out: &out, Sinks: []alert.Sink{es}})
	if err != nil {
		t.Fatal(err)
	}
	if es.Dropped() == 0 {
		t.Fatalf("the spool dropped nothing (stats %+v): the test does not test anything", es.Stats())
	}
	var health []string
	for line := range strings.Lines(out.String()) {
		if strings.Contains(line, `"mlads.health.output_dropped"`) {
			health = append(health, line)
		}
	}
	if len(health) != 1 {
		t.Fatalf("%d health alerts printed, want 1:\n%s", len(health), out.String())
	}
	if !strings.Contains(health[0], "bound for elasticsearch") {
		t.Errorf("health alert does not name the output: %s", health[0])
	}
}
