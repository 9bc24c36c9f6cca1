package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/elastic/estest"
	"github.com/mlads/mlads/internal/netns"
)

// healthDocument is what the tests read of a sensor-health document.
type healthDocument struct {
	Timestamp time.Time `json:"@timestamp"`
	Event     struct {
		Dataset string `json:"dataset"`
	} `json:"event"`
	Observer struct {
		Name    string `json:"name"`
		Ingress struct {
			Interface struct {
				Name string `json:"name"`
			} `json:"interface"`
		} `json:"ingress"`
	} `json:"observer"`
	MLADS struct {
		Health struct {
			Flows   *uint64 `json:"flows"`
			Capture *struct {
				Packets      *uint64 `json:"packets"`
				KernelDrops  *uint64 `json:"kernel_drops"`
				RingDrops    *uint64 `json:"ring_drops"`
				DecodeErrors *uint64 `json:"decode_errors"`
			} `json:"capture"`
		} `json:"health"`
	} `json:"mlads"`
}

// esHealthDocs returns the namespace's sensor-health documents, oldest
// first; none while its data stream does not exist.
func esHealthDocs(t *testing.T, cfg config.Config) []healthDocument {
	t.Helper()
	stream := "metrics-mlads.health-" + cfg.Elasticsearch.Namespace
	post := func(path, body string) ([]byte, bool) {
		resp, err := http.Post(cfg.Elasticsearch.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusNotFound {
			return nil, false
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		return b, true
	}
	if _, ok := post("/"+stream+"/_refresh", ""); !ok {
		return nil
	}
	b, ok := post("/"+stream+"/_search", `{"size":10000,"sort":[{"@timestamp":"asc"}]}`)
	if !ok {
		return nil
	}
	var res struct {
		Hits struct {
			Hits []struct {
				Source healthDocument `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	docs := make([]healthDocument, 0, len(res.Hits.Hits))
	for _, h := range res.Hits.Hits {
		docs = append(docs, h.Source)
	}
	return docs
}

// capturedPackets is the highest packet counter of iface's health
// documents, and whether there is one.
func capturedPackets(docs []healthDocument, iface string) (uint64, bool) {
	var most uint64
	found := false
	for _, d := range docs {
		if d.Observer.Ingress.Interface.Name == iface && d.MLADS.Health.Capture != nil && d.MLADS.Health.Capture.Packets != nil {
			most, found = max(most, *d.MLADS.Health.Capture.Packets), true
		}
	}
	return most, found
}

// TestRunCaptureHealthDocuments: a daemon capturing a veth writes, with
// every sensor-health report, a document for the interface into
// Elasticsearch, whose packet counter moves with the traffic sent to it,
// with its kernel and ring drops and decode errors (all 0 here); the
// sensor's own report stays a document of its own.
func TestRunCaptureHealthDocuments(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces and Elasticsearch")
	}
	esExtra, es := esRunConfig(t)
	if es == nil {
		t.Skip("ES_URL is not set: no Elasticsearch node for the health documents (.ci/run starts one)")
	}
	estest.Lock(t, false) // the health template stays in place meanwhile
	p := netns.ServedPair(t, 100)
	dir := t.TempDir()
	model, _ := trainOffice(t, dir)
	extra := fmt.Sprintf("  model: %q\n  observer: capture-health\n  health_interval: 200ms\n", model) + esExtra
	stop := liveDaemon(t, p.B, liveConfig(t, dir, []string{p.IfB}, extra))

	waitPackets := func(atLeast uint64) uint64 {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			n, ok := capturedPackets(esHealthDocs(t, *es), p.IfB)
			if ok && n >= atLeast {
				return n
			}
			if time.Now().After(deadline) {
				_, log := stop()
				t.Fatalf("no health document of %s with %d packets or more within 15 s (highest %d, found %v); daemon log:\n%s",
					p.IfB, atLeast, n, ok, log)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	before := waitPackets(0)
	const datagrams = 500
	if err := netns.Do(p.A, func() error {
		c, err := net.Dial("udp4", net.JoinHostPort(p.AddrB, strconv.Itoa(netns.UDPPort)))
		if err != nil {
			return err
		}
		defer c.Close()
		for range datagrams {
			if _, err := c.Write([]byte("health")); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	after := waitPackets(before + datagrams)
	t.Logf("mlads.health.capture.packets of %s: %d before %d datagrams, %d after", p.IfB, before, datagrams, after)
	if err, log := stop(); err != nil {
		t.Fatalf("daemon: %v\n%s", err, log)
	}

	var sensor, iface int
	for _, d := range esHealthDocs(t, *es) {
		if d.Observer.Name != "capture-health" || d.Event.Dataset != "mlads.health" {
			t.Errorf("health document of %q, dataset %q", d.Observer.Name, d.Event.Dataset)
		}
		h := d.MLADS.Health
		switch d.Observer.Ingress.Interface.Name {
		case "":
			sensor++
			if h.Flows == nil || h.Capture != nil {
				t.Errorf("sensor document at %s: flows %v, capture %v: want the sensor's fields only", d.Timestamp, h.Flows, h.Capture)
			}
		case p.IfB:
			iface++
			c := h.Capture
			if h.Flows != nil || c == nil || c.Packets == nil || c.KernelDrops == nil || c.RingDrops == nil || c.DecodeErrors == nil {
				t.Fatalf("interface document at %s: %+v: want every mlads.health.capture field and no sensor field", d.Timestamp, h)
			}
			if *c.KernelDrops != 0 || *c.RingDrops != 0 || *c.DecodeErrors != 0 {
				t.Errorf("interface document at %s: kernel drops %d, ring drops %d, decode errors %d: want 0",
					d.Timestamp, *c.KernelDrops, *c.RingDrops, *c.DecodeErrors)
			}
		default:
			t.Errorf("health document of interface %q", d.Observer.Ingress.Interface.Name)
		}
	}
	if sensor == 0 || iface != sensor {
		t.Errorf("%d sensor documents and %d of %s: want one of each per report", sensor, iface, p.IfB)
	}
}
