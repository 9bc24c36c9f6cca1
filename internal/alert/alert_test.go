package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func scanFinding(host string, at time.Time) *detect.Finding {
	return &detect.Finding{
		Detector: "horizontal_scan", Host: host, Start: at, End: at.Add(4 * time.Minute),
		PValue: 1e-12, Score: 12,
		Summary:  host + " tried 40 hosts on 22/tcp in 4m (38 failed)",
		Evidence: map[string]any{"port": 22, "proto": "tcp", "hosts_tried": 40, "sample_hosts": []string{"10.1.0.1", "10.1.0.2"}},
		UIDs:     []string{"CAAA1", "CAAA2"},
	}
}

// doc encodes a and decodes it as a generic JSON object.
func doc(tb testing.TB, a *Alert) map[string]any {
	tb.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("unmarshal %s: %v", b, err)
	}
	return m
}

// field walks a dotted ECS path through the nested objects.
func field(m map[string]any, path string) any {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		o, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if v, ok := o[p]; ok {
			cur = v
			continue
		}
		return nil
	}
	return cur
}

func checkFields(t *testing.T, m map[string]any, want map[string]any) {
	t.Helper()
	for path, w := range want {
		got := field(m, path)
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s = %v, want %v", path, got, w)
		}
	}
}

func TestFromFindingECS(t *testing.T) {
	a := FromFinding(scanFinding("10.0.0.5", t0), "sensor-1")
	m := doc(t, a)
	checkFields(t, m, map[string]any{
		"@timestamp":                 "2026-11-25T12:00:00Z",
		"event.kind":                 "alert",
		"event.category":             []any{"network", "intrusion_detection"},
		"event.type":                 []any{"info"},
		"event.severity":             4,
		"event.risk_score":           100,
		"event.start":                "2026-11-25T12:00:00Z",
		"event.end":                  "2026-11-25T12:04:00Z",
		"event.duration":             float64(4 * time.Minute),
		"event.dataset":              "mlads.alert",
		"event.id":                   a.ID(),
		"rule.id":                    "mlads.behavior.horizontal_scan",
		"rule.name":                  "horizontal_scan",
		"rule.category":              "behavior",
		"rule.ruleset":               "mlads",
		"source.ip":                  "10.0.0.5",
		"destination.port":           22,
		"network.transport":          "tcp",
		"related.ip":                 []any{"10.0.0.5"},
		"observer.name":              "sensor-1",
		"observer.vendor":            "mlads",
		"observer.type":              "ids",
		"mlads.detector":             "horizontal_scan",
		"mlads.host":                 "10.0.0.5",
		"mlads.p_value":              1e-12,
		"mlads.score":                12,
		"mlads.severity":             "critical",
		"mlads.evidence.hosts_tried": 40,
		"mlads.flow_uids":            []any{"CAAA1", "CAAA2"},
		"message":                    "10.0.0.5 tried 40 hosts on 22/tcp in 4m (38 failed)",
	})
	if field(m, "destination.ip") != nil {
		t.Errorf("a horizontal scan has no single destination, got %v", field(m, "destination.ip"))
	}
}

func TestFromFindingFloodVictimIsDestination(t *testing.T) {
	f := &detect.Finding{Detector: "syn_flood", Host: "192.0.2.80", Peer: "198.51.100.9", Start: t0, End: t0.Add(time.Minute),
		PValue: 1e-5, Score: 5, Summary: "flood", Evidence: map[string]any{"half_open_flows": 5000}}
	m := doc(t, FromFinding(f, "s"))
	checkFields(t, m, map[string]any{
		"destination.ip": "192.0.2.80", "source.ip": "198.51.100.9", "mlads.host": "192.0.2.80",
		"related.ip": []any{"192.0.2.80", "198.51.100.9"}, "event.risk_score": 50, "event.severity": 2,
	})
}

