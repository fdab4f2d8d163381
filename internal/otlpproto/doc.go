// Package otlpproto holds the protobuf field numbers of the OTLP logs
// messages (opentelemetry-proto: collector/logs/v1, logs/v1, common/v1,
// resource/v1) that logcapturer writes (sinks/otlp) and reads
// (sources/otlp), so that both sides name one definition. It has no code
// and no state. Every number is below 16, so a field's tag is one byte.
//
// Invariant: a number here is the one in opentelemetry-proto; the sink's
// encoder is tested by decoding with the official generated types, and the
// receiver by the official exporter, so a wrong number fails both.
package otlpproto
