// Package sinks delivers batches of WAL entries to destinations: local
// files, standard output and HTTP here; Loki (sinks/loki) and Kafka
// (sinks/kafka) build on the same contract.
//
// # Configuration
//
// Each sink type owns its YAML keys: FileConfig, StdoutConfig and
// HTTPConfig here, loki.Options and kafka.Config in their packages, each
// with yaml tags, its defaults (set by its SinkType's New), a Check that
// reports problems at their file:line through config.Check, and an Open
// that builds the sink. config decodes only the keys every sink has (name,
// type, batch, workers, retry); cmd lists the types. A new sink is its
// folder and one line in that list.
//
// TLSConfig is the tls section every sink that dials uses (loki, kafka):
// Validate checks the keys, CheckFiles reports a file that does not load
// (logcapturer check), Client builds the *tls.Config once, when the sink
// opens. Secret files (password_file, bearer_token_file) are read with
// config.ReadSecret, the one reader, which trims surrounding whitespace:
// config is where the values of configuration keys are read, and cmd reads
// admin.token_file with it too.
//
// # HTTP sinks built on this package
//
// The loki and otlp sinks share what is the same between them
// (httpclient.go, httpauth.go): ParseHTTPURL and CheckHTTPURL check the
// URL (http or https, a host, a good port, no credentials, no fragment);
// HTTPAuth and BasicAuth are the basic_auth, bearer_token and
// bearer_token_file keys, their rules, their file checks and the
// Authorization header (files re-read per request); CompileHeaders and
// CheckHeaders the headers key; Proxy the proxy_url, no_proxy and
// proxy_from_environment keys with a Promtail client's rules (none set: no
// proxy, the environment ignored; no_proxy matched by
// golang.org/x/net/http/httpproxy, as NO_PROXY is); NewHTTPSink sets all of that up from a
// sink's options (a logger naming the sink, credentials files checked, the
// client, the compiled headers); HTTPClient the pooled transport (32
// connections, dial and TLS handshake within min(10s, timeout)), Post (one
// request within the timeout, ErrCredentials as a *Retryable, no answer as
// a *Retryable of reason timeout or connection naming the host once) and
// the metrics logcapturer_sink_encoded_bytes_total and
// logcapturer_sink_request_duration_seconds, which the sink registers with
// its own. Each sink keeps its body, the headers it owns and how it
// classifies an answer. The plain http sink here is simpler (no
// credentials keys, a transport of HTTPMaxConns connections, its own
// messages) and does not use them; it takes the same proxy keys (Proxy).
//
// # Contract
//
// A Sink receives a Batch: the decoded WAL blocks of one contiguous index
// range that are routed to it. Send returns nil only when the destination
// holds the batch durably; the pipeline then acknowledges the range and the
// sink's cursor may pass it. A failure is classified by the sink itself with
// a typed error, never by matching strings:
//
//   - *Retryable: the destination may accept the batch later (network
//     errors, timeouts, 429, 5xx, a disk error). After carries a Retry-After
//     hint when the receiver gave one.
//   - *Permanent: the destination will never accept this batch; the range
//     goes to the dead-letter queue and never holds back later data. When
//     the destination stored the batch but for some entries (Loki's partial
//     400), Refused names exactly those (Spans of Blocks' entries): only
//     they are dead-lettered, the rest count as delivered.
//
// An unclassified error counts as retryable: a sink that cannot tell must
// not lose data.
//
// Every sink here has a Destination method, read through Destination, for
// the status page and the sinks table: where it delivers, never with a
// credential (HTTP and Loki: the URL through RedactURL, which drops the
// user and password and replaces every query value with "xxxxx"; Kafka:
// the seed brokers; file: the path; stdout: "stdout").
//
// # Entries and formats
//
// A block's Labels are its stream labels; an entry's own Labels, when not
// nil, replace them whole (processing stages added, changed or removed
// some), its Metadata is its structured metadata, and the reserved label
// wal.TenantLabel (__tenant_id__) its tenant. The file, stdout and http
// sinks write Format: raw is the line and "\n"; json is AppendJSONEntry's
// object {"ts","labels","line"} with the entry's whole label set
// (__tenant_id__ included), plus "metadata" when the entry has structured
// metadata. The kafka sink's json values are the same objects; its topic
// and key templates and its raw format's headers use the block's labels.
// The loki sink groups streams by each entry's label set, sends metadata
// as structured metadata and pushes once per tenant (see sinks/loki).
//
// # Lifecycle
//
// Sinks own no goroutines: the pipeline calls Send from a fixed number of
// workers per sink, and Close once at shutdown, after the last Send.
//
// A sink with an output file implements Reopener (the file sink does): on
// a reload that changes nothing (SIGHUP, POST /-/reload) the pipeline asks
// it to close its file and open its path again, concurrently with Send;
// the sink serialises the two.
//
// # File sink
//
// File appends to one file, fsyncs it, and only then acknowledges. Before
// each batch it compares its path's identity (stat) with the open file's
// (fstat): when the file was renamed or removed (logrotate's rename, mv,
// rm) it waits up to half a second for a new file at the path (logrotate's
// create: a file the sink created in between would be moved aside by
// logrotate to <path>-<YYYYMMDDHH>.backup, out of the rotated sequence),
// then opens the path again, creating it and its directory, and fsyncs
// the directory (and the parents of directories it created) before it
// acknowledges a batch written to the new file; a path that names another
// file (logrotate's create) is appended to. Each reopen logs one line and
// counts in logcapturer_sink_file_reopens_total{sink}. A path that cannot
// be opened again fails the batch as *Retryable, and nothing more is
// written to the old file. Send, Reopen and Close take one lock; a waiting
// Send or Reopen gives up when its context is done, so a write stuck on a
// hung disk cannot wedge a reload.
//
// # Delivery
//
// At least once. After a crash a sink may see again the batches that were in
// flight or acknowledged after its cursor was last committed. The file sink
// fsyncs before it acknowledges and cuts a failed write back off the file.
// A write a crash cut short (kill -9 can end a large write midway) leaves
// the file without its final newline: at start the file sink cuts back to
// the last newline, logging how many bytes, so the re-sent batch does not
// merge with the torn line (a torn multiline entry leaves its first lines,
// which the re-sent batch writes again whole).
package sinks
