// Package lokipush is the loki_push source type: an HTTP(S) listener that
// speaks Loki's push API, so Promtail, Alloy, Fluent Bit's Loki output,
// Docker's Loki logging driver or any program can push to the local
// logcapturer, which then ships durably. It is built on sources/receiver,
// which owns listening, credentials, limits and answering only once the
// pushed entries are fsynced; this package decodes bodies into WAL
// blocks.
//
// # Endpoints
//
//   - POST /loki/api/v1/push: a PushRequest as protobuf in a snappy block
//     (Content-Type application/x-protobuf, or anything but JSON, as Loki
//     reads it) or as JSON (Content-Type application/json:
//     {"streams":[{"stream":{labels},"values":[["<unix ns>","line"],
//     ["<unix ns>","line",{structured metadata}]]}]}); either may also
//     carry Content-Encoding gzip, deflate or snappy. 204 once every entry
//     is durable (see the receiver package for 401, 413, 415, 429, 503).
//   - GET /ready: 200 "ready" (no credentials asked).
//
// The protobuf body is decoded with protowire by field number (Loki's
// push.proto: streams 1; a stream's labels 1, entries 2; an entry's
// timestamp 1, line 2, structured metadata 3 of name 1, value 2): Loki's
// own Go types pull gRPC into the binary and are used only in tests.
// Unknown fields are skipped.
//
// # Entries
//
// As Promtail's loki_push_api target makes them: a stream's labels are
// parsed ({name="value", ...}, Go-quoted values) and checked as Loki
// does (names [a-zA-Z_][a-zA-Z0-9_]*, no name twice, UTF-8 values); labels
// starting with "__" are dropped; the source's configured labels are set
// over the pushed ones; the X-Scope-OrgID header, when sent, becomes the
// entries' tenant, the label __tenant_id__ (wal.TenantLabel) that the loki
// sink sends as X-Scope-OrgID and never as a label (not with
// ignore_tenant_header, as Promtail's push target, whose pushes go out
// under its client's tenant). Structured metadata
// is kept per entry (sorted by name; of a name given twice the last
// value), and so is the line, byte for byte. The entry's time is the
// pushed timestamp with use_incoming_timestamp, else the time the push
// was received, each entry 1 ns after the one before (Loki keeps one of two
// entries of a stream with the same time and line, and Promtail stamps each
// entry as it takes it), in UTC nanoseconds.
//
// A stream whose labels are refused (or that has none left) makes the
// answer 400 naming the label; the push's other streams are kept and made
// durable first, as Loki and Promtail do (a partial success: clients do
// not resend a 400). A body that is not a push (bad snappy, protobuf or
// JSON, a timestamp out of range, an invalid tenant) is 400 and nothing
// of it is kept.
//
// # Blocks
//
// One push becomes one WAL block, cut into another each 1 MiB of lines:
// the block's labels are those of its first entry's stream, entries of
// other streams carry their whole label set (wal.Entry.Labels, stored as
// a diff). A block has no position: the receiver gives each record a
// completion instead.
//
// # Stages
//
// pipeline_stages run on every pushed entry before it is emitted
// (receiver.Options.Stages, a sources.StageRunner): what enters the WAL,
// and what the 204 promises, is what the stages hand on. A push has no
// position to read again from, so the stages are flushed at the end of
// each push: every entry of a push is in its blocks (or dropped) before
// it is answered, a multiline block never spans two pushes and
// max_wait_time has nothing to wait for; cri partial lines are joined
// within a push only. Pushes take turns in the stages. With a relabel
// hook (sources.Deps.Relabel) the pushed labels starting with "__" are
// kept for the hook to see, as Promtail's push target relabels them, and
// removed after it; without one they are dropped at once.
//
// # Status and metrics
//
// Source.Push (pipeline.PushReporter) gives the sources view its address,
// bytes in flight, last push and clients (admin /api/v1/sources,
// logcapturer sources); the metrics are the receiver's
// (logcapturer_receiver_*, labelled source=NAME).
package lokipush
