package dashboards

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/elastic"
	"github.com/mlads/mlads/internal/elastic/estest"
	"github.com/mlads/mlads/internal/flow"
)

type ref struct {
	Name, Type, ID string
}

type savedObject struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Attributes map[string]any `json:"attributes"`
	References []ref          `json:"references"`
}

// lensState is the part of a Lens object the tests read.
type lensState struct {
	VisualizationType string `json:"visualizationType"`
	Title             string `json:"title"`
	State             struct {
		DatasourceStates struct {
			FormBased struct {
				Layers map[string]struct {
					Columns     map[string]lensColumn `json:"columns"`
					ColumnOrder []string              `json:"columnOrder"`
				} `json:"layers"`
			} `json:"formBased"`
		} `json:"datasourceStates"`
	} `json:"state"`
}

type lensColumn struct {
	OperationType string `json:"operationType"`
	SourceField   string `json:"sourceField"`
	IsBucketed    bool   `json:"isBucketed"`
	Params        struct {
		Size int `json:"size"`
	} `json:"params"`
}

// loadAll reads every embedded saved object, by type and ID.
func loadAll(t *testing.T) map[string]savedObject {
	t.Helper()
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("%d files", len(files))
	}
	all := map[string]savedObject{}
	for _, f := range files {
		for i, line := range bytes.Split(bytes.TrimSpace(f.Data), []byte{'\n'}) {
			var o savedObject
			if err := json.Unmarshal(line, &o); err != nil {
				t.Fatalf("%s line %d: %v", f.Name, i+1, err)
			}
			key := o.Type + "/" + o.ID
			if _, dup := all[key]; dup {
				t.Errorf("%s line %d: %s defined twice", f.Name, i+1, key)
			}
			all[key] = o
		}
	}
	return all
}

// aggregatable are the mapping types Lens can bucket and measure.
var aggregatable = []string{"keyword", "ip", "date", "long", "double", "boolean"}

// TestSavedObjects checks that every reference resolves, every dashboard
// panel names a reference, and every field a panel or the saved search
// uses is in the template mapping with a type Lens can aggregate.
func TestSavedObjects(t *testing.T) {
	all := loadAll(t)
	patterns := map[string]string{} // data view ID → index pattern
	for _, o := range all {
		if o.Type == "index-pattern" {
			patterns[o.ID], _ = o.Attributes["title"].(string)
		}
	}
	counts := map[string]int{}
	for key, o := range all {
		counts[o.Type]++
		for _, r := range o.References {
			if _, ok := all[r.Type+"/"+r.ID]; !ok {
				t.Errorf("%s: reference %s to %s/%s resolves to nothing", key, r.Name, r.Type, r.ID)
			}
		}
		switch o.Type {
		case "dashboard":
			var panels []struct {
				Type, PanelIndex, PanelRefName string
			}
			if err := json.Unmarshal([]byte(o.Attributes["panelsJSON"].(string)), &panels); err != nil {
				t.Fatalf("%s: panelsJSON: %v", key, err)
			}
			for _, p := range panels {
				if !slices.ContainsFunc(o.References, func(r ref) bool { return r.Name == p.PanelIndex+":"+p.PanelRefName && r.Type == p.Type }) {
					t.Errorf("%s: panel %s (%s) has no reference %s:%s", key, p.PanelIndex, p.Type, p.PanelIndex, p.PanelRefName)
				}
			}
		case "lens":
			view := o.References[0].ID
			fields, err := elastic.Fields(patterns[view])
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			var l lensState
			b, _ := json.Marshal(o.Attributes)
			if err := json.Unmarshal(b, &l); err != nil {
				t.Fatal(err)
			}
			for layer, ly := range l.State.DatasourceStates.FormBased.Layers {
				if !slices.ContainsFunc(o.References, func(r ref) bool { return r.Name == "indexpattern-datasource-layer-"+layer }) {
					t.Errorf("%s: layer %s has no data view reference", key, layer)
				}
				for id, c := range ly.Columns {
					if c.OperationType == "count" {
						continue
					}
					if typ := fields[c.SourceField]; !slices.Contains(aggregatable, typ) {
						t.Errorf("%s: column %s uses %q, of type %q in the mapping of %s: not aggregatable", key, id, c.SourceField, typ, patterns[view])
					}
				}
			}
		case "search":
			fields, err := elastic.Fields(patterns[o.References[0].ID])
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range o.Attributes["columns"].([]any) {
				if _, ok := fields[c.(string)]; !ok {
					t.Errorf("%s: column %q is not in the mapping", key, c)
				}
			}
		}
	}
	if counts["dashboard"] != 3 || counts["index-pattern"] != 3 || counts["search"] != 1 || counts["lens"] < 15 {
		t.Errorf("objects by type: %v", counts)
	}
}

