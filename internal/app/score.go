package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
)

// ScoreOptions configures Score.
type ScoreOptions struct {
	Paths  []string
	Model  string // model file
	Input  Input
	Detect detect.Config
	// Behavior runs the behavioural detectors in a first pass over the
	// files, so flows that make up a scan, flood or beacon carry it.
	Behavior bool
	Out      io.Writer
	Logger   *slog.Logger
}

// ScoreReport says what scoring did.
type ScoreReport struct {
	Flows     uint64
	Alerts    uint64
	Findings  int
	BadLines  int64
	LoadTime  time.Duration
	ScoreTime time.Duration
	Stats     detect.ScorerStats
}

// Score writes every flow of the files as one JSON line: the flow's fields
// (Zeek's names, uid kept), then score, p_value, alert and reasons. Flows
// with a p-value of 0.05 or more are not unusual enough to explain: their
// reasons list only the behaviours they are part of, usually nothing.
func Score(ctx context.Context, opts ScoreOptions) (ScoreReport, error) {
	var rep ScoreReport
	t0 := time.Now()
	m, err := detect.ReadFile(opts.Model)
	if err != nil {
		return rep, fmt.Errorf("score: %w", err)
	}
	rep.LoadTime = time.Since(t0)
	if a := m.AlphaFor(opts.Detect.AlertsPerDay, opts.Detect.FalsePositiveRate); a != m.Alpha {
		m.SetAlpha(a)
	}
	var beh *behaviorIndex
	if opts.Behavior {
		beh, err = runBehavior(ctx, opts.Input, opts.Paths)
		if err != nil && ctx.Err() != nil {
			return rep, fmt.Errorf("score: %w", err)
		}
		// other input errors: the scoring pass meets them again and reports them
		rep.Findings = len(beh.findings)
	}
	sc := m.NewScorer(opts.Detect)
	sc.ExplainBelow(0.05) // reasons for the unusual flows; clearly normal ones get none
	w := bufio.NewWriterSize(opts.Out, 1<<16)
	var v detect.Verdict
	var buf []byte
	t1 := time.Now()
	_, bad, err := opts.Input.readFlows(ctx, opts.Paths, true, func(r *flow.Record) error {
		sc.Score(r, &v)
		beh.attach(r, &v, m.Alpha)
		buf = appendScored(buf[:0], r, &v)
		_, err := w.Write(buf)
		return err
	})
	rep.BadLines = bad
	// what was scored is written even when an input failed
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	err = rep.finish("score", sc, t1, opts.Logger, err) // before rep is returned: it fills rep
	return rep, err
}

// finish completes a score or analyze report once the input is read: the
// scoring time and the scorer's counts. It wraps err with the command's
// name, or logs the report when there is none.
func (rep *ScoreReport) finish(cmd string, sc *detect.Scorer, start time.Time, l *slog.Logger, err error) error {
	rep.ScoreTime = time.Since(start)
	rep.Stats = sc.Stats()
	rep.Flows, rep.Alerts = rep.Stats.Flows, rep.Stats.Alerts
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if l != nil {
		logScore(l, cmd, *rep)
	}
	return nil
}

func logScore(l *slog.Logger, cmd string, rep ScoreReport) {
	rate := 0.0
	if s := rep.ScoreTime.Seconds(); s > 0 {
		rate = float64(rep.Flows) / s
	}
	l.Info("scored", "component", cmd, "flows", rep.Flows, "alerts", rep.Alerts, "findings", rep.Findings,
		"bad_lines", rep.BadLines, "model_load", rep.LoadTime.Round(time.Microsecond), "flows_per_s", math.Round(rate),
		"hosts", rep.Stats.Hosts, "hosts_evicted", rep.Stats.HostsEvicted, "bytes_per_host", rep.Stats.BytesPerHost,
		"online_updates", rep.Stats.OnlineUpdates, "online_capped", rep.Stats.OnlineCapped, "known_dropped", rep.Stats.KnownDropped)
}

