// Package loki is the Grafana Loki sink: it pushes batches of WAL blocks to
// Loki's push API (/loki/api/v1/push) and classifies every answer for the
// pipeline's retry and dead-letter machinery.
//
// # Streams
//
// An entry's whole label set (its own Labels when not nil, as processing
// stages leave them, else its block's) plus the static Options.Labels make
// its stream. Per label, in this order:
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
// Structured metadata of an entry is its own Metadata (names sanitised as
// label names, "__" names and empty values dropped, values' invalid UTF-8
// replaced) merged with the labels Options.StructuredMetadata moved out of
// its label set; on a name clash the entry's own value wins. It is sorted
// by name.
//
// # Tenants
//
// An entry's tenant is the value of its wal.TenantLabel label
// (__tenant_id__, which Promtail's tenant stage sets, and which is never
// sent as a label), else Options.TenantID, else none. Send makes one push
// per tenant of the batch, in the order the tenants' first streams
// appear, each with its X-Scope-OrgID (none for the empty tenant); a
// tenant id Loki would not accept (more than 150 bytes, a character
// outside a-z A-Z 0-9 ! - _ . * ' ( ), or "." or "..") is not sent: its
// entries are refused as *sinks.Permanent, reason bad_tenant. The batch is
// acknowledged only when every push succeeded. Mixed outcomes:
//
//   - a push fails retryably or is refused credentials: Send returns that
//     error at once, without trying the remaining tenants, and the whole
//     batch is sent again later; the tenants that had succeeded get their
//     entries again, which Loki drops as exact duplicates (see
//     Redelivery). A tenant refused permanently in the meantime is only
//     retried with the rest, as long as another tenant fails retryably:
//     the pipeline's retry limit bounds that, and once the others succeed
//     its refusal is filed as below.
//   - otherwise, when some pushes are refused permanently (400 and the
//     like): *sinks.Permanent whose Refused names exactly those tenants'
//     refused entries (the entries Loki's 400 names, matched among that
//     tenant's entries only, else every entry of the tenant), since every
//     other entry was delivered; when that is the whole batch, Refused is
//     nil.
//
// The selector is {a="x", b="y"}: names sorted, values quoted as Go quotes
// strings (which LogQL's lexer unquotes), so quotes, backslashes, newlines
// and other control characters are escaped. Blocks with the same selector in
// one batch share a stream (per tenant). Entries of a stream are sorted by time, stably
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
//     when Loki says "total ignored: N out of M" (the ingester's answer
//     for one stream): the other entries were written, so the batch must
//     not be sent again; PushError.Ignored and Total keep N and M.
//
// Matching Loki's messages is the only way to learn the reason, as Loki
// has no error codes; the reason only labels metrics and logs, the class
// comes from the status code alone.
//
// # Partial rejections
//
// Loki's distributor checks every entry, stores the valid ones, and answers
// 400 listing the others (pkg/distributor/distributor.go, pushWithResolver):
// the distinct messages joined by "; ", each "N errors like: " (Loki's
// util.GroupedErrors), so every refused entry is named by its kind and its
// time to the second. Send reads the whole 400 body (up to 32 MiB; only the
// first 64 KiB are kept as the message) and, when every message is one of
// the per-entry refusals below, picks the refused entries out of the batch:
// *sinks.Permanent.Refused lists them, Rejected and PushError.Refused count
// them, and the pipeline files only them, counting the rest as sent.
//
//   - too old ("has timestamp too old: T, oldest acceptable timestamp is:
//     B"): refused iff time < now - reject_old_samples_max_age, which the
//     message states truncated to the second, B. Entries before B are
//     refused, entries from B+1s are not; of the entries within B's second
//     the oldest are, as many as the counts leave.
//   - too new ("has timestamp too new: T"): refused iff time > now +
//     creation_grace_period, which is not stated. Entries from the second
//     after the earliest T named are refused, entries before it are not;
//     within it, the newest are, as many as the counts leave. No grace
//     period is assumed (Loki's default is 10m, but it is set per tenant).
//   - line too long ("max entry size 'L' bytes exceeded ... with length
//     'N' bytes"): of the entries not refused for their time (Loki checks
//     time first), those longer than L.
//
// The picked entries' seconds and lengths must then equal the messages'
// exactly, and a cut must not separate entries of the same time; otherwise,
// or when the body holds any other message (a per-stream error such as a
// label too long, which refuses a whole stream as one error; structured
// metadata), the error names no entries and the whole batch is refused, as
// before. A body in Loki's per-entry format that fails to match is counted
// in logcapturer_sink_loki_unmatched_refusals_total and logged once in the
// sink's life. The stream a message names is Loki's (with the service_name
// it discovered) and is not compared: every bound holds for the whole push.
// With the JSON encoding, a line holding invalid UTF-8 is longer as sent
// (U+FFFD), so a line-too-long refusal of it does not match.
//
// # Redelivery
//
// The pipeline delivers at least once: after a crash, a batch that was in
// flight is sent again. This sink sends the WAL's timestamps, never the
// time of sending, and Loki drops an entry identical (stream, timestamp,
// line) to one it holds, but only while the stream is not sharded: a busy
// stream that Loki split into shards (__stream_shard__) stores a re-sent
// entry again (measured on Loki main: a re-push of 100 entries after a
// 50,000-line push was stored twice). A re-sent batch can so be a
// duplicate in Loki; the pipeline keeps the window small (a clean stop
// drains in-flight sends; a crash re-sends what was sent after the last
// committed cursor).
//
// # Lifecycle and concurrency
//
// New checks the options, loads TLS files (sinks.TLSConfig.Client) and
// checks that the password or token file is readable (config.ReadSecret,
// which Send calls again for every request), and registers the metrics; Send
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
// the HTTP status or "error"; the series of 204 and "error" exist from the
// start, the others from their first answer),
// logcapturer_sink_loki_failures_total{reason} (every reason from the start),
// logcapturer_sink_loki_unmatched_refusals_total (partial 400s that could
// not be matched to the batch entry by entry).
// Entry and byte counts of acknowledged batches are the pipeline's.
package loki
