package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/detect"
)

// writeConnLog writes a small Zeek TSV conn.log of office traffic: clients
// browsing and resolving names, and, when scan is set, one host sweeping
// 200 ports of a server. It returns the path and the uids of the scan.
func writeConnLog(tb testing.TB, dir, name string, seed uint64, start time.Time, n int, scan bool) (string, map[string]bool) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 3))
	var b strings.Builder
	b.WriteString("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n")
	b.WriteString("#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n")
	b.WriteString("#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n")
	t := start
	scanUIDs := map[string]bool{}
	scanAt := n / 2
	for i := 0; i < n; i++ {
		t = t.Add(time.Duration(rng.ExpFloat64() * float64(2*time.Second)))
		uid := fmt.Sprintf("C%s%05d", name, i)
		client := fmt.Sprintf("10.0.0.%d", 10+rng.IntN(20))
		ts := fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
		if rng.IntN(2) == 0 {
			ob, rb := 300+rng.IntN(800), 2000+rng.IntN(60000)
			fmt.Fprintf(&b, "%s\t%s\t%s\t%d\t93.184.216.%d\t443\ttcp\tssl\t%.6f\t%d\t%d\tSF\tT\tF\t0\tShADadFf\t%d\t%d\t%d\t%d\t-\n",
				ts, uid, client, 40000+rng.IntN(20000), rng.IntN(8), 0.05+rng.Float64(), ob, rb, 6+ob/1000, ob+40*(6+ob/1000), 6+rb/1400, rb+40*(6+rb/1400))
		} else {
			fmt.Fprintf(&b, "%s\t%s\t%s\t%d\t10.0.0.1\t53\tudp\tdns\t%.6f\t%d\t%d\tSF\tT\tT\t0\tDd\t1\t%d\t1\t%d\t-\n",
				ts, uid, client, 40000+rng.IntN(20000), rng.Float64()/50, 30+rng.IntN(20), 80+rng.IntN(100), 58+rng.IntN(20), 108+rng.IntN(100))
		}
		if scan && i == scanAt/2 {
			// a 500 MB upload to a host nobody talks to
			t = t.Add(time.Second)
			fmt.Fprintf(&b, "%d.%06d\tCupload%s\t10.0.0.12\t50123\t203.0.113.9\t8443\ttcp\tssl\t1800.5\t500000000\t90000\tSF\tT\tF\t0\tShADadFf\t350000\t514000000\t40000\t1690000\t-\n",
				t.Unix(), t.Nanosecond()/1000, name)
		}
		if scan && i == scanAt {
			for p := 0; p < 200; p++ {
				t = t.Add(5 * time.Millisecond)
				uid := fmt.Sprintf("Cscan%s%04d", name, p)
				scanUIDs[uid] = true
				fmt.Fprintf(&b, "%d.%06d\t%s\t10.0.0.66\t51234\t10.0.0.5\t%d\ttcp\t-\t-\t-\t-\tS0\tT\tT\t0\tS\t1\t44\t0\t0\t-\n",
					t.Unix(), t.Nanosecond()/1000, uid, 1+p*7)
			}
		}
	}
	path := filepath.Join(dir, name+".conn.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path, scanUIDs
}

