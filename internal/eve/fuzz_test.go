package eve_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/eve"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/shareddata"
)

// fuzzSeeds returns up to n lines of each shared-data EVE file (nothing when
// the data is absent).
func fuzzSeeds(n int) []string {
	return shareddata.Lines(n, "suricata-eve/menna-islam-zeus/eve.json", "slips-dataset/test6-malicious.suricata.json")
}

// FuzzEVELine feeds arbitrary lines to the EVE parser, twice (the second
// time so a netflow half can pair with itself), then flushes: it must never
// panic, and errors must name the file and line. A half read once must
// save and restore into the same record.
func FuzzEVELine(f *testing.F) {
	for _, s := range fuzzSeeds(20) {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"flow_id":7,"event_type":"netflow","src_ip":"10.16.1.11","src_port":46652,"dest_ip":"82.165.177.154","dest_port":80,"proto":"TCP","app_proto":"http","netflow":{"pkts":6,"bytes":425,"start":"2016-05-27T06:56:11.304062+0000","end":"2016-05-27T06:56:11.900923+0000"},"tcp":{"tcp_flags":"1b"}}`))
	f.Add([]byte(`{"event_type":"flow","src_ip":"::1","dest_ip":"::2","proto":"IPv6-ICMP","icmp_type":128,"icmp_code":0,"vlan":[10,20],"flow":{"pkts_toserver":1,"start":"2024-01-01T00:00:00+05:30"}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		p := eve.NewParser("fuzz.json")
		var r flow.Record
		for i := 0; i < 2; i++ {
			ok, err := p.ParseLine(line, &r)
			if ok && err != nil {
				t.Fatalf("ok with error %v", err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "eve: fuzz.json line ") {
				t.Fatalf("error does not name file and line: %v", err)
			}
			if ok && r.Source != flow.SourceEVE {
				t.Fatalf("source %v", r.Source)
			}
		}
		if err := p.Pairer().Flush(func(r *flow.Record) error { return nil }); err != nil {
			t.Fatal(err)
		}
		// A parser that has read a flow event of another shape first (its
		// remembered key orders then differ) reads the line like a new one.
		fresh, primed := eve.NewParser("fuzz.json"), eve.NewParser("fuzz.json")
		var r1, r2 flow.Record
		primed.ParseLine([]byte(benchFlowLine), &r2)
		primed.SetLineNumber(0)
		ok1, err1 := fresh.ParseLine(line, &r1)
		ok2, err2 := primed.ParseLine(line, &r2)
		if ok1 != ok2 || fmt.Sprint(err1) != fmt.Sprint(err2) || (ok1 && fmt.Sprintf("%+v", r1) != fmt.Sprintf("%+v", r2)) {
			t.Fatalf("a primed parser differs: %v %v %+v / %v %v %+v", ok1, err1, r1, ok2, err2, r2)
		}
		if n := p.Pairer().Pending(); n != 0 {
			t.Fatalf("pending %d after Flush", n)
		}

		// A half waiting in fresh can be saved and restored, as the daemon
		// does, and comes out of either Pairer the same.
		b, err := json.Marshal(fresh.Pairer().State())
		if err != nil {
			t.Fatalf("state: %v", err)
		}
		var st eve.PairerState
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		restored := eve.NewPairer()
		if err := restored.Restore(st); err != nil || restored.Pending() != fresh.Pairer().Pending() {
			t.Fatalf("restore: %v, %d halves of %d\n%s", err, restored.Pending(), fresh.Pairer().Pending(), b)
		}
		var want, got []string
		fresh.Pairer().Flush(func(r *flow.Record) error { want = append(want, fmt.Sprintf("%+v", *r)); return nil })
		restored.Flush(func(r *flow.Record) error { got = append(got, fmt.Sprintf("%+v", *r)); return nil })
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("restored half differs:\n%v\n%v", got, want)
		}
	})
}
