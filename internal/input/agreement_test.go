package input_test

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/input"
	"github.com/mlads/mlads/internal/pcap"
)

// readRecords reads one file through input.ReadFiles and returns copies of
// its records sorted by time.
func readRecords(tb testing.TB, path string, opts input.Options) []flow.Record {
	tb.Helper()
	var out []flow.Record
	_, err := input.ReadFiles(context.Background(), []string{path}, opts, func(r *flow.Record) error {
		out = append(out, *r)
		return nil
	})
	if err != nil {
		tb.Fatalf("ReadFiles(%s): %v", path, err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TS.Before(out[j].TS) })
	return out
}

// tuple is a flow's key for matching records of two sources.
type tuple struct {
	a, b   netip.Addr
	ap, bp uint16
	proto  uint8
}

func keyOf(r *flow.Record) tuple {
	return tuple{r.OrigH, r.RespH, r.OrigP, r.RespP, r.IPProtocol()}
}

func (k tuple) String() string {
	return fmt.Sprintf("%d %s", k.proto, netip.AddrPortFrom(k.a, k.ap).String()+" > "+netip.AddrPortFrom(k.b, k.bp).String())
}

// ethernetHeader is what Suricata counts per packet on top of the IP bytes
// Zeek and the pcap meter count (the zeus capture is Ethernet without VLANs).
const ethernetHeader = 14

// TestEVEAgreesWithCapture compares the flows Suricata wrote for the zeus
// capture (eve.json) with the flows the pcap meter makes from the capture
// itself, and explains every difference.
//
// Explained differences:
//   - bytes: Suricata's byte counters include the 14-byte Ethernet header
//     of every packet; the meter counts IP bytes as Zeek does.
//   - split: Suricata ends a UDP flow after 30 s without packets in state
//     "new" (flow-timeouts), Zeek's meter after 60 s, so one metered flow can
//     be several EVE flows; their sums must equal it.
//   - IGMP: the meter keeps IGMP as unknown_transport flows as Zeek does;
//     this Suricata run wrote no flow event for them.
//   - conn_state/history: EVE has no Zeek state machine (see the eve
//     package comment); not compared.
//
// The capture's UDP checksums are offloaded (wrong), so it is metered as
// Suricata read it (-k none) and Zeek would with -C: without checksum checks.
func TestEVEAgreesWithCapture(t *testing.T) {
	data := sharedData(t)
	dir := filepath.Join(data, "suricata-eve", "menna-islam-zeus")
	cfg := pcap.DefaultConfig()
	cfg.VerifyChecksums = false
	metered := readRecords(t, filepath.Join(dir, "zeus.pcapng"), input.Options{Pcap: &cfg})
	eveFlows := readRecords(t, filepath.Join(dir, "eve.json"), input.Options{})

	byKey := map[tuple][]int{}
	for i := range metered {
		k := keyOf(&metered[i])
		byKey[k] = append(byKey[k], i)
	}
	// Each EVE flow goes to the metered flow of the same 5-tuple whose time
	// span holds its start.
	parts := make(map[int][]int) // metered index -> EVE indexes
	var unmatched []int
	for j := range eveFlows {
		e := &eveFlows[j]
		found := -1
		for _, i := range byKey[keyOf(e)] {
			m := &metered[i]
			if !e.TS.Before(m.TS) && !e.TS.After(m.End().Add(time.Microsecond)) {
				found = i
				break
			}
		}
		if found < 0 {
			unmatched = append(unmatched, j)
			continue
		}
		parts[found] = append(parts[found], j)
	}

	var exact, split, bytesOnly, differ int
	var report []string
	for i, js := range parts {
		m := &metered[i]
		var op, rp, ob, rb uint64
		for _, j := range js {
			e := &eveFlows[j]
			op, rp = op+e.OrigPkts, rp+e.RespPkts
			ob, rb = ob+e.OrigIPBytes, rb+e.RespIPBytes
		}
		linkOK := ob == m.OrigIPBytes+ethernetHeader*m.OrigPkts && rb == m.RespIPBytes+ethernetHeader*m.RespPkts
		switch {
		case op != m.OrigPkts || rp != m.RespPkts || !linkOK:
			differ++
			report = append(report, fmt.Sprintf("DIFFER %s at %s: meter %d/%d pkts %d/%d bytes, EVE (%d flows) %d/%d pkts %d/%d bytes",
				keyOf(m), m.TS.Format(time.RFC3339Nano), m.OrigPkts, m.RespPkts, m.OrigIPBytes, m.RespIPBytes, len(js), op, rp, ob, rb))
		case len(js) > 1:
			split++
		case ob == m.OrigIPBytes && rb == m.RespIPBytes:
			exact++
		default:
			bytesOnly++
		}
	}
	matchedMeter := len(parts)
	var meterOnly []string
	igmp := 0
	for i := range metered {
		if _, ok := parts[i]; !ok {
			m := &metered[i]
			if m.IPProto == 2 {
				igmp++ // Suricata wrote no flow events for IGMP in this run
				continue
			}
			meterOnly = append(meterOnly, fmt.Sprintf("%s %s pkts %d/%d %s", keyOf(m), m.TS.Format(time.RFC3339Nano), m.OrigPkts, m.RespPkts, m.Proto))
		}
	}
	t.Logf("zeus: %d metered flows, %d EVE flows", len(metered), len(eveFlows))
	t.Logf("  %d metered flows = one EVE flow, same packets, bytes differ by exactly the 14-byte Ethernet header per packet", bytesOnly)
	t.Logf("  %d metered flows = several EVE flows (Suricata's shorter UDP timeout split them), sums equal after the Ethernet correction", split)
	t.Logf("  %d identical, %d with different packet or byte counts", exact, differ)
	t.Logf("  %d metered IGMP flows without an EVE flow (this Suricata run wrote no flow event for IGMP)", igmp)
	t.Logf("  %d EVE flows without a metered flow; %d other metered flows without an EVE flow", len(unmatched), len(meterOnly))
	for _, r := range report {
		t.Log("  " + r)
	}
	for _, j := range unmatched {
		e := &eveFlows[j]
		t.Logf("  EVE only: %s %s pkts %d/%d", keyOf(e), e.TS.Format(time.RFC3339Nano), e.OrigPkts, e.RespPkts)
	}
	for _, s := range meterOnly {
		t.Logf("  meter only: %s", s)
	}
	if differ > 0 || len(unmatched) > 0 || len(meterOnly) > 0 || matchedMeter == 0 {
		t.Errorf("%d flows differ beyond the explained causes, %d EVE flows and %d metered flows unmatched",
			differ, len(unmatched), len(meterOnly))
	}
}

