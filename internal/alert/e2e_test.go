package alert

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/pcap"
)

// TestCaptureToIncidents runs a capture through the behavioural detectors
// and turns the findings into alerts and incidents: the SYN flood of
// StopDDoS is reported early and again with its final counts, and the two
// reports are one incident (one document ID) with count 2.
//
//	go test ./internal/alert/ -run CaptureToIncidents -v
func TestCaptureToIncidents(t *testing.T) {
	d := filepath.Join("..", "..", "..", "shared", "data")
	if v := os.Getenv("MLADS_TESTDATA"); v != "" {
		d = v
	}
	path := filepath.Join(d, "stopddos-pcaps", "pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("shared test data not found (set MLADS_TESTDATA): %v", err)
	}
	e := behavior.New(behavior.DefaultConfig())
	var fs []detect.Finding
	if _, err := pcap.ReadFiles(context.Background(), []string{path}, pcap.DefaultConfig(), func(r *flow.Record) error {
		fs = append(fs, e.Observe(r)...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	fs = append(fs, e.Flush()...)

	inc := NewIncidents(0, 0)
	var last *Alert
	var opened int
	for i := range fs {
		if fs[i].Detector != behavior.SYNFlood {
			continue
		}
		a, isNew := inc.Add(FromFinding(&fs[i], "test-sensor"))
		if isNew {
			opened++
		}
		last = a
	}
	if last == nil {
		t.Fatalf("no syn_flood finding in %s", path)
	}
	if opened != 1 || last.MLADS.Incident.Count < 2 {
		t.Errorf("early and final flood reports: %d incidents opened, count %d; want one incident of 2", opened, last.MLADS.Incident.Count)
	}
	m := doc(t, last)
	checkFields(t, m, map[string]any{
		"event.kind":        "alert",
		"rule.name":         "syn_flood",
		"destination.ip":    "10.10.10.10",
		"mlads.host":        "10.10.10.10",
		"observer.name":     "test-sensor",
		"mlads.incident.id": last.ID(),
	})
	if n, _ := field(m, "mlads.evidence.half_open_flows").(float64); n < 9000 {
		t.Errorf("incident evidence is not the final count: %v", n)
	}
	b, _ := json.MarshalIndent(last, "", "  ")
	t.Logf("%s", b)
}
