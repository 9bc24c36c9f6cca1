// Package kafka runs mlads as a consumer group on Kafka: any number of
// `mlads run` processes share the work of the input topics, the state of
// the detectors follows the hosts it belongs to, and every record is
// processed exactly once across crashes and rebalances. It is built on
// franz-go (kgo for the clients and group transactions, kadm for the
// topics).
//
//	input topics ──▶ Rekey ──┬─▶ <group>.flows   (keyed by originator) ──▶ Detect: one Partition per partition
//	(Zeek JSON,      (group   └─▶ <group>.victims (keyed by flood victim) ─▶ Detect: one Partition per partition
//	 EVE JSON)        <group>)                                             (group <group>.detect)
//	                                           <group>.state (compacted): each partition's last snapshot
//	                                           <group>.audit: the offsets each transaction consumed
//
// Stage 1, Rekey, parses each input record with the file parsers (Parser:
// zeek.Parser and eve.Parser, the format told per record) and writes the
// flow, in a compact binary form (AppendFlow, Decoder), to the flows topic
// keyed by its originator and to the victims topic keyed by its flood
// victim. Stage 2, Detect, owns partitions of both and gives each a
// Partition of its own (a pipeline.Online in mlads): the per-flow scorer's
// host statistics and the per-host behaviours (scans, beacons, long
// connections, baselines) need every flow of an originator in one place,
// the flood detector every flow of a victim.
//
// Both stages consume, produce and commit in transactions of a
// kgo.GroupTransactSession (KIP-447): the flows a record became, the
// partitions' snapshots and an audit record of the offsets consumed commit
// with the group's offsets, or none of them does. A partition that comes
// to a process starts from the snapshot committed with the offsets it
// resumes from, as Kafka Streams restores a state store from its
// changelog; a transaction that aborts (a rebalance, a dead broker) throws
// its detectors away and they start again from the committed snapshots.
//
// Alerts go to the sinks before the transaction commits: Elasticsearch
// keeps one document per content-derived _id, so a transaction scored
// twice (aborted after its alerts were flushed, or its process killed)
// adds nothing there; a JSON-lines file gets those alerts again, with the
// same _id (at least once).
//
// A broker that does not answer is waited for: requests retry without
// limit, Stats.BrokerDownSince says since when, and the stages log when it
// goes and when it comes back. A session that fails for good is made again
// and resumes from the committed offsets.
package kafka
