package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// PromtailPositions is Promtail's positions file, as Promtail 2.x and 3.x
// write it:
//
//	positions:
//	  /var/log/syslog: "12345"
//	  journal-system: "s=...;i=...;b=...;m=...;t=...;x=..."
//
// A file's key is its path and its value its byte offset (a decimal
// string); a journal target's key is "cursor-" (Promtail 3.x; "journal-"
// before) and its job name, and its value the journal cursor; a
// docker_sd_configs target's key is "cursor-" and the container's ID, and
// its value the Unix second of the last entry sent. Nothing else is
// stored: no inode, no hash.
type PromtailPositions struct {
	// File is the path read.
	File string
	// Entries are the positions in the order written.
	Entries []PromtailPosition
}

// PromtailPosition is one entry of Promtail's positions file.
type PromtailPosition struct {
	Key, Value string
	// Line is the entry's line in the file.
	Line int
}

// PromtailJournalPrefix and PromtailCursorPrefix start the key of a
// journal target's cursor in Promtail's positions file; the job name
// follows. Promtail 3.x writes "cursor-" (positions.CursorKey) and still
// keeps "journal-" keys of older versions.
const (
	PromtailJournalPrefix = "journal-"
	PromtailCursorPrefix  = "cursor-"
)

// DockerContainer returns the container ID and time of a docker target's
// entry (key cursor-<64 hex digits>, value Unix seconds); ok is false for
// any other entry.
func (p PromtailPosition) DockerContainer() (id string, since time.Time, ok bool) {
	id, ok = strings.CutPrefix(p.Key, PromtailCursorPrefix)
	if !ok || len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", time.Time{}, false
	}
	sec, err := strconv.ParseInt(p.Value, 10, 64)
	if err != nil || sec < 0 {
		return "", time.Time{}, false
	}
	return id, time.Unix(sec, 0).UTC(), true
}

// JournalJob returns the job name of a journal cursor's entry; ok is
// false for a file's entry.
func (p PromtailPosition) JournalJob() (job string, ok bool) {
	if _, isOffset := p.Offset(); isOffset {
		return "", false
	}
	if job, ok = strings.CutPrefix(p.Key, PromtailCursorPrefix); ok {
		return job, true
	}
	return strings.CutPrefix(p.Key, PromtailJournalPrefix)
}

// Offset returns the entry's value as a file offset; ok is false for a
// value that is not a non-negative decimal (a journal cursor).
func (p PromtailPosition) Offset() (int64, bool) {
	n, err := strconv.ParseInt(p.Value, 10, 64)
	return n, err == nil && n >= 0
}

// ErrPositionsInvalid is wrapped by ReadPromtailPositions's error when the
// file was read but is not a positions file (YAML error, wrong shape).
var ErrPositionsInvalid = errors.New("not a Promtail positions file")

// ReadPromtailPositions reads and parses Promtail's positions file at
// path. A file that cannot be read gives that error, wrapped; one that is
// not a positions file gives an error wrapping ErrPositionsInvalid that
// names the line. An empty file has no entries (Promtail writes none
// before its first sync). It only reads the file.
func ReadPromtailPositions(path string) (*PromtailPositions, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read Promtail positions: %w", err)
	}
	return ParsePromtailPositions(path, data)
}

// ParsePromtailPositions is ReadPromtailPositions for data already read.
func ParsePromtailPositions(path string, data []byte) (out *PromtailPositions, err error) {
	out = &PromtailPositions{File: path}
	defer func() {
		if r := recover(); r != nil { // the YAML decoder panics on some input
			out, err = nil, fmt.Errorf("%s: %w: %v", path, ErrPositionsInvalid, r)
		}
	}()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", path, ErrPositionsInvalid, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return out, nil
	}
	root := ResolveAlias(doc.Content[0])
	if IsNull(root) {
		return out, nil
	}
	bad := func(n *yaml.Node, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %w: %s", path, n.Line, ErrPositionsInvalid, fmt.Sprintf(format, args...))
	}
	if root.Kind != yaml.MappingNode {
		return nil, bad(root, "want a mapping with the key positions, got %s", NodeKind(root))
	}
	var pos *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "positions" {
			pos = ResolveAlias(root.Content[i+1])
		}
	}
	if pos == nil || IsNull(pos) {
		return out, nil
	}
	if pos.Kind != yaml.MappingNode {
		return nil, bad(pos, "positions must be a mapping of path to offset, got %s", NodeKind(pos))
	}
	for i := 0; i+1 < len(pos.Content); i += 2 {
		k, v := ResolveAlias(pos.Content[i]), ResolveAlias(pos.Content[i+1])
		if k == nil || v == nil || k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode {
			return nil, bad(pos.Content[i], "positions entries must be path: \"offset\"")
		}
		out.Entries = append(out.Entries, PromtailPosition{Key: k.Value, Value: v.Value, Line: k.Line})
	}
	return out, nil
}

// takeover checks the takeover section; with checkFiles it reads
// Promtail's positions file, which must be readable and valid (unless
// ignore_invalid). A file that does not exist is a warning: Promtail
// never saved positions there, and there is nothing to take over.
func (v *validator) takeover(t *Takeover) {
	const key = "takeover.promtail_positions"
	if !v.has(key) || v.failed[key] {
		if v.has("takeover.ignore_invalid") && !v.has(key) {
			v.add("takeover.promtail_positions", "is required in takeover")
		}
		return
	}
	if t.PromtailPositions == "" {
		v.add(key, "must not be empty: the path of Promtail's positions.yaml (leave takeover out for none)")
		return
	}
	if !v.checkFiles {
		return
	}
	_, err := ReadPromtailPositions(t.PromtailPositions)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		v.ps.warn(v.line(key), key, "%v: there is nothing to take over (Promtail never saved positions there); if Promtail ran on this host, give its positions.filename", err)
	case errors.Is(err, ErrPositionsInvalid) && t.IgnoreInvalid:
		v.ps.warn(v.line(key), key, "%v; ignore_invalid is set: logcapturer will start without Promtail's positions", err)
	case errors.Is(err, ErrPositionsInvalid):
		v.add(key, "%v; fix the file, set takeover.ignore_invalid: true to start without it, or remove takeover", err)
	default:
		v.add(key, "%v; make it readable by logcapturer, or remove takeover to start without Promtail's positions", err)
	}
}
