// Package loki is the Grafana Loki sink: it pushes batches of WAL blocks to
// Loki's push API (/loki/api/v1/push) and classifies every answer for the
// pipeline's retry and dead-letter machinery.
//
// # Streams
//
// A block's labels plus the static Options.Labels make its stream. Per
// label, in this order:
//
//   - the name is sanitised (SanitizeName): every rune outside
//     [a-zA-Z0-9_] becomes '_', a leading digit gets a '_' prefix; a name
//     that is then empty or starts with "__" is not sent;
//   - the value has invalid UTF-8 replaced by U+FFFD (SanitizeValue); an
//     empty value means the label is absent (as in Prometheus);
//   - on a name clash, a block label whose name was already valid wins
//     over a sanitised one, and both win over a static label;
//   - names listed in Options.StructuredMetadata leave the stream and are
//     sent as every entry's structured metadata instead;
//   - a stream left with no label gets source=<block source>, since Loki
//     rejects a stream without labels.
//
// The selector is {a="x", b="y"}: names sorted, values quoted as Go quotes
// strings (which LogQL's lexer unquotes), so quotes, backslashes, newlines
// and other control characters are escaped. Blocks with the same selector in
// one batch share a stream. Entries of a stream are sorted by time, stably
// (equal times keep their WAL order).
//
// # Wire format
//
// Protobuf (default): logproto.PushRequest, hand-encoded with protowire
// (field numbers from Loki's pkg/push/push.proto; Loki's Go module is not
// imported outside tests, it pulls gRPC in), snappy block format, no
// Content-Encoding, Content-Type application/x-protobuf. Timestamps are
// google.protobuf.Timestamp of the entry's Unix ns exactly; the local time
// zone plays no part. Lines are sent byte for byte.
//
// JSON: {"streams":[{"stream":{...},"values":[["<ns>","line",{metadata}]]}]},
// Content-Type application/json, uncompressed; invalid UTF-8 in lines
// becomes U+FFFD there, as JSON demands.
//
// # Answers
//
//   - 2xx: delivered.
//   - 429, 5xx, 408, timeouts and connection errors: *sinks.Retryable, with
//     After from Retry-After (delay-seconds or an HTTP date).
//   - any other 4xx: *sinks.Permanent; Err is a *PushError with Loki's
//     message; Reason is a short word matched from the message: too_old
//     (too old, too far behind), too_new, out_of_order, line_too_long,
//     bad_labels, structured_metadata, too_large (413), unauthorized
//     (401, 403), not_found (404), rejected (anything else), or partial
//     when Loki says "total ignored: N out of M": the other entries were
//     written, so the batch must not be sent again; PushError.Ignored and
//     Total keep N and M.
//
// Matching Loki's messages is the only way to learn the reason, as Loki
// has no error codes; the reason only labels metrics and logs, the class
// comes from the status code alone.
//
// # Redelivery
//
// The pipeline delivers at least once: after a crash, a batch that was in
// flight is sent again. Loki drops an entry identical (stream, timestamp,
// line) to one it holds, so redelivery leaves no duplicates, because this
// sink sends the WAL's timestamps, never the time of sending.
//
// # Lifecycle and concurrency
//
// New checks the options, loads TLS files and registers the metrics; Send
// is safe for concurrent use (each call takes an Encoder from the sink's
// free list, so buffers are reused and nothing is allocated per entry once
// they have grown); Close unregisters the metrics and closes idle connections, and is
// safe to call twice. The Sink owns no goroutines beyond net/http's
// connections.
//
// # Metrics
//
// With a sink=<name> label: logcapturer_sink_encoded_bytes_total (request
// bodies as sent), logcapturer_sink_request_duration_seconds{code} (code is
// the HTTP status or "error"), logcapturer_sink_loki_failures_total{reason}.
// Entry and byte counts of acknowledged batches are the pipeline's.
package loki
