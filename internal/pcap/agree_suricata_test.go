package pcap

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// suricataTest is one entry of suricata-verify-flows/expected_flows.json.
type suricataTest struct {
	Test   string `json:"test"`
	Pcap   string `json:"pcap"`
	Events []struct {
		Count *int           `json:"count"`
		Match map[string]any `json:"match"`
	} `json:"expected_flow_events"`
}

func anyString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func anyUint(v any) (uint64, bool) {
	f, ok := v.(float64)
	if !ok || f < 0 {
		return 0, false
	}
	return uint64(f), true
}

// normAddr writes an address the way netip does (Suricata writes IPv6
// addresses fully expanded).
func normAddr(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String()
	}
	return s
}

// TestAgreeSuricata compares per-direction packet counts with the flow and
// netflow records Suricata's own tests expect, where the meanings coincide:
// Suricata's "to server" is the direction of the first packet, and its byte
// counts include the link-layer header, so bytes are compared as IP bytes
// plus a constant per-packet link overhead. It prints the agreement; the
// two tools split and orient flows by different rules (Suricata's flow
// timeouts and TCP session reuse are not Zeek's), so there is no floor.
func TestAgreeSuricata(t *testing.T) {
	dir := agreeDataDir(t)
	base := filepath.Join(dir, "suricata-verify-flows")
	raw, err := os.ReadFile(filepath.Join(base, "expected_flows.json"))
	if err != nil {
		t.Skipf("suricata-verify-flows not available: %v", err)
	}
	var tests []suricataTest
	if err := json.Unmarshal(raw, &tests); err != nil {
		t.Fatalf("expected_flows.json: %v", err)
	}
	var events, pktAgree, byteEvents, byteAgree, cidEvents, cidAgree int
	var misses []string
	for _, st := range tests {
		rows, _ := meterRows(t, filepath.Join(base, st.Pcap), true)
		for _, ev := range st.Events {
			m := ev.Match
			netflow := anyString(m["event_type"]) == "netflow"
			var wantTS, wantTC uint64
			var haveTS, haveTC bool
			var wantB uint64
			var haveB bool
			if netflow {
				wantTS, haveTS = anyUint(m["netflow.pkts"])
				wantB, haveB = anyUint(m["netflow.bytes"])
			} else {
				wantTS, haveTS = anyUint(m["flow.pkts_toserver"])
				wantTC, haveTC = anyUint(m["flow.pkts_toclient"])
				if b1, ok1 := anyUint(m["flow.bytes_toserver"]); ok1 {
					if b2, ok2 := anyUint(m["flow.bytes_toclient"]); ok2 {
						wantB, haveB = b1+b2, true
					}
				}
			}
			if !haveTS && !haveTC {
				continue
			}
			count := 1
			if ev.Count != nil {
				count = *ev.Count
			}
			if count == 0 {
				continue // an event that must not exist
			}
			proto := strings.ToLower(anyString(m["proto"]))
			if proto == "ipv6-icmp" {
				proto = "icmp"
			}
			if proto != "" && proto != "tcp" && proto != "udp" && proto != "icmp" {
				proto = "unknown_transport"
			}
			src, dst := normAddr(anyString(m["src_ip"])), normAddr(anyString(m["dest_ip"]))
			sp, dp := anyString(m["src_port"]), anyString(m["dest_port"])
			events++
			wantCID := anyString(m["community_id"])
			nPkt, nByte, nCID := 0, 0, 0
			for _, r := range rows {
				if proto != "" && proto != r["proto"] {
					continue
				}
				for _, fwd := range []bool{true, false} {
					oh, op, rh, rp := r["id.orig_h"], r["id.orig_p"], r["id.resp_h"], r["id.resp_p"]
					ts, tc := r["orig_pkts"], r["resp_pkts"]
					ib := r["orig_ip_bytes"]
					if !fwd {
						oh, op, rh, rp = rh, rp, oh, op
						ts, tc = tc, ts
						ib = r["resp_ip_bytes"]
					}
					if (src != "" && src != oh) || (dst != "" && dst != rh) ||
						(r["proto"] != "icmp" && ((sp != "" && sp != op) || (dp != "" && dp != rp))) {
						continue
					}
					okTS := !haveTS || ts == strconv.FormatUint(wantTS, 10)
					okTC := netflow || !haveTC || tc == strconv.FormatUint(wantTC, 10)
					if okTS && okTC {
						nPkt++
						if wantCID != "" && r["community_id_1234"] == wantCID {
							nCID++
						}
						if haveB {
							// Bytes agree when the difference is a whole
							// link header per packet (0, Ethernet, VLAN...).
							var ipb, pk uint64
							if netflow {
								ipb, _ = strconv.ParseUint(ib, 10, 64)
								pk = wantTS
							} else {
								a, _ := strconv.ParseUint(r["orig_ip_bytes"], 10, 64)
								b, _ := strconv.ParseUint(r["resp_ip_bytes"], 10, 64)
								ipb, pk = a+b, wantTS+wantTC
							}
							if wantB >= ipb && pk > 0 && (wantB-ipb)%pk == 0 && (wantB-ipb)/pk <= 64 {
								nByte++
							}
						}
						break
					}
				}
			}
			if nPkt >= count {
				pktAgree++
			} else {
				misses = append(misses, fmt.Sprintf("%s: %s %s:%s > %s:%s want pkts %d/%d ×%d, found %d",
					st.Test, proto, src, sp, dst, dp, wantTS, wantTC, count, nPkt))
			}
			if haveB {
				byteEvents++
				if nByte >= count {
					byteAgree++
				}
			}
			if wantCID != "" {
				cidEvents++
				if nCID >= count {
					cidAgree++
				}
			}
		}
	}
	t.Logf("Suricata expected flow events with packet counts: %d; identical per-direction packet counts: %d (%.1f%%); "+
		"with byte counts: %d, identical up to a per-packet link header: %d (%.1f%%); "+
		"with a community_id (seed 1234 as suricata-verify configures): %d, identical: %d",
		events, pktAgree, pct(pktAgree, events), byteEvents, byteAgree, pct(byteAgree, byteEvents), cidEvents, cidAgree)
	if os.Getenv("AGREE_VERBOSE") != "" {
		for _, m := range misses {
			t.Log("  " + m)
		}
	}
}
