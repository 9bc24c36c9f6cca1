package behavior

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/flow"
)

// End-to-end on the Zeek conn logs of ../shared/data. Re-run with
//
//	go test ./internal/detect/behavior/ -run ZeekLog -v
func TestZeekLogDetections(t *testing.T) {
	d := dataDir(t)
	strato := filepath.Join(d, "stratosphere-labeled", "security-datasets-for-testing")
	tests := []struct {
		name, file      string
		detector, host  string
		peer            string
		evidenceKey     string
		evidenceAtLeast int
	}{
		// Slips' expected evidence: "Horizontal port scan to port http 80/tcp. From 10.0.2.112".
		{"slips horizontal", filepath.Join(d, "slips-dataset", "port-scans", "horizontal", "conn.log"),
			HorizontalScan, "10.0.2.112", "", "hosts_tried", 25},
		// "vertical port scan to IP 45.33.32.156 from 192.168.1.9".
		{"slips vertical", filepath.Join(d, "slips-dataset", "port-scans", "vertical", "conn.log"),
			VerticalScan, "192.168.1.9", "45.33.32.156", "ports_tried", 40},
		// Nmap scans of three networks by 172.16.1.11.
		{"stratosphere 002 horizontal", filepath.Join(strato, "002-zeek-scenario-port-scanning", "conn.log"),
			HorizontalScan, "172.16.1.11", "", "hosts_tried", 50},
		{"stratosphere 002 vertical", filepath.Join(strato, "002-zeek-scenario-port-scanning", "conn.log"),
			VerticalScan, "172.16.1.11", "", "ports_tried", 100},
		// NjRAT (CTU-Malware-Capture-Botnet-230-1): flows labelled "Malicious CC".
		{"stratosphere 001 NjRAT C&C", filepath.Join(strato, "001-zeek-scenario-malicious", "conn.log"),
			Beacon, "192.168.1.115", "41.108.179.197", "connections", 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := readConnLog(t, tc.file)
			sortByTS(rs)
			fs, e := run(t, DefaultConfig(), rs)
			var hit bool
			for _, f := range findings(fs, tc.detector, tc.host) {
				if tc.peer != "" && f.Peer != tc.peer {
					continue
				}
				n, _ := f.Evidence[tc.evidenceKey].(int)
				if n >= tc.evidenceAtLeast {
					hit = true
					t.Logf("%s p=%.2g: %s", f.Detector, f.PValue, f.Summary)
				}
			}
			if !hit {
				t.Errorf("no %s for %s (%s ≥ %d); findings:%s", tc.detector, tc.host, tc.evidenceKey, tc.evidenceAtLeast, describe(fs))
			}
			st := e.Stats()
			t.Logf("%d flows, %d hosts, %.0f bytes/host", len(rs), st.Hosts, st.BytesPerHost)
		})
	}
}

// TestZeekLogBenign: the benign-labelled flows of the mixed Stratosphere
// captures give no scan and no flood finding.
func TestZeekLogBenign(t *testing.T) {
	d := dataDir(t)
	strato := filepath.Join(d, "stratosphere-labeled", "security-datasets-for-testing")
	for _, set := range []string{"008-zeek-mixed", "010-zeek-mixed", "011-zeek-mixed", "012-zeek-mixed"} {
		t.Run(set, func(t *testing.T) {
			var benign []flow.Record
			for _, r := range readConnLog(t, filepath.Join(strato, set, "data", "conn.log.labeled")) {
				if strings.EqualFold(r.Label, "benign") {
					benign = append(benign, r)
				}
			}
			if len(benign) < 500 {
				t.Fatalf("only %d benign flows: label column not read?", len(benign))
			}
			sortByTS(benign)
			fs, _ := run(t, DefaultConfig(), benign)
			for _, f := range fs {
				switch f.Detector {
				case HorizontalScan, VerticalScan, TRWScan, SYNFlood, HalfOpenSurge, UDPFlood, Reconnect:
					t.Errorf("false %s on benign flows: %s", f.Detector, f.Summary)
				}
			}
			t.Logf("%d benign flows; other findings (not scans or floods): %d", len(benign), len(fs))
		})
	}
}
