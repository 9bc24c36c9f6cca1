package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/rules"
)

// TestAnalyzeMarksSuppressedAlerts: a suppress rule for the sample's port
// scanner and a severity rule for its NTP beacon; analyze still writes both
// alerts, the scan with mlads.suppressed_by and the beacon at the rule's
// severity, and leaves the others alone.
func TestAnalyzeMarksSuppressedAlerts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(`rules:
  - id: pentest
    kind: suppress
    owner: secops@example.org
    reason: the red team's scanner
    expires: 2099-01-01
    match:
      detectors: [vertical_scan]
      src: [10.1.0.66]
  - id: gateway-ntp
    kind: severity
    severity: low
    owner: bob@example.org
    reason: the gateway's NTP polls
    expires: 2099-01-01
    match:
      detectors: [beacon]
      src: [10.1.0.1]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := Analyze(context.Background(), AnalyzeOptions{Paths: []string{filepath.Join("..", "..", "testdata", "sample.pcap")},
		Detect: detect.DefaultConfig(), Out: &out, Rules: rs}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for line := range strings.Lines(out.String()) {
		var a struct {
			Rule  struct{ Name string }
			MLADS struct {
				Host               string `json:"host"`
				Severity           string `json:"severity"`
				SuppressedBy       string `json:"suppressed_by"`
				SeverityOverrideBy string `json:"severity_override_by"`
			} `json:"mlads"`
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatal(err)
		}
		got[a.Rule.Name+" "+a.MLADS.Host] = a.MLADS.Severity + " " + a.MLADS.SuppressedBy + " " + a.MLADS.SeverityOverrideBy
	}
	want := map[string]string{
		"vertical_scan 10.1.0.66": "critical pentest ",
		"beacon 10.1.0.1":         "low  gateway-ntp",
		"beacon 10.1.0.77":        "critical  ",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: severity, suppressed_by, override %q; want %q", k, got[k], w)
		}
	}
}
