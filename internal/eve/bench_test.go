package eve_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/benchmeter"
	"github.com/mlads/mlads/internal/eve"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/shareddata"
)

// benchFlowLine is a Suricata 7 flow event as the zeus capture's eve.json
// holds them, used when the shared data is absent.
const benchFlowLine = `{"timestamp":"2021-06-06T15:57:37.272281+0200","flow_id":2232403389523415,"event_type":"flow","src_ip":"91.238.203.56","src_port":48938,"dest_ip":"192.168.1.129","dest_port":445,"proto":"TCP","flow":{"pkts_toserver":2,"pkts_toclient":2,"bytes_toserver":120,"bytes_toclient":120,"start":"2021-06-06T17:34:31.140759+0200","end":"2021-06-06T17:34:31.141012+0200","age":0,"state":"closed","reason":"timeout","alerted":false},"tcp":{"tcp_flags":"16","tcp_flags_ts":"02","tcp_flags_tc":"14","syn":true,"rst":true,"ack":true,"state":"closed"},"host":"stratosphere.org"}`

// flowLines returns the flow events of the slips EVE file (3512 TCP and UDP
// flows), or the fallback line.
func flowLines(b *testing.B) [][]byte {
	b.Helper()
	var raw []byte
	if d, ok := shareddata.Lookup(); ok {
		raw, _ = os.ReadFile(filepath.Join(d, "slips-dataset", "test6-malicious.suricata.json"))
	}
	var out [][]byte
	for _, l := range bytes.Split(raw, []byte("\n")) {
		if bytes.Contains(l, []byte(`"event_type":"flow"`)) {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		out = append(out, []byte(benchFlowLine))
	}
	return out
}

// BenchmarkEVEFlow parses Suricata flow events into records.
func BenchmarkEVEFlow(b *testing.B) { benchEVE(b, false) }

// BenchmarkEVEFlowCommunityID is BenchmarkEVEFlow plus deriving each
// record's Community ID (this file has no community_id), which the writers
// do for every record they write: it shows that cost.
func BenchmarkEVEFlowCommunityID(b *testing.B) { benchEVE(b, true) }

func benchEVE(b *testing.B, communityID bool) {
	lines := flowLines(b)
	benchmeter.SetLineBytes(b, lines)
	p := eve.NewParser("bench.json")
	var r flow.Record
	var id []byte
	b.ReportAllocs()
	cpu0 := benchmeter.CPU()
	for i := 0; b.Loop(); i++ {
		if _, err := p.ParseLine(lines[i%len(lines)], &r); err != nil {
			b.Fatal(err)
		}
		if communityID {
			id = r.AppendCommunityID(id[:0])
		}
	}
	benchmeter.ReportRates(b, cpu0, "events")
}

// BenchmarkEVEFlowEncodingJSON decodes the same events with encoding/json
// into a struct of the fields the mapping uses: the yardstick the issue
// quotes (about 154k events/s per core), measured in the same run so the
// ratio holds on a busy machine.
func BenchmarkEVEFlowEncodingJSON(b *testing.B) {
	lines := flowLines(b)
	var e evFlow
	b.ReportAllocs()
	cpu0 := benchmeter.CPU()
	for i := 0; b.Loop(); i++ {
		e = evFlow{}
		if err := json.Unmarshal(lines[i%len(lines)], &e); err != nil {
			b.Fatal(err)
		}
	}
	benchmeter.ReportRates(b, cpu0, "events")
}

// BenchmarkSpeedRatio times the parser against encoding/json on
// the same events in alternating short rounds and prints the median ratio,
// which holds on a busy machine where absolute rates do not: the issue's
// yardstick is encoding/json at about 154k events/s per core, so a ratio
// of 6.5 is 1M events/s.
//
// It measures once whatever b.N is; run it with -benchtime 1x.
func BenchmarkSpeedRatio(b *testing.B) {
	lines := flowLines(b)
	for _, cid := range []bool{true, false} {
		p := eve.NewParser("bench.json")
		var r flow.Record
		var id []byte
		var e evFlow
		ours := func(n int) {
			for i := 0; i < n; i++ {
				p.ParseLine(lines[i%len(lines)], &r)
				if cid {
					id = r.AppendCommunityID(id[:0])
				}
			}
		}
		std := func(n int) {
			for i := 0; i < n; i++ {
				e = evFlow{}
				json.Unmarshal(lines[i%len(lines)], &e)
			}
		}
		ratio, rate := benchmeter.MedianRatio(ours, std, 20000, 2000, 31)
		b.Logf("EVE, community ID %v: parser/encoding/json median speed ratio %.2f (parser %.0f events/s in its rounds)", cid, ratio, rate)
		b.ReportMetric(ratio, fmt.Sprintf("x-encoding/json(cid=%v)", cid))
	}
}

// netflowLines returns n netflow half pairs (netflowHalf), the to-server
// half of each right before its to-client half, with distinct flow_ids.
func netflowLines(n int) [][]byte {
	out := make([][]byte, 0, 2*n)
	for i := range n {
		id, end := uint64(1000+i), t0.Add(time.Duration(i%60)*time.Second)
		out = append(out, []byte(netflowHalf(id, true, end, 6)), []byte(netflowHalf(id, false, end, 4)))
	}
	return out
}

// BenchmarkEVENetflow parses netflow half pairs (each event counted once)
// as the readers do: holding the first half, merging it with the second,
// and looking for idle halves after each line.
func BenchmarkEVENetflow(b *testing.B) {
	lines := netflowLines(2048)
	benchmeter.SetLineBytes(b, lines)
	p := eve.NewParser("bench.json")
	var r flow.Record
	discard := func(*flow.Record) error { return nil }
	b.ReportAllocs()
	cpu0 := benchmeter.CPU()
	for i := 0; b.Loop(); i++ {
		if _, err := p.ParseLine(lines[i%len(lines)], &r); err != nil {
			b.Fatal(err)
		}
		if err := p.Pairer().FlushIdle(discard); err != nil {
			b.Fatal(err)
		}
	}
	benchmeter.ReportRates(b, cpu0, "events")
}
