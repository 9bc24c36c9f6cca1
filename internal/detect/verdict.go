package detect

import "time"

// Verdict is the outcome of scoring one flow: how anomalous it is, whether it
// crosses the budgeted threshold, and why.
type Verdict struct {
	// Score is higher for more anomalous flows: -log10 of PValue.
	Score float64
	// PValue is the combined (Cauchy) p-value of all detectors that scored
	// the flow, calibrated against clean traffic.
	PValue float64
	// Alert is true when PValue is below the budgeted threshold.
	Alert bool
	// Hits lists each detector that scored the flow with its own p-value,
	// most significant first.
	Hits []Hit
	// Features explains the flow's most unusual features against the baseline.
	Features []Feature
	// Group is the traffic group the flow was scored in ("tcp/ssl/out";
	// "*" parts mark a coarser fallback group); set with the explanation.
	Group string
	// Behaviors lists behavioural findings (scan, flood, beacon, ...) this
	// flow is part of.
	Behaviors []Finding
}

// Hit is one detector's calibrated result for a flow.
type Hit struct {
	Detector string  // "robust_z", "hbos", "rarity", "iforest", ...
	PValue   float64 // calibrated against the clean reservoir
	Fired    bool    // PValue below the detector's own share of the budget
}

// Feature explains one feature: the value seen against its baseline
// ("resp_bytes 48 MB, typical 2 KB ± 1 KB").
type Feature struct {
	Name     string  // "resp_bytes", "duration", ...
	Value    float64 // in natural units (bytes, seconds, packets)
	Median   float64 // baseline median, natural units
	Spread   float64 // baseline spread (MAD scaled to a standard deviation), natural units
	Z        float64 // robust z-score on the log scale
	Text     string  // human sentence
	Category bool    // true for categorical features (conn_state, service, port class)
}

// Finding is a behaviour seen for a host or pair over a time window: a
// scan, a flood, a beacon, a long connection, an unusual fan-out or volume.
type Finding struct {
	Detector string    // "horizontal_scan", "vertical_scan", "syn_flood", "beacon", "long_connection", "reconnect", "fan_out", "volume", "new_destinations"
	Host     string    // the acting host (scanner, beaconing client, flood victim for floods)
	Peer     string    // the other side when there is one (beacon server, scanned host), else ""
	Start    time.Time // window start (from flow timestamps)
	End      time.Time // window end
	PValue   float64   // calibrated evidence
	Score    float64   // -log10 PValue
	Summary  string    // one human sentence: "10.0.0.5 tried 1,204 ports on 10.0.0.9 in 4m"
	// Evidence holds the detector's own numbers (ports tried, hosts tried,
	// interval regularity, ...); values are JSON-encodable.
	Evidence map[string]any
	// UIDs are the flows that make up the behaviour (bounded sample).
	UIDs []string
}
