package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/kafka"
	"github.com/mlads/mlads/internal/shareddata"
)

// kafkaBroker returns the bootstrap address of the real broker .ci/run
// starts (../shared/kafkanode), or skips.
func kafkaBroker(t testing.TB) string {
	t.Helper()
	b := os.Getenv("KAFKA_BOOTSTRAP")
	if b == "" {
		t.Skip("KAFKA_BOOTSTRAP is not set: no Kafka broker (.ci/run starts one from ../shared/kafkanode; it needs Java 17+)")
	}
	return b
}

// kafkaCase is a labelled conn log, the model trained on another one, and
// the alert IDs `mlads analyze` gives for it.
type kafkaCase struct {
	model string
	flows []flow.Record
	want  map[string]bool // alert _ids of analyze (incidents left out)
	// the behaviour alerts of want that a daemon may still hold open when
	// the stream ends (openAtEnd)
	open map[string]bool
}

// idSink collects the IDs of the alert documents written to it, and, when
// starts is not nil, the start of each behaviour alert.
type idSink struct {
	ids    map[string]bool
	starts map[string]time.Time
}

func (s idSink) Write(_ context.Context, docs []*alert.Alert) (bool, error) {
	for _, d := range docs {
		if !d.IsIncident() {
			s.ids[d.ID()] = true
			if s.starts != nil && d.Rule.Category == "behavior" {
				s.starts[d.ID()] = d.Event.Start
			}
		}
	}
	return false, nil
}

// openAtEnd returns the behaviour alerts (of starts) that began within a
// behaviour window and a sweep of the stream's last flow. analyze reports
// them when its input ends (behavior.Engine.Flush); a daemon holds their
// windows open until log time passes them, which a stream that stops
// never does, so they are not expected of it.
func openAtEnd(flows []flow.Record, starts map[string]time.Time) map[string]bool {
	var last time.Time
	for i := range flows {
		if flows[i].TS.After(last) {
			last = flows[i].TS
		}
	}
	c := behavior.DefaultConfig()
	tail := last.Add(-max(c.ScanWindow, c.FloodWindow, c.ReconnectWindow) - c.SweepEvery)
	open := map[string]bool{}
	for id, start := range starts {
		if start.After(tail) {
			open[id] = true
		}
	}
	return open
}

// notOpen returns the IDs of missing that are not in open.
func notOpen(missing []string, open map[string]bool) []string {
	var out []string
	for _, id := range missing {
		if !open[id] {
			out = append(out, id)
		}
	}
	return out
}
func (s idSink) Flush(context.Context) (bool, error) { return false, nil }

