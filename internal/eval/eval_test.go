package eval

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
)

func TestRankMetrics(t *testing.T) {
	tests := []struct {
		name     string
		scores   []float64
		truth    []bool
		roc, apr float64
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1, 1},
		{"inverted", []float64{0.9, 0.8, 0.2, 0.1}, []bool{false, false, true, true}, 0, 5.0 / 12},
		{"all tied", []float64{1, 1, 1, 1}, []bool{false, true, false, true}, 0.5, 0.5},
		// scikit-learn docs: roc_auc_score([0,0,1,1],[.1,.4,.35,.8]) = 0.75, average_precision_score = 0.8333
		{"sklearn example", []float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75, 0.8333333},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rocAUC(tc.scores, tc.truth); math.Abs(got-tc.roc) > 1e-6 {
				t.Errorf("ROC-AUC %g, want %g", got, tc.roc)
			}
			if got := averagePrecision(tc.scores, tc.truth); math.Abs(got-tc.apr) > 1e-6 {
				t.Errorf("PR-AUC %g, want %g", got, tc.apr)
			}
		})
	}
}

// IoT-23's original labelled logs separate the last three columns with
// spaces, not tabs.
func TestReadLabelledIoT23Spaced(t *testing.T) {
	log := "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttunnel_parents   label   detailed-label\n" +
		"1545403816.962094\tCrAJ\t192.168.1.195\t41040\t185.244.25.235\t80\ttcp\t-   Malicious   PartOfAHorizontalPortScan\n" +
		"1545403817.962094\tCrAK\t192.168.1.195\t41041\t192.168.1.1\t53\tudp\t-   Benign   -\n"
	path := filepath.Join(t.TempDir(), "conn.log.labeled")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := readLabelled(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Label != "Malicious/PartOfAHorizontalPortScan" || recs[1].Label != "Benign" || recs[0].RespP != 80 {
		t.Errorf("got %+v", recs)
	}
}

func TestReadLabelledJSON(t *testing.T) {
	log := `{"ts":1545403816.962094,"uid":"CrAJ","id.orig_h":"192.168.1.195","id.orig_p":41040,"id.resp_h":"185.244.25.235","id.resp_p":80,"proto":"tcp","duration":0.5,"orig_bytes":10,"tunnel_parents":[],"label":"Malicious","detailed-label":"C&C"}
{"ts":1545403817.5,"uid":"CrAK","id.orig_h":"192.168.1.195","id.orig_p":41041,"id.resp_h":"192.168.1.1","id.resp_p":53,"proto":"udp","label":"Benign"}
`
	path := filepath.Join(t.TempDir(), "conn.json")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := readLabelled(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Label != "Malicious/C&C" || recs[0].OrigBytes != 10 || recs[0].Duration.Seconds() != 0.5 ||
		recs[1].Label != "Benign" || recs[1].RespP != 53 || recs[1].TS.UnixMicro() != 1545403817500000 {
		t.Errorf("got %+v", recs)
	}
}

func TestMaliciousLabel(t *testing.T) {
	for label, want := range map[string]bool{
		"Malicious": true, "malicious/C&C": true, "Malicious   PartOfAHorizontalPortScan": true,
		"Benign": false, "benign": false, "Background": false, "": false, "Unknown": false,
	} {
		if got := malicious(label); got != want {
			t.Errorf("malicious(%q) = %v", label, got)
		}
	}
}

// knownFailures are the sets where mlads misses the best-peer floors
// today (issue 12, "Detection that holds on networks it has never seen":
// ROC-AUC at least the best peer's − ROCSlack, PR-AUC at least the best
// peer's), per layer ("flow": the per-flow ensemble alone, as `mlads eval`
// runs; "behavior": with the behavioural evidence merged, as `mlads score`
// runs), with the shortfall (best peer − mlads) measured when the entry was
// written. They are expected to fail; TestEvalFloors fails when a gap grows
// past its entry by more than gapSlack, and when a set passes, so that its
// entry is removed and the floor holds from then on. Do not add entries to
// let a change through: fix the detector (issue 12).
var knownFailures = map[string]map[string]struct{ roc, pr float64 }{
	// Measured 2026-12-05 with scikit-learn 1.9.1 and PyOD 3.6.7, with
	// each detector's p-value floored at its reservoir's resolution and
	// host statistics scored only on the flows that carry them (the
	// failure rate only on failed flows).
	"flow": {
		// PR-AUC 0.7980 against KNN's 0.8892: one benign ICMP flow in a
		// traffic group training never had ties with the malicious flows
		// at three detectors' floors and ranks first, above the 10
		// malicious flows (issue 12, finding 5); the order in that tie
		// moves with any change (it was third with the floor alone, and
		// second, PR-AUC 0.8480, before the failure rate was kept to
		// failed flows). ROC-AUC 0.9994 against 0.9995 is within the slack.
		"iot23-21-1": {roc: 0.0001, pr: 0.0912},
	},
	// With the behavioural layer every set meets the floors: on iot23-21-1
	// the reconnect detector ties the C&C retries together (PR-AUC 1.0).
	"behavior": {},
}

// gapSlack is how much a known failure's gap may grow before
// TestEvalFloors calls it a regression.
const gapSlack = 0.005

// TestEvalFloors runs the evaluation on the labelled sets of the shared
// data, with the peer detectors (bench/eval/peers.py) when Python has
// numpy, scikit-learn and PyOD, and checks issue 12's floors (see Floor)
// against the best peer per set, with the per-flow layer alone and with
// the behavioural layer on, expecting knownFailures to fail. It is the
// regression guard of the README's tables.
func TestEvalFloors(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluation skipped in -short mode")
	}
	data := filepath.Join("..", "..", "..", "shared", "data")
	sets := DefaultSets(data)
	if len(sets) == 0 {
		t.Skipf("no labelled sets under %s (shared data absent)", data)
	}
	opts := Options{Detect: detect.DefaultConfig()}
	script := filepath.Join("..", "..", "bench", "eval", "peers.py")
	if err := exec.Command("python3", "-c", "import numpy, sklearn, pyod").Run(); err == nil {
		opts.Peers = script
	} else {
		t.Logf("no peers: python3 lacks numpy, scikit-learn or pyod (%v); checking mlads alone", err)
	}
	flowRes, err := Evaluate(context.Background(), sets, opts)
	if err != nil {
		t.Fatal(err)
	}
	// The peers do not depend on the layer: the same split and budget
	// (the model is trained the same way), so they run once.
	bcfg := behavior.DefaultConfig()
	opts.Behavior, opts.Peers = &bcfg, ""
	behRes, err := Evaluate(context.Background(), sets, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range behRes {
		behRes[i].Peers, behRes[i].PeerErr = flowRes[i].Peers, flowRes[i].PeerErr
	}
	for _, layer := range []struct {
		name string
		res  []Result
	}{{"flow", flowRes}, {"behavior", behRes}} {
		t.Run(layer.name, func(t *testing.T) {
			var table strings.Builder
			if err := WriteTable(&table, layer.res); err != nil {
				t.Fatal(err)
			}
			t.Logf("\n%s", table.String())
			for _, r := range layer.res {
				checkSet(t, r, knownFailures[layer.name])
			}
		})
	}
	var table strings.Builder
	if err := WritePeerTable(&table, flowRes); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
}

// checkSet checks one set's floors, expecting the known failures.
func checkSet(t *testing.T, r Result, known map[string]struct{ roc, pr float64 }) {
	t.Helper()
	if r.Skipped != "" {
		return
	}
	if r.PeerErr != "" {
		t.Errorf("%s: peers failed: %s", r.Set, r.PeerErr)
	}
	for _, p := range r.Peers {
		if p.Err != "" {
			t.Errorf("%s: peer %s failed: %s", r.Set, p.Name, p.Err)
		}
	}
	if r.Peers == nil {
		return
	}
	ok, why := Floor(r)
	k, isKnown := known[r.Set]
	switch {
	case ok && isKnown:
		t.Errorf("%s: now meets the floors; remove it from knownFailures", r.Set)
	case !ok && !isKnown:
		t.Errorf("%s: floors not met: %s", r.Set, why)
	case !ok:
		roc, _ := best(r.Peers, rocOf)
		pr, _ := best(r.Peers, prOf)
		rocGap, prGap := roc.ROCAUC-r.MLADS.ROCAUC, pr.PRAUC-r.MLADS.PRAUC
		if rocGap > k.roc+gapSlack || prGap > k.pr+gapSlack {
			t.Errorf("%s: known failure got worse: ROC-AUC gap %.4f (known %.4f), PR-AUC gap %.4f (known %.4f)",
				r.Set, rocGap, k.roc, prGap, k.pr)
		} else {
			t.Logf("%s: known failure (issue 12): %s", r.Set, why)
		}
	}
}

// TestSyntheticSets evaluates the generated sets (WriteSynthetic), where the
// malicious traffic is outbound from hosts that were benign in training,
// with the behavioural layer on, and checks what they measured when they
// were added (2026-12-04): the FIN scan and the exfiltration ranked
// perfectly, the beacons among timers at ROC-AUC 0.996 (0.968 while a
// host's browsing made its NTP polls look unusual), and the benign alert
// rate within 2× of the budget on every set; the C&C retries among benign
// failures ranked perfectly once the reconnect detector tied each burst
// together (ROC-AUC 0.9998 per flow; the best peer, IsolationForest, 0.9912
// with PR-AUC 0.4915). With the peers:
// `go run ./testdata/evalgen -out DIR` and `mlads eval DIR/*.json`.
func TestSyntheticSets(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluation skipped in -short mode")
	}
	sets, err := WriteSynthetic(t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	bcfg := behavior.DefaultConfig()
	res, err := Evaluate(context.Background(), sets, Options{Detect: detect.DefaultConfig(), Behavior: &bcfg})
	if err != nil {
		t.Fatal(err)
	}
	minROC := map[string]float64{"synth-beacons-among-timers": 0.99, "synth-stealth-scan": 0.999, "synth-slow-exfil": 0.999, "synth-cc-retries": 0.999}
	for _, r := range res {
		t.Logf("%s: ROC-AUC %.4f PR-AUC %.4f benign alert rate %.4f (budget %.4f)", r.Set, r.MLADS.ROCAUC, r.MLADS.PRAUC, r.MLADS.BenignAlertRate, r.Alpha)
		if r.Skipped != "" {
			t.Errorf("%s skipped: %s", r.Set, r.Skipped)
			continue
		}
		if r.MLADS.ROCAUC < minROC[r.Set] {
			t.Errorf("%s: ROC-AUC %.4f, want at least %.3f", r.Set, r.MLADS.ROCAUC, minROC[r.Set])
		}
		if r.MLADS.BenignAlertRate > 2*r.Alpha {
			t.Errorf("%s: benign alert rate %.4f, more than twice the budget %.4f", r.Set, r.MLADS.BenignAlertRate, r.Alpha)
		}
	}
}
