package behavior

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/pcap"
)

// runPcap meters captures with internal/pcap and streams each flow into a
// fresh engine as the meter emits it (end-time order, Record reused), as
// the pipeline does.
func runPcap(tb testing.TB, verifyChecksums bool, paths ...string) ([]detect.Finding, *Engine) {
	tb.Helper()
	e := New(DefaultConfig())
	var out []detect.Finding
	pc := pcap.DefaultConfig()
	pc.VerifyChecksums = verifyChecksums
	sum, err := pcap.ReadFiles(context.Background(), paths, pc, func(r *flow.Record) error {
		out = append(out, e.Observe(r)...)
		return nil
	})
	if err != nil {
		tb.Fatalf("pcap.ReadFiles(%v): %v", paths, err)
	}
	if sum.Flows == 0 {
		tb.Fatalf("pcap.ReadFiles(%v): no flows", paths)
	}
	return append(out, e.Flush()...), e
}

// End-to-end on the shared captures. Re-run with
//
//	go test ./internal/detect/behavior/ -run Pcap -v
func TestPcapDetections(t *testing.T) {
	d := dataDir(t)
	tests := []struct {
		name, file     string
		noChecksums    bool // meter as Zeek -C: the capture was taken with checksum offload
		detector, host string
		peer           string
		key            string
		atLeast        int
	}{
		// "TCP SYN port scan (nmap -sS style)": 1,000 ports of one host.
		{"synscan", "chrissanders-packets/synscan.pcapng", false,
			VerticalScan, "172.16.0.8", "64.13.134.52", "ports_tried", 1000},
		// xprobe2 probing: prober 192.168.1.20 -> target 192.168.1.25.
		{"xprobe udp", "markofu-pcaps/evilfingers-xprobe/xprobe_icmp_udp_scan.pcap", false,
			VerticalScan, "192.168.1.20", "192.168.1.25", "ports_tried", 100},
		{"xprobe tcp", "markofu-pcaps/evilfingers-xprobe/xprobe_tcp_scan_filter.pcap", false,
			VerticalScan, "192.168.1.20", "192.168.1.25", "ports_tried", 100},
		// StopDDoS: incoming-only traffic to one victim; Finding.Host is the victim.
		{"stopddos SYN flood", "stopddos-pcaps/pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng", false,
			SYNFlood, "10.10.10.10", "", "half_open_flows", 9000},
		{"stopddos TCP reflection", "stopddos-pcaps/amp.TCP.syn.optionallyACK.optionallysamePort.pcapng", false,
			SYNFlood, "10.10.10.10", "", "half_open_flows", 400},
		{"stopddos ISAKMP amplification", "stopddos-pcaps/amp.UDP.isakmp.pcap", false,
			UDPFlood, "10.10.10.10", "", "half_open_flows", 3900},
		{"stopddos BACnet amplification", "stopddos-pcaps/amp.UDP.bacnet.IOT.37810.pcapng", false,
			UDPFlood, "10.10.10.1", "", "half_open_flows", 6000},
		// Slips' C&C-channel captures (checksums offloaded: Zeek needs -C).
		{"slips C&C 1", "slips-dataset/test-cc/test-cc-capture-1.pcap", true,
			Beacon, "147.32.80.37", "141.193.213.21", "connections", 20},
		{"slips C&C 2", "slips-dataset/test-cc/test-cc-capture-2.pcap", true,
			Beacon, "147.32.80.37", "141.193.213.20", "connections", 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs, e := runPcap(t, !tc.noChecksums, filepath.Join(d, tc.file))
			hit := false
			for _, f := range findings(fs, tc.detector, tc.host) {
				n, _ := f.Evidence[tc.key].(int)
				if (tc.peer == "" || f.Peer == tc.peer) && n >= tc.atLeast {
					hit = true
					t.Logf("%s p=%.2g: %s", f.Detector, f.PValue, f.Summary)
				}
			}
			if !hit {
				t.Errorf("no %s for %s (%s ≥ %d); findings:%s", tc.detector, tc.host, tc.key, tc.atLeast, describe(fs))
			}
			st := e.Stats()
			t.Logf("%d flows, %d hosts, %.0f bytes/host", st.Flows, st.Hosts, st.BytesPerHost)
		})
	}
}

// TestPcapBenign: benign captures give no scan and no flood finding.
func TestPcapBenign(t *testing.T) {
	d := dataDir(t)
	for _, file := range []string{
		"zeek-btest/traces/wikipedia.pcap",
		"zeek-btest/traces/wikipedia-filtered-plus-udp.pcap",
		"zeek-btest/traces/ftp/cwd-navigation.pcap", // passive FTP: many data ports on one server
		"zeek-btest/traces/smb/smb2.pcap",
		"chrissanders-packets/http_espn.pcapng", // benign browsing
		"chrissanders-packets/http_espn_fail.pcapng",
		"markofu-pcaps/honeynet/fc2-2010-suspicious-time.pcap", // a client browsing (drive-by, but no scan or flood)
	} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			fs, e := runPcap(t, true, filepath.Join(d, file))
			for _, f := range fs {
				switch f.Detector {
				case HorizontalScan, VerticalScan, TRWScan, SYNFlood, HalfOpenSurge, UDPFlood:
					t.Errorf("false %s: %s", f.Detector, f.Summary)
				case Reconnect:
					// http_espn_fail is a browser retrying a server that
					// never answers, ten times in 95 s: what the detector
					// reports, and a defender may want to know of
					if filepath.Base(file) != "http_espn_fail.pcapng" {
						t.Errorf("false %s: %s", f.Detector, f.Summary)
					}
				}
			}
			t.Logf("%d flows, %d findings of other kinds", e.Stats().Flows, len(fs))
		})
	}
}
