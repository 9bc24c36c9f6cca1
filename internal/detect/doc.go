// Package detect learns what normal traffic looks like and scores flows
// against it with a statistical ensemble: per-flow detectors fitted per
// traffic group, p-value calibration against a clean reservoir, and a
// false-alarm budget. The behavioural detectors (scans, floods, beacons,
// ...) live in the behavior subpackage and share this package's Verdict
// and Finding types.
//
// # Features
//
// Every flow becomes a Vector of flat arrays (no per-flow allocation):
//
//   - per flow: log1p of duration, bytes, packets and IP bytes in each
//     direction, missed bytes, bytes per packet each way, and the share of
//     bytes sent by the originator;
//   - per originating host, damped statistics at the time of the flow
//     (half-life 5 minutes): flow rate, failure rate, bytes out, the share
//     of flows to destinations it never contacted before (a 1024-bit bloom
//     filter), distinct destinations and ports in the current 5-minute
//     window (256-bit linear-counting sketches), and, per pair, the flows
//     to the same responder in that window (64 hashed saturating
//     counters). The state is fixed-size (BytesPerHost, about 380 bytes)
//     in a table bounded by
//     Config.MaxHosts with CLOCK eviction, counted in ScorerStats. The
//     host statistics (not the pair's) are evidence only for the flows
//     that make them up: a flow that failed, or went to a responder new
//     to its host or to the baseline, carries them (Vector.Carries); any
//     other flow is scored, and calibrated, with them at its group's
//     medians, so a scanning host's ordinary flows do not inherit the
//     scan's failure rate and volume;
//   - "seen before": how often the baseline saw the originator, the
//     responder and the responder's service (address, port, proto),
//     capped at 16. In training the count is leave-one-out, so an entity
//     seen once in the baseline stands for one that is new when scoring and
//     there is no warm-up drift;
//   - categorical: proto, service, conn_state, port class, direction
//     (inside is private address space plus the busiest originators of the
//     baseline) and the history string.
//
// # Detectors
//
// Flows are grouped by proto × service-or-port-class × direction. Each
// group with at least 30 baseline flows gets its own fit, smaller ones
// fall back to proto × direction and then to all traffic. Five detectors
// score a flow in its group:
//
//   - robust_z: sum of squared robust z-scores (median/MAD), clipped at 10;
//   - hbos: histogram-based outlier score, 16 bins per feature;
//   - rarity: surprisal of the flow's categories within its group;
//   - iforest: an isolation forest (Config.Trees trees of 256 samples) in a
//     flat, branch-free layout: complete trees stored breadth first, walked
//     up to 32 side by side, one level at a time, with
//     idx = 2*idx+1+(x[f] >= t); groups with fewer than 200 flows use
//     their parent's forest;
//   - group_rarity: how rare the traffic group itself is in the baseline,
//     kept apart from rarity because a burst of attack flows can form a
//     group of its own in which they all look alike.
//
// # Calibration and budget
//
// Training holds out a random Config.CalibrationFraction of the baseline.
// Each detector's raw score becomes a p-value against that reservoir: the
// share of calibration scores at least as high, and beyond the top 2 %
// (at least 10 scores) an exponential tail fitted to their mean excess, so
// extreme flows keep distinct, ordered p-values. The tail approaches the
// reservoir's resolution, 1/(n+1), and never crosses it: a score beyond
// every calibration score is rarer than all of them and no more can be
// said. So a traffic group that training never had counts as one
// detector at its floor, not as p = 1e-300 that outweighs everything
// else; flows beyond the resolution rank by how many detectors agree. The p-values are combined into one
// statistic, and that statistic is calibrated once more against the
// reservoir, so a flow's final p-value is uniform on normal traffic
// whatever the dependence between detectors. Config.Combine picks the
// statistic: Fisher's sum of -log p (the default: it adds up evidence from
// several detectors, and measured better on the labelled sets, see the
// README) or the Cauchy combination (ACAT, p capped at 0.99 so a quiet
// detector cannot cancel a loud one; it follows the strongest detector).
// A flow alerts when its p-value is below Model.Alpha: the configured
// false-positive rate, or alerts per day divided by the baseline's flows
// per day. Model.MinPValue is the smallest p-value a flow can reach (every
// detector at its floor); Model.AlertLimit says in words when a baseline
// is too small to alert at all, or when one detector alone cannot reach
// the threshold, and train, score and analyze log it.
//
// Training is robust to attacks in the baseline: it fits, drops the
// Config.Trim most anomalous share of the fit set, and fits again. Its
// memory is bounded: beyond Config.MaxTrainFlows it keeps a seeded
// reservoir sample of the flows (the budget still uses the whole
// baseline's flow rate).
//
// Trainer.Fit uses every core: the traffic groups' statistics, the raw
// scores of the fit and calibration sets, the rank sorts for trimming and
// the calibrators are computed by GOMAXPROCS goroutines, started and
// joined within the step (none outlives Fit). The forests are fitted on
// the calling goroutine alongside the groups' statistics, in one order,
// because they draw from the one seeded random sequence. Whatever the
// number of cores, the same seed and input give the same model bytes.
// Scoring uses no goroutines.
//
// # Explanations
//
// An alert's Verdict lists every detector with its p-value (Fired when
// below its share of the budget), the traffic group, and the most unusual
// features: numeric ones with the value seen, the group's median and
// spread in natural units ("orig_bytes 2.1 MB, typical 211 B ± 10.6 B"),
// categorical ones with their share of the group, and an unseen or rare
// traffic group.
//
// # Model file
//
// Model.WriteFile writes magic, version, length, a gob payload without
// maps (so the same seed and input give the same bytes) and its SHA-256.
// ReadFile rejects other files (ErrNotModel), other versions
// (ErrModelVersion) and damaged ones (ErrModelCorrupt), and checks the
// layout scoring relies on.
//
// # Scoring
//
// A Scorer holds the per-host statistics and online additions; the Model
// is not modified. Flows that scored clearly normal (p > 0.5) add their
// hosts and service to the "seen" counts, at most Config.OnlineHostCap
// times per originating host, so no single host can teach the model its
// attack. With GateUpdates the caller decides, through Learn, after it has
// added what Score cannot know: the daemon's pipeline lets no flow of a
// behaviour (a scan, a flood, a beacon) teach. Learned returns the model
// with what was taught, for a model checkpoint; MarshalState and
// RestoreState carry the host statistics and online counts across a
// restart (or to a new model).
package detect