func TestFromFlowECS(t *testing.T) {
	r := &flow.Record{
		TS: t0, UID: "CxYz1", OrigH: netip.MustParseAddr("10.0.0.5"), OrigP: 51000,
		RespH: netip.MustParseAddr("203.0.113.7"), RespP: 443, Proto: "tcp", IPProto: 6, Service: "ssl",
		Duration: 3 * time.Second, OrigBytes: 50 << 20, OrigPkts: 40000, RespPkts: 20000,
		OrigIPBytes: 53 << 20, RespIPBytes: 1 << 20, ConnState: "SF", CommunityID: "1:abc=", VLAN: 10, Source: flow.SourceZeek,
	}
	v := &detect.Verdict{Score: 9, PValue: 1e-9, Alert: true,
		Hits:     []detect.Hit{{Detector: "robust_z", PValue: 1e-10, Fired: true}, {Detector: "hbos", PValue: 0.2}},
		Features: []detect.Feature{{Name: "orig_bytes", Value: 50 << 20, Median: 2048, Spread: 1024, Z: 9.5, Text: "orig_bytes 50 MB, typical 2 KB ± 1 KB"}},
		Behaviors: []detect.Finding{{Detector: "volume", Host: "10.0.0.5", Start: t0, End: t0, PValue: 1e-6,
			Summary: "volume", UIDs: []string{"CxYz1"}}},
	}
	a := FromFlow(r, v, "sensor-1")
	m := doc(t, a)
	checkFields(t, m, map[string]any{
		"@timestamp":           "2026-11-25T12:00:00Z",
		"event.kind":           "alert",
		"event.end":            "2026-11-25T12:00:03Z",
		"rule.name":            "flow_anomaly",
		"rule.category":        "flow",
		"source.ip":            "10.0.0.5",
		"source.port":          51000,
		"source.packets":       40000,
		"destination.ip":       "203.0.113.7",
		"destination.port":     443,
		"network.transport":    "tcp",
		"network.protocol":     "ssl",
		"network.community_id": "1:abc=",
		"network.iana_number":  "6",
		"network.vlan.id":      "10",
		"related.ip":           []any{"10.0.0.5", "203.0.113.7"},
		"mlads.p_value":        1e-9,
		"mlads.source":         "zeek",
		"mlads.flow_uids":      []any{"CxYz1"},
		"event.severity":       3,
		"mlads.severity":       "high",
	})
	hits := field(m, "mlads.hits").([]any)
	if h := hits[0].(map[string]any); h["detector"] != "robust_z" || h["fired"] != true {
		t.Errorf("hits = %v", hits)
	}
	feats := field(m, "mlads.features").([]any)
	if f := feats[0].(map[string]any); f["text"] != "orig_bytes 50 MB, typical 2 KB ± 1 KB" || f["median"] != 2048.0 {
		t.Errorf("features = %v", feats)
	}
	if b := field(m, "mlads.behaviors").([]any); b[0].(map[string]any)["detector"] != "volume" {
		t.Errorf("behaviors = %v", b)
	}
	if !strings.Contains(a.Message, "orig_bytes 50 MB") || !strings.Contains(a.Message, "robust_z") {
		t.Errorf("message %q does not explain", a.Message)
	}
}

func TestID(t *testing.T) {
	base := FromFinding(scanFinding("10.0.0.5", t0), "s")
	if again := FromFinding(scanFinding("10.0.0.5", t0), "s"); again.ID() != base.ID() {
		t.Errorf("same content, different IDs: %s %s", base.ID(), again.ID())
	}
	if other := FromFinding(scanFinding("10.0.0.5", t0), "another-sensor"); other.ID() != base.ID() {
		t.Errorf("the observer name is not part of the alert's identity")
	}
	// A round trip through JSON (a retried write from the spool) keeps the ID.
	var back Alert
	b, _ := json.Marshal(base)
	if err := json.Unmarshal(b, &back); err != nil || back.ID() != base.ID() {
		t.Errorf("after JSON round trip ID = %q (err %v), want %q", back.ID(), err, base.ID())
	}
	differ := map[string]func(f *detect.Finding){
		"host":     func(f *detect.Finding) { f.Host = "10.0.0.6" },
		"time":     func(f *detect.Finding) { f.Start = f.Start.Add(5 * time.Minute) },
		"detector": func(f *detect.Finding) { f.Detector = "vertical_scan" },
		"uids":     func(f *detect.Finding) { f.UIDs = []string{"CBBB"} },
		"port":     func(f *detect.Finding) { f.Evidence = map[string]any{"port": 23, "proto": "tcp"} },
	}
	for name, change := range differ {
		f := scanFinding("10.0.0.5", t0)
		change(f)
		if id := FromFinding(f, "s").ID(); id == base.ID() {
			t.Errorf("%s changed but the ID did not", name)
		}
	}
	if len(base.ID()) != 32 {
		t.Errorf("ID %q: want 32 hex characters", base.ID())
	}
}

