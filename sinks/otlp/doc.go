// Package otlp is the OpenTelemetry sink (type: otlp): it exports batches
// of WAL blocks as OTLP/HTTP logs (ExportLogsServiceRequest, POST to the
// configured URL, e.g. http://collector:4318/v1/logs or Loki's
// http://loki:3100/otlp/v1/logs) and classifies every answer for the
// pipeline's retry and dead-letter machinery.
//
// # Mapping
//
// Each entry becomes one LogRecord. The entry's label set is its own
// Labels when it has them (a processing stage changed them), else its
// block's. Labels whose name starts with "__" are never sent; the tenant
// (wal.TenantLabel) is one of them: set a fixed tenant with
// headers: {X-Scope-OrgID: ...}.
//
//   - time_unix_nano is the entry's time (UTC Unix ns, as the source took
//     or parsed it).
//   - observed_time_unix_nano is the entry's time too. The WAL does not
//     keep the moment a line was read apart from its time; for every line
//     whose time was not parsed from its text that time is the read time,
//     and using it (rather than the time of sending) makes a re-sent
//     batch byte-identical, so a receiver that deduplicates sees the same
//     record.
//   - body is the line as string_value, byte for byte; a line that is not
//     valid UTF-8 is sent as bytes_value (protobuf strings must be UTF-8).
//   - severity_text is the value of the label SeverityLabel ("level"),
//     else of the structured metadata key of that name, as it is;
//     severity_number maps it, without regard to case, by the
//     OpenTelemetry severity table: trace/trc 1, debug/dbg 5,
//     info/inf/information/informational 9, notice 10, warn/warning 13,
//     error/err 17, fatal/panic 21, crit/critical 22, alert 23,
//     emerg/emergency 24; any other text keeps its severity_text with
//     number 0 (unspecified). SeverityLabel "-" turns this off.
//   - attributes: first the labels named in Attributes (attribute name ->
//     comma-separated labels, the first the entry has non-empty wins;
//     default log.file.path from filename), then every structured
//     metadata pair (wal.Entry.Metadata) under its own name. A metadata key
//     that a label attribute already has is dropped and counted in
//     dropped_attributes_count; metadata names starting with "__" are not
//     sent. Values that are not UTF-8 are bytes_value.
//   - trace_id and span_id come from the label TraceIDLabel ("trace_id")
//     and SpanIDLabel ("span_id"), else the metadata key of that name,
//     when the value is 32 (16) hex digits, either case, not all zero. A
//     metadata pair used as an id, or as the severity, is not repeated as
//     an attribute; an invalid one stays an attribute.
//
// Resource attributes come from the labels named in ResourceAttributes
// (default service.name from service_name, else job; host.name from host,
// else hostname). A resource that gets no service.name has the block's
// source name as service.name: OTLP backends file records without one
// under "unknown_service". Records with equal resources share one
// ResourceLogs (in the order first seen; records in WAL order), which
// holds one ScopeLogs with the scope named "logcapturer".
//
// Loki's OTLP endpoint turns only a few resource attributes into stream
// labels (service.name, service.namespace, service.instance.id,
// deployment.environment, k8s.namespace.name, k8s.pod.name,
// container.name, cloud.region, with dots as underscores) and keeps all
// else, host.name and log attributes included, as structured metadata.
// The loki sink is the better choice when Loki is the only destination:
// it keeps every label a label.
//
// # Wire format
//
// Protobuf (default): hand-encoded with protowire straight from the
// blocks, as the loki sink encodes Loki's push request; the field numbers
// are opentelemetry-proto's. The official generated types
// (go.opentelemetry.io/proto/slim/otlp) are used only by the tests, which
// decode every request with them (otlptest): building the request as those
// types and marshalling it cost about 8 times the CPU of hand-encoding and
// 40,000 allocations per MiB of 200-byte lines (BenchmarkEncode). The
// log attributes a label set gives its entries are encoded once per batch
// and copied into each record. The body is byte for byte what the official
// types marshal (deterministically) from its decoding: fields in
// field-number order (TestProtobufIsCanonical).
// Content-Type application/x-protobuf.
//
// JSON: OTLP/JSON (lowerCamelCase names, 64-bit integers as strings, enums
// as numbers, trace and span ids as hex, bytes_value as base64),
// Content-Type application/json.
//
// Compression gzip (default, level 1 of github.com/klauspost/compress,
// Content-Encoding: gzip; each encoder keeps its writer and buffers) or
// none. At level 1 gzip is about three quarters of the sink's own CPU
// (BenchmarkDrain, -cpuprofile); the encoding is most of the rest.
//
// # Answers
//
// As the OTLP/HTTP specification sorts them:
//
//   - 2xx: delivered, unless the ExportLogsServiceResponse (read in the
//     answer's Content-Type) has partial_success.rejected_log_records N >
//     0: then Send returns a *sinks.Permanent with Reason "partial" and
//     Rejected = N (at most the records sent), and no Refused: the
//     receiver says how many records it rejected, not which. The pipeline
//     dead-letters the batch's range as one dead letter counting N
//     entries (reason partial, the receiver's error_message as its last
//     error): the DLQ never counts more than the receiver rejected, but
//     the range it names holds the whole batch, so a replay re-sends every
//     record of it, the accepted ones included. A partial_success with an
//     error_message and no rejected records is a warning: delivered,
//     counted and logged once. A 2xx body that does not decode, or comes
//     in a Content-Type other than protobuf or JSON (a proxy's page), counts
//     as delivered (logged once).
//   - 400 and any other 4xx but those below: *sinks.Permanent (reason
//     bad_request, not_found, too_large or rejected), with the message of
//     the google.rpc.Status in the body.
//   - 401, 403: *sinks.Unauthorized: held, never dead-lettered, probed
//     until the credentials work.
//   - 429, 502, 503, 504: *sinks.Retryable with After from Retry-After
//     (delay-seconds or an HTTP date).
//   - other 5xx, 408, timeouts and connection errors: *sinks.Retryable.
//     (The specification calls 500 and 408 not retryable; the receiver
//     failed or gave up waiting, not the data, so the batch is retried as
//     for every other sink.)
//
// # Metrics
//
// With a sink=<name> label: logcapturer_sink_encoded_bytes_total and
// logcapturer_sink_request_duration_seconds{code} (shared with the loki
// sink), logcapturer_sink_otlp_failures_total{reason},
// logcapturer_sink_otlp_rejected_records_total (partial successes) and
// logcapturer_sink_otlp_partial_warnings_total.
//
// # Concurrency and lifecycle
//
// New opens the sink without contacting the receiver; Send is safe for
// concurrent use (the pipeline's workers), each call with an encoder from a
// free list; Close is idempotent. No goroutine is started.
package otlp
