// Package admin is logcapturer's admin HTTP server and the Go client the
// CLI uses. It serves what package pipeline knows and acts only through
// pipeline's methods (rewind, dead-letter replay and purge).
//
// # Endpoints
//
// Health, always without a token: /metrics, /healthz (liveness), /readyz
// (200 or 503 with JSON reasons; see pipeline.Readiness).
//
// Read-only, JSON, under /api/v1:
//
//	GET /api/v1/status                 version, uptime, wal, sources, sinks, ready (pipeline.Status)
//	GET /api/v1/sinks                  {"sinks": [...]}
//	GET /api/v1/sinks/{name}           one sink; 404 naming the known sinks
//	GET /api/v1/sources                {"sources": [...]}: every file's identity, offset, size, state
//	GET /api/v1/dlq[?sink=NAME]        {"dead_letters": [...]}
//	GET /api/v1/dlq/{sink}/{from}[?limit=K]  {"dead_letter": {...}, "entries": [...]} (first K, default 100)
//	GET /api/v1/wal/entries?from=N|time=T[&limit=K]  {"entries": [...]}: index, time, source, labels, line
//
// limit is 1..10000 (default 100); fewer entries come back once their
// lines reach 16 MiB (pipeline.MaxEntriesBytes), so memory stays bounded
// whatever max_line_bytes is.
//
// Mutating, only with Authorization: Bearer <token>:
//
//	POST   /api/v1/sinks/{name}/rewind     {"index": N} or {"time": "2026-12-01T10:00:00Z"}
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
// script and no external asset, reloading itself (Options.Refresh).
// /debug/pprof/ is served only with Options.PProf (admin.pprof).
//
// # Errors
//
// Every error under /api is JSON {"error": "..."} with the status that
// fits: 400 for a client's mistake, naming the field (bad JSON, an unknown
// field, a negative index, a time without a zone, a limit out of 1..10000);
// 401 without a bearer token; 403 for a wrong token, or "no admin token
// configured" when the server has none; 404 for an unknown sink (with
// "known": the sink names) or dead letter, or an unknown route; 405 for a
// route with another method; 409 for a WAL index or time outside what the
// WAL retains, with "range": {first_index, last_index, first_time,
// last_time}; 503 for a rewind while the pipeline is not running. Only a
// failure on our side is a 500; no answer carries a stack trace.
//
// # Tokens
//
// The token (admin.token_file, read at start) is compared in constant
// time (SHA-256 of both, then crypto/subtle). On a loopback address
// (127.0.0.0/8, ::1, localhost) the read endpoints and the page are open;
// on any other address every /api route, the page and pprof need the
// token, since entries and dead letters show log contents, and New
// refuses such an address when no token is configured (ErrNoToken).
//
// # Lifecycle
//
// New binds the listener (a port in use fails there), Start serves in one
// goroutine, Close shuts down (open requests get a second) and waits; it
// is safe to call twice. A Client is safe for concurrent use.
package admin
