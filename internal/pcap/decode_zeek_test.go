package pcap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// zeekPair is a capture with the conn.log Zeek wrote for it.
type zeekPair struct {
	connLog, capture string
	noChecksums      bool // Zeek ran with -C
}

// zeekPairs lists the pairs of zeek-btest/conn (from its MANIFEST) and
// zeek-ics-pairs.
func zeekPairs(tb testing.TB, dir string) []zeekPair {
	tb.Helper()
	var pairs []zeekPair
	man, err := os.ReadFile(filepath.Join(dir, "zeek-btest", "MANIFEST.md"))
	if err != nil {
		tb.Fatalf("read manifest: %v", err)
	}
	re := regexp.MustCompile("^\\| (conn/[^ ]+) \\|.*Zeek conn.log from `([^`]*)`.*PAIR with ([^ ]+) \\|")
	for line := range strings.SplitSeq(string(man), "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		pairs = append(pairs, zeekPair{
			connLog:     filepath.Join(dir, "zeek-btest", m[1]),
			capture:     filepath.Join(dir, "zeek-btest", m[3]),
			noChecksums: strings.Contains(m[2], " -C "),
		})
	}
	ics, _ := filepath.Glob(filepath.Join(dir, "zeek-ics-pairs", "*", "conn.log"))
	for _, c := range ics {
		caps, _ := filepath.Glob(filepath.Join(filepath.Dir(c), "*.pcap*"))
		if len(caps) == 1 {
			// The Zeek command is not recorded; the captures have IP
			// checksums zeroed by offload, which Zeek (2.4) counted, so it
			// cannot have verified them.
			pairs = append(pairs, zeekPair{connLog: c, capture: caps[0], noChecksums: true})
		}
	}
	return pairs
}

// convKey is an unordered transport 5-tuple.
type convKey struct {
	proto string
	a, b  netip.AddrPort
}

func newConvKey(proto string, a, b netip.AddrPort) convKey {
	if b.Addr().Less(a.Addr()) || (a.Addr() == b.Addr() && b.Port() < a.Port()) {
		a, b = b, a
	}
	return convKey{proto: proto, a: a, b: b}
}

type convCount struct{ pkts, ipBytes uint64 }

// zeekConvs sums packets and IP bytes of a conn.log's records per
// unordered 5-tuple (per host pair for ICMP, whose "ports" are types).
func zeekConvs(tb testing.TB, path string) map[convKey]convCount {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	out := map[convKey]convCount{}
	col := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "#fields\t"); ok {
			for i, name := range strings.Split(rest, "\t") {
				col[name] = i
			}
			continue
		}
		if strings.HasPrefix(line, "#") || len(col) == 0 {
			continue
		}
		v := strings.Split(line, "\t")
		get := func(name string) string { return v[col[name]] }
		num := func(name string) uint64 { n, _ := strconv.ParseUint(get(name), 10, 64); return n }
		proto := get("proto")
		if proto != "tcp" && proto != "udp" && proto != "icmp" && proto != "unknown_transport" {
			continue
		}
		op, _ := strconv.ParseUint(get("id.orig_p"), 10, 16)
		rp, _ := strconv.ParseUint(get("id.resp_p"), 10, 16)
		if proto == "icmp" {
			op, rp = 0, 0 // ICMP records are summed per host pair
		}
		oa, err1 := netip.ParseAddr(get("id.orig_h"))
		ra, err2 := netip.ParseAddr(get("id.resp_h"))
		if err1 != nil || err2 != nil {
			tb.Fatalf("%s: bad address in %q", path, line)
		}
		k := newConvKey(proto, netip.AddrPortFrom(oa, uint16(op)), netip.AddrPortFrom(ra, uint16(rp)))
		c := out[k]
		c.pkts += num("orig_pkts") + num("resp_pkts")
		c.ipBytes += num("orig_ip_bytes") + num("resp_ip_bytes")
		out[k] = c
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	return out
}

// decodedConvs sums the decoder's packets the same way.
func decodedConvs(tb testing.TB, path string, opt Options) (map[convKey]convCount, DecodeStats) {
	tb.Helper()
	s, err := OpenFileOptions(path, opt)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	defer s.Close()
	out := map[convKey]convCount{}
	var pkts []Packet
	for {
		pkts, err = s.Next(pkts)
		if err != nil {
			break
		}
		for i, p := range pkts {
			if p.BadChecksum {
				continue // Zeek does not count these (history 'C')
			}
			var proto string
			switch p.IPProto {
			case ipProtoTCP:
				proto = "tcp"
			case ipProtoUDP:
				proto = "udp"
			case ipProtoICMP, ipProtoICMPv6:
				proto = "icmp"
				p.SrcPort, p.DstPort = 0, 0
			default:
				if hasTunnelChild(pkts, i) {
					continue // GRE or IP-in-IP carrier: not a conn in Zeek
				}
				proto = "unknown_transport"
				p.SrcPort, p.DstPort = 0, 0 // Zeek logs them without ports
			}
			src, dst := netip.AddrFrom16(p.Src).Unmap(), netip.AddrFrom16(p.Dst).Unmap()
			k := newConvKey(proto, netip.AddrPortFrom(src, p.SrcPort), netip.AddrPortFrom(dst, p.DstPort))
			c := out[k]
			c.pkts++
			c.ipBytes += uint64(p.IPLen)
			out[k] = c
		}
	}
	if !errors.Is(err, io.EOF) {
		tb.Errorf("%v", err)
	}
	return out, s.Stats()
}

// hasTunnelChild reports whether a packet of the frame was carried in
// packet i.
func hasTunnelChild(pkts []Packet, i int) bool {
	for _, c := range pkts {
		if int(c.Parent) == i {
			return true
		}
	}
	return false
}

// TestDecodeAgreesWithZeek checks the decoder against every Zeek conn.log
// pair: per 5-tuple (host pair for ICMP), the packets and IP bytes the decoder finds must
// sum to what Zeek logged (orig+resp). This tests the decoding (link layers,
// tunnels, fragments, checksums, IP lengths) without the flow table.
func TestDecodeAgreesWithZeek(t *testing.T) {
	dir := sharedDataDir(t)
	pairs := zeekPairs(t, dir)
	if len(pairs) < 20 {
		t.Fatalf("found only %d Zeek pairs", len(pairs))
	}
	var total, agree int
	var report strings.Builder
	for _, pr := range pairs {
		opt := DefaultOptions()
		opt.VerifyChecksums = !pr.noChecksums
		want := zeekConvs(t, pr.connLog)
		got, st := decodedConvs(t, pr.capture, opt)
		n := 0
		for k, w := range want {
			g := got[k]
			if g == w {
				n++
				continue
			}
			if testing.Verbose() {
				fmt.Fprintf(&report, "  %s %v %v: got %d pkts %d ip bytes, zeek %d pkts %d ip bytes\n",
					k.proto, k.a, k.b, g.pkts, g.ipBytes, w.pkts, w.ipBytes)
			}
		}
		total += len(want)
		agree += n
		fmt.Fprintf(&report, "%-60s %3d/%3d  %s\n", filepath.Base(pr.connLog), n, len(want), st.ErrorsString())
	}
	t.Logf("per 5-tuple packets and IP bytes equal to Zeek's:\n%s", report.String())
	t.Logf("total %d/%d", agree, total)
	if float64(agree) < 0.99*float64(total) {
		t.Errorf("only %d of %d Zeek conversations agree on packets and IP bytes", agree, total)
	}
}
