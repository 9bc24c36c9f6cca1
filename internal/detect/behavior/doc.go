// Package behavior holds mlads's behavioural detectors: the per-host and
// per-pair layer that watches flows over time windows. Engine.Observe takes
// flows in roughly increasing start time and returns the findings that
// became certain; Engine.Flush returns those still open at the end.
//
// Time comes from flow timestamps only, so a replay gives the same findings
// as the live run. Every table is bounded by a Config limit and what does
// not fit is counted in Stats. An Engine is not safe for concurrent use.
//
// The detectors, what they report, and where their p-value comes from:
//
//	horizontal_scan   one source, ≥ 25 hosts on one port in a 5-minute window
//	vertical_scan     one source, ≥ 15 ports of one host in a 5-minute window
//	                  (Zeek's scan.zeek thresholds; a quarter of the targets
//	                  must have failed). p = max(Poisson tail of the target
//	                  count, binomial tail of the failed count): both must be
//	                  unlikely for a benign host. A probe fails unless the
//	                  responder answered with more than a reset (Zeek's
//	                  history), so every nmap scan type counts: SYN, connect,
//	                  FIN, NULL, Xmas, ACK, window, Maimon, UDP, and the IP
//	                  protocol scan, whose "ports" are protocol numbers.
//	trw_scan          threshold random walk (Jung et al. 2004) on each source's
//	                  first contacts with TCP hosts. p = 1/Λ (Ville's
//	                  inequality: under the benign hypothesis the likelihood
//	                  ratio Λ reaches x with probability ≤ 1/x).
//	syn_flood         ≥ 200 unanswered flows to one victim in 10 minutes, at
//	half_open_surge   least half of its flows; reported as soon as reached and
//	udp_flood         again with final counts if it doubled. Host is the victim,
//	                  Peer the top source when it is a real share. p = Poisson
//	                  tail with a null mean of 20.
//	beacon            RITA's score (interval and size skew, MAD, connection
//	                  count, smallness) ≥ 0.8 on ≥ 20 connections of a
//	                  (source, destination) pair. p = binomial tail of the
//	                  intervals near the median under the exponential
//	                  intervals of a Poisson process.
//	long_connection   duration ≥ 1 h, marked still_open when not closed.
//	                  p = 1 s / duration (Pareto tail, index 1).
//	reconnect         one source, ≥ 5 failed TCP connections to one server
//	                  and port within 5 minutes, a second or more apart
//	                  (parallel attempts count once; Slips's "multiple
//	                  reconnection attempts": malware retrying its C&C).
//	                  p = Poisson tail of the attempts with a null mean of 1.
//	fan_out, volume,  a window's distinct destinations, bytes sent or new
//	new_destinations  destinations ≥ 4 damped standard deviations (log1p scale)
//	                  above the host's own baseline of active windows, and
//	                  above an absolute floor. p = normal tail of that z.
//
// These p-values are exact under their stated null or conservative, not
// calibrated against real traffic. Training calibrates them (Learner, kept
// in the model): the beacons and long connections the clean baseline
// already had are not reported again (known.go), and each detector's rate
// of findings on the baseline bounds what one of its findings may claim
// when it is merged into a flow's score (Evidence).
//
// State per source: the current window's targets, a first-contact memory
// (exact, then a 4096-bit Bloom filter), damped baselines, the TRW walk,
// up to 48 destinations seen once or twice, and beacon pairs from their
// third connection (the last 32 connections each). Stats reports an
// estimate of the bytes held per tracked host. MarshalState and
// RestoreState carry all of it (and the flood victims) across a restart,
// so a window open at a crash closes as if there had been none; a state
// beyond the Engine's limits is refused.
package behavior
