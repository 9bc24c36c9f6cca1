package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/golden"
	"github.com/mlads/mlads/internal/shareddata"
)

// goldenCase is one command run whose output is kept in
// testdata/golden/<name>.golden. The outputs of score and analyze were
// recorded before the commands moved onto internal/pipeline; the pipeline
// must reproduce them byte for byte (go test -run Golden -update rewrites
// them, and the diff of a rewrite must be explained in its commit).
type goldenCase struct {
	name  string
	train []string // model trained on these first; none: analyze learns from its input
	score bool     // `mlads score` (every flow) instead of `mlads analyze` (alerts)
	paths []string
}

func goldenCases(tb testing.TB) []goldenCase {
	strat := func(set string) string {
		return shareddata.Path(tb, "stratosphere-labeled", "security-datasets-for-testing", set, "data", "conn.log.labeled")
	}
	sample := filepath.Join("..", "..", "testdata", "sample.pcap")
	return []goldenCase{
		{name: "analyze-sample", paths: []string{sample}},
		{name: "analyze-portscan", paths: []string{shareddata.Path(tb, "stratosphere-labeled", "security-datasets-for-testing", "002-zeek-scenario-port-scanning", "conn.log")}},
		{name: "analyze-cc-pcap", paths: []string{shareddata.Path(tb, "slips-dataset", "test-cc", "test-cc-capture-1.pcap")}},
		{name: "analyze-zeus-eve", paths: []string{shareddata.Path(tb, "suricata-eve", "menna-islam-zeus", "eve.json")}},
		{name: "analyze-model-strat012", train: []string{strat("011-zeek-mixed")}, paths: []string{strat("012-zeek-mixed")}},
		{name: "score-sample", train: []string{sample}, score: true, paths: []string{sample}},
		{name: "score-strat012", train: []string{strat("011-zeek-mixed")}, score: true, paths: []string{strat("012-zeek-mixed")}},
	}
}

// TestGoldenScoreAnalyze keeps the output of score and analyze on the
// bundled sample and on shared captures and logs. A file holds the output
// whole when it is small; otherwise its SHA-256 and length, then the first
// 100 alert lines (score) so that a difference can be read.
func TestGoldenScoreAnalyze(t *testing.T) {
	ctx := context.Background()
	cfg := detect.DefaultConfig()
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			model := ""
			if len(c.train) > 0 {
				model = filepath.Join(t.TempDir(), "m.model")
				if _, err := Train(ctx, TrainOptions{Paths: c.train, Out: model, Detect: cfg}); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			var err error
			if c.score {
				_, err = Score(ctx, ScoreOptions{Paths: c.paths, Model: model, Detect: cfg, Behavior: true, Out: &out})
			} else {
				_, err = Analyze(ctx, AnalyzeOptions{Paths: c.paths, Model: model, Detect: cfg, Observer: "golden", Out: &out})
			}
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "golden", c.name+".golden"), goldenForm(out.Bytes(), c.score))
		})
	}
}

// goldenForm is what a golden file keeps of an output: all of it up to
// 64 KiB, else its digest and length and, for score, its first 100 alerting lines.
func goldenForm(out []byte, score bool) []byte {
	if len(out) <= 64<<10 {
		return out
	}
	sum := sha256.Sum256(out)
	var b bytes.Buffer
	fmt.Fprintf(&b, "sha256 %s, %d bytes, %d lines\n", hex.EncodeToString(sum[:]), len(out), bytes.Count(out, []byte("\n")))
	if score {
		n := 0
		for line := range strings.Lines(string(out)) {
			if strings.Contains(line, `"alert":true`) && n < 100 {
				b.WriteString(line)
				n++
			}
		}
	}
	return b.Bytes()
}
