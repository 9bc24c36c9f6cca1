// Package eval measures detection quality on labelled conn logs with a
// time-ordered protocol: train on the benign flows of the first part of
// each log (the labels pick them and nothing else), score every flow of the
// rest, and report ROC-AUC, PR-AUC, recall at the alert budget and the alert
// rate on benign flows, next to peer detectors on the same features and
// split when their script is given: scikit-learn's IsolationForest and
// PyOD's KNN, LOF, HBOS, ECOD and COPOD (bench/eval/peers.py). Logs are read through the zeek package,
// which knows the labelled Stratosphere and IoT-23 variants and keeps the
// label in flow.Record.Label. WriteSynthetic writes generated sets where
// the attacks are outbound from hosts that were benign in training
// (beacons among timers, a slow FIN scan, a slow exfiltration), which the
// shared sets lack.
package eval

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/pipeline"
)

// Set is one labelled log to evaluate on.
type Set struct {
	Name string
	Path string
}

// DefaultSets lists the labelled sets of the shared data folder that
// the evaluation uses (Stratosphere 001, 008, 010, 011, 012 and the IoT-23
// scenarios); the ones missing under data are skipped.
func DefaultSets(data string) []Set {
	sd := filepath.Join(data, "stratosphere-labeled", "security-datasets-for-testing")
	sets := []Set{
		{"strat-001", filepath.Join(sd, "001-zeek-scenario-malicious", "labeled-conn.log")},
		{"strat-008", filepath.Join(sd, "008-zeek-mixed", "data", "conn.log.labeled")},
		{"strat-010", filepath.Join(sd, "010-zeek-mixed", "data", "conn.log.labeled")},
		{"strat-011", filepath.Join(sd, "011-zeek-mixed", "data", "conn.log.labeled")},
		{"strat-012", filepath.Join(sd, "012-zeek-mixed", "data", "conn.log.labeled")},
	}
	iot, _ := filepath.Glob(filepath.Join(data, "iot23-csv", "*-labeled.csv"))
	slices.Sort(iot)
	for _, p := range iot {
		name := strings.TrimSuffix(filepath.Base(p), "-labeled.csv")
		name = "iot23-" + strings.TrimPrefix(strings.TrimPrefix(name, "CTU-"), "Malware-Capture-")
		sets = append(sets, Set{name, p})
	}
	var out []Set
	for _, s := range sets {
		if _, err := os.Stat(s.Path); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// Options configures Evaluate.
type Options struct {
	Detect detect.Config
	// Behavior runs the behavioural detectors over the test part and merges
	// their evidence into the flows' scores, as `mlads score` does; nil
	// scores with the per-flow layer alone.
	Behavior *behavior.Config
	// Peers is the path of the peers script (bench/eval/peers.py); empty
	// skips the peers.
	Peers  string
	Python string // interpreter, "python3" when empty
	// Split is the share of each log (in time) used for training; 0 means
	// one half.
	Split float64
}

// Result is the outcome on one set.
type Result struct {
	Set       string
	Train     int // benign flows of the first half
	Test      int // all flows of the second half
	Malicious int // malicious flows in the test half
	Alpha     float64
	MLADS     Metrics
	Peers     []Peer // in the script's order; nil when the peers did not run
	PeerErr   string // why the peers script failed
	Skipped   string // why the set was not evaluated
	TrainTime time.Duration
	ScoreRate float64 // flows/s while scoring
}

// Evaluate runs the time-ordered protocol on each set: train on the benign
// flows of the first half (labels pick them and nothing else), score all
// flows of the second half, and measure; then the same for the peers.
func Evaluate(ctx context.Context, sets []Set, opts Options) ([]Result, error) {
	var out []Result
	for _, s := range sets {
		res, err := evalSet(ctx, s, opts)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

func evalSet(ctx context.Context, s Set, opts Options) (Result, error) {
	res := Result{Set: s.Name}
	recs, err := readLabelled(ctx, s.Path)
	if err != nil {
		return res, err
	}
	slices.SortStableFunc(recs, func(a, b flow.Record) int { return a.TS.Compare(b.TS) })
	split := opts.Split
	if split <= 0 || split >= 1 {
		split = 0.5
	}
	half := int(split * float64(len(recs)))
	train, test := recs[:half], recs[half:]

	t0 := time.Now()
	tr := detect.NewTrainer(opts.Detect)
	var learn *behavior.Learner
	if opts.Behavior != nil {
		learn = behavior.NewLearner(*opts.Behavior)
	}
	for i := range train {
		if malicious(train[i].Label) {
			continue
		}
		r := train[i]
		r.Label = "" // the detector never sees labels
		tr.Add(&r)
		if learn != nil {
			learn.Add(&r)
		}
	}
	res.Train = tr.Len()
	m, err := tr.Fit()
	if errors.Is(err, detect.ErrTooFewFlows) {
		res.Skipped = err.Error()
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("eval: %s: %w", s.Name, err)
	}
	res.TrainTime = time.Since(t0)
	res.Alpha = m.Alpha

	// the test part goes through the pipeline as `mlads score` runs it:
	// one pass for the behavioural detectors, then every flow scored
	scores := make([]float64, len(test))
	alerts := make([]bool, len(test))
	truth := make([]bool, len(test))
	t1 := time.Now()
	var known []uint64
	if learn != nil {
		// the behaviours of the benign training part, as mlads train keeps them
		known, m.BehaviorRates = learn.Finish()
		m.KnownBehaviors = known
	}
	b := pipeline.NewBatch(pipeline.BatchOptions{Behavior: opts.Behavior, Known: known, MemFlows: len(test) + 1})
	for i := range test {
		truth[i] = malicious(test[i].Label)
		r := test[i]
		r.Label = "" // the detector never sees labels
		if err := b.Add(&r); err != nil {
			return res, fmt.Errorf("eval: %s: %w", s.Name, err)
		}
	}
	b.End()
	det := b.Detector(m, opts.Detect)
	var v detect.Verdict
	i := 0
	err = b.Each(func(r *flow.Record) error {
		det.Score(r, &v)
		scores[i], alerts[i] = v.Score, v.Alert
		i++
		return nil
	})
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, fmt.Errorf("eval: %s: %w", s.Name, err)
	}
	if el := time.Since(t1).Seconds(); el > 0 {
		res.ScoreRate = float64(len(test)) / el
	}
	res.Test = len(test)
	for _, t := range truth {
		if t {
			res.Malicious++
		}
	}
	if res.Malicious == 0 || res.Malicious == len(test) {
		res.Skipped = fmt.Sprintf("test half has one class (%d malicious of %d)", res.Malicious, len(test))
	}
	res.MLADS = measure(scores, alerts, truth)

	if opts.Peers != "" && res.Skipped == "" {
		p, err := runPeers(ctx, opts, s.Path, m.Alpha, split)
		if err != nil {
			res.PeerErr = err.Error()
		} else {
			res.Peers = p
		}
	}
	return res, nil
}
