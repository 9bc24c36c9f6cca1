package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/detect"
)

// connLines writes Zeek TSV conn.log lines of office traffic from start for
// span (a flow every ~2 s), plus, when asked, a vertical scan of 200 ports
// by 10.0.0.66 at scanAt and a beacon from 10.0.0.77 to 198.51.100.7:8443
// every 60 s. Lines are in time order; uids start with prefix.
func connLines(prefix string, seed uint64, start time.Time, span time.Duration, scanAt time.Duration, beacon bool) string {
	type line struct {
		t time.Time
		s string
	}
	rng := rand.New(rand.NewPCG(seed, 5))
	var ls []line
	add := func(t time.Time, format string, args ...any) {
		ts := fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
		ls = append(ls, line{t, ts + "\t" + fmt.Sprintf(format, args...)})
	}
	i := 0
	for t := start; t.Before(start.Add(span)); t = t.Add(time.Duration(rng.ExpFloat64() * float64(2*time.Second))) {
		i++
		client := fmt.Sprintf("10.0.0.%d", 10+rng.IntN(20))
		if rng.IntN(2) == 0 {
			ob, rb := 300+rng.IntN(800), 2000+rng.IntN(60000)
			add(t, "C%s%05d\t%s\t%d\t93.184.216.%d\t443\ttcp\tssl\t%.6f\t%d\t%d\tSF\tT\tF\t0\tShADadFf\t%d\t%d\t%d\t%d\t-",
				prefix, i, client, 40000+rng.IntN(20000), rng.IntN(8), 0.05+rng.Float64(), ob, rb, 6+ob/1000, ob+40*(6+ob/1000), 6+rb/1400, rb+40*(6+rb/1400))
		} else {
			add(t, "C%s%05d\t%s\t%d\t10.0.0.1\t53\tudp\tdns\t%.6f\t%d\t%d\tSF\tT\tT\t0\tDd\t1\t%d\t1\t%d\t-",
				prefix, i, client, 40000+rng.IntN(20000), rng.Float64()/50, 30+rng.IntN(20), 80+rng.IntN(100), 58+rng.IntN(20), 108+rng.IntN(100))
		}
	}
	if scanAt > 0 {
		for p := range 200 {
			add(start.Add(scanAt+time.Duration(p)*5*time.Millisecond), "Cscan%s%04d\t10.0.0.66\t51234\t10.0.0.5\t%d\ttcp\t-\t-\t-\t-\tS0\tT\tT\t0\tS\t1\t44\t0\t0\t-",
				prefix, p, 1+p*7)
		}
	}
	if beacon {
		for k := range int(span / time.Minute) {
			t := start.Add(time.Duration(k)*time.Minute + time.Duration(rng.IntN(400))*time.Millisecond)
			add(t, "Cbeacon%s%03d\t10.0.0.77\t%d\t198.51.100.7\t8443\ttcp\tssl\t0.2\t310\t1200\tSF\tT\tF\t0\tShADadFf\t6\t550\t5\t1400\t-",
				prefix, k, 40000+rng.IntN(20000))
		}
	}
	slices.SortStableFunc(ls, func(a, b line) int { return a.t.Compare(b.t) })
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.s)
		b.WriteByte('\n')
	}
	return b.String()
}

// trainOffice writes three hours of office traffic (connLines) into dir
// and trains a small model (16 trees) on it; it returns the model's path
// and the traffic's start, from which later hours follow.
func trainOffice(tb testing.TB, dir string) (model string, start time.Time) {
	tb.Helper()
	start = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	base := filepath.Join(dir, "base.conn.log")
	if err := os.WriteFile(base, []byte(connHeader+connLines("base", 1, start, 3*time.Hour, 0, false)), 0o644); err != nil {
		tb.Fatal(err)
	}
	model = filepath.Join(dir, "office.model")
	cfg := detect.DefaultConfig()
	cfg.Trees = 16
	if _, err := Train(context.Background(), TrainOptions{Paths: []string{base}, Out: model, Detect: cfg}); err != nil {
		tb.Fatal(err)
	}
	return model, start
}

// appendLog appends s to the file path, created if missing.
func appendLog(tb testing.TB, path, s string) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// outDocs reads the daemon's JSON-lines output: the alerts' event ids with
// how often each came, and the alert and incident documents by rule.
func outDocs(tb testing.TB, path string) (ids map[string]int, rules map[string]int, incidents int) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil, 0
		}
		tb.Fatal(err)
	}
	// a line still being written (no newline yet) is not read
	b = b[:bytes.LastIndexByte(b, '\n')+1]
	ids, rules = map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var d struct {
			Event struct {
				ID   string `json:"id"`
				Kind string `json:"kind"`
			} `json:"event"`
			Rule struct {
				Name string `json:"name"`
			} `json:"rule"`
			MLADS struct {
				Summary  string          `json:"summary"`
				Incident json.RawMessage `json:"incident"`
			} `json:"mlads"`
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			tb.Fatalf("%s: %v: %.200s", path, err, sc.Bytes())
		}
		if d.Event.Kind != "alert" || d.MLADS.Summary == "" {
			tb.Fatalf("%s: not an explained alert document: %.300s", path, sc.Bytes())
		}
		if d.MLADS.Incident != nil {
			incidents++
			continue
		}
		ids[d.Event.ID]++
		rules[d.Rule.Name]++
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return ids, rules, incidents
}