// TestGenerated checks that the files are what gen writes.
func TestGenerated(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command("go", "run", "./gen", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("go run ./gen: %v\n%s", err, out)
	}
	files, _ := Files()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, f.Data) {
			t.Errorf("%s differs from what gen writes: run go run ./dashboards/gen", f.Name)
		}
	}
}

// TestPanelsAgainstEngine indexes test alerts, incidents and health
// reports into the real node and runs each Lens panel's aggregation, as
// Lens would build it, against its data view: every panel must return
// buckets (or a value).
func TestPanelsAgainstEngine(t *testing.T) {
	esURL := estest.URL(t)
	estest.Lock(t, false)
	const ns = "dashtest"
	c, err := elastic.New(elastic.Options{URL: esURL, Namespace: ns, Retention: "30d"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Setup(ctx, false, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/_data_stream/logs-mlads.alert-" + ns + ",metrics-mlads.health-" + ns, "/mlads-incident-" + ns + "-*"} {
		req, _ := http.NewRequest("DELETE", esURL+p, nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			_ = res.Body.Close()
		}
	}
	dir := t.TempDir()
	s, err := elastic.NewSink(c, elastic.SinkOptions{SpoolDir: dir + "/spool", DeadLetter: dir + "/dead"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Second)
	docs := sampleAlerts(now)
	if _, err := s.Write(ctx, docs); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := s.WriteHealth(ctx, elastic.Health{Time: now.Add(-time.Duration(i) * time.Minute), Observer: "sensor-" + fmt.Sprint(i%2),
			Inputs: 2, LagSeconds: float64(i), Flows: uint64(1000 * i), BadLines: uint64(i), Drops: 1,
			Capture: []elastic.CaptureHealth{{Interface: "eth1", Packets: uint64(5000 * i), KernelDrops: uint64(i / 5), RingDrops: uint64(i / 3), DecodeErrs: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.DeadLetters > 0 || st.Spooled > 0 {
		t.Fatalf("not all stored: %+v", st)
	}
	post(t, esURL+"/*"+ns+"*/_refresh", nil)

	all := loadAll(t)
	for key, o := range all {
		if o.Type != "lens" {
			continue
		}
		t.Run(o.ID, func(t *testing.T) {
			pattern, _ := all["index-pattern/"+o.References[0].ID].Attributes["title"].(string)
			index := strings.Replace(pattern, "*", ns+"*", 1)
			var l lensState
			b, _ := json.Marshal(o.Attributes)
			_ = json.Unmarshal(b, &l)
			for _, ly := range l.State.DatasourceStates.FormBased.Layers {
				query, path := lensQuery(ly.Columns, ly.ColumnOrder)
				var res map[string]any
				post(t, esURL+"/"+index+"/_search", query, &res)
				if err := checkResult(res, path); err != nil {
					t.Errorf("%s (%s) on %s: %v\nquery %s", key, l.Title, index, err, query)
				}
			}
		})
	}
}

// lensQuery builds the search Lens sends for a layer: bucket columns
// nested in column order, the metrics inside the innermost bucket. It
// returns the names of the bucket aggregations, outermost first.
func lensQuery(cols map[string]lensColumn, order []string) ([]byte, []string) {
	metrics := map[string]any{}
	var buckets []string
	for _, id := range order {
		c := cols[id]
		switch c.OperationType {
		case "date_histogram", "terms":
			buckets = append(buckets, id)
		case "count":
		case "unique_count":
			metrics[id] = map[string]any{"cardinality": map[string]any{"field": c.SourceField}}
		default:
			metrics[id] = map[string]any{c.OperationType: map[string]any{"field": c.SourceField}}
		}
	}
	aggs := metrics
	for i := len(buckets) - 1; i >= 0; i-- {
		c := cols[buckets[i]]
		var a map[string]any
		if c.OperationType == "terms" {
			a = map[string]any{"terms": map[string]any{"field": c.SourceField, "size": c.Params.Size}}
		} else {
			a = map[string]any{"date_histogram": map[string]any{"field": c.SourceField, "fixed_interval": "1m", "min_doc_count": 1}}
		}
		if len(aggs) > 0 {
			a["aggs"] = aggs
		}
		aggs = map[string]any{buckets[i]: a}
	}
	q, _ := json.Marshal(map[string]any{"size": 0, "track_total_hits": true, "aggs": aggs})
	return q, buckets
}

// checkResult walks the first bucket of each level and checks that the
// innermost one has documents and that its metrics have values.
func checkResult(res map[string]any, path []string) error {
	total := res["hits"].(map[string]any)["total"].(map[string]any)["value"].(float64)
	if total == 0 {
		return fmt.Errorf("no documents")
	}
	level, _ := res["aggregations"].(map[string]any)
	for _, name := range path {
		bs, _ := level[name].(map[string]any)["buckets"].([]any)
		if len(bs) == 0 {
			return fmt.Errorf("aggregation %s: no buckets", name)
		}
		level = bs[0].(map[string]any)
	}
	for k, v := range level {
		if m, ok := v.(map[string]any); ok {
			if _, isBucket := m["buckets"]; !isBucket && m["value"] == nil {
				return fmt.Errorf("metric %s: no value", k)
			}
		}
	}
	return nil
}

func post(t *testing.T, url string, body []byte, into ...any) {
	t.Helper()
	res, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("POST %s: %d %s", url, res.StatusCode, b)
	}
	if len(into) > 0 {
		if err := json.Unmarshal(b, into[0]); err != nil {
			t.Fatal(err)
		}
	}
}

// sampleAlerts returns flow alerts with explanations and behavioural
// alerts with their incidents, all in the last hour.
func sampleAlerts(now time.Time) []*alert.Alert {
	var out []*alert.Alert
	inc := alert.NewIncidents(time.Hour, 100)
	for i := range 60 {
		ts := now.Add(-time.Duration(60-i) * time.Minute)
		r := &flow.Record{TS: ts, UID: fmt.Sprintf("C%05d", i), Proto: "tcp", Service: "ssl", Duration: 3 * time.Second,
			OrigH: netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + i%5)}), OrigP: uint16(40000 + i),
			RespH: netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i%7)}), RespP: 443, OrigIPBytes: 48 << 20, RespIPBytes: 2048, OrigPkts: 3000, RespPkts: 20}
		v := &detect.Verdict{Score: 8, PValue: 1e-8, Alert: true,
			Hits:     []detect.Hit{{Detector: "robust_z", PValue: 1e-9, Fired: true}},
			Features: []detect.Feature{{Name: "orig_bytes", Value: 48 << 20, Median: 2048, Spread: 1024, Z: 12, Text: "orig_bytes 48 MB, typical 2 KB ± 1 KB"}}}
		a := alert.FromFlow(r, v, fmt.Sprintf("sensor-%d", i%2))
		out = append(out, a)
		f := &detect.Finding{Detector: "horizontal_scan", Host: "10.0.0.9", Start: ts, End: ts.Add(time.Minute), PValue: 1e-5,
			Summary: "scan", Evidence: map[string]any{"port": 22, "proto": "tcp", "hosts": 40}}
		b := alert.FromFinding(f, "sensor-0")
		out = append(out, b)
		v2, _ := inc.Add(b)
		out = append(out, v2)
	}
	return out
}
