package sources

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

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
		*scratch = appendUnescaped((*scratch)[:0], logVal)
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

// dockerLabels returns the labels of a json-file log: container_id from
// its directory, container_name and image from the container's
// config.v2.json when it can be read (it is usually root's only).
func dockerLabels(path string) []wal.Label {
	dir := filepath.Dir(path)
	labels := []wal.Label{{Name: containerIDLabel, Value: filepath.Base(dir)}}
	data, err := os.ReadFile(filepath.Join(dir, "config.v2.json"))
	if err != nil {
		return labels
	}
	var cfg struct {
		Name   string
		Config struct{ Image string }
	}
	if json.Unmarshal(data, &cfg) != nil {
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
