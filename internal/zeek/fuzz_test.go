package zeek_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/shareddata"
	"github.com/mlads/mlads/internal/zeek"
)

// fuzzSeeds returns up to n lines from each of the shared-data conn logs
// (nothing when the data is absent).
func fuzzSeeds(n int) []string {
	return shareddata.Lines(n,
		"zeek-btest/conn/core.tunnels.ayiya__conn.log",
		"zeek-btest/conn/scripts.policy.protocols.conn.vlan-logging__conn.log",
		"stratosphere-labeled/security-datasets-for-testing/008-zeek-mixed/data/conn.log.labeled",
		"stratosphere-labeled/security-datasets-for-testing/002-zeek-scenario-port-scanning/conn.log",
		"slips-dataset/test9-mixed-zeek-dir/conn.log",
		"iot23-csv/CTU-Honeypot-Capture-4-1-labeled.csv",
	)
}

// FuzzZeekLine feeds arbitrary lines to a parser primed with a conn.log
// header: it must never panic, and a line it accepts must give the same
// record when parsed again.
func FuzzZeekLine(f *testing.F) {
	for _, s := range fuzzSeeds(12) {
		f.Add([]byte(s))
	}
	f.Add([]byte("1.5\tC1\t10.0.0.1\t1\t::1\t2\ttcp\tssl,http\t0.1\t1\t2\tSF\tT\tF\t0\tShAD\t1\t2\t3\t4\tCa,Cb"))
	f.Add([]byte(`{"ts":"2024-01-01T00:00:00Z","id":{"orig_h":"fe80::1%eth0","orig_p":1,"resp_h":"10.0.0.1","resp_p":2},"tunnel_parents":["C\u00e9"]}`))
	f.Add([]byte("#separator \\x2c"))
	f.Add([]byte("#fields\tts\tuid   label   detailed-label"))
	header := strings.Split(strings.TrimSuffix(tsvHeader, "\n"), "\n")
	f.Fuzz(func(t *testing.T, line []byte) {
		parse := func() (flow.Record, bool, error) {
			p := zeek.NewParser("fuzz.log")
			var r flow.Record
			for _, h := range header {
				p.ParseLine([]byte(h), &r)
			}
			ok, err := p.ParseLine(line, &r)
			return r, ok, err
		}
		r1, ok1, err1 := parse()
		r2, ok2, err2 := parse()
		// Once more on a parser that has just read the same line: the JSON
		// reader then first tries the remembered key order.
		p := zeek.NewParser("fuzz.log")
		var r3 flow.Record
		for _, h := range header {
			p.ParseLine([]byte(h), &r3)
		}
		p.ParseLine(line, &r3)
		p.SetLineNumber(p.LineNumber() - 1)
		ok3, err3 := p.ParseLine(line, &r3)
		if ok3 != ok1 || fmt.Sprint(err3) != fmt.Sprint(err1) || (ok1 && fmt.Sprintf("%+v", r3) != fmt.Sprintf("%+v", r1)) {
			t.Fatalf("a second read differs: %v %v %+v / %v %v %+v", ok1, err1, r1, ok3, err3, r3)
		}
		if ok1 != ok2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("not deterministic: %v %v / %v %v", ok1, err1, ok2, err2)
		}
		if ok1 && err1 != nil {
			t.Fatalf("ok with error %v", err1)
		}
		if ok1 {
			if r1.Source != flow.SourceZeek {
				t.Fatalf("source %v", r1.Source)
			}
			if r1.UID != r2.UID || r1.TS != r2.TS || r1.OrigH != r2.OrigH || r1.Label != r2.Label {
				t.Fatalf("records differ: %+v / %+v", r1, r2)
			}
		}
		if err1 != nil && !strings.HasPrefix(err1.Error(), "zeek: fuzz.log line ") {
			t.Fatalf("error does not name file and line: %v", err1)
		}
	})
}