func TestIncidents(t *testing.T) {
	type step struct {
		host   string
		at     time.Duration
		isNew  bool
		count  int
		sameAs int // index of the step whose incident ID this one must share; -1 none
	}
	steps := []step{
		{"10.0.0.5", 0, true, 1, -1},
		{"10.0.0.5", 10 * time.Minute, false, 2, 0},
		{"10.0.0.6", 20 * time.Minute, true, 1, -1}, // another host: its own incident
		{"10.0.0.5", 50 * time.Minute, false, 3, 0},
		{"10.0.0.5", 61 * time.Minute, true, 1, -1}, // past the hour: a new incident
		{"10.0.0.5", 70 * time.Minute, false, 2, 4},
	}
	inc := NewIncidents(time.Hour, 100)
	var ids []string
	for i, s := range steps {
		got, isNew := inc.Add(FromFinding(scanFinding(s.host, t0.Add(s.at)), "s"))
		ids = append(ids, got.ID())
		if isNew != s.isNew || got.MLADS.Incident.Count != s.count {
			t.Errorf("step %d: isNew=%v count=%d, want %v %d", i, isNew, got.MLADS.Incident.Count, s.isNew, s.count)
		}
		if s.sameAs >= 0 && got.ID() != ids[s.sameAs] {
			t.Errorf("step %d: incident ID %s, want that of step %d (%s)", i, got.ID(), s.sameAs, ids[s.sameAs])
		}
		if s.sameAs < 0 {
			for j := 0; j < i; j++ {
				if ids[j] == got.ID() {
					t.Errorf("step %d: new incident reuses the ID of step %d", i, j)
				}
			}
		}
		if want := t0.Add(s.at + 4*time.Minute); !got.MLADS.Incident.LastSeen.Equal(want) || !got.Event.End.Equal(want) {
			t.Errorf("step %d: last seen %v, end %v, want %v", i, got.MLADS.Incident.LastSeen, got.Event.End, want)
		}
	}
	st := inc.Stats()
	if st.New != 3 || st.Merged != 3 || st.Open != 2 {
		t.Errorf("stats = %+v", st)
	}
}

// An alert that lasted hours (a long connection) does not move the
// incidents' clock to its end: the alerts that follow within the hour of
// the open incidents still fold into them.
func TestIncidentsClockIsTheAlertStart(t *testing.T) {
	inc := NewIncidents(time.Hour, 100)
	inc.Add(FromFinding(scanFinding("10.0.0.5", t0), "s"))
	long := scanFinding("10.0.0.6", t0.Add(time.Minute))
	long.End = long.Start.Add(10 * time.Hour)
	inc.Add(FromFinding(long, "s"))
	for i := range 3 {
		got, isNew := inc.Add(FromFinding(scanFinding("10.0.0.5", t0.Add(time.Duration(2+i)*time.Minute)), "s"))
		if isNew || got.MLADS.Incident.Count != 2+i {
			t.Fatalf("alert %d: isNew=%v count=%d, want it folded into the first incident", i, isNew, got.MLADS.Incident.Count)
		}
	}
	if st := inc.Stats(); st.Expired != 0 || st.New != 2 {
		t.Errorf("stats = %+v, want 2 incidents and none expired", st)
	}
}