// appendScored appends one score line: the flow object with score,
// p_value, alert and reasons added at its end.
func appendScored(b []byte, r *flow.Record, v *detect.Verdict) []byte {
	b = flow.AppendJSON(b, r)
	b = b[:len(b)-1] // reopen the object
	b = append(b, `,"score":`...)
	b = strconv.AppendFloat(b, round4(v.Score), 'g', -1, 64)
	b = append(b, `,"p_value":`...)
	b = strconv.AppendFloat(b, v.PValue, 'g', 4, 64)
	b = append(b, `,"alert":`...)
	b = strconv.AppendBool(b, v.Alert)
	b = append(b, `,"reasons":[`...)
	for i, s := range reasons(v) {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, s)
	}
	return append(b, "]}\n"...)
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// reasons are the human lines of a verdict: detectors that fired, the most
// unusual features and the behaviours the flow is part of.
func reasons(v *detect.Verdict) []string {
	var out []string
	for _, b := range v.Behaviors {
		out = append(out, b.Detector+": "+b.Summary)
	}
	for _, h := range v.Hits {
		if h.Fired {
			out = append(out, fmt.Sprintf("%s p=%.2g", h.Detector, h.PValue))
		}
	}
	for _, f := range v.Features {
		out = append(out, f.Text)
	}
	return out
}

// behaviorIndex holds the findings of the behavioural pass and, for each
// host and flow uid they name, which findings those are part of.
type behaviorIndex struct {
	findings []detect.Finding
	byUID    map[string][]int32
	byHost   map[netip.Addr][]int32 // acting host; the victim for floods
	stats    behavior.Stats
}

// runBehavior runs the behavioural detectors over all files.
func runBehavior(ctx context.Context, in Input, paths []string) (*behaviorIndex, error) {
	e := behavior.New(behavior.DefaultConfig())
	var fs []detect.Finding
	_, _, err := in.readFlows(ctx, paths, false, func(r *flow.Record) error {
		fs = append(fs, e.Observe(r)...)
		return nil
	})
	fs = append(fs, e.Flush()...)
	// the index of what could be read, with the error of what could not
	return newBehaviorIndex(fs, e.Stats()), err
}

func newBehaviorIndex(fs []detect.Finding, st behavior.Stats) *behaviorIndex {
	bi := &behaviorIndex{findings: fs, byUID: map[string][]int32{}, byHost: map[netip.Addr][]int32{}, stats: st}
	for i, f := range fs {
		for _, u := range f.UIDs {
			bi.byUID[u] = append(bi.byUID[u], int32(i))
		}
		if a, err := netip.ParseAddr(f.Host); err == nil {
			bi.byHost[a] = append(bi.byHost[a], int32(i))
		}
	}
	return bi
}

// flood reports whether a detector names the victim as Finding.Host.
func flood(det string) bool {
	return det == behavior.SYNFlood || det == behavior.HalfOpenSurge || det == behavior.UDPFlood
}

// baselineOnly reports whether a detector judges a host's totals (fan-out,
// volume, new destinations) rather than the flows themselves: its evidence
// goes on the host's flows, but only the flows it names get its p-value.
func baselineOnly(det string) bool {
	return det == behavior.FanOut || det == behavior.Volume || det == behavior.NewDestinations
}

// attach adds the behaviours r is part of to v: the findings that name its
// uid, and those of its host (its victim for floods) whose window holds
// r.TS and whose peer, if any, is r's other end. Their evidence counts in
// the flow's score: the smaller p-value wins.
func (bi *behaviorIndex) attach(r *flow.Record, v *detect.Verdict, alpha float64) {
	v.Behaviors = v.Behaviors[:0]
	if bi == nil {
		return
	}
	add := func(i int32, named bool) {
		f := &bi.findings[i]
		for _, b := range v.Behaviors {
			if b.Detector == f.Detector && b.Start.Equal(f.Start) && b.Host == f.Host {
				return
			}
		}
		v.Behaviors = append(v.Behaviors, *f)
		if (named || !baselineOnly(f.Detector)) && f.PValue < v.PValue {
			v.PValue = f.PValue
			v.Score = -math.Log10(max(f.PValue, 1e-300))
			v.Alert = v.PValue < alpha
		}
	}
	if r.UID != "" {
		for _, i := range bi.byUID[r.UID] {
			add(i, true)
		}
	}
	match := func(host, other netip.Addr, floods bool) {
		for _, i := range bi.byHost[host] {
			f := &bi.findings[i]
			if flood(f.Detector) != floods || r.TS.Before(f.Start) || r.TS.After(f.End.Add(time.Second)) {
				continue
			}
			if f.Peer != "" && f.Peer != other.String() {
				continue
			}
			add(i, false)
		}
	}
	match(r.OrigH, r.RespH, false)
	match(r.RespH, r.OrigH, true)
}
