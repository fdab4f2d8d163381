// Package receivertest is what the benchmarks of the push sources built
// on sources/receiver (loki_push, otlp) share: a load of concurrent HTTP
// clients posting one body, and the figures it reports. It imports none
// of logcapturer's packages; each benchmark builds its own pipeline and
// source and hands the load their URL.
package receivertest
