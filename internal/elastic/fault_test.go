package elastic

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultProxy stands between the sink and the real node and injects the
// faults a cluster under load shows. Whatever it lets through is stored
// by the real node, so the tests count the result there.
type faultProxy struct {
	srv  *httptest.Server
	real *httputil.ReverseProxy

	mu sync.Mutex
	// whole429 and whole503 answer that many bulk requests with the
	// status as a whole; rejectEvery refuses every n-th item of a bulk
	// request with 429 and forwards the rest; down resets every
	// connection; delay slows every answer.
	whole429, whole503 int
	rejectEvery        int
	down               bool
	delay              time.Duration

	bulks, rejectedItems atomic.Int64
}

func newFaultProxy(tb testing.TB) *faultProxy {
	tb.Helper()
	target, err := url.Parse(os.Getenv("ES_URL"))
	if err != nil {
		tb.Fatal(err)
	}
	p := &faultProxy{real: httputil.NewSingleHostReverseProxy(target)}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	tb.Cleanup(p.srv.Close)
	return p
}

func (p *faultProxy) set(fn func(p *faultProxy)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p)
}

func (p *faultProxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	down, delay, rejectEvery := p.down, p.delay, p.rejectEvery
	isBulk := r.URL.Path == "/_bulk"
	status := 0
	if isBulk {
		p.bulks.Add(1)
		switch {
		case p.whole429 > 0:
			p.whole429--
			status = http.StatusTooManyRequests
		case p.whole503 > 0:
			p.whole503--
			status = http.StatusServiceUnavailable
		}
	}
	p.mu.Unlock()
	time.Sleep(delay)
	if down {
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("no hijacker")
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
				_ = tc.SetLinger(0) // RST, not FIN
			}
			_ = conn.Close()
		}
		return
	}
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	if status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"error":{"type":"es_rejected_execution_exception","reason":"injected by the test proxy"},"status":%d}`, status)
		return
	}
	if isBulk && rejectEvery > 0 {
		p.partial(w, r, rejectEvery)
		return
	}
	p.real.ServeHTTP(w, r)
}

// partial forwards all but every n-th item of a bulk request and answers
// those with a 429 item, merged into the real answer in request order.
func (p *faultProxy) partial(w http.ResponseWriter, r *http.Request, n int) {
	body, _ := io.ReadAll(r.Body)
	var fwd bytes.Buffer
	var rejected []int
	var actions []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for i := 0; sc.Scan(); i++ {
		meta := append([]byte(nil), sc.Bytes()...)
		if !sc.Scan() {
			break
		}
		doc := sc.Bytes()
		var m map[string]json.RawMessage
		_ = json.Unmarshal(meta, &m)
		for k := range m {
			actions = append(actions, k)
		}
		if i%n == n-1 {
			rejected = append(rejected, i)
			continue
		}
		fwd.Write(meta)
		fwd.WriteByte('\n')
		fwd.Write(doc)
		fwd.WriteByte('\n')
	}
	var items []json.RawMessage
	if fwd.Len() > 0 {
		u := *r.URL
		u.Scheme, u.Host = "http", mustHost(os.Getenv("ES_URL"))
		u.RawQuery = "" // the full answer: the items are merged
		req, _ := http.NewRequest("POST", u.String(), &fwd)
		req.Header.Set("Content-Type", "application/x-ndjson")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		var out struct {
			Items []json.RawMessage `json:"items"`
		}
		_ = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		items = out.Items
	}
	merged := make([]json.RawMessage, 0, len(actions))
	ri := 0
	for i, a := range actions {
		if ri < len(rejected) && rejected[ri] == i {
			ri++
			p.rejectedItems.Add(1)
			merged = append(merged, json.RawMessage(`{"`+a+`":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"injected"}}}`))
			continue
		}
		merged = append(merged, items[0])
		items = items[1:]
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": true, "items": merged})
}

func mustHost(s string) string {
	u, _ := url.Parse(s)
	return u.Host
}

// proxyClient is a client of the real node through p.
func proxyClient(tb testing.TB, p *faultProxy, namespace string) *Client {
	tb.Helper()
	c, err := New(Options{URL: p.srv.URL, Namespace: namespace, Retention: "30d", Timeout: 5 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// fastRetries keeps the fault tests short.
var fastRetries = SinkOptions{RetryInitial: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond,
	RetryTimeout: 5 * time.Second, ReplayInterval: time.Millisecond, FlushBytes: 64 << 10}

func TestSinkFaults(t *testing.T) {
	direct := testClient(t, "faults")
	for _, tc := range []struct {
		name  string
		fault func(p *faultProxy)
		opts  func(o *SinkOptions)
		// spooled says the faults outlast the retries, so documents must
		// pass through the spool.
		spooled bool
		// noFlush writes everything before the first Flush: what failed
		// must stay bounded by MaxPendingBytes meanwhile.
		noFlush bool
	}{
		{name: "429 storm", fault: func(p *faultProxy) { p.whole429 = 12 }},
		{name: "503s", fault: func(p *faultProxy) { p.whole503 = 5 }},
		{name: "partial bulk failures", fault: func(p *faultProxy) { p.rejectEvery = 3 }},
		{name: "slow responses", fault: func(p *faultProxy) { p.delay = 100 * time.Millisecond }},
		{name: "429 storm longer than the retries", fault: func(p *faultProxy) { p.whole429 = 1 << 30 },
			opts: func(o *SinkOptions) { o.RetryTimeout = 200 * time.Millisecond }, spooled: true},
		{name: "connection resets", fault: func(p *faultProxy) { p.down = true }, spooled: true},
		{name: "429 storm without flushes", fault: func(p *faultProxy) { p.whole429 = 1 << 30 },
			opts: func(o *SinkOptions) { o.RetryTimeout, o.MaxPendingBytes = 200*time.Millisecond, 256<<10 }, spooled: true, noFlush: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resetNamespace(t, direct)
			p := newFaultProxy(t)
			c := proxyClient(t, p, "faults")
			o := fastRetries
			o.MaxPendingBytes = 4 << 20
			if tc.opts != nil {
				tc.opts(&o)
			}
			s := testSink(t, c, o)
			docs := testAlerts(t, 3000)
			ctx := context.Background()
			p.set(tc.fault)
			for i := 0; i < len(docs); i += 500 {
				if _, err := s.Write(ctx, docs[i:min(i+500, len(docs))]); err != nil {
					t.Fatal(err)
				}
				s.mu.Lock()
				pending := s.pendingBytes
				s.mu.Unlock()
				if pending > o.MaxPendingBytes {
					t.Fatalf("%d bytes of failed documents held, limit %d", pending, o.MaxPendingBytes)
				}
				if tc.noFlush {
					continue
				}
				if _, err := s.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			st := s.Stats()
			if tc.spooled && st.Spooled == 0 {
				t.Fatalf("nothing spooled: %+v", st)
			}
			// The cluster recovers; the next flush replays the spool.
			p.set(func(p *faultProxy) {
				p.whole429, p.whole503, p.rejectEvery, p.down, p.delay = 0, 0, 0, false, 0
			})
			time.Sleep(2 * o.ReplayInterval)
			if _, err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if st := s.Stats(); st.Spool.Docs != 0 {
				t.Fatalf("spool not drained: %+v", st)
			}
			checkExactlyOnce(t, direct, docs)
			checkIncidentsLatest(t, direct, docs)
			t.Logf("bulk requests %d, items rejected %d, stats %+v", p.bulks.Load(), p.rejectedItems.Load(), s.Stats())
		})
	}
}

// TestSpoolSurvivesRestart writes while the cluster is away, closes the
// sink (a stopped daemon), and has a new sink on the same spool replay it.
func TestSpoolSurvivesRestart(t *testing.T) {
	direct := testClient(t, "restart")
	resetNamespace(t, direct)
	p := newFaultProxy(t)
	c := proxyClient(t, p, "restart")
	dir := filepath.Join(t.TempDir(), "spool")
	o := fastRetries
	o.SpoolDir = dir
	docs := testAlerts(t, 2000)
	ctx := context.Background()

	p.set(func(p *faultProxy) { p.down = true })
	s1 := testSink(t, c, o)
	if _, err := s1.Write(ctx, docs[:1000]); err != nil {
		t.Fatal(err)
	}
	if _, err := s1.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s1.Write(ctx, docs[1000:]); err != nil {
		t.Fatal(err)
	}
	if _, err := s1.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s1.Stats(); st.Spool.Docs != len(docs) {
		t.Fatalf("spooled %d documents, want %d", st.Spool.Docs, len(docs))
	}

	p.set(func(p *faultProxy) { p.down = false })
	s2 := testSink(t, c, o)
	if _, err := s2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s2.Stats(); st.Spool.Docs != 0 || st.Replayed != uint64(len(docs)) {
		t.Fatalf("after restart: %+v", st)
	}
	checkExactlyOnce(t, direct, docs)
}

// TestMappingErrorToDeadLetter sends a document the mapping refuses.
func TestMappingErrorToDeadLetter(t *testing.T) {
	c := testClient(t, "dead")
	resetNamespace(t, c)
	s := testSink(t, c, SinkOptions{})
	docs := testAlerts(t, 20)
	bad := *docs[3]
	src := *bad.Source
	src.IP = "not-an-ip"
	bad.Source = &src
	bad.Event.ID = "bad-doc"
	ctx := context.Background()
	if _, err := s.Write(ctx, append(docs, &bad)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.DeadLetters != 1 {
		t.Fatalf("dead letters %d, want 1", st.DeadLetters)
	}
	b, err := os.ReadFile(s.o.DeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	var l deadLine
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	if l.ID != "bad-doc" || l.Status != 400 || l.Type != "document_parsing_exception" && l.Type != "mapper_parsing_exception" {
		t.Errorf("dead letter %+v", l)
	}
	checkExactlyOnce(t, c, docs)
}
