// Package receiver is the HTTP(S) listener shared by push receivers
// (loki_push, the OTLP receiver): a source type registers its endpoints on
// a Server and writes only the decoding of its bodies into WAL blocks;
// everything about answering a client only once its entries are durable is
// here, written once.
//
// # A push, step by step
//
// On the HTTP server's goroutine for the request (nothing else is started
// per request or per entry):
//
//  1. Credentials (Options.Auth: a bearer token, or basic auth; secrets
//     from files are read again at most once a second): 401 with
//     WWW-Authenticate if missing or wrong.
//  2. A Content-Length above MaxRequestBytes: 413. A Content-Encoding
//     other than identity, gzip, deflate or snappy (block): 415.
//  3. The Emitter is a sources.WALFuller (the pipeline) and the WAL is at
//     wal.max_bytes under full_policy block: 429 with Retry-After, before
//     the body is read. The client keeps its data and sends again.
//  4. In one of max(2, GOMAXPROCS) decode slots (others wait for one, so
//     memory for bodies is bounded whatever the clients do): the body is
//     read up to MaxRequestBytes (else 413) and decompressed to at most
//     MaxRequestBytes (else 413: a decompression bomb stops there; a
//     snappy block's decoded length is checked from its header before any
//     output). The Endpoint's Decode turns it into records (whole WAL
//     blocks). An *Error refuses the request (400 with the reason, naming
//     what is wrong); the records it returned with one are a partial
//     success: made durable, then the error answered, as Loki does.
//  5. The records' bytes are acquired from the Inflight of
//     MaxInflightBytes: more than the bound is 413; not fitting now is 429
//     with Retry-After, at once (no queueing).
//  6. Each record is emitted with a completion from one sources.Acks; the
//     first record's Emit still waiting after EmitWait (the pipeline's
//     queue full) is 429 (wal_busy): nothing of the push was taken. Once
//     one record is taken the others wait up to DurableWait (a 429 then
//     would have the client send the taken ones again), and running out,
//     or an Emit refused (shutdown), is 503 as in step 7.
//  7. The request waits for its Acks, at most DurableWait: nil from every
//     completion (each fired after the fsync covering its record) is the
//     Endpoint's OK (default 204). A failed completion (the append or
//     fsync failed, the pipeline closed) is 503 with the reason and
//     Retry-After, and so is the wait running out; the client sends it
//     again, so records that did become durable are then duplicates:
//     at least once, never lost. A request whose context ends (client
//     gone, shutdown) is answered 503 too, never left for net/http to
//     answer 200.
//
// The Inflight bytes are released when the last completion fired, even
// when the request was answered before (client gone, timeout): the
// pipeline holds those records until then.
//
// # Metrics
//
// Labelled source=NAME: logcapturer_receiver_requests_total{code},
// _entries_total and _line_bytes_total (acknowledged),
// _received_bytes_total (bodies as sent), _refused_total{reason} (see the
// Reason constants), _durable_seconds (first Emit to last completion),
// _inflight_bytes. Server.Status gives the sources view: the address,
// bytes in flight, the last acknowledged push and the last 256 clients by
// IP address (requests, entries, refusals, last answer).
//
// # Configuration
//
// Types keep the keys in their own options (config has no inline
// structs) and use TLSConfig (tls: cert_file, key_file, ca_file,
// client_auth: none, request, verify_if_given, require; default require
// when ca_file is set) and Auth (basic_auth: {username, password,
// password_file}, bearer_token, bearer_token_file), with their Check and
// CheckFiles, and CheckListenAddress and CheckSizes. A push type hands
// its listen_address, sizes, tls and authentication keys over as Keys:
// Keys.Check and CheckFiles are its checks (pipeline_stages and the
// listen_address no other source may share included), and Keys.NewServer
// its Server, with a StageRunner when the source has stages.
//
// # Lifecycle
//
// New, Handle and HandleFunc, then Start(ctx), which binds the address
// (an error when it is taken) and serves in one goroutine until ctx ends
// or Close. Close stops accepting, lets requests in progress finish for
// up to ShutdownTimeout (each still waiting for its completions), closes
// the rest, waits for every goroutine and handler, and unregisters the
// metrics; it is idempotent. Close a receiver before the pipeline, so the
// requests it lets finish get their completions.
//
// # Caveats
//
//   - Memory: MaxInflightBytes of encoded blocks waiting to be durable,
//     plus, per decode slot, a body as sent, decompressed, and its blocks
//     (pooled buffers, reused).
//   - A 503 after a failed fsync or a timeout may be a push that is in the
//     WAL after all: the client's retry stores it twice (sinks see it
//     twice; Loki drops the exact duplicates).
//   - Plain endpoints (HandleFunc) ask for no credentials.
package receiver
