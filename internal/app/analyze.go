package app

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/mlads/mlads/internal/detect"
	"github.com/mlads/mlads/internal/detect/behavior"
	"github.com/mlads/mlads/internal/flow"
)

// AnalyzeOptions configures Analyze.
type AnalyzeOptions struct {
	Paths []string
	// Model is the model file; empty learns from the input itself (with
	// trimming, since the input may hold attacks) and then scores it.
	Model    string
	Detect   detect.Config
	Observer string // observer.name of the alerts (the sensor)
	Out      io.Writer
	Logger   *slog.Logger
}

// Analyze scores the flows of the files and writes the alerts, flow alerts
// and behavioural findings, as JSON lines (ECS documents with the
// explanation under mlads.*).
func Analyze(ctx context.Context, opts AnalyzeOptions) (ScoreReport, error) {
	var rep ScoreReport
	t0 := time.Now()
	var m *detect.Model
	var beh *behaviorIndex
	var err error
	if opts.Model != "" {
		m, err = detect.ReadFile(opts.Model)
		if err != nil {
			return rep, fmt.Errorf("analyze: %w", err)
		}
		if a := m.AlphaFor(opts.Detect.AlertsPerDay, opts.Detect.FalsePositiveRate); a != m.Alpha {
			m.SetAlpha(a)
		}
		beh, err = runBehavior(ctx, opts.Paths)
	} else {
		m, beh, err = learnFromInput(ctx, opts.Paths, opts.Detect)
	}
	if err != nil {
		return rep, fmt.Errorf("analyze: %w", err)
	}
	rep.LoadTime = time.Since(t0)
	rep.Findings = len(beh.findings)

	w := bufio.NewWriterSize(opts.Out, 1<<16)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range beh.findings {
		if err := enc.Encode(findingAlert(&beh.findings[i], opts.Observer)); err != nil {
			return rep, fmt.Errorf("analyze: write: %w", err)
		}
	}
	sc := m.NewScorer(opts.Detect)
	var v detect.Verdict
	t1 := time.Now()
	_, bad, err := readFlows(ctx, opts.Paths, func(r *flow.Record) error {
		sc.Score(r, &v)
		if !v.Alert {
			return nil
		}
		beh.attach(r, &v, m.Alpha)
		return enc.Encode(flowAlert(r, &v, m.Alpha, opts.Observer))
	})
	rep.BadLines = bad
	if err == nil {
		err = w.Flush()
	}
	rep.ScoreTime = time.Since(t1)
	rep.Stats = sc.Stats()
	rep.Flows, rep.Alerts = rep.Stats.Flows, rep.Stats.Alerts
	if err != nil {
		return rep, fmt.Errorf("analyze: %w", err)
	}
	if opts.Logger != nil {
		logScore(opts.Logger, "analyze", rep)
	}
	return rep, nil
}