func TestTrainScoreAnalyzeEndToEnd(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	base, _ := writeConnLog(t, dir, "base", 1, start, 3000, false)
	next, scanUIDs := writeConnLog(t, dir, "next", 2, start.Add(3*time.Hour), 1000, true)
	cfg := detect.DefaultConfig()
	cfg.Trees = 16

	model := filepath.Join(dir, "m.model")
	rep, err := Train(ctx, TrainOptions{Paths: []string{base}, Out: model, Detect: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Flows != 3000 || rep.ModelBytes == 0 {
		t.Fatalf("train report %+v", rep)
	}
	again := filepath.Join(dir, "again.model")
	if _, err := Train(ctx, TrainOptions{Paths: []string{base}, Out: again, Detect: cfg}); err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(model)
	b2, _ := os.ReadFile(again)
	if !bytes.Equal(b1, b2) {
		t.Errorf("two trainings on the same input gave different model files")
	}

	// score: every flow, in order, with the contract's fields
	var out bytes.Buffer
	srep, err := Score(ctx, ScoreOptions{Paths: []string{next}, Model: model, Detect: cfg, Behavior: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	lines, scanAlerts, scanBehaviors, benignAlerts := 0, 0, 0, 0
	for sc.Scan() {
		lines++
		var row struct {
			UID     string   `json:"uid"`
			OrigH   string   `json:"id.orig_h"`
			Score   *float64 `json:"score"`
			PValue  *float64 `json:"p_value"`
			Alert   *bool    `json:"alert"`
			Reasons []string `json:"reasons"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("line %d: %v: %s", lines, err, sc.Bytes())
		}
		if row.UID == "" || row.Score == nil || row.PValue == nil || row.Alert == nil || row.Reasons == nil {
			t.Fatalf("line %d lacks uid/score/p_value/alert/reasons: %s", lines, sc.Bytes())
		}
		if row.UID == "Cuploadnext" && !*row.Alert {
			t.Errorf("the upload did not alert: %s", sc.Bytes())
		}
		if scanUIDs[row.UID] {
			if *row.Alert {
				scanAlerts++
			}
			for _, r := range row.Reasons {
				if strings.Contains(r, "scan") {
					scanBehaviors++
					break
				}
			}
		} else if *row.Alert && row.UID != "Cuploadnext" {
			benignAlerts++
		}
	}
	if lines != 1201 || srep.Flows != 1201 {
		t.Fatalf("%d lines, %d flows scored; want 1201", lines, srep.Flows)
	}
	if scanAlerts < 195 {
		t.Errorf("%d of 200 scan flows alerted", scanAlerts)
	}
	if scanBehaviors == 0 {
		t.Errorf("no scan flow carries the scan behaviour in its reasons (findings: %d)", srep.Findings)
	}
	if benignAlerts > 50 {
		t.Errorf("%d of 1000 benign flows alerted", benignAlerts)
	}

	// analyze without a model learns from the input and explains alerts
	out.Reset()
	if _, err := Analyze(ctx, AnalyzeOptions{Paths: []string{next}, Detect: cfg, Observer: "sensor-1", Out: &out}); err != nil {
		t.Fatal(err)
	}
	foldedOut := out.String()
	sc = bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	alerts, flowAlerts, scanFindings := 0, 0, 0
	ids := map[string]bool{}
	for sc.Scan() {
		alerts++
		var a alert.Alert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("alert %d: %v", alerts, err)
		}
		if a.Event.Kind != "alert" || a.Observer.Name != "sensor-1" || a.MLADS.Summary == "" || a.Event.ID == "" {
			t.Errorf("alert %d incomplete: %s", alerts, sc.Bytes())
		}
		if ids[a.Event.ID] {
			t.Errorf("duplicate alert id %s", a.Event.ID)
		}
		ids[a.Event.ID] = true
		switch a.Rule.Name {
		case "flow_anomaly":
			flowAlerts++
			if a.Source == nil || a.Source.IP != "10.0.0.12" {
				t.Logf("flow alert on %s", a.MLADS.Summary)
			}
			if len(a.MLADS.Hits) == 0 || len(a.MLADS.Features) == 0 {
				t.Errorf("flow alert without detector p-values: %s", sc.Bytes())
			}
		case "vertical_scan", "trw_scan", "horizontal_scan":
			scanFindings++
			if a.Source == nil || a.Source.IP != "10.0.0.66" {
				t.Errorf("scan alert not from the scanner: %s", sc.Bytes())
			}
		}
	}
	if flowAlerts == 0 || scanFindings == 0 {
		t.Errorf("analyze gave %d flow alerts and %d scan findings; want both", flowAlerts, scanFindings)
	}

	// incidents: the folded documents account for every alert
	out.Reset()
	if _, err := Analyze(ctx, AnalyzeOptions{Paths: []string{next}, Detect: cfg, EveryAlert: true, Out: &out}); err != nil {
		t.Fatal(err)
	}
	every := strings.Count(out.String(), "\n")
	folded, counted := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(foldedOut), "\n") {
		var a alert.Alert
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatal(err)
		}
		folded++
		if a.MLADS.Incident == nil {
			t.Fatalf("folded document without incident: %s", line)
		}
		counted += a.MLADS.Incident.Count
	}
	if counted != every || folded > every {
		t.Errorf("%d incidents counting %d alerts; --every-alert wrote %d", folded, counted, every)
	}
}

func TestScoreModelErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	log, _ := writeConnLog(t, dir, "x", 1, time.Unix(1e9, 0), 200, false)
	good := filepath.Join(dir, "good.model")
	if _, err := Train(ctx, TrainOptions{Paths: []string{log}, Out: good, Detect: detect.DefaultConfig()}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.model")
	if err := os.WriteFile(bad, b[:len(b)-100], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Score(ctx, ScoreOptions{Paths: []string{log}, Model: bad, Detect: detect.DefaultConfig(), Out: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), bad) {
		t.Errorf("got %v, want a corrupt-model error naming %s", err, bad)
	}
}

// A bad input does not stop the others: train writes a model from the good
// one, score writes the good one's flows, and both return the error.
func TestBadInputDoesNotStopTheOthers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	good, _ := writeConnLog(t, dir, "good", 1, time.Unix(1e9, 0), 300, false)
	bad := filepath.Join(dir, "missing.log")
	model := filepath.Join(dir, "m.model")
	cfg := detect.DefaultConfig()
	rep, err := Train(ctx, TrainOptions{Paths: []string{bad, good}, Out: model, Detect: cfg})
	if err == nil || !strings.Contains(err.Error(), "missing.log") {
		t.Errorf("train: error %v does not name the bad input", err)
	}
	if rep.Flows != 300 || rep.ModelBytes == 0 {
		t.Fatalf("train from the good input: %+v", rep)
	}
	var out bytes.Buffer
	srep, err := Score(ctx, ScoreOptions{Paths: []string{good, bad}, Model: model, Detect: cfg, Behavior: true, Out: &out})
	if err == nil || !strings.Contains(err.Error(), "missing.log") {
		t.Errorf("score: error %v does not name the bad input", err)
	}
	if n := strings.Count(out.String(), "\n"); n != 300 || srep.Flows != 300 {
		t.Errorf("score wrote %d lines for %d flows; want the good input's 300", n, srep.Flows)
	}
	out.Reset()
	if _, err := Analyze(ctx, AnalyzeOptions{Paths: []string{bad, good}, Detect: cfg, Out: &out}); err == nil {
		t.Errorf("analyze: no error for the bad input")
	}
}
