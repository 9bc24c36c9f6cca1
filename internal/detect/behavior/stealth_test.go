package behavior

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/flow"
)

// TestEveryNmapScanTypeIsProbing writes, for each of nmap's scan types, the
// flows Zeek logs when one host probes 200 closed ports of another (the
// usual answer: a reset for TCP, nothing or an ICMP unreachable for UDP
// and IP protocols), and expects a vertical scan of the scanner.
func TestEveryNmapScanTypeIsProbing(t *testing.T) {
	tests := []struct {
		name      string
		proto     string
		ipProto   uint8
		state     string
		history   string
		respPkts  uint64
		protoScan bool // the IP protocol scan probes protocol numbers, not ports
	}{
		{"SYN -sS", flow.ProtoTCP, 6, "REJ", "Sr", 1, false},
		{"connect -sT", flow.ProtoTCP, 6, "REJ", "Sr", 1, false},
		{"FIN -sF", flow.ProtoTCP, 6, "RSTR", "Fr", 1, false},
		{"NULL -sN", flow.ProtoTCP, 6, "RSTR", "r", 1, false},
		{"Xmas -sX", flow.ProtoTCP, 6, "RSTR", "Fr", 1, false},
		{"ACK -sA", flow.ProtoTCP, 6, "RSTR", "Ar", 1, false},
		{"window -sW", flow.ProtoTCP, 6, "OTH", "Ar", 1, false},
		{"Maimon -sM", flow.ProtoTCP, 6, "RSTR", "FAr", 1, false},
		{"UDP -sU", flow.ProtoUDP, 17, "S0", "D", 0, false},
		{"IP protocol -sO", flow.ProtoUnknown, 0, "OTH", "", 0, true},
	}
	scanner, target := netip.MustParseAddr("10.9.0.66"), netip.MustParseAddr("10.9.0.5")
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New(DefaultConfig())
			var got []string
			for i := range 200 {
				r := flow.Record{
					TS: t0.Add(time.Duration(i) * 3 * time.Millisecond), UID: fmt.Sprintf("Cscan%03d", i),
					OrigH: scanner, OrigP: 51000, RespH: target, RespP: uint16(1 + 5*i), Proto: tc.proto, IPProto: tc.ipProto,
					ConnState: tc.state, History: tc.history, OrigPkts: 1, OrigIPBytes: 40, RespPkts: tc.respPkts, RespIPBytes: 40 * tc.respPkts,
					Source: flow.SourceZeek,
				}
				if tc.protoScan {
					r.IPProto, r.OrigP, r.RespP = uint8(i+2), 0, 0
				}
				for _, f := range e.Observe(&r) {
					got = append(got, f.Detector+" "+f.Host)
				}
			}
			// later traffic from elsewhere closes the window
			late := flow.Record{TS: t0.Add(10 * time.Minute), OrigH: netip.MustParseAddr("10.9.0.7"), RespH: target, RespP: 443,
				Proto: flow.ProtoTCP, ConnState: "SF", History: "ShADadFf", OrigPkts: 5, RespPkts: 5}
			for _, f := range e.Observe(&late) {
				got = append(got, f.Detector+" "+f.Host)
			}
			for _, f := range e.Flush() {
				got = append(got, f.Detector+" "+f.Host)
			}
			found := false
			for _, g := range got {
				if g == VerticalScan+" "+scanner.String() {
					found = true
				}
			}
			if !found {
				t.Errorf("no vertical scan of %s; findings: %v", scanner, got)
			}
		})
	}
}

// TestContactOutcomeKeepsOneSidedCapturesUnknown: a capture that sees only
// the originator's side (asymmetric routing) must not turn every flow into
// a failed probe, and a handshake is a success whatever ends it.
func TestContactOutcomeKeepsOneSidedCapturesUnknown(t *testing.T) {
	tests := []struct {
		state, history string
		resp           uint64
		want           outcome
	}{
		{"OTH", "D", 0, unknown},        // one side of an established flow
		{"OTH", "ADF", 0, unknown},      // the same, closing
		{"OTH", "Dd", 2, success},       // mid-stream, both sides
		{"RSTR", "ShADadr", 4, success}, // established, then reset by the responder
		{"RSTR", "Fr", 1, failure},      // FIN probe of a closed port
		{"REJ", "Sr", 1, failure},
		{"S0", "S", 0, failure},
		{"RSTR", "", 1, success},   // no history: the state decides, as Zeek's scan.zeek does
		{"REJ", "SrC", 1, unknown}, // bad checksums: the answer may be an artefact
	}
	for _, tc := range tests {
		r := flow.Record{Proto: flow.ProtoTCP, ConnState: tc.state, History: tc.history, OrigPkts: 1, RespPkts: tc.resp}
		if got := contactOutcome(&r); got != tc.want {
			t.Errorf("%s %q: outcome %v, want %v", tc.state, tc.history, got, tc.want)
		}
	}
}

// TestNmapCaptures runs the captures of testdata/nmap (one per nmap scan
// type, taken between two network namespaces by testdata/nmap/gen.sh)
// through the flow meter and the engine: each must raise a scan of the
// scanner, 10.77.0.1, and nothing about any other host.
func TestNmapCaptures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "nmap", "*.pcap"))
	if err != nil || len(files) != 10 {
		t.Fatalf("want the 10 captures of testdata/nmap (gen.sh), found %d: %v", len(files), err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".pcap"), func(t *testing.T) {
			fs, _ := runPcap(t, true, f)
			scans := 0
			for _, x := range fs {
				switch {
				case x.Host != "10.77.0.1":
					t.Errorf("finding about another host: %s %s: %s", x.Detector, x.Host, x.Summary)
				case x.Detector == VerticalScan || x.Detector == HorizontalScan || x.Detector == TRWScan:
					scans++
				}
			}
			if scans == 0 {
				t.Errorf("no scan of 10.77.0.1; findings: %v", fs)
			}
		})
	}
}
