// Package otlptest is an in-process OTLP/HTTP logs receiver for tests. It
// decodes every request with the official OTLP types
// (go.opentelemetry.io/proto/slim/otlp): protobuf with proto.Unmarshal,
// OTLP/JSON with protojson (trace and span ids, hex in OTLP/JSON, are
// decoded as hex), after gzip when Content-Encoding says so. It answers
// with scripted replies, partial successes included. Only tests import it:
// the sink's binary never links the generated types.
package otlptest
