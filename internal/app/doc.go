// Package app wires mlads's stages together for each command and owns their
// lifecycle. It is the only package that starts goroutines between stages
// and the only one that knows every other package.
//
// The batch commands (flows, train, score, analyze) are one pipeline run
// in a single goroutine, source to sink:
//
//	input.ReadFiles ──▶ flow.Record ──▶ detect (score) ──▶ alert ──▶ JSON lines
//	(pcap|zeek|eve)                    (flows: writer)
//
// The daemon (run) follows files and writes what it reads; see run.go.
// With kafka.* set it is a member of a consumer group instead, two stages
// on two goroutines of their own; see run_kafka.go.
package app