// TestRunDetectsEndToEnd: the daemon, with a model, follows a folder; a
// conn.log with a port scan is written into it, and the scan alert appears
// in the JSON-lines output within seconds, explained. The daemon is then
// killed with SIGKILL once its positions are committed, restarted, and the
// log grows by a beacon. In the end every alert is in the output exactly
// once (and in Elasticsearch, when ES_URL names a node). The health
// reports are TestHealthReports's: on a node shared with internal/elastic's
// tests, whose template-conflict test deletes every health data stream,
// their count here would be a race.
func TestRunDetectsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon in child processes")
	}
	dir := t.TempDir()
	model, start := trainOffice(t, dir)
	esExtra, es := esRunConfig(t) // with ES_URL, the alerts go to Elasticsearch too
	extra := fmt.Sprintf("  model: %q\n  observer: e2e\n", model) + esExtra
	conf := followConfig(t, dir, "conn.log*", extra)
	out := filepath.Join(dir, "out.ndjson")
	logPath := filepath.Join(dir, "logs", "conn.log")
	startChild := func(n int) *exec.Cmd { return daemonChild(t, dir, conf, n) }
	waitFor := func(rule string, cmd *exec.Cmd) time.Duration {
		t.Helper()
		t0 := time.Now()
		for time.Since(t0) < 20*time.Second {
			if _, rules, _ := outDocs(t, out); rules[rule] > 0 {
				return time.Since(t0)
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		b, _ := os.ReadFile(filepath.Join(dir, "child-1.log"))
		t.Fatalf("no %s alert within 20 s; daemon log:\n%s", rule, b)
		return 0
	}

	// Part 1: an hour of traffic with a vertical scan 10 minutes in.
	first := startChild(1)
	if err := os.WriteFile(logPath, []byte(connHeader+connLines("one", 2, start.Add(4*time.Hour), time.Hour, 10*time.Minute, false)), 0o644); err != nil {
		t.Fatal(err)
	}
	took := waitFor("vertical_scan", first)
	t.Logf("scan alert out %s after the log was written", took.Round(time.Millisecond))
	// The kill comes once the positions are past the log, so that the
	// beacon of part 2 starts on a daemon that read all of part 1; a kill in
	// the middle of a scan is TestRunKilledMidScanStillOneScan's.
	caughtUpWithin(t, dir, 20*time.Second)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()

	// Part 2: a restarted daemon; the log grows by an hour with a beacon.
	second := startChild(2)
	appendLog(t, logPath, connLines("two", 3, start.Add(5*time.Hour), time.Hour, 0, true))
	took = waitFor("beacon", second)
	t.Logf("beacon alert out %s after the log grew", took.Round(time.Millisecond))
	caughtUpWithin(t, dir, 20*time.Second)
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.Wait(); err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, "child-2.log"))
		t.Fatalf("second run: %v\n%s", err, b)
	}

	ids, rules, incidents := outDocs(t, out)
	for id, n := range ids {
		if n != 1 {
			t.Errorf("alert %s is in the output %d times", id, n)
		}
	}
	if rules["vertical_scan"] != 1 || rules["beacon"] != 1 {
		t.Errorf("alerts by rule %v: want exactly one vertical_scan and one beacon", rules)
	}
	t.Logf("%d alerts by rule %v, %d incident documents", len(ids), rules, incidents)
	if es != nil {
		indexed := esAlertIDs(t, *es)
		for id := range ids {
			if indexed[id] != 1 {
				t.Errorf("alert %s is in Elasticsearch %d times", id, indexed[id])
			}
		}
		if len(indexed) != len(ids) {
			t.Errorf("%d alerts in Elasticsearch, %d in the JSON lines", len(indexed), len(ids))
		}
	}
}

// caughtUpWithin waits until the daemon's positions are at the end of
// every file of dir/logs.
func caughtUpWithin(t *testing.T, dir string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !caughtUp(t, filepath.Join(dir, "positions.json"), filepath.Join(dir, "logs")) {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not catch up within %s", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// esRunConfig returns, when ES_URL names a node, the elasticsearch section
// of a daemon configuration for it and the configuration; else "" and nil.
func esRunConfig(t *testing.T) (string, *config.Config) {
	t.Helper()
	if os.Getenv("ES_URL") == "" {
		return "", nil
	}
	c := esConfig(t)
	return fmt.Sprintf("elasticsearch:\n  url: %q\n  namespace: %q\n  dead_letter: %q\n  spool:\n    dir: %q\n",
		c.Elasticsearch.URL, c.Elasticsearch.Namespace, c.Elasticsearch.DeadLetter, c.Elasticsearch.Spool.Dir), &c
}
