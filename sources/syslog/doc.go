// Package syslog is the syslog source (type: syslog): a listener that
// receives RFC 5424 and RFC 3164 messages over TCP (RFC 6587 framing),
// TCP with TLS, UDP (RFC 5426), and unix stream and datagram sockets, and
// hands them to the WAL in blocks like every source. It is also the gelf
// source (type: gelf, GELFConfig): GELF messages over UDP, on the same
// datagram reader, batcher and backpressure (see GELF below).
//
// # Options
//
// Config holds the type's keys, named after Promtail's syslog scrape
// config: listen_address, listen_protocol (tcp, udp, and ours: unix and
// unixgram, whose listen_address is a socket path), syslog_format
// (rfc5424, rfc3164, auto: per message, RFC 5424 when a version follows
// the PRI), idle_timeout (120s), label_structured_data,
// use_incoming_timestamp, use_rfc5424_message, max_message_length (8KiB)
// and tls_config (cert_file, key_file, ca_file, and ours: client_auth),
// plus max_message_policy (truncate or drop), max_connections (1000) and
// location (the zone of RFC 3164 times). Config.Check reports bad values
// at their keys; Validate, which New runs, does the same for options built
// in code.
//
// # Framing
//
// A stream (tcp, unix) is split into messages by this package, not by
// go-syslog's stream parsers, which stop a connection at an oversized frame
// and cannot cut one: per RFC 6587, a frame that starts with a digit is
// octet counted ("LEN SP MSG"), any other ends at LF (a CR before it is
// dropped); LF and CR between frames are skipped, so both framings may be
// mixed on one connection. A message longer than max_message_length is cut
// to it and parsed (truncate, counted in
// logcapturer_source_truncated_entries_total) or dropped (drop, counted in
// dropped_entries_total{reason="too_long"}); its remaining bytes are
// discarded as they arrive, never buffered, and the connection goes on. At
// the end of a stream an unterminated LF-framed message is a message.
//
// A stream whose bytes are not frames (a count with a non-digit, a zero or
// leading-zero count, a count of more than 9 digits, a stream ended inside
// an octet-counted frame) is a framing error: that connection is closed
// and counted (errors_total{reason="framing"}); the messages before the bad
// frame are kept, other connections never notice. A datagram is one
// message (a trailing LF or CRLF dropped).
//
// Each message is parsed with go-syslog v4's rfc5424, rfc3164 (with
// RFC 3339 times and second fractions accepted) or auto machine. A message
// that does not parse is not lost: it is shipped as received with the
// label parse_error="true" and counted (errors_total{reason="parse"}), and
// the connection goes on. Nothing a client sends can panic the process
// (the parse is guarded too; FuzzStream fuzzes framing and parsing).
//
// # Entries
//
//   - Line: the message's MSG (a leading UTF-8 BOM dropped), as Promtail
//     does; use_rfc5424_message keeps the whole message as received, header
//     and structured data included (for RFC 3164 messages too).
//   - Time: the receive time (taken once per read of the connection; the
//     messages of one read each 1 ns after the one before, as Loki keeps
//     one of two entries of a stream with the same time and line), or with
//     use_incoming_timestamp the message's own time with its zone. An
//     RFC 3164 time has no zone and no year: it is read in location
//     (default: the host's zone) and given the receive year, or the one
//     before when that would put it more than a week in the future (a
//     December 31 message received on January 1). A message without a
//     time keeps the receive time. Always stored as UTC.
//   - Labels: the block's labels are the source's configured labels; each
//     entry's label set (wal.Entry.Labels) adds facility (keyword: kern,
//     user, ..., local7), severity (emergency ... debug), hostname and
//     app_name (RFC 3164: the tag), each only when the message has it, as
//     Promtail's __syslog_message_* labels mapped by the usual relabel
//     rules. Configured labels may not use these names (New refuses them).
//     Consecutive messages with the same labels share one label slice.
//   - Structured data (RFC 5424): each parameter is named
//     sd_<SD-ID>_<PARAM-NAME>, every byte outside [A-Za-z0-9_] made '_'
//     (exampleSDID@32473 iut="3" is sd_exampleSDID_32473_iut="3"). With
//     label_structured_data they are labels; without, the entry's metadata
//     (wal.Entry.Metadata, sorted): the stages read them from there, and
//     a sink that has structured metadata (Loki) may send them as such.
//   - promtail_labels (Config.PromtailLabels; what a converted Promtail
//     config sets): none of the labels above nor the structured data
//     metadata, as Promtail's syslog target; relabel_configs make labels
//     from the __syslog_* labels below.
//
// # Stages
//
// With pipeline_stages (or a relabel hook) the batcher runs every entry of
// each chunk through the source's sources.StageRunner (one stream: the
// configured labels) and builds its blocks from what the stages hand on;
// the batching and the backpressure above are unchanged (the batcher still
// takes no chunk while Emit blocks). A syslog source has no position, so
// what the stages hold (a multiline block under way) is ticked every
// 250ms while they hold it (max_wait_time) and handed on at Close. Only
// when a relabel hook is set, each entry also has Promtail's internal
// labels, removed after the hook: __syslog_connection_ip_address and
// __syslog_connection_hostname (a reverse lookup once per TCP connection,
// bounded by a second, its names joined with "," as Promtail joins them;
// "" for UDP, never looked up per datagram),
// __syslog_message_{severity,facility,hostname,app_name,proc_id,msg_id}
// and, with label_structured_data, __syslog_message_sd_<id>_<param> (an
// "@" in the id as "_", as Promtail names them).
//
// # Concurrency, batching and backpressure
//
// A stream source has one goroutine accepting connections and one
// goroutine per connection (bounded by max_connections: one more is
// accepted and closed at once, counted as errors_total{reason=
// "max_connections"}); a datagram source has one goroutine reading the
// socket. Each of them frames and parses what it read into a chunk (lines
// copied into one arena) and hands the chunk to the batcher over a
// channel before it reads again, so it never holds parsed messages while
// waiting for the network. The batcher, one goroutine per source and the
// only one that calls the Emitter, gathers chunks of every connection into
// one block (64KiB of lines or 4096 entries) and hands it over when it is
// full or 50ms after its first entry came: one WAL record for many
// messages under load, little latency when quiet. Memory is bounded:
// per connection a read buffer of 8KiB (doubling up to 64KiB while reads
// fill it, growing to max_message_length while a longer frame arrives, and
// shrinking back after) and one chunk (up to 32KiB of lines); a channel of
// 4 chunks; one block. So 1,000 busy connections may hold about 100MiB:
// lower max_connections where memory is tight.
//
// While the Emitter blocks (the WAL is full under full_policy: block) the
// batcher takes no chunk, so the connections stop reading: TCP's flow
// control slows the senders, and nothing is read and then dropped. A
// datagram source cannot slow its senders: it offers its chunk without
// waiting and, while the batcher cannot take it and the chunk is full,
// counts what arrives as dropped_entries_total{reason="backpressure"}.
//
// A syslog source has no position to re-read from: Positions of its blocks
// are empty. What the Emitter accepted is in the WAL with the guarantees
// of every block; what a client sent and the source had not handed over
// when the process died is lost (as with every syslog receiver: the
// protocol has no acknowledgement).
//
// # Lifecycle
//
// New validates, loads the TLS files and binds the listener (an address in
// use is an error of New). Start starts the goroutines. Close (or the end
// of Start's context) closes the listener and every connection, waits for
// their goroutines, lets the batcher hand over what it holds with a fresh
// context bounded by 5s (what it cannot is counted as
// dropped_entries_total{reason="shutdown"}), and waits for it. Close is
// idempotent and unregisters the metrics. A unix socket file is removed at
// Close, and a stale one (left by a killed process) at New.
//
// # Metrics and status
//
// With a source=<name> label: logcapturer_source_entries_total,
// _blocks_total, _received_bytes_total, _truncated_entries_total,
// _connections (open), _connections_total (accepted), _errors_total by
// reason (framing, parse, idle_timeout: a connection closed by
// idle_timeout in the middle of a frame, read, tls, accept,
// max_connections, emit) and _dropped_entries_total by reason (too_long,
// backpressure, shutdown). A connection closed because it was idle between
// frames is normal and only logged at debug level. The first error of each
// reason is logged at Warn, later ones at Debug: a misbehaving client
// writes no line per connection. Connections lists the open connections
// (remote address, since, entries, bytes) for the status view.
//
// # GELF
//
// A gelf source (GELFConfig: listen_address, default :12201;
// use_incoming_timestamp; max_message_length, default 1MiB, of a message
// uncompressed; promtail_labels) is a udp listener whose datagrams the
// gelfConverter reads (gelf.go) instead of the syslog parser, on the
// reader goroutine: a datagram that starts with 0x1e 0x0f is a chunk (an
// 8-byte message ID, its sequence number, the count, at most 128), kept
// (copied) until its message is whole, whatever the order, even while the
// batcher cannot take entries (only a whole message needs room: else it is
// dropped_entries_total{reason="backpressure"}). A message whose first
// chunk came more than 5s ago is given up at the next datagram or read
// deadline (the reader wakes every 50ms while chunks are held), as is the
// oldest when 1,024 messages are pending or their chunks and slots (32
// bytes each) pass 16MiB, and one whose chunk count changes: each is
// counted as dropped_entries_total{reason="incomplete"} and warned about
// once. The order list tells a message ID used again from its earlier
// use, and is compacted when its stale entries outnumber the pending
// messages. A late repeat of a chunk of a message already whole starts a
// new message, given up 5s later. A message starting with gzip's or
// zlib's magic is inflated, at most max_message_length (a longer one is
// dropped_entries_total{reason="too_long"}); a stream that breaks after
// some output (a bad checksum) gives that output; anything else is plain.
// The first JSON value is read as Promtail's gelf target (go-gelf v2)
// reads it, what follows ignored: version, host, short_message,
// full_message, timestamp, level (a float; out of int32's range clamped
// to it), facility of their JSON types, additional fields (a leading "_")
// kept, others ignored; a JSON null is no message (counted as a parse
// error, as go-gelf skips it). The line is written back as go-gelf writes
// it (encoding/json of the standard fields, then the additional ones
// sorted by name), HTML characters escaped: up to six times
// max_message_length for a message of "<". Labels:
// host, level (the syslog severity name of a level field 0..7) and
// facility; with promtail_labels none, and a relabel hook sees
// __gelf_message_{host,level,version,facility} (a missing level is
// "emergency", as in Promtail). Time: the receive time, or with
// use_incoming_timestamp the message's, rounded to the microsecond. A
// message that inflates but is not such an object is shipped as it is
// with parse_error="true" and counted (errors_total{reason="parse"}); a
// bad chunk or a message that does not inflate is counted and dropped.
// FuzzGELF fuzzes the chunks, inflation and decoding.
//
// # Caveats
//
//   - UDP and unixgram lose what the kernel's socket buffer cannot hold
//     while the source is behind; only what the source itself drops is
//     counted.
//   - A datagram longer than 64KiB (unixgram only) is cut by the read
//     without being counted as truncated.
//   - tls_config is the push receivers' receiver.TLSConfig (one server
//     side TLS helper for every listening source).
package syslog
