package app

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/flow"
)

// streamOf returns the flows repeated k times, each copy a day later with
// uids of its own: a longer stream with the same traffic.
func streamOf(flows []flow.Record, k int) []flow.Record {
	out := make([]flow.Record, 0, k*len(flows))
	for i := range k {
		for _, r := range flows {
			r.TS = r.TS.Add(time.Duration(i) * 24 * time.Hour)
			r.UID += "k" + strconv.Itoa(i)
			out = append(out, r)
		}
	}
	return out
}

// publishPaced publishes flows to topic (created with 6 partitions) in
// chunks spread over about d, as publish does; it returns at once and
// sends its error, or nil, on the channel when done.
func publishPaced(t testing.TB, broker, topic string, flows []flow.Record, d time.Duration) <-chan error {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 6, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	return publishSpread(t, broker, topic, flows, d)
}

// publishMore publishes flows to topic, which exists, at once.
func publishMore(t testing.TB, broker, topic string, flows []flow.Record) <-chan error {
	t.Helper()
	return publishSpread(t, broker, topic, flows, 0)
}

func publishSpread(t testing.TB, broker, topic string, flows []flow.Record, d time.Duration) <-chan error {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		defer cl.Close()
		const chunks = 20
		ctx := context.Background()
		per := (len(flows) + chunks - 1) / chunks
		var (
			mu   sync.Mutex
			ferr error
		)
		for i := 0; i < len(flows); i += per {
			for j := i; j < min(i+per, len(flows)); j++ {
				v := flow.AppendJSON(nil, &flows[j])
				cl.Produce(ctx, &kgo.Record{Key: flows[j].OrigH.AppendTo(nil), Value: v}, func(_ *kgo.Record, err error) {
					if err != nil {
						mu.Lock()
						ferr = cmp.Or(ferr, err)
						mu.Unlock()
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				done <- err
				return
			}
			mu.Lock()
			err := ferr
			mu.Unlock()
			if err != nil {
				done <- err
				return
			}
			time.Sleep(d / chunks)
		}
		done <- nil
	}()
	return done
}

// TestKafkaKillAndAdd: while a stream comes in, one process of three is
// killed with SIGKILL and later restarted, and a fourth is added. Its
// partitions move; every flow is still re-keyed once and scored once (the
// audit topic's ranges tile each partition with no overlap), and every
// alert reaches the outputs: with ES_URL set, each exactly once in
// Elasticsearch.
func TestKafkaKillAndAdd(t *testing.T) {
	broker := kafkaBroker(t)
	c := newKafkaCase(t)
	flows := streamOf(c.flows, 6) // 28,440 flows; KAFKA_FAULT_FLOWS=1000000 for the size
	if s := os.Getenv("KAFKA_FAULT_FLOWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("KAFKA_FAULT_FLOWS=%q: %v", s, err)
		}
		flows = streamOf(c.flows, (n+len(c.flows)-1)/len(c.flows))[:n]
	}
	run := fmt.Sprintf("f%d", time.Now().UnixNano())
	topic, group := run+".conn", run+".g"
	dir := t.TempDir()
	esNamespace := ""
	var esCfgOK bool
	if os.Getenv("ES_URL") != "" {
		cfg := esConfig(t)
		esNamespace, esCfgOK = cfg.Elasticsearch.Namespace, true
		kafkaChildExtra = fmt.Sprintf("elasticsearch:\n  url: %s\n  namespace: %s\n  spool:\n    dir: %s\n  dead_letter: %s\n",
			cfg.Elasticsearch.URL, esNamespace, filepath.Join(dir, "{child}.spool"), filepath.Join(dir, "{child}.dead.ndjson"))
		defer func() { kafkaChildExtra = "" }()
		defer func() {
			ids := esAlertIDs(t, cfg)
			twice := 0
			for _, n := range ids {
				if n > 1 {
					twice++
				}
			}
			t.Logf("Elasticsearch: %d alerts, %d of them more than once", len(ids), twice)
			if twice > 0 {
				t.Errorf("%d alerts indexed more than once", twice)
			}
		}()
	}
	alertSummary = map[string]string{}
	var children []*kafkaChild
	for i := range 3 {
		children = append(children, startKafkaChild(t, dir, fmt.Sprintf("p%d", i), broker, topic, group, c.model))
	}
	// the faults fall at 3/8, 5/8 and 7/8 of the publishing time
	span := max(8*time.Second, time.Duration(len(flows))*20*time.Microsecond)
	pub := publishPaced(t, broker, topic, flows, span)
	time.Sleep(span * 3 / 8)
	children[1].kill()
	t.Log("p1 killed")
	time.Sleep(span / 4)
	children = append(children, startKafkaChild(t, dir, "p3", broker, topic, group, c.model))
	t.Log("p3 added")
	time.Sleep(span / 4)
	children = append(children, startKafkaChild(t, dir, "p1-restarted", broker, topic, group, c.model))
	t.Log("p1 restarted")
	if err := <-pub; err != nil {
		t.Fatal(err)
	}
	a := waitDrained(t, broker, group, len(flows), children, 3*time.Minute+time.Duration(len(flows))*200*time.Microsecond)
	var outs []string
	for i, ch := range children {
		if i != 1 {
			ch.stop(t)
		}
		outs = append(outs, ch.output)
	}
	t.Logf("%d flows: audit says %d re-keyed, %d scored, %d seen by the victims' detectors; overlaps %v", len(flows), a.rekeyed, a.scored, a.victims, a.overlaps)
	if a.rekeyed != int64(len(flows)) || a.scored != int64(len(flows)) || len(a.overlaps) > 0 {
		t.Errorf("not exactly once: %d flows, %d re-keyed, %d scored, ranges consumed twice: %v", len(flows), a.rekeyed, a.scored, a.overlaps)
	}
	got := alertIDs(t, outs...)
	twice := 0
	for _, n := range got {
		if n > 1 {
			twice++
		}
	}
	// JSON lines are at least once across a SIGKILL: the alerts of the
	// killed process's open transaction were flushed before it died, and
	// are written again by the partition's next owner
	t.Logf("JSON lines: %d alerts, %d of them more than once", len(got), twice)
	_ = esCfgOK

	// the partitions' state moved with them: the alerts are analyze's on
	// the same stream (a scan that straddles a move is reported once)
	want, open := analyzeStream(t, c.model, flows)
	missing, extra := compareIDs(got, want)
	// analyze's input ends, which closes every window; the daemon's stream
	// only stops
	lost := notOpen(missing, open)
	var other []string
	for _, id := range extra {
		if s := alertSummary[id]; !strings.HasPrefix(s, "mlads.behavior.syn_flood ") {
			other = append(other, s)
		}
	}
	t.Logf("analyze on the stream: %d alerts; %d missing (%d of them behaviour windows still open at the stream's end), %d extra (%d not syn_flood)",
		len(want), len(missing), len(missing)-len(lost), len(extra), len(other))
	// a few behaviour windows see a host's flows in another order than
	// the file after a move (stage 1 reads the input partitions again in
	// another interleaving), and report with other first flows
	if len(lost) > 0 || len(extra) > len(want)/100 {
		t.Errorf("%d alerts of analyze missing (first %v), %d not in analyze's, of which not syn_flood: %v",
			len(lost), lost[:min(3, len(lost))], len(extra), other[:min(5, len(other))])
	}
}

// analyzeStream returns the alert IDs of `mlads analyze` on flows,
// written as a Zeek JSON log, and those of them still open at the
// stream's end in a daemon (openAtEnd).
func analyzeStream(t testing.TB, model string, flows []flow.Record) (want, open map[string]bool) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stream.log")
	var b []byte
	for i := range flows {
		b = append(flow.AppendJSON(b, &flows[i]), '\n')
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	want = map[string]bool{}
	starts := map[string]time.Time{}
	if _, err := Analyze(context.Background(), AnalyzeOptions{Paths: []string{p}, Model: model, Detect: detect.DefaultConfig(),
		Observer: "kafka-test", Out: discard{}, Sinks: []alert.Sink{idSink{want, starts}}}); err != nil {
		t.Fatal(err)
	}
	return want, openAtEnd(flows, starts)
}

// TestKafkaModelSwitch: a new model file at run.model rolls out to a
// running member without a stop: it says so, and every flow is still
// scored once.
func TestKafkaModelSwitch(t *testing.T) {
	broker := kafkaBroker(t)
	c := newKafkaCase(t)
	model := filepath.Join(t.TempDir(), "live.model")
	b, err := os.ReadFile(c.model)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(model, b, 0o644); err != nil {
		t.Fatal(err)
	}
	run := fmt.Sprintf("m%d", time.Now().UnixNano())
	topic, group := run+".conn", run+".g"
	child := startKafkaChild(t, t.TempDir(), "p0", broker, topic, group, model)
	half := len(c.flows) / 2
	if err := <-publishPaced(t, broker, topic, c.flows[:half], time.Second); err != nil {
		t.Fatal(err)
	}
	// the new model: trained on the first half of the stream itself
	first := filepath.Join(t.TempDir(), "first.log")
	var lines []byte
	for i := range c.flows[:half] {
		lines = append(flow.AppendJSON(lines, &c.flows[i]), '\n')
	}
	if err := os.WriteFile(first, lines, 0o644); err != nil {
		t.Fatal(err)
	}
	next := model + ".next"
	if _, err := Train(context.Background(), TrainOptions{Paths: []string{first}, Out: next, Detect: detect.DefaultConfig()}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, model); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		log, _ := os.ReadFile(child.log)
		if strings.Contains(string(log), "model switched") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no model switch in the member's log:\n%s", lastLines(string(log), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := <-publishMore(t, broker, topic, c.flows[half:]); err != nil {
		t.Fatal(err)
	}
	a := waitDrained(t, broker, group, len(c.flows), []*kafkaChild{child}, 2*time.Minute)
	child.stop(t)
	if a.scored != int64(len(c.flows)) || len(a.overlaps) > 0 {
		t.Errorf("%d flows, %d scored, overlaps %v", len(c.flows), a.scored, a.overlaps)
	}
}
