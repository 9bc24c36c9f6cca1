// Package elastic writes mlads's alert documents into Elasticsearch and
// installs what the cluster and Kibana need to search them.
//
// # Where documents go
//
//	alerts           data stream logs-mlads.alert-<namespace>     op create, _id = Alert.ID()
//	incidents        index mlads-incident-<namespace>-YYYY.MM      op index, _id = incident ID,
//	                 (month of the incident's first_seen)          version = count (external_gte)
//	sensor health    data stream metrics-mlads.health-<namespace>  op create, one document per
//	                                                               sensor and one per captured interface
//
// Alerts are immutable, so they suit a data stream: `create` with the
// content-derived ID makes a retried write harmless (409 means "already
// stored" and counts as success).
//
// Incidents are rewritten under the same ID whenever their count or
// last_seen moves, and a data stream only takes `create`. They live in
// plain monthly indices instead, chosen by the incident's first_seen, so
// every version of an incident lands in the same index and `index`
// replaces it. The write carries version = count with version_type
// external_gte: counts only grow, so a stale version replayed late from
// the spool, or re-sent after a restart, is refused with 409 (success:
// something at least as new is stored) and never overwrites a newer one.
// Retention of the monthly indices is the same lifecycle policy's delete
// phase without rollover. The alternative, appending every version to a
// data stream and collapsing on read, would make every dashboard and
// count pay for the history.
//
// # Setup
//
// Setup installs two lifecycle policies (hot, then delete after the
// configured age; only the data streams roll over), component templates
// with the ECS and mlads mappings (core types only: keyword, ip, date,
// long, double, boolean, text, flattened for free-form evidence; no
// nested), and index templates above the priority of Elastic's built-in
// logs-*-* and metrics-*-*. Each carries MappingVersion in _meta.
//
// # Nothing lost
//
// Sink implements alert.Sink on esutil.BulkIndexer. Write queues documents
// (blocking when the workers are busy: back-pressure into the pipeline);
// Flush returns only when every document written so far is stored in the
// cluster, refused for good and written to the dead-letter file, or
// written and fsynced to the spool. Per item:
//
//	201, 200          stored
//	409               already stored (create) or a newer version is (incident): success
//	429, 5xx          retried, only the failed items, with capped exponential backoff
//	                  and jitter for at most RetryTimeout, then spooled
//	no response       (refused, reset, timeout) spooled at once
//	401, 403, TLS     spooled, and Flush reports the error (not retryable)
//	other 4xx         (mapping errors) to the dead-letter file with the reason, counted
//
// Failed documents held for retrying are bounded (MaxPendingBytes): past
// the bound, Write settles them at once instead of waiting for Flush.
//
// While the spool holds documents, new ones are appended to it too, so
// the cluster receives them in the order they were written. Every
// ReplayInterval a Flush checks whether the cluster answers and replays
// the spool's segments oldest first, deleting each once all its documents
// are stored. A crash during replay sends a segment again: the IDs and
// versions above make that harmless. The spool is bounded (MaxBytes); when
// full it blocks (Write reports a retryable error, so the daemon does not
// commit its read positions and reads that input again later), or drops
// the newest or oldest documents, counted. A lock file keeps a second
// process (`mlads spool flush` beside the daemon) out of the spool.
//
// # Errors
//
// Every failed request is an *Error naming the cluster (its URL without
// credentials), the operation and the cause; Retryable tells whether the
// same call may succeed later. Passwords and API keys never appear in
// errors or logs: messages are built without them and scrubbed again.
package elastic