// TestZeekLogAgreesWithCapture compares, for the ICS captures that come with
// the conn.log Zeek wrote for them (real timestamps), the records read from
// the log with the records the pcap meter makes from the capture.
func TestZeekLogAgreesWithCapture(t *testing.T) {
	data := sharedData(t)
	pairs, _ := filepath.Glob(filepath.Join(data, "zeek-ics-pairs", "*", "conn.log"))
	if len(pairs) == 0 {
		t.Skip("no zeek-ics-pairs")
	}
	for _, logPath := range pairs {
		caps, _ := filepath.Glob(filepath.Join(filepath.Dir(logPath), "*.pcap*"))
		if len(caps) != 1 {
			continue
		}
		name := filepath.Base(filepath.Dir(logPath))
		t.Run(name, func(t *testing.T) {
			cfg := pcap.DefaultConfig()
			cfg.VerifyChecksums = false
			metered := readRecords(t, caps[0], input.Options{Pcap: &cfg})
			logged := readRecords(t, logPath, input.Options{})
			used := make([]bool, len(metered))
			var same, differ int
			for _, l := range logged {
				found := -1
				for i := range metered {
					if !used[i] && keyOf(&metered[i]) == keyOf(&l) && metered[i].TS.Equal(l.TS) {
						found = i
						break
					}
				}
				if found < 0 {
					differ++
					t.Logf("log only: %s %s", keyOf(&l), l.TS.Format(time.RFC3339Nano))
					continue
				}
				used[found] = true
				m := metered[found]
				var diffs []string
				cmp := func(name string, a, b any) {
					if fmt.Sprint(a) != fmt.Sprint(b) {
						diffs = append(diffs, fmt.Sprintf("%s log %v meter %v", name, a, b))
					}
				}
				cmp("duration", l.Duration, m.Duration)
				if l.HasDuration() {
					// Zeek writes orig_bytes/resp_bytes only when the duration
					// is above zero ("-" reads as 0); the meter counts them anyway.
					cmp("orig_bytes", l.OrigBytes, m.OrigBytes)
					cmp("resp_bytes", l.RespBytes, m.RespBytes)
				}
				cmp("conn_state", l.ConnState, m.ConnState)
				cmp("history", l.History, m.History)
				cmp("orig_pkts", l.OrigPkts, m.OrigPkts)
				cmp("orig_ip_bytes", l.OrigIPBytes, m.OrigIPBytes)
				cmp("resp_pkts", l.RespPkts, m.RespPkts)
				cmp("resp_ip_bytes", l.RespIPBytes, m.RespIPBytes)
				cmp("community_id", l.CommunityIDOrDerived(), m.CommunityIDOrDerived())
				if len(diffs) == 0 {
					same++
				} else {
					differ++
					t.Logf("%s: %s", keyOf(&l), strings.Join(diffs, "; "))
				}
			}
			for i, u := range used {
				if !u {
					t.Logf("meter only: %s %s", keyOf(&metered[i]), metered[i].TS.Format(time.RFC3339Nano))
				}
			}
			t.Logf("%s: %d log records, %d metered; %d equal field by field, %d differ", name, len(logged), len(metered), same, differ)
			if differ > 0 || len(logged) != len(metered) {
				t.Errorf("the log and the capture disagree")
			}
		})
	}
}
