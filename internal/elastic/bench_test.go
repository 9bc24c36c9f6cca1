package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/benchmeter"
)

// BenchmarkSink measures alerts/s from Write to a finished Flush into the
// real node, and the same documents sent as raw bulk requests (what curl
// would send: pre-encoded, the same bulk size and concurrency) in the same
// run, alternating which goes first. ratio is the sink's rate over the raw
// rate; the client's CPU per alert is reported for both, since on a
// shared machine the node's share of the cores sets the wall-clock rates.
// The raw side's CPU excludes encoding (done before the clock starts, as
// curl would send prepared files). With ESNODE_PID set, the node's CPU
// per alert too. BENCH_ES_SWEEP=1 adds more worker and bulk-size settings.
//
//	ES_URL=... go test ./internal/elastic -run '^$' -bench Sink -benchtime 3x
func BenchmarkSink(b *testing.B) {
	const n = 50_000
	configs := []struct{ workers, flushBytes int }{{2, 1 << 20}}
	if os.Getenv("BENCH_ES_SWEEP") != "" {
		configs = append(configs, struct{ workers, flushBytes int }{2, 4 << 20}, struct{ workers, flushBytes int }{4, 2 << 20})
	}
	for _, cfg := range configs {
		b.Run(fmt.Sprintf("workers=%d/flush=%dMiB", cfg.workers, cfg.flushBytes>>20), func(b *testing.B) {
			base := testClient(b, "bench")
			if err := base.Setup(context.Background(), false, io.Discard); err != nil {
				b.Fatal(err)
			}
			docs := benchAlerts(n)
			var sinkTime, rawTime, sinkCPU, rawCPU, sinkNode, rawNode time.Duration
			for i := 0; i < b.N; i++ {
				sinkNS, rawNS := fmt.Sprintf("bench%d.sink", i), fmt.Sprintf("bench%d.raw", i)
				run := []func(){
					func() {
						cpu, node := benchmeter.CPU(), nodeCPU(b)
						sinkTime += benchSinkOnce(b, sinkNS, docs, cfg.workers, cfg.flushBytes)
						sinkCPU += benchmeter.CPU() - cpu
						sinkNode += nodeCPU(b) - node
					},
					func() {
						cpu, node := benchmeter.CPU(), nodeCPU(b)
						rawTime += benchRawOnce(b, rawNS, docs, cfg.workers, cfg.flushBytes)
						rawCPU += benchmeter.CPU() - cpu
						rawNode += nodeCPU(b) - node
					},
				}
				if i%2 == 1 {
					run[0], run[1] = run[1], run[0]
				}
				run[0]()
				run[1]()
				esDo(b, "DELETE", "/_data_stream/logs-mlads.alert-"+sinkNS+",logs-mlads.alert-"+rawNS, nil, 200, 404)
			}
			sinkRate := float64(n*b.N) / sinkTime.Seconds()
			rawRate := float64(n*b.N) / rawTime.Seconds()
			b.ReportMetric(sinkRate, "alerts/s")
			b.ReportMetric(rawRate, "raw-alerts/s")
			b.ReportMetric(sinkRate/rawRate, "ratio")
			// The client's own CPU (this process; the node runs in its own):
			// what the sink costs beyond sending pre-encoded bytes.
			b.ReportMetric(float64(sinkCPU.Microseconds())/float64(n*b.N), "client-µs/alert")
			b.ReportMetric(float64(rawCPU.Microseconds())/float64(n*b.N), "raw-client-µs/alert")
			if sinkNode > 0 {
				b.ReportMetric(float64(sinkNode.Microseconds())/float64(n*b.N), "node-µs/alert")
				b.ReportMetric(float64(rawNode.Microseconds())/float64(n*b.N), "raw-node-µs/alert")
			}
		})
	}
}

// nodeCPU returns the CPU time the node's process ($ESNODE_PID) has used,
// from /proc; 0 when unknown.
func nodeCPU(b *testing.B) time.Duration {
	pid := os.Getenv("ESNODE_PID")
	if pid == "" {
		return 0
	}
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		b.Fatalf("ESNODE_PID: %v", err)
	}
	// Fields after the command's closing parenthesis; utime and stime are
	// the 14th and 15th of the line, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func benchAlerts(n int) []*alert.Alert {
	var out []*alert.Alert
	for _, a := range testAlerts(nil, n) {
		if !a.IsIncident() {
			out = append(out, a)
		}
	}
	return out
}

func benchSinkOnce(b *testing.B, ns string, docs []*alert.Alert, workers, flushBytes int) time.Duration {
	c, err := New(Options{URL: os.Getenv("ES_URL"), Namespace: ns, Retention: "30d"})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	s, err := NewSink(c, SinkOptions{Workers: workers, FlushBytes: flushBytes, SpoolDir: dir + "/spool", DeadLetter: dir + "/dead"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < len(docs); i += 1000 {
		if _, err := s.Write(ctx, docs[i:min(i+1000, len(docs))]); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	if st := s.Stats(); st.Stored != uint64(len(docs)) {
		b.Fatalf("stored %d of %d: %+v", st.Stored, len(docs), st)
	}
	return d
}

// benchRawOnce sends docs as pre-built bulk bodies of about flushBytes,
// workers at a time, and checks every item was created.
func benchRawOnce(b *testing.B, ns string, docs []*alert.Alert, workers, flushBytes int) time.Duration {
	index := "logs-mlads.alert-" + ns
	var bodies [][]byte
	var buf bytes.Buffer
	for _, a := range docs {
		doc, err := json.Marshal(a)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&buf, `{"create":{"_index":%q,"_id":%q}}`+"\n", index, a.ID())
		buf.Write(doc)
		buf.WriteByte('\n')
		if buf.Len() >= flushBytes {
			bodies = append(bodies, bytes.Clone(buf.Bytes()))
			buf.Reset()
		}
	}
	if buf.Len() > 0 {
		bodies = append(bodies, bytes.Clone(buf.Bytes()))
	}
	url := strings.TrimRight(os.Getenv("ES_URL"), "/") + "/_bulk?filter_path=errors"
	work := make(chan []byte)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range work {
				res, err := http.Post(url, "application/x-ndjson", bytes.NewReader(body))
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					continue
				}
				out, _ := io.ReadAll(res.Body)
				_ = res.Body.Close()
				if res.StatusCode != 200 || !bytes.Contains(out, []byte(`"errors":false`)) {
					mu.Lock()
					failed = fmt.Errorf("raw bulk: %d %.300s", res.StatusCode, out)
					mu.Unlock()
				}
			}
		}()
	}
	for _, body := range bodies {
		work <- body
	}
	close(work)
	wg.Wait()
	d := time.Since(start)
	if failed != nil {
		b.Fatal(failed)
	}
	return d
}
