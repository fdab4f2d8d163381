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
//     insecure_skip_verify), external_labels (the sink's labels; a
//     __tenant_id__ among them is every entry's tenant: tenant_id),
//     batchwait and batchsize (batch.max_wait, batch.max_bytes; Promtail's
//     defaults 1s and 1MiB are written out), backoff_config (retry; a
//     batch that exhausts max_retries goes to the dead-letter queue, not
//     away), timeout, headers (Promtail adds one only when the request
//     has none of its name: X-Scope-OrgID becomes tenant_id, or is left
//     out when tenant_id is set, and Content-Type is left out; each with
//     a note), proxy_url, no_proxy,
//     proxy_from_environment, authorization (type Bearer: credentials or
//     credentials_file become bearer_token or bearer_token_file); drop_rate_limited_batches is noted: a 429
//     is retried, nothing is dropped. A url with a user and password
//     (https://user:token@host/..., Grafana Cloud's form) becomes the url
//     without them and basic_auth (the loki sink keeps credentials out of
//     its url, which its status shows): Go's HTTP client, Promtail's, sends
//     them as basic auth, and then not the client's basic_auth or
//     authorization, which are left out with a note.
//   - scrape_configs with static_configs: every target (default
//     "localhost") is the set __address__ plus the item's labels;
//     relabel_configs (all actions, Prometheus's own relabel package, as
//     in Promtail) run on it at conversion, exactly as Promtail's file
//     target manager runs them before it globs: a dropped target
//     disappears, __path__ and __path_exclude__ give the file source's
//     paths and exclude, labels starting with "__" are removed, and the
//     rest are the source's labels. Promtail's file target manager keeps
//     one scrape config per job_name, the last (up to Promtail 3.2; 3.3
//     refuses a repeated job_name): an earlier static or discovery job of
//     the same name never ran, and is left out with a note. The file
//     source adds filename (the
//     path as the glob matched it) like Promtail; a relative __path__ is
//     made absolute in the current directory (Options.WorkDir), with a
//     note, as Promtail makes its matches absolute, and so is a relative
//     __path_exclude__ of it (Promtail drops the exclude's glob results
//     from the relative matches); with an absolute __path__, a
//     __path_exclude__ that is a name alone (*.gz) matched no absolute
//     path in Promtail, so it excluded nothing: it is left out, with a
//     note (logcapturer's exclude matches base names too); no job label is added
//     that the labels do not set. One source per distinct target, named
//     after job_name (job-1, job-2, ... when there are several).
//   - pipeline_stages: copied verbatim (the stages package runs Promtail's
//     syntax) and parsed here, so a stage of the wrong shape is a problem
//     at its line. A timestamp stage without a location (nested in match
//     too) gets location: UTC, commented: Promtail reads a time without a
//     zone as UTC, logcapturer in the host's zone unless told. A file a stage names (geoip's db) is not opened here:
//     it is on the machine that runs the converted file, whose check and
//     start open it.
//   - limits_config: readline_rate_enabled with readline_rate,
//     readline_burst and readline_rate_drop adds a limit stage at the end
//     of each source's stages (Promtail's limit is global: noted);
//     max_line_size becomes max_line_bytes (logcapturer splits a longer
//     line; Promtail drops or truncates it: noted); max_streams is noted
//     as not enforced.
//   - encoding (an IANA character set name) becomes the encoding of the
//     file and kubernetes sources of its scrape config: their lines are
//     converted to UTF-8 as read (UTF-16 split on its own newline, with
//     the byte order from the file's mark for UTF-16, where Promtail
//     splits on the byte '\n' and converts line by line); UTF-8 needs
//     none; on a journal, syslog or push job it is noted and left out (Promtail
//     ignores it there); a name Promtail cannot use (unknown, UTF-32,
//     UTF-7, an EBCDIC code page) is a problem at its line.
//   - target_config.sync_period becomes each file source's poll_interval;
//     global.file_watch_config's polling frequencies are noted (inotify
//     drives the reads).
//   - journal: a journald source named after job_name (path, matches,
//     max_age with Promtail's 7h default written out, json, labels);
//     field_labels turns every default field label off, so the labels
//     are the configured ones plus what relabel_configs make of the
//     __journal_<field lowercased> labels, as in Promtail; promtail_job
//     is the job_name, so the takeover starts the source after the cursor
//     Promtail saved (cursor-<job_name>, journal-<job_name> before 3.x).
//     Promtail drops an entry left with no label at all; logcapturer
//     ships it (noted).
//   - syslog: a syslog source with promtail_labels: true (none of the
//     source's own facility, severity, hostname, app_name or sd_* labels
//     nor SD metadata): listen_address, listen_protocol, idle_timeout,
//     label_structured_data (then __syslog_message_sd_* for relabeling),
//     labels, use_incoming_timestamp, use_rfc5424_message,
//     max_message_length, syslog_format, tls_config (cert_file, key_file,
//     ca_file or client_ca_file: client certificates then required).
//   - gelf: a gelf source with promtail_labels: true (no host, level or
//     facility label; relabel_configs see __gelf_message_*):
//     listen_address (default :12201), labels, use_incoming_timestamp.
//   - loki_push_api: a loki_push source: server.http_listen_address and
//     http_listen_port become listen_address (a port is required; the
//     other server keys are noted as ignored), labels,
//     use_incoming_timestamp; ignore_tenant_header: true, as Promtail
//     ships pushes under its client's tenant whatever X-Scope-OrgID they
//     carry.
//   - docker_sd_configs, in its usual use on an edge host (host a local
//     unix socket, unix:///var/run/docker.sock): each item becomes a
//     docker source reading <data-root>/containers/*/*-json.log (data-root
//     /var/lib/docker, or Options.DockerDataRoot: logcapturer convert/run/
//     check --docker-data-root; Promtail has no such setting) with
//     promtail_labels: true, so that relabel_configs see the labels
//     Promtail's discovery gives and nothing else is shipped:
//     __meta_docker_container_id (the directory's full ID),
//     __meta_docker_container_name (with Docker's leading "/"),
//     __meta_docker_container_label_<name> (the container's labels, the
//     name sanitised by Prometheus's strutil.SanitizeLabelName), all from
//     the container's config.v2.json, and each entry's
//     __meta_docker_container_log_stream (stdout, stderr); no filename,
//     no job, the "__" labels removed after relabeling. Lines lose their
//     trailing '\n' and '\r's, Docker's 16 KiB partial lines are joined,
//     the time is the record's (the time Promtail gets from the API).
//     filters: name and id values are regular expressions Docker matches
//     anywhere in "/name" or the ID (any value of one filter name); each
//     label value ("key" or "key=value") must match; they become relabel
//     keep rules before the job's; status running is noted (Promtail
//     lists running containers only). refresh_interval becomes
//     poll_interval (the glob rescan that finds new containers; inotify
//     finds new lines). port, host_networking_host, match_first_network
//     and the HTTP client keys are ignored with a note.
//     Not covered, each a problem at its line (with SkipUnsupported the
//     whole item is left out): a host that is not a unix socket (tcp,
//     http(s), ssh: another daemon; with Options.DockerProxyLocal,
//     --docker-proxy-local, it is read as a proxy of this host's socket,
//     docker-socket-proxy's use), any other filter (network, ancestor,
//     status other than running, ...), and a relabel rule reading a label
//     only the Docker API gives: __address__, __meta_docker_network_*,
//     __meta_docker_port_*, __meta_docker_container_network_mode (a
//     labelmap over them just finds none: noted nowhere). Also different,
//     noted: Promtail's docker positions (cursor-<id>: the Unix second of
//     the last entry sent) are taken over as Promtail's own restart uses
//     them: each container's log resumes at its first record of that
//     second or later (sources.FileConfig.TakeoverDocker), so that
//     second's entries are sent again, identical, and Loki drops them; a
//     container without a position is read from its beginning (Loki drops
//     the exact duplicates within its accept window, older entries are
//     refused and go to the dead-letter queue); the logs of stopped containers are
//     read too (Promtail reads containers running at a refresh); a
//     container without a readable config.v2.json has only its ID; a
//     joined line longer than max_line_bytes (256 KiB, Loki's default
//     max_line_size) is split into entries of that size (Promtail has no
//     limit unless limits_config sets max_line_size, and then drops or
//     truncates the line).
//   - kubernetes_sd_configs with role: pod, Promtail's DaemonSet use: each
//     item (the items of a job that differ only in their namespaces: one,
//     listing them all, so that a pod two items select is read once, as
//     Promtail reads it; others stay apart with a note) becomes a
//     kubernetes source (sources.TypeKubernetes) reading
//     /var/log/pods/*/*/*.log (or Options.PodLogDir, --pod-log-dir) and
//     the kubelet's rotated *.log.* (only to finish a log rotated while
//     logcapturer was stopped, in its stream; Promtail loses those), the
//     lines raw (format: raw) so that the job's cri or docker stage decodes
//     them as in Promtail. The node's pods are listed from the API server
//     (spec.nodeName=$HOSTNAME, else the host name: Promtail adds the same
//     selector), and the job's relabel_configs run once per log file on
//     the target labels Prometheus's pod discovery gives its container
//     (__meta_kubernetes_*), as Promtail's file target manager runs them
//     on each target: __host__, __path__ and __path_exclude__ choose the
//     files (a target without __path__ reads nothing; of a container's
//     targets, one per port, the first kept labels the file), the rest minus "__" labels, plus filename, label them.
//     kubeconfig_file, api_server, bearer_token_file (or authorization's credentials_file,
//     type Bearer), tls_config's ca_file, cert_file, key_file,
//     server_name and insecure_skip_verify, namespaces (names,
//     own_namespace) and the
//     label and field selectors of role pod carry over; without
//     api_server, the cluster's API from inside the pod, with its service
//     account, as Promtail. A job whose rules set no __path__ reads no file
//     in Promtail ("no path for target"): its discovery is left out, with a
//     note. Not covered, each at its key: another role,
//     inline secrets (bearer_token, authorization credentials, tls_config
//     ca/cert/key), basic_auth, oauth2, the proxy keys, http_headers,
//     attach_metadata's deployment, job and cronjob (node and namespace
//     carry over), and a __path__ rule whose replacement
//     is not under the pod log directory. Also different, noted: a pod's
//     files are read to their end when the pod is deleted (Promtail stops
//     its target at once), a pod without an IP (finished, evicted) is read
//     too (Prometheus's discovery gives no target for it), and a file
//     keeps the labels it was opened with until it is closed.
//   - relabel_configs of a journal, syslog, gelf, loki_push_api or docker_sd_configs job become the
//     source's native relabel_configs (config Source.RelabelConfigs), run
//     on each entry's labels with the source's __ labels, as Promtail runs
//     them; an entry they drop is counted (reason "relabel").
//   - -config.expand-env, as its drone/envsubst v1.0.3 does: ${VAR} and
//     ${VAR:-default} in values, an unset variable being empty; $VAR
//     without braces stays as written (a password "Pa$sw0rd", a
//     template's {{ $v }}); "$$" is "$"; its other forms (${VAR=x},
//     ${#VAR}, nested references) are problems at their line. envsubst
//     also reads \\ as \ and \/ as /: a value with them is converted as
//     written (as Promtail without the flag) and noted
//     (Options.NoExpandEnv, --no-expand-env,
//     turns it off: a "$" is a "$", as in Promtail without the flag). With
//     Options.KeepEnv (convert) string values keep their references, as
//     ${VAR:-default}, which logcapturer reads the same way; a static
//     target's labels and __path__ too, unless relabel_configs changed the
//     value (then the relabeled value is written).
//   - A label with an empty value (a target's labels, external_labels) is
//     no label in Promtail: it is left out, with a note. One written as a
//     kept ${VAR} reference stays, and logcapturer leaves it out when it
//     expands to nothing (config: an empty label value).
//   - One kind of target per scrape config, as Promtail runs it
//     (targets/manager.go): the first present of static_configs or a
//     service discovery other than docker's, journal, syslog, gcplog,
//     loki_push_api, windows_events, kafka, gelf, cloudflare,
//     docker_sd_configs; the others in the same scrape config were never
//     read, and are left out with a note.
//
// # What is not covered
//
// Every other service discovery (docker_sd_configs and kubernetes_sd_configs
// only as above: for docker, a remote daemon, the network and port labels
// and the other filters are not), windows_events, gcplog, cloudflare, heroku_drain,
// kafka, azure_event_hubs; a client's proxy_connect_header, oauth2, http_headers and an authorization type other than Bearer; decompression
// (compressed files). Each is a problem at its line; with
// Options.SkipUnsupported the rest is converted and Result.Left lists what
// was left out.
package promtail
