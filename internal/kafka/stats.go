package kafka

import (
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Stats counts what a process's stages did. The stages update it as they
// go; any goroutine may read it.
type Stats struct {
	// Stage 1.
	Records    atomic.Int64 // input records consumed and committed
	Flows      atomic.Int64 // flows re-keyed into the flows topic
	BadRecords atomic.Int64 // input records that did not parse (each reported, throttled)
	Skipped    atomic.Int64 // input records carrying no flow (other logs, other events)
	// Stage 2.
	Scored     atomic.Int64 // flows scored, in committed transactions
	Partitions atomic.Int64 // partitions of the flows topic this process owns now
	Restores   atomic.Int64 // partition states read back from the state topic
	StateBytes atomic.Int64 // size of the last snapshots written, summed over partitions
	// Both.
	Aborted atomic.Int64 // transactions aborted (a rebalance or an error); their records are read again
	// BrokerDownSince is when the brokers stopped answering (Unix ns), 0
	// while they answer.
	BrokerDownSince atomic.Int64
}

// BrokerDown returns since when the brokers have been unreachable; zero
// while they answer.
func (s *Stats) BrokerDown() time.Time {
	if ns := s.BrokerDownSince.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// partitionOf places a keyed record: FNV-1a of the key, modulo n. The
// flows, state and audit records all use it, and restoring a partition's
// state finds its record by the same function.
func partitionOf(key []byte, n int) int {
	if len(key) == 0 || n <= 1 {
		return 0
	}
	h := uint32(2166136261)
	for _, c := range key {
		h = (h ^ uint32(c)) * 16777619
	}
	return int(h % uint32(n))
}

// partitioner places every record the group produces with partitionOf.
func partitioner() kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(string) func(r *kgo.Record, n int) int {
		return func(r *kgo.Record, n int) int { return partitionOf(r.Key, n) }
	})
}
