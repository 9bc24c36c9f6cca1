package alert

import (
	"bytes"
	"encoding/json"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

// TestEncodeIsEncodingJSON holds Encode to encoding/json's bytes (HTML
// escaping off) on documents that use every part of the schema: flow and
// finding alerts, evidence of every JSON kind, incidents, text that
// needs escaping, and extreme numbers.
func TestEncodeIsEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 123456789, time.UTC)
	r := flow.Record{TS: at, Duration: 1500 * time.Millisecond, UID: "CAbc<1>&", Proto: "tcp", Service: "ssl,http",
		OrigH: netip.MustParseAddr("10.0.0.1"), RespH: netip.MustParseAddr("2001:db8::1"), OrigP: 51000, RespP: 443,
		OrigIPBytes: 1 << 40, RespIPBytes: 7, OrigPkts: 3, RespPkts: 2, VLAN: 42, IPProto: 6}
	v := detect.Verdict{PValue: 1e-300, Score: 300, Alert: true,
		Hits:     []detect.Hit{{Detector: "hbos", PValue: 5e-324, Fired: true}, {Detector: "iforest", PValue: 0.5}},
		Features: []detect.Feature{{Name: "orig_bytes", Value: math.MaxFloat64, Median: 0.1, Spread: 1e-9, Z: -3.25, Text: "quote \" backslash \\ tab \t \u2028 <b>"}},
		Behaviors: []detect.Finding{{Detector: "beacon", Host: "10.0.0.1", Peer: "10.0.0.9", Start: at, End: at.Add(time.Hour), PValue: 1e-12, Score: 12,
			Summary: "every 60 s", Evidence: map[string]any{"interval_s": 60.0, "n": 61, "ports": []int{1, 2}, "ok": true, "none": nil, "nested": map[string]any{"z": "é"}}}},
	}
	f := v.Behaviors[0]
	f.UIDs = []string{"C1", "C2"}
	docs := []*Alert{FromFlow(&r, &v, "sensor \"one\""), FromFinding(&f, "sensor-1")}
	inc := *docs[1]
	inc.MLADS.Incident = &Incident{ID: "inc-1", Count: 3, FirstSeen: at, LastSeen: at.Add(time.Minute)}
	docs = append(docs, &inc, dropAlert("s", "elasticsearch", 5, 9, at))
	for i, a := range docs {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(a); err != nil {
			t.Fatal(err)
		}
		got, err := Encode(a)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(append(got, '\n'), want.Bytes()) {
			t.Errorf("document %d:\n got %s\nwant %s", i, got, want.Bytes())
		}
	}
}

// BenchmarkEncode compares Encode with encoding/json on the same flow
// alert, in one run; ratio is Encode's time over encoding/json's.
func BenchmarkEncode(b *testing.B) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	r := flow.Record{TS: at, Duration: time.Second, UID: "CAbc", Proto: "tcp", Service: "ssl",
		OrigH: netip.MustParseAddr("10.0.0.1"), RespH: netip.MustParseAddr("10.0.0.2"), OrigP: 51000, RespP: 443, OrigIPBytes: 1 << 20}
	v := detect.Verdict{PValue: 1e-8, Score: 8, Alert: true, Hits: []detect.Hit{{Detector: "hbos", PValue: 1e-8, Fired: true}},
		Features: []detect.Feature{{Name: "orig_bytes", Value: 1 << 20, Median: 2000, Spread: 900, Z: 9, Text: "orig_bytes 1 MB, typical 2 KB ± 900 B"}}}
	a := FromFlow(&r, &v, "sensor-1")
	var std, fast time.Duration
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := json.Marshal(a); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := Encode(a); err != nil {
			b.Fatal(err)
		}
		std, fast = std+t1.Sub(t0), fast+time.Since(t1)
	}
	b.ReportMetric(float64(fast.Nanoseconds())/float64(b.N), "encode-ns/doc")
	b.ReportMetric(float64(std.Nanoseconds())/float64(b.N), "encoding/json-ns/doc")
	b.ReportMetric(fast.Seconds()/std.Seconds(), "ratio")
}