func newKafkaCase(t testing.TB) kafkaCase {
	t.Helper()
	strat := func(set string) string {
		return shareddata.Path(t, "stratosphere-labeled", "security-datasets-for-testing", set, "data", "conn.log.labeled")
	}
	ctx := context.Background()
	c := kafkaCase{model: filepath.Join(t.TempDir(), "m.model"), want: map[string]bool{}}
	starts := map[string]time.Time{}
	if _, err := Train(ctx, TrainOptions{Paths: []string{strat("011-zeek-mixed")}, Out: c.model, Detect: detect.DefaultConfig()}); err != nil {
		t.Fatal(err)
	}
	if _, err := Analyze(ctx, AnalyzeOptions{Paths: []string{strat("012-zeek-mixed")}, Model: c.model, Detect: detect.DefaultConfig(),
		Observer: "kafka-test", Out: discard{}, Sinks: []alert.Sink{idSink{c.want, starts}}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := (Input{}).readFlows(ctx, []string{strat("012-zeek-mixed")}, false, func(r *flow.Record) error {
		c.flows = append(c.flows, *r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.open = openAtEnd(c.flows, starts)
	return c
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// publish writes the flows to a new topic of 6 partitions as Zeek's Kafka
// writer would: one JSON log entry a record, every other one tagged with
// its log name, unkeyed; with a few records of other logs among them.
func publish(t testing.TB, broker, topic string, flows []flow.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 6, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	var errs []error
	for i := range flows {
		v := flow.AppendJSON(nil, &flows[i])
		if i%2 == 1 {
			v = append(append([]byte(`{"conn":`), v...), '}')
		}
		cl.Produce(ctx, &kgo.Record{Key: flows[i].OrigH.AppendTo(nil), Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				errs = append(errs, err)
			}
		})
		if i%1000 == 0 {
			cl.Produce(ctx, &kgo.Record{Value: []byte(`{"dns":{"ts":1.0,"uid":"Cx","query":"example.org"}}`)}, nil)
		}
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		t.Fatalf("%d records not produced, first: %v", len(errs), errs[0])
	}
}

// kafkaChildExtra is added to the children's configuration files, with
// {child} replaced by the child's name.
var kafkaChildExtra string

// kafkaChild is one `mlads run` process of a group (TestRunChild).
type kafkaChild struct {
	cmd    *exec.Cmd
	output string // run.output
	log    string // its stderr
}

func startKafkaChild(t testing.TB, dir, name, broker, topic, group, model string) *kafkaChild {
	t.Helper()
	c := &kafkaChild{output: filepath.Join(dir, name+".alerts.ndjson"), log: filepath.Join(dir, name+".log")}
	cfg := filepath.Join(dir, name+".yaml")
	// each child serves its metrics on a port of its own (the broker
	// test reads its /healthz)
	yaml := fmt.Sprintf("run:\n  model: %s\n  output: %s\n  observer: kafka-test\n  stats_interval: 1s\n  positions: %s\n  metrics_listen: 127.0.0.1:0\n"+
		"kafka:\n  brokers: [%s]\n  topics: [%s]\n  group: %s\n  partitions: 6\n",
		model, c.output, filepath.Join(dir, name+".positions"), broker, topic, group)
	yaml += strings.ReplaceAll(kafkaChildExtra, "{child}", name) // a spool is one process's
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr, err := os.OpenFile(c.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestRunChild$")
	c.cmd.Env = append(os.Environ(), "MLADSTEST_CHILD_CONFIG="+cfg)
	c.cmd.Stderr = stderr
	c.cmd.Stdout = stderr // a failing child reports through t.Fatal, on stdout
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
	})
	return c
}

// stop ends the child with SIGTERM and waits for it.
func (c *kafkaChild) stop(t testing.TB) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Wait(); err != nil {
		b, _ := os.ReadFile(c.log)
		t.Fatalf("child %s: %v\n%s", c.output, err, b)
	}
}

// kill ends the child with SIGKILL.
func (c *kafkaChild) kill() {
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

// waitDrained waits until the detecting stage of group has scored want
// flows (by the audit topic), the flows topic holds want records, and the
// victims' detectors have seen every record of the victims topic.
func waitDrained(t testing.TB, broker, group string, want int, children []*kafkaChild, limit time.Duration) audit {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		a := readAudit(t, broker, group)
		// the victims' detectors too: stopping before they are done would
		// lose their floods
		if a.scored == int64(want) && countCommitted(t, broker, kafka.FlowsTopic(group)) == want &&
			a.victims == int64(countCommitted(t, broker, kafka.VictimsTopic(group))) {
			return a
		}
		if time.Now().After(deadline) || a.scored > int64(want) {
			for _, c := range children {
				b, _ := os.ReadFile(c.log)
				t.Logf("%s:\n%s", c.log, lastLines(string(b), 30))
			}
			t.Fatalf("group %s: %d flows scored after %s, want %d", group, a.scored, limit, want)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// audit is what the group's audit topic says, read committed.
type audit struct {
	rekeyed, scored int64    // flows produced by stage 1, scored by stage 2
	victims         int64    // flows seen by the victims' detectors
	overlaps        []string // offset ranges consumed twice (each a duplicate)
}

// readAudit reads the audit topic of group: each committed transaction
// records, per partition, the offsets it consumed and the flows it made
// or scored. Ranges of one partition that overlap mean records processed
// twice.
func readAudit(t testing.TB, broker, group string) audit {
	t.Helper()
	type rng struct{ first, last int64 }
	ranges := map[string][]rng{}
	var a audit
	if _, err := readCommitted(t, broker, kafka.AuditTopic(group), func(r *kgo.Record) {
		var first, last, n int64
		if _, err := fmt.Sscan(string(r.Value), &first, &last, &n); err != nil {
			t.Errorf("audit record %q: %v", r.Value, err)
			return
		}
		k := string(r.Key)
		ranges[k] = append(ranges[k], rng{first, last})
		switch {
		case strings.HasPrefix(k, "detect/"+kafka.FlowsTopic(group)+"/"):
			a.scored += n
		case strings.HasPrefix(k, "detect/"):
			a.victims += n
		default:
			a.rekeyed += n
		}
	}); err != nil {
		return a
	}
	for k, rs := range ranges {
		slices.SortFunc(rs, func(x, y rng) int { return int(x.first - y.first) })
		for i := 1; i < len(rs); i++ {
			if rs[i].first <= rs[i-1].last {
				a.overlaps = append(a.overlaps, fmt.Sprintf("%s %d-%d and %d-%d", k, rs[i-1].first, rs[i-1].last, rs[i].first, rs[i].last))
			}
		}
	}
	return a
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(ls[max(0, len(ls)-n):], "\n")
}

// countCommitted counts the records of topic visible read committed.
func countCommitted(t testing.TB, broker, topic string) int {
	t.Helper()
	n, _ := readCommitted(t, broker, topic, nil)
	return n
}

// readCommitted reads topic to its end, read committed, handing each
// record to fn (nil: only count).
func readCommitted(t testing.TB, broker, topic string, fn func(*kgo.Record)) (int, error) {
	t.Helper()
	ctx := context.Background()
	adm, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ends, err := kadm.NewClient(adm).ListCommittedOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	for len(left) > 0 {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if fs.Empty() {
			break // the rest are transaction markers
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if fn != nil {
				fn(r)
			}
			if r.Offset >= left[r.Partition]-2 {
				delete(left, r.Partition)
			}
		})
	}
	return n, nil
}

// alertIDs reads JSON-lines outputs and returns how often each alert _id
// (incidents left out) is in them.
func alertIDs(t testing.TB, paths ...string) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 16<<20)
		var bad error
		for sc.Scan() {
			if bad != nil {
				t.Fatalf("%s: %v", p, bad) // only a last line may be cut
			}
			var a alert.Alert
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				bad = err // the partial last line of a killed process
				continue
			}
			if !a.IsIncident() {
				ids[a.ID()]++
				if alertSummary != nil {
					alertSummary[a.ID()] = fmt.Sprintf("%s host %s at %s flows %v", a.Rule.ID, a.MLADS.Host, a.Timestamp.Format(time.RFC3339Nano), a.MLADS.FlowUIDs)
				}
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return ids
}

// alertSummary, when not nil, gets a line for each alert alertIDs reads.
var alertSummary map[string]string

// compareIDs reports the IDs only in got and only in want.
func compareIDs(got map[string]int, want map[string]bool) (missing, extra []string) {
	for id := range want {
		if got[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id := range got {
		if !want[id] {
			extra = append(extra, id)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return missing, extra
}

// TestKafkaSameAnswer: a labelled conn log published to a topic of 6
// partitions and read by 1, 2 and 3 `mlads run` processes of a group gives
// the alerts (by _id) `mlads analyze` gives on the file, each once.
func TestKafkaSameAnswer(t *testing.T) {
	broker := kafkaBroker(t)
	c := newKafkaCase(t)
	run := fmt.Sprintf("t%d", time.Now().UnixNano())
	topic := run + ".conn"
	publish(t, broker, topic, c.flows)
	t.Logf("%d flows published to %s; analyze made %d alerts", len(c.flows), topic, len(c.want))
	var first map[string]int
	alertSummary = map[string]string{}
	for n := 1; n <= 3; n++ {
		dir := t.TempDir()
		group := fmt.Sprintf("%s.g%d", run, n)
		var children []*kafkaChild
		for i := range n {
			children = append(children, startKafkaChild(t, dir, fmt.Sprintf("p%d", i), broker, topic, group, c.model))
		}
		a := waitDrained(t, broker, group, len(c.flows), children, 2*time.Minute)
		if a.rekeyed != int64(len(c.flows)) || len(a.overlaps) > 0 {
			t.Errorf("%d processes: audit: %d flows re-keyed, want %d; ranges consumed twice: %v", n, a.rekeyed, len(c.flows), a.overlaps)
		}
		var outs []string
		for _, ch := range children {
			ch.stop(t)
			outs = append(outs, ch.output)
		}
		got := alertIDs(t, outs...)
		twice := 0
		for _, k := range got {
			if k > 1 {
				twice++
			}
		}
		// JSON lines are at least once: a transaction that a rebalance
		// aborts had flushed its alerts, and they are written again
		t.Logf("%d processes: %d alerts written more than once", n, twice)
		missing, extra := compareIDs(got, c.want)
		t.Logf("%d processes: %d alerts; %d of analyze's missing, %d not in analyze's", n, len(got), len(missing), len(extra))
		if n == 1 {
			first = got
		} else if m, e := compareIDs(got, setOf(first)); len(m)+len(e) > 0 {
			t.Logf("%d processes differ from 1: %d missing, %d extra", n, len(m), len(e))
		}
		// Flows reach a victim's partition from every input partition, in
		// an order the file does not fix: a flood window then lists other
		// first flows (its _id hashes them) than analyze's
		var other []string
		for _, id := range extra {
			if s := alertSummary[id]; !strings.HasPrefix(s, "mlads.behavior.syn_flood ") {
				other = append(other, s)
			}
		}
		// analyze's input ends, which closes every window; the daemon's
		// stream only stops
		lost := notOpen(missing, c.open)
		t.Logf("%d processes: %d of the missing are behaviour windows still open at the stream's end", n, len(missing)-len(lost))
		if len(lost) > 0 || len(other) > 0 || len(extra) > len(c.want)/100 {
			t.Errorf("%d processes: %d alerts of analyze missing (first %v), %d not in analyze's (first %v), of which not syn_flood: %v",
				n, len(lost), lost[:min(3, len(lost))], len(extra), extra[:min(3, len(extra))], other)
		}
	}
	_ = slog.Default
}

func setOf(m map[string]int) map[string]bool {
	s := make(map[string]bool, len(m))
	for k := range m {
		s[k] = true
	}
	return s
}
