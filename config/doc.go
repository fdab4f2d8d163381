// Package config reads logcapturer's YAML configuration file: the schema,
// its defaults and its validation.
//
// Load (or Parse, for bytes) reads the file, expands environment variables,
// decodes it into the plain structs of this package (Config, WAL, Source,
// Sink, Admin), fills in defaults, validates the result and checks that the
// data directory is writable. It never stops at the first problem: it returns
// an *Error listing every one, each a Problem with file, line and key:
//
//	logcapturer.yaml:3: wal: unknown key "segmnet_size"; did you mean "segment_size"?
//	logcapturer.yaml:12: sources[0].start_at: must be beginning or end, got "middle"
//	logcapturer.yaml:20: sources[1].name: duplicate source name "app" (first defined at line 9)
//
// Problems of every kind come in the one list: the file's syntax and keys,
// the values, each source and sink type's own rules and, with
// ParseOptions.CheckFiles, the files the configuration names. Fixing one
// never reveals another that was there all along.
//
// This package imports nothing else of logcapturer: sink and source
// packages import it (their options are decoded and checked here), never
// the reverse. Packages that decode their own part of the file from a
// yaml.Node use this package's node helpers (ResolveAlias, IsNull,
// NodeKind, Suggest) so that it reads as the rest does. Nothing here holds
// mutable package state, and
// every function is safe for concurrent use. No input makes it panic.
//
// # File format
//
// One YAML document whose top level is a mapping. Keys are snake_case.
// Unknown keys are errors, as are duplicate keys in one mapping. A key given
// with no value (null, "~") is the same as a key left out: it takes its
// default. YAML anchors, aliases and merge keys ("<<: *common") may be used.
//
// Sizes are an integer number of bytes (1024) or a number with a unit:
// KiB, MiB, GiB, TiB (powers of 1024) or KB, MB, GB, TB (powers of 1000), or
// B; fractions round to the nearest byte ("1.5MiB"). Units are
// case-sensitive. See ByteSize.
//
// Durations are Go durations: "250ms", "5s", "5m", "1h30m"; a bare 0 is
// allowed, other bare numbers are not. See Duration.
//
// Relative paths (data_dir, a file sink's path, admin.token_file) are
// relative to the working directory and are kept as written.
//
// Secret files (basic_auth.password_file, bearer_token_file,
// sasl.password_file, admin.token_file) are all read by ReadSecret: the
// file's content with surrounding whitespace trimmed (the newline an
// editor adds), as Promtail reads a password_file. The sinks read theirs
// again at every request or connection, so a rotated secret needs no
// reload; admin.token_file is read at start and must not be empty.
//
// # Environment variables
//
// In every scalar value (not in keys or comments), ${VAR} is replaced by the
// value of the environment variable VAR, and ${VAR:-default} by VAR's value
// or, when VAR is unset or empty, by default. An unset variable without a
// default is a problem. "$$" is a literal "$"; a "$" followed by anything else
// is kept as is. Expansion happens on the parsed document, so an expanded
// value is never read as YAML: a secret containing ": " or "#" is safe, and
// the result is always a string (${PORT} in a number field is fine).
//
// # Schema
//
// Every key, with its default and allowed values:
//
//	data_dir: /var/lib/logcapturer   # the WAL and state.db; run creates it (0750), check only probes it; a reload cannot change it
//	memory_limit: 28MiB              # Go soft memory limit; default 2 * wal.segment_size + 22MiB
//	                                 # + per sink 2 * batch.max_bytes * (workers + 1), + kafka's
//	                                 # max_buffered_bytes, + for loki, otlp and http (request
//	                                 # bodies) 4 * batch.max_bytes * workers: 28MiB with one
//	                                 # default file sink, 32MiB with one default loki sink;
//	                                 # at least 2 * segment_size + 16MiB; GOMEMLIMIT overrides it
//	shutdown_timeout: 10s            # > 0: SIGTERM and reloads wait this long for in-flight batches
//	                                 # to be acknowledged (no new send starts); what is still in
//	                                 # flight is cancelled and sent again next start
//
//	dlq:                             # how much WAL the dead-letter queue keeps
//	  max_bytes: 512MiB              # > 0; the oldest dead letters expire past it
//	  max_age: 168h                  # > 0; dead letters whose last failure is older expire
//
//	wal:
//	  segment_size: 1MiB             # 1MiB .. 256MiB; the tail segment lives in memory; above 1MiB
//	                                 # (the largest group commit) records share segments, which cost copies
//	  max_bytes: 2GiB                # disk cap of the WAL; at least 2 * segment_size
//	  sync: batch                    # batch: fsync once per group commit
//	                                 # interval: fsync every sync_interval
//	                                 # none: never fsync (the OS writes back)
//	  sync_interval: 100ms           # > 0; used only by sync: interval
//	  full_policy: block             # block: sources wait when the WAL is full
//	                                 # drop_oldest: delete the oldest segments
//	  compression: s2                # s2: a block S2 shrinks 4 times or more is stored compressed
//	                                 # (4x less or better to write, fsync and keep; readers
//	                                 # decompress); one that shrinks less as it is, and the next
//	                                 # 15 of its file without trying; none: every block as it is
//
//	sources:                         # required: at least one
//	  # The keys every source has, decoded here:
//	  - name: app                    # required; 1-64 of [A-Za-z0-9_-]; unique among sources
//	    type: file                   # required; file | docker | cri | kubernetes | journald | syslog | gelf |
//	                                 # loki_push | otlp
//	    labels: {job: app}           # optional; names match [a-zA-Z_][a-zA-Z0-9_]*, not starting
//	                                 # with "__", and not one the type sets (filename; docker and
//	                                 # cri: those below and parse_error); an empty value (an
//	                                 # unset ${VAR}) is left out with a warning, as Loki reads it
//	    sinks: [archive]             # optional; default: every sink; each a sink name, no repeats;
//	                                 # an empty list is an error
//	    pipeline_stages: [...]       # optional; Promtail's stages (see Pipeline stages below)
//	    max_streams: 1000            # >= 0 (0: 1000); label sets the stages may make (last hour);
//	                                 # past it a new set keeps the source's labels and the
//	                                 # stages' labels become structured metadata
//	    relabel_configs:             # optional; Prometheus relabel rules (Promtail's relabel_configs,
//	      - source_labels: [__journal__systemd_unit]   # every action: replace, keep, drop,
//	        target_label: unit       # keepequal, dropequal, hashmod, labelmap, labeldrop,
//	      - action: drop             # labelkeep, lowercase, uppercase; Prometheus's defaults)
//	        source_labels: [unit]    # run on each entry's labels before pipeline_stages, with
//	        regex: 'cron\..*'        # the source's internal "__" labels (file: filename;
//	                                 # journald: __journal_<field lowercased>; syslog:
//	                                 # __syslog_message_*, __syslog_connection_*; loki_push:
//	                                 # the pushed labels); labels starting with "__" are removed
//	                                 # after them (__tenant_id__ excepted); an entry they drop
//	                                 # (drop, keep) is counted in
//	                                 # logcapturer_pipeline_entries_dropped_total{reason="relabel"};
//	                                 # a regex must compile (RE2, anchored); the result is
//	                                 # cached per input label set
//
//	    # The other keys belong to the type.
//	    # type: file, docker, cri (sources.FileConfig)
//	    paths: ["/var/log/app/*.log"] # required for file (docker, cri: optional); also
//	                                 # /var/log/**/*.log and /var/log/{nginx,app}/*.log (below)
//	    exclude: ["*.gz"]            # optional globs, matched against the base name and the full path;
//	                                 # exclude compressed rotations: they are not decompressed
//	    start_at: beginning          # beginning | end: where to start in a file never seen before
//	    max_line_bytes: 256KiB       # 1KiB .. 64MiB
//	    poll_interval: 1s            # > 0; how often the globs are re-scanned
//	    max_open_files: 1024         # descriptors the source may hold
//	    close_inactive: 5m           # close files idle this long; reopened when they grow
//	    fingerprint_bytes: 1KiB      # file identity: device+inode+hash of the first bytes; a new
//	                                 # file whose first bytes hash like a file tailed or just
//	                                 # truncated is its copy (copytruncate): resumed at its offset
//	    multiline: {start: '^\S', max_lines: 500, max_wait: 2s}   # join lines until the next start;
//	                                 # start must compile (RE2); max_lines, max_wait >= 0 and need start
//	    encoding: UTF-16LE           # the files' character set (IANA name, as Promtail's encoding):
//	                                 # lines are converted to UTF-8 as they are read. UTF-16LE,
//	                                 # UTF-16BE, UTF-16 (byte order from the file's mark, else
//	                                 # big-endian), ISO-8859-1, windows-1252, Shift_JIS, GBK, ...;
//	                                 # default UTF-8 (bytes shipped as they are). Not on docker;
//	                                 # cri: not UTF-16. max_line_bytes counts the file's bytes
//	    timestamp:                   # take the entry's time from the line
//	      regex: '^(?P<ts>\S+ \S+)'  # or json_field: ts; must compile and have a group named ts
//	      layout: '2006-01-02 15:04:05'   # Go layout, or unix, unix_ms, unix_us, unix_ns
//	      location: America/Sao_Paulo    # zone-less text is read here (default: the host's); an IANA
//	                                 # zone, UTC or Local
//
//	    # type: syslog (sources/syslog.Config; keys named as Promtail's syslog config)
//	    listen_address: 0.0.0.0:514 # required; host:port, or a socket path for unix, unixgram
//	    listen_protocol: tcp         # tcp | udp | unix (stream) | unixgram (datagram)
//	    syslog_format: rfc5424       # rfc5424 | rfc3164 | auto (per message)
//	    idle_timeout: 120s           # > 0; a stream connection silent this long is closed
//	    label_structured_data: false # RFC 5424 SD params as labels sd_<id>_<param> (else metadata)
//	    promtail_labels: false       # true: as Promtail, none of the labels below nor SD metadata;
//	                                 # relabel_configs make them from __syslog_message_* (SD as
//	                                 # __syslog_message_sd_* with label_structured_data)
//	    use_incoming_timestamp: false # the message's time (with its zone) instead of the receive time
//	    use_rfc5424_message: false   # the line is the whole message, not MSG
//	    max_message_length: 8KiB     # 1 .. 64MiB; a longer message is cut or dropped:
//	    max_message_policy: truncate # truncate | drop (both counted; the connection goes on)
//	    max_connections: 1000        # >= 1; one more is accepted and closed at once (counted)
//	    location: Local              # zone of RFC 3164 times (IANA name, UTC or Local)
//	    tls_config:                  # TLS on a tcp listener
//	      cert_file: /etc/lc/syslog.crt   # with key_file: required for TLS
//	      key_file: /etc/lc/syslog.key
//	      ca_file: /etc/lc/clients-ca.pem # CAs of client certificates
//	      client_auth: require       # none | request | verify_if_given | require
//	                                 # (default: require with ca_file, else none)
//	    # labels may not use the names syslog sets: facility, severity,
//	    # hostname, app_name, parse_error, sd_*. pipeline_stages run in the
//	    # batcher (TCP backpressure kept); a relabel hook also sees Promtail's
//	    # __syslog_connection_* and __syslog_message_* labels.
//	  - name: docker-gelf
//	    type: gelf                   # (sources/syslog.GELFConfig) GELF over UDP: Docker's gelf
//	                                 # logging driver, Graylog senders; keys named as Promtail's
//	    listen_address: ":12201"     # host:port; default :12201
//	    use_incoming_timestamp: false # the message's timestamp (to the microsecond) instead of the
//	                                 # receive time
//	    max_message_length: 1MiB     # a message longer uncompressed is dropped (counted)
//	    promtail_labels: false       # true: as Promtail, no host, level or facility label;
//	                                 # relabel_configs make them from __gelf_message_{host,level,
//	                                 # version,facility} (level a syslog severity name, a missing
//	                                 # level "emergency", as in Promtail)
//	    # The line is the message as Promtail's gelf target writes it: the
//	    # standard fields, then the additional ones (_container_name, ...)
//	    # by name. Chunked messages are reassembled (128 chunks at most,
//	    # within 5s: later, dropped_entries_total{reason="incomplete"});
//	    # gzip and zlib are inflated. A message that is not a GELF JSON
//	    # object is shipped as received with parse_error="true"; labels may
//	    # not use parse_error, nor host, level or facility without
//	    # promtail_labels.
//	  - name: pushed
//	    type: loki_push              # (lokipush.Config) Loki's push API: POST /loki/api/v1/push
//	                                 # (protobuf+snappy or JSON; gzip, deflate, snappy), GET /ready;
//	                                 # 204 only once the entries are fsynced
//	    listen_address: 127.0.0.1:3500   # host:port; default 127.0.0.1:3500 (loopback only); two
//	                                 # sources may not share one
//	    use_incoming_timestamp: false    # true: keep the pushed timestamps; false: receive time
//	    max_request_bytes: 16MiB     # body as sent and decompressed; larger: 413
//	    max_inflight_bytes: 64MiB    # pushes waiting to be durable; over: 429 with Retry-After;
//	                                 # at least max_request_bytes
//	    tls: {cert_file: ..., key_file: ..., ca_file: ..., client_auth: require}
//	                                 # cert_file and key_file turn HTTPS on; client_auth none |
//	                                 # request | verify_if_given | require (default: require with
//	                                 # ca_file, else none); the two verifying ones need ca_file
//	    basic_auth: {username: u, password: ..., password_file: ...}   # or
//	    bearer_token: ...            # or bearer_token_file: what clients must send (not both kinds);
//	                                 # a file is read again at most once a second
//	    ignore_tenant_header: false  # true: X-Scope-OrgID is not the entries' tenant (as Promtail;
//	                                 # convert sets it); the sink's tenant applies
//	    # labels are set over the pushed ones; X-Scope-OrgID becomes the
//	    # entries' tenant (__tenant_id__); pushed labels starting with __ are
//	    # dropped (a relabel hook sees them first); pipeline_stages run on
//	    # each push and are flushed at its end: a multiline block never
//	    # spans two pushes, and the 204 covers every entry of the push.
//
//	# type: docker reads Docker json-file logs (paths default to
//	# /var/lib/docker/containers/*/*-json.log), joins 16 KiB partial lines,
//	# takes the record's time and adds stream, container_id, container_name
//	# and image (from the container's config.v2.json, read once per open of
//	# the log, at most 1 MiB). With promtail_labels: true (docker only; what
//	# a converted Promtail docker_sd_configs sets) it adds none of these but,
//	# for relabel_configs, Promtail's __meta_docker_container_id, _name
//	# ("/name"), _label_<sanitised name> and each entry's
//	# __meta_docker_container_log_stream, removed after relabeling; a
//	# line's trailing '\r's are removed. type: cri reads Kubernetes logs (paths default to
//	# /var/log/pods/*/*/*.log) and adds namespace, pod, container and stream.
//
//	  - name: pods
//	    type: kubernetes             # the kubelet's pod logs, labelled from the pods in the
//	                                 # Kubernetes API (Promtail's kubernetes_sd_configs, role: pod);
//	                                 # all the file keys above too (paths default to
//	                                 # /var/log/pods/*/*/*.log and *.log.* for the kubelet's
//	                                 # rotated logs, exclude to *.gz and *.tmp: a rotated log is
//	                                 # read only to resume one rotated while logcapturer was
//	                                 # stopped, as the stream of its current name)
//	    format: cri                  # cri: decoded as type cri (stream label, partial lines
//	                                 # joined) | raw: lines as written, for a cri stage
//	    kubernetes:                  # optional (sources/kubepods.Options); defaults: from inside a pod
//	      api_server: https://10.0.0.1:6443   # default: KUBERNETES_SERVICE_HOST/PORT, with the
//	                                 # service account's token and CA
//	      kubeconfig_file: /etc/rancher/k3s/k3s.yaml   # or: kubectl's file (its current context:
//	                                 # server, CA, client certificate, token, tokenFile or user
//	                                 # name and password; not exec); not with api_server,
//	                                 # bearer_token_file or tls
//	      bearer_token_file: /var/run/secrets/kubernetes.io/serviceaccount/token   # read at each list
//	      tls: {ca_file: ..., cert_file: ..., key_file: ..., server_name: ..., insecure_skip_verify: false}
//	      node_name: node-a          # whose pods: default $HOSTNAME, else the host name (Promtail's)
//	      namespaces: [default]      # default: every namespace
//	      own_namespace: false       # true: and logcapturer's own (the service account's)
//	      label_selector: app=web    # added to the lists (the API's selector syntax)
//	      field_selector: status.phase=Running   # joined to spec.nodeName=<node_name>
//	      refresh_interval: 1m       # lists again for label changes; a new pod's log directory
//	                                 # asks for a list at once
//	      attach_metadata:           # Prometheus's: the rules also see
//	        node: false              # __meta_kubernetes_node_name, _node_label_<name>, ...
//	                                 # (RBAC: get nodes)
//	        namespace: false         # __meta_kubernetes_namespace_label_<name>, ... (RBAC: get
//	                                 # namespaces, or list them when namespaces is empty)
//	    relabel_configs: [...]       # run once per file (not per entry) on the target labels
//	                                 # Prometheus's pod discovery gives its container
//	                                 # (__meta_kubernetes_namespace, _pod_name, _pod_uid,
//	                                 # _pod_label_<name>, _pod_annotation_<name>, _pod_node_name,
//	                                 # _pod_controller_kind/_name, _pod_container_name, ...; one
//	                                 # set per declared port, the first kept wins): a file is read
//	                                 # when a set is kept, its __host__ (if set) is the node and
//	                                 # its __path__ matches the file (a set without __path__ reads
//	                                 # it only when no rule sets __path__) and __path_exclude__
//	                                 # does not; its labels are the result's without "__", plus
//	                                 # filename. Without relabel_configs: namespace, pod, container.
//	    # A file whose pod the API does not have (after a list made since its
//	    # directory appeared) is not read, unless its pod is in the pod list
//	    # kept in the data directory (kubernetes/<source>.json: the last good
//	    # lists, and for an hour the pods that left them; loaded at start):
//	    # deleted while logcapturer was stopped (or shortly before), its
//	    # files are read to their end with its labels; or, when the kept list
//	    # does not have the pod, it was read before a restart: it is read to
//	    # its end with the labels its directory names (namespace, pod name,
//	    # uid, container). After a
//	    # restart, the files of the pods in the kept list are read at once,
//	    # while the API cannot be reached too (same api server, node,
//	    # namespaces and selectors only).
//	    # While the lists fail, files of pods not known yet wait: the source
//	    # is not ready (source_stalled) and logcapturer_source_errors_total
//	    # {reason="kubernetes_api"} counts the failures (reason
//	    # "kubernetes_cache": writes of the kept list that failed); each namespace of
//	    # namespaces is listed on its own. logcapturer sources shows the
//	    # files not read, waiting or skipped with why.
//
//	  - name: journal
//	    type: journald               # the systemd journal, through a journalctl child
//	    # type: journald (journald.Options)
//	    path: /var/log/journal       # optional journal directory (--directory); or files: [...]
//	                                 # (--file) or root: /host (--root): at most one of the three;
//	                                 # none: the system journal
//	    merge: false                 # --merge: the journals of every machine found
//	    matches: "_SYSTEMD_UNIT=nginx.service"   # optional journalctl matches, space-separated
//	                                 # FIELD=value terms, "+" between two groups (OR), as Promtail's
//	    priority: info               # optional highest level read: emerg..debug, 0-7, or FROM..TO
//	    since: now                   # where a journal never read is read from: now | beginning |
//	                                 # an RFC 3339 time; afterwards the cursor stored in the WAL
//	    max_age: 12h                 # optional (Promtail's): first start reads from now-max_age
//	                                 # (then since must be left out); older entries are always
//	                                 # skipped (counted)
//	    json: false                  # true: the line is the whole entry as a JSON object, as
//	                                 # Promtail writes it (data fields, values as strings)
//	    field_labels: {pid: _PID, transport: ""}   # label -> journal field, merged over the
//	                                 # defaults unit=_SYSTEMD_UNIT, priority=PRIORITY (as a level
//	                                 # name), hostname=_HOSTNAME, syslog_identifier=SYSLOG_IDENTIFIER,
//	                                 # transport=_TRANSPORT; "" removes one; a configured label
//	                                 # of the same name wins
//	    metadata: {boot_id: _BOOT_ID}   # structured metadata name -> journal field (default none)
//	    journalctl_path: journalctl  # the journalctl to run (PATH lookup)
//	    max_entry_bytes: 1MiB        # 1KiB .. 1GiB; a larger entry is skipped and counted
//	    promtail_job: journal        # optional: the job_name of the Promtail journal target this
//	                                 # replaces; the takeover starts after Promtail's cursor of it
//	    # pipeline_stages run on each entry (MESSAGE or the JSON line, with the labels
//	    # and metadata above); a block's cursor never passes an entry they hold; a
//	    # relabel hook also sees __journal_<field lowercased> and
//	    # __journal_priority_keyword, removed before the stages
//	# type: otlp (sources/otlp.Config): an OTLP/HTTP logs receiver, POST /v1/logs,
//	# protobuf or JSON, gzip; answers 200 only once the records are fsynced.
//	  - name: otel
//	    type: otlp
//	    listen_address: 127.0.0.1:4318   # host:port (default); unique among sources
//	    max_request_bytes: 16MiB     # >= 0 (0: 16MiB); body as sent and decompressed, 413 above
//	    max_inflight_bytes: 64MiB    # >= max_request_bytes; not yet durable, 429 above
//	    tls: {cert_file: f, key_file: f, ca_file: f, client_auth: require}   # optional
//	    bearer_token_file: /etc/logcapturer/otlp.token   # or bearer_token, or basic_auth
//	                                 # {username, password | password_file}; none: anyone may export
//	    resource_attributes:         # resource attribute -> label (default service.name: service_name);
//	      service.name: service_name #   setting the key replaces the default; labels must be valid,
//	      host.name: host            #   distinct and not severity_label's; an empty label or attribute
//	                                 #   name, or an empty map, names nothing: a warning
//	    severity_label: level        # the label for severity_text (else the severity_number's name);
//	                                 # "-": structured metadata "level" instead
//	    # other resource, scope and log attributes, ids (trace_id, span_id) and event.name
//	    # become structured metadata; pipeline_stages run on each request and are
//	    # flushed at its end (as for loki_push): the 200 covers every entry of it
//
//	sinks:                           # required: at least one
//	  # The keys every sink has, decoded here:
//	  - name: archive                # required; 1-64 of [A-Za-z0-9_-]; unique among sinks
//	    type: file                   # required; file | stdout | http | loki | kafka | otlp
//	    batch:                       # a batch is sent when any limit is reached
//	      max_entries: 10000         # > 0
//	      max_bytes: 1MiB            # > 0
//	      max_wait: 200ms            # > 0
//	    workers: 1                   # 1 .. 64
//	    retry:
//	      max_attempts: 0            # >= 0; 0 retries forever; 401/403 refusals are not attempts
//	      min_backoff: 500ms         # > 0, and <= max_backoff
//	      max_backoff: 5m            # > 0
//
//	    # The other keys belong to the type (its package decodes and checks
//	    # them; a key of another type is an error naming the types that
//	    # have it).
//	    # type: file (sinks.FileConfig)
//	    path: ./out/archive.log      # required; not shared by two file sinks. Created (with its
//	                                 # directory) when missing; renamed or removed (logrotate),
//	                                 # it is created again before the next batch; SIGHUP or
//	                                 # POST /-/reload with an unchanged config reopens it at once
//	    format: raw                  # raw: the line as read | json: one JSON object per entry,
//	                                 # {"ts","labels","line"} with the entry's whole label set
//	                                 # (__tenant_id__ included), plus "metadata" when it has some
//	    # type: stdout (sinks.StdoutConfig): format as above
//	    # type: http (sinks.HTTPConfig): one POST per batch, an entry a line
//	    url: http://host:8080/logs   # required; http:// or https://, port 1-65535
//	    timeout: 10s                 # > 0; bound on one request
//	    headers: {Authorization: "Bearer ${TOKEN}"}   # extra request headers
//	    format: raw                  # as above
//
//	    # type: loki (loki.Options): url is the push endpoint, e.g.
//	    # http://127.0.0.1:3100/loki/api/v1/push; timeout (10s) and headers as for http
//	    tenant_id: edge-01           # X-Scope-OrgID of entries whose labels have no __tenant_id__
//	                                 # (a tenant stage's); one push per tenant in a batch
//	    basic_auth: {username: u, password_file: /etc/lc/loki.pass}   # or password
//	    bearer_token_file: /etc/lc/token   # or bearer_token; not with basic_auth
//	    tls: {ca_file: ..., cert_file: ..., key_file: ..., insecure_skip_verify: false}
//	                                 # (sinks.TLSConfig) any key turns TLS on; cert_file and
//	                                 # key_file together; files read once, when the sink opens
//	    proxy_url: http://proxy:3128 # (sinks.Proxy; loki, otlp, http) http, https or socks5; as in
//	    no_proxy: loki.internal,10.0.0.0/8   # Promtail: with neither proxy_url nor
//	                                 # proxy_from_environment: true, no proxy, whatever
//	                                 # HTTP(S)_PROXY say; no_proxy only with proxy_url
//	    encoding: protobuf           # protobuf (snappy) | json
//	    labels: {host: edge-01}      # added to every stream
//	    structured_metadata: [container_id]   # labels sent as structured metadata, merged
//	                                 # with the entry's own metadata (which wins on a clash)
//
//	    # type: otlp (otlp.Options): OTLP/HTTP logs (sinks/otlp/doc.go has the mapping)
//	    url: http://collector:4318/v1/logs   # required; the whole path (Loki: /otlp/v1/logs)
//	    encoding: protobuf           # protobuf | json (OTLP/JSON)
//	    compression: gzip            # gzip | none
//	    headers: {X-Scope-OrgID: t1} # extra headers; not Content-*, nor Authorization with auth set
//	    # basic_auth, bearer_token(_file), tls and timeout (10s) as for loki
//	    resource_attributes:         # resource attribute: labels, the first present wins;
//	      service.name: service_name,job   # this is the default (a resource without
//	      host.name: host,hostname   # service.name gets the source's name); setting the key
//	                                 # replaces it whole
//	    attributes: {log.file.path: filename}   # log attributes from labels (the default);
//	                                 # structured metadata is always sent as attributes
//	    severity_label: level        # severity_text/number from this label or metadata; "-": off
//	    trace_id_label: trace_id     # 32 hex digits; "-": off
//	    span_id_label: span_id       # 16 hex digits; "-": off
//	                                 # A mapping that names no label is a warning (check prints
//	                                 # it, run logs it), not an error.
//
//	    # type: kafka (kafka.Config): one record per entry
//	    brokers: ["10.0.0.5:9092"]   # required; host:port, port 1-65535
//	    topic: logs                  # required; a name or a template over labels:
//	                                 # "logs-{{ .job }}" (unset labels render empty)
//	    key: "{{ .host }}"           # optional template; default: no key (sticky partitioning)
//	    format: json                 # json {"ts","labels","line"[,"metadata"]} | raw (the line;
//	                                 # the block's labels as headers)
//	    compression: zstd            # none | gzip | snappy | lz4 | zstd
//	    acks: all                    # all (idempotent producer) | leader (idempotency off)
//	    sasl: {mechanism: SCRAM-SHA-512, username: u, password_file: /etc/lc/kafka.pass}
//	                                 # PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512; password or password_file
//	    tls: {ca_file: ..., cert_file: ..., key_file: ..., insecure_skip_verify: false}   # as for loki
//	    client_id: logcapturer       # non-empty
//	    max_buffered_bytes: 16MiB    # >= 1MiB; what the producer holds in memory
//	    timeout: 30s                 # > 0; bound on one send (then retried from the WAL)
//
//	admin:
//	  listen: 127.0.0.1:8401         # host:port (port 0-65535); "" disables the admin server
//	  token_file: ""                 # file holding the bearer token (surrounding whitespace is
//	                                 # trimmed) of the API's mutating endpoints (rewind, DLQ
//	                                 # replay and purge, reload) and, once set, of the ones that
//	                                 # return log lines (WAL entries, a dead letter's entries),
//	                                 # on loopback too. Required when listen is not a loopback
//	                                 # address (every /api route, the page and pprof then need
//	                                 # it). Read by logcapturer run at start: a missing or
//	                                 # empty file is a problem at this line (run and check;
//	                                 # not read when listen is ""). A loopback listen answers
//	                                 # only a Host naming loopback (421 otherwise; admin/doc.go).
//	  pprof: false                   # serve /debug/pprof/ (behind the token off loopback)
//	  unready_after: 5m              # > 0: a sink failing this long makes /readyz 503 (sink_failing)
//
//	takeover:                        # optional: the Promtail this logcapturer replaces
//	  promtail_positions: /var/log/positions.yaml   # Promtail's positions file; on the first
//	                                 # start of data_dir, each file Promtail recorded that is still
//	                                 # the same file (long enough, a line ends before the offset,
//	                                 # not born after the file's last save) starts at Promtail's
//	                                 # offset, the rest by start_at (logged). Recorded in state.db
//	                                 # at once and never repeated; the file is only read. check
//	                                 # reads it: unreadable or invalid is a problem at this line,
//	                                 # missing a warning (nothing to take over). A journal cursor
//	                                 # (cursor-<job>, or journal-<job>) starts the journald source
//	                                 # whose promtail_job is <job> right after it; a docker position
//	                                 # (cursor-<container id>: Unix seconds) starts the docker source
//	                                 # reading that container's json-file log at its first record of
//	                                 # that second or later, as Promtail's restart would.
//	  ignore_invalid: false          # start without an invalid positions file instead of refusing
//
// Globs use filepath.Match syntax (* and ? match within one path element,
// [classes]) plus Promtail's doublestar extensions: "**" as a whole path
// element matches any number of directories, none included
// (/var/log/**/*.log), and {a,b} either alternative. "**" inside an
// element (/var/log/**.log) is rejected rather than silently meaning "*".
// A "**" glob walks the tree below its fixed part at each rescan
// (poll_interval) and watches every directory there: keep that part
// narrow (not "/"). The walk follows symbolic links to directories and
// reads each directory once, under the first name it meets, so a link
// back up the tree does not loop.
//
// # Sink types
//
// Each sink type is registered by its package (ParseOptions.SinkTypes;
// cmd holds the list): a SinkType names the type and makes its options, a
// struct whose yaml tags are the type's keys. config decodes the common
// keys (name, type, batch, workers, retry) and hands the other keys of the
// entry to the options, decoding by field type (strings, bools, ints,
// ByteSize, Duration and time.Duration, []string, map[string]string,
// nested structs) with the same messages and "did you mean" hints as
// everywhere else. The options' Check reports what is wrong through a
// Check, with the key's line. A type unknown to the registry is a problem
// that lists the known ones, and its other keys are not looked at.
//
// A type can also report a warning (Check.Warning): something probably not
// meant that does not stop the config from loading, such as an otlp
// mapping that names no label. Warnings carry file:line like problems and
// end up in Config.Warnings, ordered by line; logcapturer check prints each
// as "warning: FILE:LINE: KEY: MESSAGE" and still exits 0, run logs each
// once at start.
//
// # Source types
//
// Sources are registered the same way (ParseOptions.SourceTypes; the
// sources package's FileSourceType, DockerSourceType and CRISourceType,
// journald.SourceType; cmd holds the list). config decodes the keys every source has (name,
// type, labels, sinks, relabel_configs, pipeline_stages) into Source and checks them; the
// other keys of the entry go to the options the type's SourceType.New
// made, by yaml tag, with the same messages, hints and "it is a key of
// docker sources" as for sinks. The options' Check reports what only the
// type knows, through a Check keyed under the entry: for the file types, a
// glob or start_at that is wrong, a multiline.start or timestamp.regex that
// does not compile, a timestamp regex without a ts group, an unknown
// timestamp.location, a label the type sets itself (Check.Labels). These
// come at their keys' lines in the same list as every other problem:
//
//	t2.yaml:5: sources[0].paths[0]: "**" must be a whole path element, ...
//	t2.yaml:7: sources[0].multiline.start: does not compile: error parsing regexp: missing closing ]: `[0-9`
//	t2.yaml:9: sources[0].timestamp.regex: "^(\\S+)" has no named group ts, as in (?P<ts>...)
//
// pipeline_stages is kept as written, a *yaml.Node of the list
// (Source.PipelineStages, Check.PipelineStages), for the stages package to
// parse with its own line numbers; config checks only that it is a list.
// A type's Check reports a problem the stages parser found at its line
// with Check.ProblemAt. Source.Equal compares two sources by value
// (pipeline_stages by content, not by line), as a reload does.
//
// Without a registry (ParseOptions.SourceTypes nil) any type name is
// accepted and its keys are left alone (Source.Options nil).
//
// # Pipeline stages
//
// A source's pipeline_stages is a list of Promtail 3.6 pipeline stages,
// written as in Promtail (a block pasted from a Promtail config behaves
// the same): each item is {stage: options}, with Promtail's stage names,
// keys, defaults and behaviour; Loki's documentation "Promtail pipeline
// stages" and each stage's page are the reference. The stages:
//
//	parsing      docker, cri, regex, json, logfmt, replace, multiline, decolorize,
//	             geoip (a MaxMind .mmdb you provide: db, source, db_type city|asn)
//	transforming template, pack, timestamp, output
//	labels       labels, static_labels, labeldrop, labelallow,
//	             structured_metadata (non_indexed_labels), tenant
//	filtering    match (a LogQL stream selector with |= != |~ !~; action keep|drop;
//	             nested stages), drop, limit, sampling
//	metrics      metrics (counter, gauge, histogram; served on /metrics)
//
// eventlogmessage (Windows event logs) is not supported: check names it and
// says so. geoip sets Promtail's geoip_* labels (city, country, continent
// name and code, latitude, longitude, postal code, time zone, the most
// specific subdivision's name and code; or the autonomous system's number
// and organization) from a memory-mapped database, read again within a
// minute of being replaced on disk (geoipupdate; a file overwritten in
// place faults under the mapping: lookups fail, counted as lookup_failed
// and logged once, until it is whole again); where Promtail accepts
// a geoip stage that can look nothing up (no source, a db_type other than
// city or asn, a database of the other kind), logcapturer refuses it at
// its line. A value that is not an IP address is counted
// (logcapturer_pipeline_errors_total reason invalid_ip); an address not in
// the database adds no label. check opens the database; a configuration
// parsed without its files (run before the sources start, convert) checks
// only the options. The stages run in the source, on each entry, before the entry is
// written to the WAL: what the WAL holds is what every sink sees. The
// multiline and timestamp options keep working as before and run first,
// as lines are read; a source may not set one of them and the stage of the
// same name (check says which). Every source starts an entry with its
// labels (configured, filename and the type's) in Promtail's extracted
// map. A source's block position covers the entries the stages dropped or
// still hold (a multiline block under way), so after a kill -9 exactly the
// lines whose entries are not in the WAL are read again.
//
// check reports every problem at its line, keyed by the stage's position:
//
//	c.yaml:15: sources[0].pipeline_stages[3].regex.expression: does not compile: ...
//	c.yaml:16: sources[0].pipeline_stages[4].jsonn: unknown stage "jsonn" (did you mean "json"?); ...
//	c.yaml:11: sources[0].pipeline_stages[1].multiline: the source sets the multiline option too ...
//
// An entry a stage cannot process (a line that is not JSON, a regex that
// does not match, a timestamp that does not parse) passes on unchanged and
// is counted in logcapturer_pipeline_errors_total{source,stage,reason}; a
// dropped entry in logcapturer_pipeline_entries_dropped_total{source,reason}
// with Promtail's drop_counter_reason values (drop_stage, match_stage,
// limit_stage as ratelimit_drop_stage, the configured one; relabel for an
// entry a source's relabel hook refused); nothing is logged per entry.
// logcapturer_source_streams{source} is the number of label sets the
// source's entries had in the last hour. Past max_streams an entry with a
// new label set keeps its source's labels (and its tenant), the labels the
// stages added or changed become structured metadata, and it is counted
// in logcapturer_pipeline_streams_over_limit_total{source}; the source
// then has the warning source_streams_over_limit (status, the gauge
// logcapturer_component_warning) until a minute passes without such an
// entry. /readyz is not affected.
//
// Where logcapturer departs from Promtail:
//
//   - Label names in static_labels are checked against Loki's rule
//     ([a-zA-Z_][a-zA-Z0-9_]*) by check; Promtail accepts any name and Loki
//     refuses the push later. A label value that is not UTF-8 or longer than
//     2,048 bytes (Loki's default limit) is not set, and counted
//     (labels/label_value_too_long); Promtail sends it and Loki refuses it.
//   - json: objects it re-encodes have their keys sorted (Promtail: random
//     order); valid JSON is Go's encoding/json (strict RFC 8259), and a
//     string's bytes that are not UTF-8 are kept as they are, as in
//     Promtail (so no label is made of it, and output writes them); a line
//     that drop_malformed drops is counted under reason malformed_json
//     (Promtail counts nothing). As in Promtail, numbers are floats (3e2 is
//     300, and a drop value "204" matches 204), arrays are re-encoded with
//     HTML escaping, and an expression that finds nothing sets its name to
//     nil, so a later drop with several sources sees it present.
//   - replace parses its template once; a template whose regexReplaceAll
//     has a bad regex fails (counted, value not set) where Promtail panics.
//   - match supports label matchers and the line filters |= != |~ !~ (with
//     or); | json, pattern filters and selectors that match everything
//     ({a=~".*"}) are refused, as LogQL does. pipeline_name is accepted and
//     not used.
//   - timestamp: location applies to every format, named ones too (Promtail
//     ignores it for them); zone-less text without location is read in the
//     host's zone, as the timestamp option (Promtail: UTC); times outside
//     1678-2262 fail (timestamp_out_of_range) and Unix values that overflow
//     fail instead of wrapping. action_on_failure defaults to fudge, as in
//     Promtail (the last good time of the same label set plus 1 ns).
//     Failures are counted: timestamp_source_missing,
//     timestamp_not_a_string, timestamp_parse_failed.
//   - multiline: a joined entry ends at 1 MiB, a stage holds at most 8 MiB
//     and 10,000 streams, and the entries of other streams wait behind a
//     block under way (entries leave in the order they were read, which is
//     what lets the position cover them; Promtail lets streams run apart).
//     max_wait_time is checked every 250 ms. A joined entry keeps the
//     structured metadata its first line had (Promtail's drops it).
//   - cri: max_partial_lines counts streams with a partial line held (as
//     Promtail's code does; its docs say lines); without truncation a
//     joined line is handed on at 1 MiB, and a partial line after 3 s
//     without a line on its stream (Promtail waits for ever);
//     max_partial_line_size_truncate without a size is a problem;
//     max_partial_line_size accepts 256KB; the extracted key is time.
//     Malformed lines are counted (cri/malformed_line, docker/malformed_json).
//   - limit without drop waits in the source (Promtail blocks), at most
//     1/rate s per wait; its drops are counted as ratelimit_drop_stage.
//   - sampling decides by a hash of the entry's sequence number in the
//     source and the source's name, not at random; the sequence starts
//     again with the process, so a line read again after a crash may get
//     another decision.
//   - metrics: negative or NaN counter values and values that are not
//     numbers are skipped and counted; series drop labels with invalid
//     names; unknown keys under config are problems; buckets must
//     increase; idle series are removed when /metrics is read (as Promtail).
//   - decolorize uses Loki's own ANSI regex, which leaves part of an OSC-8
//     hyperlink behind (\e]8;;https://x\a becomes "ttps://x" and a BEL) and
//     eats the letter after an unterminated color code (\033[0;32http loses
//     the h): kept as Promtail has it.
//
// Caveat: a file of two interleaved streams (Docker's or CRI's stdout and
// stderr) has one position for both, the start of the first entry still
// under way. Lines after it that entries of the other stream already took
// are skipped when the file is read again, after a restart too (the
// position's cursor records them). With pipeline_stages whose multiline
// stage holds an entry when logcapturer stops or is killed, the position
// is that entry's start instead, and such lines after it arrive a second
// time.
//
// # Checks outside the file
//
// After the file is valid, Load and Parse create data_dir if it is missing
// and check that a file can be created in it and removed; if not, that is a
// problem ("data_dir: /ro/data is not writable: ...; choose a writable
// directory"). With ParseOptions.CheckFiles (logcapturer check, and a
// reload) every file the configuration names is read, and each that fails
// is a problem at its key's line in the one list: admin.token_file (when
// admin.listen is set) must be readable and not empty, as run requires at
// start, and each sink type that is a FileChecker checks its own files: a
// password or token file that cannot be read, TLS files that do not load, a
// file sink's directory that is not writable (probed without creating
// anything). ParseOptions.CheckTokenFile reads only admin.token_file:
// logcapturer run sets it, so that run refuses a bad token file at its line
// before it opens anything. ParseWith with SkipDirCheck leaves data_dir
// alone, for tests.
package config
