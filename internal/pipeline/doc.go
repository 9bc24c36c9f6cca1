// Package pipeline is the one path from flows to alerts, shared by every
// command that detects (score, analyze, eval and the daemon, run):
//
//	flow.Record ─┬─▶ behavior.Engine ──▶ detect.Finding ──┬──────────────▶ Alerter ─▶ alert.Sink
//	             │                        (into Evidence) │               (documents)  (Fold ─▶ Fanout
//	             └─▶ Detector: detect.Scorer + Evidence ──┴─▶ detect.Verdict            of JSON lines,
//	                 (the flow's score, with the behaviours it is part of)              Elasticsearch,
//	                                                                                    contacts …)
//
// Two drivers run it:
//
//   - Batch, for the commands that read files: one pass over the inputs
//     keeps the flows (Store: in memory up to a bound, then in a spill
//     file), runs the behavioural detectors and, when there is no model,
//     feeds the trainer. After the pass the model is fitted, every finding
//     is known, and the kept flows are scored: each flow's verdict carries
//     every behaviour it is part of, even one that became certain later in
//     the input. The inputs are read and decoded once. Detector.AlertEach
//     scores them on two cores, with the verdicts of one flow at a time.
//   - Online, for the daemon: each flow goes through the behavioural
//     detectors and is scored as it arrives, with windows driven by the
//     flows' own timestamps. A flow's verdict carries the behaviours that
//     were certain when it arrived; a behaviour that becomes certain later
//     is an alert of its own (the batch commands write it too), but is not
//     added to the verdicts of flows scored before it.
//
// Online.Snapshot writes the whole detector state (behavioural windows,
// host statistics, evidence, counters and the open incidents of the Fold
// named with SetFold) and Online.Restore puts it into a fresh Online, which
// then scores as if the first had never stopped: the daemon checkpoints it
// with its positions, and one Online per Kafka partition can keep it in a
// changelog.
//
// Stages are plain types called from one goroutine; the daemon's wiring in
// package app owns the goroutines. Detector.AlertEach is the one exception:
// it runs the detectors of the next block on a goroutine of its own, which
// ends before it returns.
package pipeline
