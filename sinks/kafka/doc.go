// Package kafka is the Kafka sink, on franz-go (v1.22.2 or newer: older
// ones can acknowledge an idempotent record that was never written,
// franz-go#1484). Each WAL entry becomes one Kafka record.
//
// # Records
//
//   - Topic: Config.Topic, a name or a text/template over the block's
//     labels ("logs-{{ .job }}"); a label that is not set renders empty.
//     A block whose topic renders empty or invalid (Kafka's rule: 1 to
//     249 of [a-zA-Z0-9._-], not "." or "..") is not produced; see
//     Errors.
//   - Key: Config.Key, an optional template like the topic; no key means
//     franz-go's sticky partitioning. Records with one key go to one
//     partition, in WAL order.
//   - Value: format json (default) {"ts":"<RFC3339Nano UTC>","labels":
//     {...},"line":"..."} (invalid UTF-8 in the line becomes U+FFFD), or
//     raw: the line byte for byte, the labels as record headers.
//   - Timestamp: the entry's time, which Kafka keeps in milliseconds (the
//     json value keeps the nanoseconds).
//
// Topic and key are rendered once per block (the labels are the block's).
//
// # Delivery
//
// Send produces every entry of its batch and returns nil only once every
// record's promise reported success: with acks all (default) the producer
// is idempotent and every in-sync replica has the record; acks leader
// turns idempotency off, as Kafka requires. The pipeline's cursor passes a
// range only after its Send returned nil, so at least once holds across
// kill -9: a batch in flight is produced again after the restart.
//
// The record values are the only copy of the entries outside the WAL; the
// producer holds them (bounded by max_buffered_bytes) until the brokers
// acknowledge them. A record's Context, one per block and derived from the
// sink's context (done only at Close), names its Send and its block of the
// batch; the promise, one per Send, settles it there.
//
// Order: records of one key are written in the order produced. With one
// worker (the default) that is WAL order; with more, batches may
// interleave, and a retried range always arrives after later ones.
//
// # Outages and timeouts
//
// With idempotency on, franz-go never fails a record it may have sent: it
// waits for the brokers however long they are away. Send therefore gives up
// on its own after Config.Timeout (default 30s) and returns a
// *sinks.Retryable (reason timeout): the pipeline files the range for retry
// and the WAL keeps the data. The timed-out records stay in the producer's
// buffer. While any do, a new Send produces nothing: it waits for them (up
// to its own timeout, then reason unacknowledged), so an outage holds at
// most one timed-out batch per worker in memory, and a range is never
// produced again while its first copy may still be written. When the
// records of a timed-out Send are all acknowledged late, its range is
// remembered (the last 64), and the retry of that range returns nil at once
// without producing it twice. A Send waiting like this is the sink's probe:
// it returns as soon as the brokers are back.
//
// Meanwhile the pipeline's breaker opens after three failed sends and its
// readiness reports sink_failing after admin.unready_after; goroutines stay
// flat (franz-go's own, one per broker connection, plus one blocked
// Produce per worker at most) and memory is bounded by max_buffered_bytes.
//
// Close cancels what is buffered and closes the client without waiting for
// the brokers: records not acknowledged stay in the WAL (their ranges are
// unsettled or in the retry queue) for the next start.
//
// # Errors
//
//   - TOPIC_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED,
//     SASL_AUTHENTICATION_FAILED and other authorization errors:
//     *sinks.Unauthorized; the pipeline holds the data, probes at least
//     every 30 s and reports sink_unauthorized, never dead-letters.
//   - MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, INVALID_TOPIC_EXCEPTION,
//     INVALID_RECORD, INVALID_TIMESTAMP and the like: *sinks.Permanent with
//     the Kafka error name as Reason; a topic template that renders an
//     invalid name: reason invalid_topic. The other records of the batch
//     are produced: a partial success, whose Refused names exactly the
//     refused entries (each record's Context names its block; its place in
//     the block's records is its entry), so only they are dead-lettered,
//     and later blocks are never held back.
//   - anything else (NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS,
//     REQUEST_TIMED_OUT, UNKNOWN_TOPIC_OR_PARTITION, network errors):
//     franz-go retries them itself; what reaches a promise, and the
//     timeouts above, are *sinks.Retryable with the Kafka name (or timeout,
//     unacknowledged, connection) as Reason.
//
// Nothing is compared as a string: errors are matched as kerr values.
//
// # Configuration
//
// Config is the YAML entry (see config's doc.go for every key); SinkType
// registers it. Check reports problems with file:line through config.Check
// (brokers host:port, templates parse, format, compression, acks, SASL
// mechanism and password, TLS pairs); CheckFiles, run by logcapturer check,
// also reads the SASL password file (config.SecretFile) and the TLS files
// (sinks.TLSConfig.CheckFiles). The password file is read again at every
// new connection with config.ReadSecret, so a rotated password is picked
// up.
// The client only logs franz-go's errors (as warnings): its per-retry lines
// are dropped.
//
// # Metrics
//
// With a sink=<name> label: logcapturer_kafka_buffered_bytes (what the
// producer holds), logcapturer_kafka_unacknowledged_sends (timed-out Sends
// whose records it still holds), logcapturer_kafka_produce_duration_seconds
// (first record handed over to last acknowledged, per Send),
// logcapturer_kafka_failures_total{reason}. Entries and bytes sent are the
// pipeline's.
//
// # Concurrency
//
// Send is safe for concurrent use (the pipeline's workers); Close is safe
// to call twice. The sink owns no goroutine; franz-go's client owns its
// own and Close stops them.
package kafka