func TestIncidentsBounded(t *testing.T) {
	inc := NewIncidents(time.Hour, 2)
	for i := range 5 {
		inc.Add(FromFinding(scanFinding(fmt.Sprintf("10.0.0.%d", i+1), t0.Add(time.Duration(i)*time.Minute)), "s"))
	}
	st := inc.Stats()
	if st.Open != 2 || st.Evicted != 3 {
		t.Errorf("stats = %+v, want 2 open and 3 evicted", st)
	}
	// The newest two are the ones kept: a repeat of host 5 merges.
	if _, isNew := inc.Add(FromFinding(scanFinding("10.0.0.5", t0.Add(6*time.Minute)), "s")); isNew {
		t.Errorf("repeat of a kept incident opened a new one")
	}
}

func TestIncidentSnapshot(t *testing.T) {
	inc := NewIncidents(time.Hour, 10)
	first, _ := inc.Add(FromFinding(scanFinding("10.0.0.5", t0), "s"))
	keep := *first
	keepUIDs := append([]string(nil), first.MLADS.FlowUIDs...)
	f := scanFinding("10.0.0.5", t0.Add(time.Minute))
	f.UIDs = []string{"CNEW"}
	inc.Add(FromFinding(f, "s"))
	if first.MLADS.Incident.Count != 1 || !reflect.DeepEqual(first.MLADS.FlowUIDs, keepUIDs) || first.Event.End != keep.Event.End {
		t.Errorf("a returned incident changed after a later Add: %+v", first.MLADS.Incident)
	}
}

// benchFlow is a flow alert as analyze makes them: five detector hits, two
// of them fired, three explained features, no community ID in the record.
func benchFlow() (*flow.Record, *detect.Verdict) {
	r := &flow.Record{TS: t0, Duration: time.Second, UID: "CAbc1", Proto: "tcp", IPProto: 6, Service: "ssl",
		OrigH: netip.MustParseAddr("10.0.0.1"), RespH: netip.MustParseAddr("192.0.2.9"), OrigP: 51000, RespP: 443,
		OrigIPBytes: 1 << 20, RespIPBytes: 4000, OrigPkts: 900, RespPkts: 40, Source: flow.SourcePcap}
	v := &detect.Verdict{PValue: 1e-8, Score: 8, Alert: true}
	for i, d := range []string{"hbos", "robust_z", "iforest", "rarity", "group"} {
		v.Hits = append(v.Hits, detect.Hit{Detector: d, PValue: float64(i) * 1e-3, Fired: i < 2})
	}
	for i := range 3 {
		v.Features = append(v.Features, detect.Feature{Name: "orig_bytes", Value: 1 << 20, Median: 2000, Spread: 900, Z: 9 - float64(i),
			Text: "orig_bytes 1 MB, typical 2 KB ± 900 B"})
	}
	return r, v
}

// BenchmarkFromFlow: the cost of one flow alert document, before encoding.
func BenchmarkFromFlow(b *testing.B) {
	r, v := benchFlow()
	b.ReportAllocs()
	for b.Loop() {
		FromFlow(r, v, "sensor-1")
	}
}

// BenchmarkFoldBatch folds flow alerts of 1,000 hosts (a document each,
// made beforehand) in analyze's batch mode and flushes: the cost an alert
// of folding, before encoding.
func BenchmarkFoldBatch(b *testing.B) {
	r, v := benchFlow()
	docs := make([]*Alert, 10_000)
	for i := range docs {
		r.OrigH = netip.AddrFrom4([4]byte{10, 0, byte(i % 1000 >> 8), byte(i % 1000)})
		r.TS = t0.Add(time.Duration(i) * time.Second)
		docs[i] = FromFlow(r, v, "sensor-1")
	}
	b.ReportAllocs()
	for b.Loop() {
		f := NewFold(Discard{}, time.Hour, 0, false)
		for i := 0; i < len(docs); i += 256 {
			if _, err := f.Write(context.Background(), docs[i:min(i+256, len(docs))]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := f.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(docs)), "ns/alert")
}
