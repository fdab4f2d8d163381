// Package admin is logcapturer's admin HTTP server and the Go client the
// CLI uses. It serves what package pipeline knows and acts only through
// pipeline's methods (rewind, dead-letter replay and purge).
//
// # Endpoints
//
// Health, always without a token: /metrics, /healthz (liveness), /readyz
// (200 or 503 with JSON reasons; see pipeline.Readiness) and /ready (the
// same in Promtail's form: 200 "Ready" or 503 "Not ready: ...").
//
// Every endpoint, these included, first passes the Host check (# Host
// check below).
//
// Read-only, JSON, under /api/v1 (the two marked * return log lines and
// need the token whenever one is configured, # Tokens):
//
//	GET /api/v1/status                 version, uptime, wal, sources, sinks, ready, warnings (pipeline.Status)
//	GET /api/v1/sinks                  {"sinks": [...]}
//	GET /api/v1/sinks/{name}           one sink; 404 naming the known sinks
//	GET /api/v1/sources                {"sources": [...]}: every file's identity, offset, size, state, and for an unreadable file its error and since when
//	GET /api/v1/dlq[?sink=NAME]        {"dead_letters": [...]}
//	GET /api/v1/dlq/{sink}/{from}[?limit=K]  * {"dead_letter": {...}, "entries": [...]} (first K, default 100)
//	GET /api/v1/wal/entries?from=N|time=T[&limit=K]  * {"entries": [...]}: index, time, source, labels, line
//
// limit is 1..10000 (default 100); fewer entries come back once their
// lines reach 16 MiB (pipeline.MaxEntriesBytes), so memory stays bounded
// whatever max_line_bytes is.
//
// Mutating, only with Authorization: Bearer <token>:
//
//	POST   /api/v1/sinks/{name}/rewind     {"index": N}, {"time": "2026-12-01T10:00:00Z"} or {"to": "oldest"|"newest"}
//	                                       -> {"cursor", "index", "skip", "first_time", "previous", "skipped"}
//	POST   /api/v1/dlq/{sink}/{from}/replay  -> {"replayed": 1}
//	POST   /api/v1/dlq/{sink}/replay         every dead letter of the sink -> {"replayed": n}
//	DELETE /api/v1/dlq/{sink}/{from}         -> {"purged": 1}
//	POST   /-/reload                         check the config file, as SIGHUP does (Options.Reload):
//	                                         400 {"error", "problems": ["file:line: key: message", ...]} and the
//	                                         running config stays; 202 {"result": "reloading", "changes": [...]}
//	                                         and the reload follows the answer (it restarts this server);
//	                                         200 {"result": "unchanged", "reopened": [sinks]} once the file
//	                                         sinks' output files are reopened (logrotate's postrotate); 500
//	                                         when reopening one failed
//
// GET / is the status page: server-rendered html/template, inline CSS, no
// script and no external asset (Content-Security-Policy default-src
// 'none'), reloading itself (Options.Refresh). It shows what
// /api/v1/status holds: the readiness and its reasons; the warnings
// (pipeline.Pipeline.Warnings, such as sink_refusing), which do not make
// the pipeline unready; per sink its destination (credentials hidden:
// sinks.Destination), state (a refusing sink's last refusal on hover),
// failing since when, next retry due (as a time and "in 42s"), lag,
// retries, dead letters and its last error, cut to 120 characters in the
// cell and whole in the cell's title attribute (on hover); the WAL; every
// source's files, a listening source's open connections (syslog), and a
// push receiver's address, bytes in flight, last push and clients. It calls no endpoint that returns log lines, so it never
// needs the token on loopback.
// /debug/pprof/ is served only with Options.PProf (admin.pprof).
//
// # Errors
//
// Every error under /api is JSON {"error": "..."} with the status that
// fits: 400 for a client's mistake, naming the field (bad JSON, an unknown
// field, a negative index, a time without a zone, a limit out of 1..10000);
// 401 without a bearer token; 403 for a wrong token, or "no admin token
// configured" when the server has none; 421 for a Host the server does not
// answer to (# Host check); 404 for an unknown sink (with
// "known": the sink names) or dead letter, or an unknown route; 405 for a
// route with another method; 409 for a WAL index or time outside what the
// WAL retains, with "range": {after, first_index, last_index, first_time,
// last_time} (after: it lies past the newest entry, else before the
// oldest); 503 for a rewind while the pipeline is not running. Only a
// failure on our side is a 500; no answer carries a stack trace.
//
// # Tokens
//
// The token (admin.token_file, read at start) is compared in constant
// time (SHA-256 of both, then crypto/subtle). Who needs it:
//
//	                                    loopback listen         other listen
//	/metrics, /healthz, /readyz, /ready nobody                  nobody
//	status, sinks, sources, dlq list,   nobody                  token
//	the page, pprof
//	WAL entries, a dead letter's        token if one is         token
//	entries (log lines)                 configured, else nobody
//	rewind, DLQ replay/purge, reload    token (403 if none is configured)
//
// A loopback listen is 127.0.0.0/8, ::1 or localhost. Any process on the
// host can reach loopback, so a configured token guards the log lines
// there too. New refuses another address when no token is configured
// (ErrNoToken), since entries and dead letters show log contents.
//
// # Host check
//
// A web page the operator visits can have its own name resolve to
// 127.0.0.1 (DNS rebinding) and then read a loopback server as its own
// origin; its requests carry its name in Host. So a server listening on a
// loopback address answers a request only when Host (its port ignored,
// case-insensitive, a trailing dot ignored) is:
//
//   - localhost;
//   - a loopback IP: 127.0.0.0/8 or [::1] (an IPv4-mapped one too);
//   - the host of admin.listen as written (e.g. a name in /etc/hosts);
//   - the IP the listener is bound to;
//
// or is empty (HTTP/1.0; a browser always sends one). Any other Host gets
// 421 Misdirected Request with a JSON error, on every endpoint: health,
// metrics, the page, the API and pprof. The port is not compared, so an
// SSH tunnel (ssh -L 9000:127.0.0.1:8401, Host localhost:9000) works, and
// Prometheus on the same host scraping 127.0.0.1:8401 sends Host
// 127.0.0.1:8401. A server listening on any other address (a host's IP,
// 0.0.0.0, [::], or no host as in :8401) answers every Host: the operator
// exposed it, names that resolve to it are legitimate (a Prometheus
// target such as edge-01:8401), and everything but health needs the token
// there.
//
// # Lifecycle
//
// New binds the listener (a port in use fails there), Start serves in one
// goroutine, Close shuts down (open requests get a second) and waits; it
// is safe to call twice. A Client is safe for concurrent use.
package admin
