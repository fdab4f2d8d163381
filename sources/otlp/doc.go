// Package otlp is the OpenTelemetry logs receiver (source type: otlp): an
// OTLP/HTTP endpoint, POST /v1/logs, whose 200 means "on disk". It is
// built on the shared push listener (sources/receiver), which does the
// listening (default 127.0.0.1:4318), TLS, credentials (bearer token or
// basic auth), body limits and decompression (gzip, deflate), the bound on
// bytes in flight, and answers only once every record of the request is
// durable; this package decodes requests into WAL blocks and answers in
// OTLP's terms.
//
// # Requests and answers
//
// The body is an ExportLogsServiceRequest in protobuf
// (Content-Type application/x-protobuf) or OTLP/JSON (application/json);
// any other Content-Type is 415. Protobuf is decoded with protowire, by
// hand: no generated type and no gRPC is linked into the program (the
// tests use go.opentelemetry.io/proto/slim/otlp to build requests and the
// official Go exporter to send them). Fields may come in any order and
// repeat (a repeated message merges); unknown fields are skipped; strings
// that are not UTF-8 are kept as bytes. OTLP/JSON is transcoded to the
// same protobuf first, so both map alike: lowerCamelCase field names (the
// original snake_case ones are accepted too), 64-bit integers as strings
// or numbers, enums as integers or names, trace and span ids as hex,
// bytes as base64, unknown fields ignored, null as absent.
//
// Answers are in the request's encoding:
//
//   - 200 with an empty ExportLogsServiceResponse (no partial_success:
//     every record was taken), sent only after the fsync covering the
//     request's last block returned (wal sync none: once appended).
//   - 400 for a body that does not decode, with where and why
//     ("resource_logs[0]: scope_logs[1]: log_records[7]: trace_id: 3
//     bytes, want 16"); nothing of the request reaches the WAL. Also for
//     a trace id other than 16 bytes or a span id other than 8 (all-zero
//     or empty ids are no id), and for values nested more than 64 deep.
//   - 401 without the configured credentials; 413 over max_request_bytes
//     (as sent or decompressed); 415 for another Content-Type; 429 with
//     Retry-After while the WAL is full under full_policy block or
//     max_inflight_bytes are waiting to be durable; 503 with Retry-After
//     when the records could not be made durable (the exporter sends them
//     again; records that did become durable are then in the WAL twice).
//
// Every refusal carries a google.rpc.Status (code: INVALID_ARGUMENT,
// UNAUTHENTICATED, RESOURCE_EXHAUSTED, UNAVAILABLE..., message: the
// reason), protobuf or JSON ({"code":3,"message":"..."}) as the request.
//
// # Mapping
//
// Each LogRecord becomes one entry:
//
//   - Time: time_unix_nano, else observed_time_unix_nano, else the time
//     the request was received, each such record 1 ns after the one
//     before (Loki keeps one of two entries of a stream with the same
//     time and line); UTC. (A value past 2262 counts as absent.)
//   - Line: the body as text: a string as it is, bytes as they are (so a
//     line that is not UTF-8 survives), a bool, int or double as its text
//     (NaN, Infinity, -Infinity), a key/value list as a JSON object and an
//     array as a JSON array (values as JSON: strings, numbers, booleans,
//     bytes as base64 strings, no value as null), no body as "".
//   - Labels: the source's configured labels, then, for each resource
//     attribute named in resource_attributes (default service.name ->
//     service_name), that label with the attribute's text (a resource
//     attribute wins over a configured label of the same name); then the
//     severity as the label severity_label (default level): the record's
//     severity_text, else the short name of its severity_number's range
//     (trace, debug, info, warn, error, fatal). With severity_label "-"
//     the severity is the structured metadata key "level" instead.
//   - Structured metadata: the resource's other attributes, the scope's
//     name and version as otel.scope.name and otel.scope.version (the
//     OpenTelemetry names for them outside OTLP), the scope's
//     attributes, the record's attributes, event_name as event.name, the
//     ids as trace_id and span_id (lower-case hex), and severity_number
//     as severity_number when the otlp sink would not derive that number
//     back from the level (an unknown text, or a number that is not its
//     range's first). Values are text as for the body. Of several with
//     one name the most specific wins: record over scope over resource;
//     an attribute with an empty key is dropped.
//   - Not kept: flags, dropped_attributes_count, schema URLs, and the
//     observed time of a record that has a time of its own.
//
// So the otlp sink, configured with the same resource attributes, sends
// the records on as they came: times, severity, body (bytes included),
// attributes (as text) and ids identical; other resource attributes and
// the scope arrive as log attributes (the round-trip test,
// cmd/logcapturer TestOTLPRoundTrip).
//
// # Blocks
//
// A request becomes blocks of about 64 KiB of lines, in request order,
// with no position (a push has nothing to read again from): the block's
// labels are its first entry's, entries with other labels (another
// resource, another level) carry their own set. Encoded blocks are built
// while decoding, but emitted only when the whole request decoded.
//
// # Metrics and status
//
// The shared listener's: logcapturer_receiver_requests_total{code},
// _entries_total, _line_bytes_total, _received_bytes_total,
// _refused_total{reason}, _durable_seconds (a histogram: p99 time to
// durable), _inflight_bytes, all with source=NAME; and, in the sources
// view (Push), the address, bytes in flight, last export and recent
// clients.
//
// # Concurrency and lifecycle
//
// New, then Start (binds the address; an error if taken), Close
// (idempotent; lets requests in progress finish, then waits for every
// goroutine). Requests are decoded on the HTTP server's goroutines, each
// with a decoder from a pool; nothing is started per request.
//
// # Caveats
//
//   - Per-entry structured metadata repeats the resource's and scope's
//     attributes for every record: the WAL keeps metadata per entry. A
//     resource attribute mapped to a label costs nothing per entry.
//   - pipeline_stages run on every record of a request before it is
//     emitted (receiver.Options.Stages), and are flushed at the end of the
//     request: the 200 covers every entry the stages kept, and a
//     multiline block (or cri partial line) is joined within one request
//     only, never across two. Requests take turns in the stages. The
//     labels the stages see are the mapped ones (resource attributes,
//     severity); the attributes are structured metadata.
package otlp
