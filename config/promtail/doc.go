// Package promtail translates a Promtail configuration (Promtail 2.x/3.x,
// the file -config.file names) into a native logcapturer configuration.
// Nothing downstream knows where a configuration came from: Convert writes
// the native YAML (commented where logcapturer behaves differently), and
// Result.Parse loads it with config.ParseWith, moving every problem back
// to the Promtail file's line and key path. logcapturer run and check
// (--config-format promtail) and logcapturer convert go through it.
//
// # What is covered
//
//   - server: http_listen_address and http_listen_port become admin.listen
//     (on loopback unless the converted file gets admin.token_file: a
//     non-loopback admin API needs a token); disable turns it off; gRPC
//     and the other server keys are ignored with a note.
//   - positions.filename becomes takeover.promtail_positions (see config
//     Takeover: the positions handover); ignore_invalid_yaml becomes
//     takeover.ignore_invalid; sync_period is ignored.
//   - clients (and the older single client): each a loki sink named loki,
//     or loki-1, loki-2, ...: url, tenant_id, basic_auth, bearer_token,
//     bearer_token_file, tls_config (ca_file, cert_file, key_file,
//     insecure_skip_verify), external_labels (the sink's labels),
//     batchwait and batchsize (batch.max_wait, batch.max_bytes; Promtail's
//     defaults 1s and 1MiB are written out), backoff_config (retry; a
//     batch that exhausts max_retries goes to the dead-letter queue, not
//     away), timeout, headers; drop_rate_limited_batches is noted: a 429
//     is retried, nothing is dropped.
//   - scrape_configs with static_configs: every target (default
//     "localhost") is the set __address__ plus the item's labels;
//     relabel_configs (all actions, Prometheus's own relabel package, as
//     in Promtail) run on it at conversion, exactly as Promtail's file
//     target manager runs them before it globs: a dropped target
//     disappears, __path__ and __path_exclude__ give the file source's
//     paths and exclude, labels starting with "__" are removed, and the
//     rest are the source's labels. The file source adds filename (the
//     path as the glob matched it) like Promtail; no job label is added
//     that the labels do not set. One source per distinct target, named
//     after job_name (job-1, job-2, ... when there are several).
//   - pipeline_stages: copied verbatim (the stages package runs Promtail's
//     syntax) and parsed here, so a stage of the wrong shape is a problem
//     at its line.
//   - limits_config: readline_rate_enabled with readline_rate,
//     readline_burst and readline_rate_drop adds a limit stage at the end
//     of each source's stages (Promtail's limit is global: noted);
//     max_line_size becomes max_line_bytes (logcapturer splits a longer
//     line; Promtail drops or truncates it: noted); max_streams is noted
//     as not enforced.
//   - target_config.sync_period becomes each file source's poll_interval;
//     global.file_watch_config's polling frequencies are noted (inotify
//     drives the reads).
//   - -config.expand-env: ${VAR}, ${VAR:-default} and $VAR in values, an
//     unset variable being empty (Options.NoExpandEnv turns it off). With
//     Options.KeepEnv (convert) string values keep their references, as
//     ${VAR:-default}, which logcapturer reads the same way.
//
// # What is not covered
//
// kubernetes_sd_configs and every other service discovery (including, for
// now, docker_sd_configs: reading containers through the Docker API with
// __meta_docker_* labels), windows_events, gcplog, cloudflare,
// heroku_drain, gelf, kafka, azure_event_hubs; journal and syslog (their
// native sources exist; the conversion of their options and of relabeling
// on their __ labels does not yet), loki_push_api until its source is in
// this build; ** and {a,b} globs
// in __path__; client proxies, oauth2 and authorization; compressed or
// non-UTF-8 files. Each is a problem at its line; with
// Options.SkipUnsupported the rest is converted and Result.Left lists what
// was left out.
package promtail
