package sources

import (
	"bytes"
	"path/filepath"
	"strings"

	"github.com/logcapturer/logcapturer/wal"
)

// decodeCRI decodes one CRI log line (the format kubelet's container
// runtimes write):
//
//	2024-01-02T03:04:05.123456789Z stdout F message
//
// The tag is P for a partial line continued by the next record of the
// stream, F for a full (or final) one; it may carry more ':'-separated
// flags. The message is everything after the tag's space, kept as is. A
// line that does not have this shape is returned raw with parseErr set.
func decodeCRI(line []byte) record {
	bad := record{content: line, parseErr: true}
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return bad
	}
	ts := parseRFC3339(line[:i])
	if ts == 0 {
		return bad
	}
	rest := line[i+1:]
	j := bytes.IndexByte(rest, ' ')
	if j <= 0 {
		return bad
	}
	stream := internStream(rest[:j])
	rest = rest[j+1:]
	tag, msg := rest, rest[len(rest):]
	if k := bytes.IndexByte(rest, ' '); k >= 0 {
		tag, msg = rest[:k], rest[k+1:]
	}
	if k := bytes.IndexByte(tag, ':'); k >= 0 {
		tag = tag[:k]
	}
	var partial bool
	switch string(tag) {
	case "P":
		partial = true
	case "F":
	default:
		return bad
	}
	return record{content: msg, time: ts, stream: stream, partial: partial}
}

// criLabels returns namespace, pod and container from the path of a CRI
// log: /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log, or
// /var/log/containers/<pod>_<namespace>_<container>-<id>.log. Paths of
// another shape get none.
func criLabels(path string) []wal.Label {
	dir := filepath.Dir(path)
	if parts := strings.SplitN(filepath.Base(filepath.Dir(dir)), "_", 3); len(parts) == 3 && parts[0] != "" && parts[1] != "" {
		return []wal.Label{
			{Name: namespaceLabel, Value: parts[0]},
			{Name: podLabel, Value: parts[1]},
			{Name: containerLabel, Value: filepath.Base(dir)},
		}
	}
	base := strings.TrimSuffix(filepath.Base(path), ".log")
	if parts := strings.SplitN(base, "_", 3); len(parts) == 3 && parts[0] != "" && parts[1] != "" {
		if k := strings.LastIndexByte(parts[2], '-'); k > 0 {
			return []wal.Label{
				{Name: namespaceLabel, Value: parts[1]},
				{Name: podLabel, Value: parts[0]},
				{Name: containerLabel, Value: parts[2][:k]},
			}
		}
	}
	return nil
}
