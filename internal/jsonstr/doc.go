// Package jsonstr writes and reads JSON strings. AppendUnescaped reads
// one: escapes decoded and every other byte kept, as json-iterator
// (Promtail) reads them; the json stage and the Docker json-file decoder
// use it. The rest writes them: quotes, backslashes and control
// characters escaped (\n, \r, \t, else \u00XX), invalid UTF-8 as the
// escape \ufffd, everything else as is. The OTLP source (JSON bodies it
// builds from structured log bodies), the journald source (json: true
// lines) and the sinks that send JSON (kafka, http, loki's JSON encoding,
// otlp's JSON encoding) write their strings with it.
//
// It looks for bytes to escape eight at a time and copies the runs between
// them at once; it allocates nothing when dst has room. It has no state.
package jsonstr
