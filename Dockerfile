# Build a static binary, then ship it alone in a minimal non-root image.
#   docker build -t logcapturer --build-arg VERSION=$(git describe --always) .
#   docker run -d --name logcapturer --user 0 \
#     -v /var/log:/var/log:ro -v /var/lib/docker/containers:/var/lib/docker/containers:ro \
#     -v /etc/logcapturer:/etc/logcapturer:ro -v logcapturer-data:/var/lib/logcapturer \
#     -p 127.0.0.1:8401:8401 logcapturer
# (in the config: data_dir: /var/lib/logcapturer, admin.listen: 0.0.0.0:8401 with
# admin.token_file set, since the API is then reachable from outside the container)
#
# The image runs as nonroot (uid 65532), which owns /var/lib/logcapturer: a
# new named volume mounted there takes that owner, so the data directory is
# writable. nonroot cannot read the host's root-only logs (Docker's
# *-json.log files, /var/log/syslog): run the container as root (--user 0,
# as Promtail's and Fluent Bit's images do), or, for logs a group can read
# (adm on Debian and Ubuntu), add that group's host gid (--group-add 4).
# deploy/README.md says more.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/logcapturer ./cmd/logcapturer
# The data directory, empty: copied below owned by nonroot (the final image
# has no shell to mkdir or chown in).
RUN mkdir -p /out/data && chmod 0750 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="logcapturer" \
      org.opencontainers.image.description="Crash-safe log shipper for edge hosts: files to Loki, Kafka, files, over a local write-ahead log" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/logcapturer/logcapturer"
COPY --from=build /out/logcapturer /usr/local/bin/logcapturer
# data_dir, owned by the user the image runs as (65532 is distroless's
# nonroot); a named volume mounted here starts as a copy of it, owner too.
COPY --from=build --chown=65532:65532 /out/data /var/lib/logcapturer
# Keep data_dir on a volume: the WAL and state.db must survive the container.
VOLUME ["/var/lib/logcapturer"]
USER 65532:65532
EXPOSE 8401
# The image has no shell or curl: the binary asks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/logcapturer", "health", "--config", "/etc/logcapturer/config.yaml"]
# SIGTERM drains and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/logcapturer"]
CMD ["run", "--config", "/etc/logcapturer/config.yaml", "--log-format", "json"]
