package sources

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/prometheus/util/strutil"

	"github.com/logcapturer/logcapturer/internal/jsonstr"
	"github.com/logcapturer/logcapturer/wal"
)

// record is one decoded line of a file.
type record struct {
	content []byte
	time    int64 // UTC Unix ns from the line; 0: none
	stream  string
	// partial: more of this line follows in the next record of the stream.
	partial  bool
	parseErr bool
}

// internStream returns the stream name without allocating for the usual
// values.
func internStream(b []byte) string {
	switch string(b) {
	case "stdout":
		return "stdout"
	case "stderr":
		return "stderr"
	}
	return string(b)
}

// parseRFC3339 parses a Docker or CRI time; 0 when it does not parse.
func parseRFC3339(b []byte) int64 {
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0
	}
	return t.UTC().UnixNano()
}

// decodeDocker decodes one json-file line,
//
//	{"log":"text\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}
//
// appending the text to *scratch. A "log" without its trailing '\n' is a
// partial line: Docker cuts lines at 16 KiB and the next record continues
// it. The '\n' of a final record is removed; every other byte is kept. A
// line that is not such an object is returned raw with parseErr set.
func decodeDocker(line []byte, scratch *[]byte) record {
	var (
		logVal, timeVal []byte
		logEsc, hasLog  bool
		stream          string
	)
	ok := eachMember(line, func(key []byte, esc bool, v []byte) bool {
		switch {
		case keyIs(key, esc, "log"):
			if v[0] != '"' {
				hasLog = false
				return false
			}
			hasLog = true
			logVal = v[1 : len(v)-1]
			_, logEsc, _ = scanString(v, 0)
		case keyIs(key, esc, "stream"):
			if v[0] == '"' {
				stream = internStream(v[1 : len(v)-1])
			}
		case keyIs(key, esc, "time"):
			if v[0] == '"' {
				timeVal = v[1 : len(v)-1]
			}
		}
		return true
	})
	if !ok || !hasLog {
		return record{content: line, parseErr: true}
	}
	content := logVal
	if logEsc {
		*scratch = jsonstr.AppendUnescaped((*scratch)[:0], logVal)
		content = *scratch
	}
	r := record{content: content, stream: stream, partial: true}
	if n := len(content); n > 0 && content[n-1] == '\n' {
		r.content, r.partial = content[:n-1], false
	}
	if timeVal != nil {
		r.time = parseRFC3339(timeVal)
	}
	return r
}

// maxContainerConfigBytes caps what is read of a container's
// config.v2.json (usually a few KiB: its command, environment, mounts and
// labels); a larger file is not read and the container gets only the
// labels of its directory.
const maxContainerConfigBytes = 1 << 20

// containerConfig is what the docker source uses of a container's
// config.v2.json, which dockerd keeps beside the json-file log
// (<data-root>/containers/<id>/config.v2.json).
type containerConfig struct {
	// Name is the container's name with Docker's leading "/".
	Name   string
	Config struct {
		Image  string
		Labels map[string]string
	}
}

// readContainerConfig reads the config.v2.json of the container whose
// directory is dir; false when it cannot be read (it is usually root's
// only), is larger than maxContainerConfigBytes or does not parse.
func readContainerConfig(dir string) (containerConfig, bool) {
	var cfg containerConfig
	f, err := os.Open(filepath.Join(dir, "config.v2.json"))
	if err != nil {
		return cfg, false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxContainerConfigBytes+1))
	if err != nil || len(data) > maxContainerConfigBytes {
		return cfg, false
	}
	if json.Unmarshal(data, &cfg) != nil {
		return cfg, false
	}
	return cfg, true
}

// dockerLabels returns the labels of a json-file log: container_id from
// its directory, container_name and image from the container's
// config.v2.json when it can be read (it is usually root's only). It is
// called once per open of the file: the labels live with the open file.
func dockerLabels(path string) []wal.Label {
	dir := filepath.Dir(path)
	labels := []wal.Label{{Name: containerIDLabel, Value: filepath.Base(dir)}}
	cfg, ok := readContainerConfig(dir)
	if !ok {
		return labels
	}
	if name := strings.TrimPrefix(cfg.Name, "/"); name != "" {
		labels = append(labels, wal.Label{Name: containerNameLabel, Value: name})
	}
	if cfg.Config.Image != "" {
		labels = append(labels, wal.Label{Name: imageLabel, Value: cfg.Config.Image})
	}
	return labels
}

// Promtail's docker_sd_configs labels (Prometheus's Docker discovery, as
// Promtail 3.6 vendors it, plus Promtail's log stream label).
const (
	metaContainerID          = "__meta_docker_container_id"
	metaContainerName        = "__meta_docker_container_name"
	metaContainerLabelPrefix = "__meta_docker_container_label_"
	metaLogStream            = "__meta_docker_container_log_stream"
)

// dockerMetaLabels returns the labels Promtail's docker_sd_configs gives
// a container, as far as its directory and config.v2.json tell them:
// __meta_docker_container_id (the directory name, the full ID),
// __meta_docker_container_name (with Docker's leading "/") and
// __meta_docker_container_label_<name> for each of its labels, the name
// sanitised as Prometheus does. Without a readable config.v2.json only
// the ID. Called once per open of the file, like dockerLabels.
func dockerMetaLabels(path string) []wal.Label {
	dir := filepath.Dir(path)
	labels := []wal.Label{{Name: metaContainerID, Value: filepath.Base(dir)}}
	cfg, ok := readContainerConfig(dir)
	if !ok {
		return labels
	}
	if cfg.Name != "" {
		labels = append(labels, wal.Label{Name: metaContainerName, Value: cfg.Name})
	}
	for k, v := range cfg.Config.Labels {
		labels = append(labels, wal.Label{Name: metaContainerLabelPrefix + strutil.SanitizeLabelName(k), Value: v})
	}
	return labels
}
