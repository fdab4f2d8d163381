# Build a static binary, then ship it alone in a minimal non-root image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/logcapturer ./cmd/logcapturer

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/logcapturer /usr/local/bin/logcapturer
# Keep data_dir on a volume: the WAL and state.db must survive the container.
VOLUME ["/var/lib/logcapturer"]
USER nonroot:nonroot
EXPOSE 8401
ENTRYPOINT ["/usr/local/bin/logcapturer"]
CMD ["run", "--config", "/etc/logcapturer/config.yaml"]