// learnFromInput trains on the input itself, running the behavioural
// detectors in the same pass.
func learnFromInput(ctx context.Context, paths []string, cfg detect.Config) (*detect.Model, *behaviorIndex, error) {
	tr := detect.NewTrainer(cfg)
	e := behavior.New(behavior.DefaultConfig())
	bi := &behaviorIndex{byUID: map[string][]int32{}}
	_, _, err := readFlows(ctx, paths, func(r *flow.Record) error {
		tr.Add(r)
		bi.findings = append(bi.findings, e.Observe(r)...)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	bi.findings = append(bi.findings, e.Flush()...)
	for i, f := range bi.findings {
		for _, u := range f.UIDs {
			bi.byUID[u] = append(bi.byUID[u], int32(i))
		}
	}
	bi.stats = e.Stats()
	m, err := tr.Fit()
	if err != nil {
		return nil, nil, err
	}
	return m, bi, nil
}

// Alert is the alert document (Elastic Common Schema, explanation under
// mlads). ID is derived from the content, so a retried write of the same
// alert never makes a duplicate.
type Alert struct {
	Timestamp   time.Time      `json:"@timestamp"`
	Event       alertEvent     `json:"event"`
	Rule        alertRule      `json:"rule"`
	Source      *alertEndpoint `json:"source,omitempty"`
	Destination *alertEndpoint `json:"destination,omitempty"`
	Network     *alertNetwork  `json:"network,omitempty"`
	Related     alertRelated   `json:"related"`
	Observer    alertObserver  `json:"observer"`
	MLADS       alertMLADS     `json:"mlads"`
}

type alertEvent struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"`
	Category  []string `json:"category"`
	Severity  int      `json:"severity"`
	RiskScore float64  `json:"risk_score"`
	Start     string   `json:"start,omitempty"`
	End       string   `json:"end,omitempty"`
}

type alertRule struct {
	Name     string `json:"name"`
	Category string `json:"category"`
}

type alertEndpoint struct {
	IP   string `json:"ip,omitempty"`
	Port uint16 `json:"port,omitempty"`
}

type alertNetwork struct {
	Transport   string `json:"transport,omitempty"`
	Protocol    string `json:"protocol,omitempty"`
	CommunityID string `json:"community_id,omitempty"`
}

type alertRelated struct {
	IP []string `json:"ip"`
}

type alertObserver struct {
	Name   string `json:"name,omitempty"`
	Vendor string `json:"vendor"`
	Type   string `json:"type"`
}

type alertMLADS struct {
	Score       float64          `json:"score"`
	PValue      float64          `json:"p_value"`
	Threshold   float64          `json:"threshold,omitempty"`
	UID         string           `json:"uid,omitempty"`
	Group       string           `json:"group,omitempty"`
	Detectors   []detect.Hit     `json:"detectors,omitempty"`
	Features    []detect.Feature `json:"features,omitempty"`
	Behaviors   []alertBehavior  `json:"behaviors,omitempty"`
	Explanation []string         `json:"explanation"`
	Evidence    map[string]any   `json:"evidence,omitempty"`
	UIDs        []string         `json:"uids,omitempty"`
}

type alertBehavior struct {
	Detector string         `json:"detector"`
	Summary  string         `json:"summary"`
	PValue   float64        `json:"p_value"`
	Evidence map[string]any `json:"evidence,omitempty"`
}

func severity(score float64) (int, float64) {
	risk := math.Min(100, math.Round(10*score))
	switch {
	case score >= 8:
		return 3, risk
	case score >= 5:
		return 2, risk
	}
	return 1, risk
}

func flowAlert(r *flow.Record, v *detect.Verdict, alpha float64, observer string) *Alert {
	sev, risk := severity(v.Score)
	a := &Alert{
		Timestamp: r.TS.UTC(),
		Event: alertEvent{Kind: "alert", Category: []string{"network", "intrusion_detection"}, Severity: sev, RiskScore: risk,
			Start: r.TS.UTC().Format(time.RFC3339Nano), End: r.End().UTC().Format(time.RFC3339Nano)},
		Rule:        alertRule{Name: "flow_anomaly", Category: "anomaly"},
		Source:      &alertEndpoint{IP: addr(r.OrigH), Port: r.OrigP},
		Destination: &alertEndpoint{IP: addr(r.RespH), Port: r.RespP},
		Network:     &alertNetwork{Transport: r.Proto, Protocol: r.Service, CommunityID: r.CommunityID},
		Related:     alertRelated{IP: related(addr(r.OrigH), addr(r.RespH))},
		Observer:    alertObserver{Name: observer, Vendor: "mlads", Type: "ids"},
		MLADS: alertMLADS{Score: round4(v.Score), PValue: v.PValue, Threshold: alpha, UID: r.UID, Group: v.Group,
			Detectors: append([]detect.Hit(nil), v.Hits...), Features: append([]detect.Feature(nil), v.Features...),
			Explanation: reasons(v)},
	}
	for _, b := range v.Behaviors {
		a.MLADS.Behaviors = append(a.MLADS.Behaviors, alertBehavior{b.Detector, b.Summary, b.PValue, b.Evidence})
	}
	a.Event.ID = contentID(a)
	return a
}

func findingAlert(f *detect.Finding, observer string) *Alert {
	sev, risk := severity(f.Score)
	a := &Alert{
		Timestamp: f.Start.UTC(),
		Event: alertEvent{Kind: "alert", Category: []string{"network", "intrusion_detection"}, Severity: sev, RiskScore: risk,
			Start: f.Start.UTC().Format(time.RFC3339Nano), End: f.End.UTC().Format(time.RFC3339Nano)},
		Rule:     alertRule{Name: f.Detector, Category: "behavior"},
		Source:   &alertEndpoint{IP: f.Host},
		Related:  alertRelated{IP: related(f.Host, f.Peer)},
		Observer: alertObserver{Name: observer, Vendor: "mlads", Type: "ids"},
		MLADS: alertMLADS{Score: round4(f.Score), PValue: f.PValue, Explanation: []string{f.Summary},
			Evidence: f.Evidence, UIDs: f.UIDs},
	}
	if f.Peer != "" {
		a.Destination = &alertEndpoint{IP: f.Peer}
	}
	a.Event.ID = contentID(a)
	return a
}

func addr(a interface{ String() string }) string { return a.String() }

func related(ips ...string) []string {
	var out []string
	for _, ip := range ips {
		if ip != "" && ip != "invalid IP" && (len(out) == 0 || out[0] != ip) {
			out = append(out, ip)
		}
	}
	return out
}

// contentID hashes the alert's content (with an empty ID) into its ID.
func contentID(a *Alert) string {
	b, err := json.Marshal(a)
	if err != nil {
		return ""
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:16])
}
