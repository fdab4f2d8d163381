package sources

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/logcapturer/logcapturer/internal/glob"
)

// Defaults of FileOptions.
const (
	DefaultBlockBytes       = 64 << 10
	DefaultMaxLineBytes     = 256 << 10
	DefaultPollInterval     = time.Second
	DefaultMaxOpenFiles     = 1024
	DefaultCloseInactive    = 5 * time.Minute
	DefaultFingerprintBytes = 1024
	DefaultMultilineLines   = 500
	DefaultMultilineWait    = 2 * time.Second
)

// Default globs of the docker and cri source types.
const (
	DefaultDockerPath = "/var/lib/docker/containers/*/*-json.log"
	DefaultCRIPath    = "/var/log/pods/*/*/*.log"
)

// StartAt values.
const (
	StartAtBeginning = "beginning"
	StartAtEnd       = "end"
)

// Type values: how the lines of a file are decoded.
const (
	// TypeFile: each line is an entry, as is.
	TypeFile = "file"
	// TypeDocker: Docker json-file lines {"log","stream","time"}; the
	// 16 KiB partial lines Docker splits long lines into are joined.
	TypeDocker = "docker"
	// TypeCRI: Kubernetes CRI lines "TIME STREAM P|F MESSAGE"; partial (P)
	// lines are joined.
	TypeCRI = "cri"
)

// Labels the source sets. A configured label may not use them.
const (
	filenameLabel      = "filename"
	streamLabel        = "stream"
	parseErrorLabel    = "parse_error"
	containerIDLabel   = "container_id"
	containerNameLabel = "container_name"
	imageLabel         = "image"
	namespaceLabel     = "namespace"
	podLabel           = "pod"
	containerLabel     = "container"
)

// FileOptions configure a File source. The zero value of every optional
// field means its default; Validate names fields by their YAML keys.
type FileOptions struct {
	// Name names the source; it is stored in every block and labels its
	// metrics. Required.
	Name string
	// Type is TypeFile (default, also ""), TypeDocker or TypeCRI.
	Type string
	// Paths are the globs (filepath.Match syntax, plus "**" and {a,b}:
	// package internal/glob) of the files to tail.
	// They are cleaned (filepath.Clean); matches are reported as the glob
	// spells them (relative globs give relative paths). Required for
	// TypeFile; TypeDocker defaults to DefaultDockerPath and TypeCRI to
	// DefaultCRIPath.
	Paths []string
	// Exclude are globs matched against both the base name and the full
	// path of each match; a file matching any of them is not tailed.
	Exclude []string
	// StartAt is "beginning" (default) or "end". It applies only to files
	// present at startup that have no stored position; files that appear
	// later are always read from their beginning.
	StartAt string
	// Labels are the stream labels of every block. The source adds
	// filename=<path> and, by Type, stream, parse_error, container_id,
	// container_name, image, namespace, pod and container: those names are
	// reserved.
	Labels map[string]string
	// MaxLineBytes caps an entry: a longer line is emitted as chunks of
	// this size, and a multiline or partial-line entry is cut when the
	// bytes it spans in the file would pass it. Default
	// DefaultMaxLineBytes; at least 1.
	MaxLineBytes int
	// BlockBytes is the target number of line bytes per block. Default
	// DefaultBlockBytes.
	BlockBytes int
	// PollInterval is the period of the glob rescan that catches what
	// inotify missed. It is also the grace period a rotated or deleted file
	// is kept open for after its last growth. Default DefaultPollInterval.
	PollInterval time.Duration
	// MaxOpenFiles bounds the descriptors the source holds (YAML
	// max_open_files). When a new file needs one, the file idle the
	// longest is closed; a file that is gone (rotated away, deleted) is
	// never closed before it is read to its end. Default
	// DefaultMaxOpenFiles.
	MaxOpenFiles int
	// CloseInactive closes a file that has not grown for this long (YAML
	// close_inactive); it is reopened, at its position, when it grows.
	// Default DefaultCloseInactive.
	CloseInactive time.Duration
	// FingerprintBytes is how many leading bytes of a file identify it,
	// with its device and inode (YAML fingerprint_bytes). Default
	// DefaultFingerprintBytes.
	FingerprintBytes int
	// Encoding is the IANA name of the character set the files are
	// written in (YAML encoding; Promtail's scrape_configs encoding):
	// UTF-16LE, UTF-16BE, UTF-16 (byte order from the file's mark),
	// ISO-8859-1, windows-1252, Shift_JIS, GBK, ... Their lines are
	// converted to UTF-8 as they are read (see encoding.go). Empty or
	// UTF-8: lines are shipped as they are. Not for TypeDocker (Docker
	// writes UTF-8 JSON); TypeCRI takes only encodings whose newline is
	// the byte '\n' (its prefix is ASCII).
	Encoding string
	// Multiline groups lines into entries (YAML multiline). Off when
	// Multiline.Start is empty.
	Multiline MultilineOptions
	// Timestamp takes entry times from the entries (YAML timestamp). Off
	// when neither Timestamp.Regex nor Timestamp.JSONField is set.
	Timestamp TimestampOptions
	// Stages is the pipeline_stages list as written (Promtail's syntax):
	// each entry runs through it before it is written (see StageRunner).
	// Nil or empty: no stages, and entries go straight into blocks.
	Stages *yaml.Node
	// MaxStreams bounds the label sets the stages make (0:
	// DefaultMaxStreams; see StageOptions.MaxStreams).
	MaxStreams int
	// PromtailLabels (TypeDocker only) labels entries as Promtail's
	// docker_sd_configs does, for relabel_configs to map: instead of
	// filename, container_id, container_name, image and stream, the file's
	// __meta_docker_container_id, __meta_docker_container_name and
	// __meta_docker_container_label_<name> (see dockerMetaLabels) and each
	// entry's __meta_docker_container_log_stream; a line's trailing '\r's
	// are removed as Promtail does. The "__" labels are removed after
	// Relabel, so entries always run through a StageRunner.
	PromtailLabels bool
	// Relabel runs on each entry's labels before the stages (see
	// StageOptions.Relabel); setting it runs the entries through a
	// StageRunner even without Stages.
	Relabel func(lbls map[string]string) (keep bool)
	// Kubernetes, when set (type kubernetes), labels each file from its
	// pod in the Kubernetes API and reads only the files its rules keep
	// (see kubeFiles.decide). Type is then TypeCRI or TypeFile (format
	// raw) and Relabel is not used: the rules run once per file.
	Kubernetes *KubernetesOptions
	// Positions are the positions recovered from the WAL, FileID -> offset.
	// A stored position always wins over StartAt. The map is copied.
	Positions map[string]int64
	// Cursors are the Cursors of those positions that have one, FileID ->
	// cursor: in a file of interleaved streams, the lines after the
	// offset that are in entries emitted already (see streamSkip). The
	// map is copied.
	Cursors map[string]string
	// Emitter receives the records. Required.
	Emitter Emitter
	// Conditions receives the source's lasting conditions
	// (ConditionUnreadable). Nil: they show only in Files, the logs and
	// the metrics.
	Conditions ConditionSetter
	// Open opens a matched file for reading. Nil: the default, read-only
	// and non-blocking (a FIFO that replaced a file never blocks the
	// source). It is a seam for tests: a test running as root, where
	// permission bits do not stop reads, refuses a file with it as a
	// permission error would.
	Open func(path string) (*os.File, error)
	// Now is the clock of entry times (nil: time.Now). It is read once per
	// block and converted to UTC; entries whose time is taken from the
	// line (Docker, CRI, Timestamp) do not use it.
	Now func() time.Time
}

// MultilineOptions group the lines of a file (of one stream, for Docker and
// CRI) into entries, for stack traces: an entry is a line matching Start
// and the lines after it that do not.
type MultilineOptions struct {
	// Start is the regular expression (RE2 syntax) of an entry's first
	// line (YAML multiline.start). Lines before the first match form
	// entries of their own kind: consecutive non-matching lines are
	// grouped. Empty: multiline is off.
	Start string `yaml:"start"`
	// MaxLines ends an entry at this many lines (YAML multiline.max_lines).
	// Default DefaultMultilineLines.
	MaxLines int `yaml:"max_lines"`
	// MaxWait ends an entry when no line came for this long after its last
	// one, at the end of the file (YAML multiline.max_wait). It also ends a
	// Docker or CRI partial line that is never completed. Default
	// DefaultMultilineWait.
	MaxWait time.Duration `yaml:"max_wait"`
}

// Enabled reports whether multiline grouping is on.
func (o MultilineOptions) Enabled() bool { return o.Start != "" }

// Validate checks the options; errors name the YAML key, one a line.
func (o MultilineOptions) Validate() error { return joinProblems(o.rules) }

// rules reports each problem of o with its YAML key.
func (o MultilineOptions) rules(report func(key, msg string)) {
	if o.Start == "" {
		if o.MaxLines != 0 || o.MaxWait != 0 {
			report("multiline.start", "is required when multiline.max_lines or multiline.max_wait is set")
		}
		return
	}
	if _, err := regexp.Compile(o.Start); err != nil {
		report("multiline.start", "does not compile: "+err.Error())
	}
	if o.MaxLines < 0 {
		report("multiline.max_lines", fmt.Sprintf("must not be negative, got %d", o.MaxLines))
	}
	if o.MaxWait < 0 {
		report("multiline.max_wait", fmt.Sprintf("must not be negative, got %v", o.MaxWait))
	}
}

// joinProblems runs rules and returns what it reports as one error, a
// "key: message" a line; nil when nothing is wrong.
func joinProblems(rules func(report func(key, msg string))) error {
	var errs []error
	rules(func(key, msg string) { errs = append(errs, fmt.Errorf("%s: %s", key, msg)) })
	return errors.Join(errs...)
}

// Special TimestampOptions.Layout values for numeric epochs.
const (
	LayoutUnix   = "unix"    // seconds, with an optional fraction
	LayoutUnixMs = "unix_ms" // milliseconds
	LayoutUnixUs = "unix_us" // microseconds
	LayoutUnixNs = "unix_ns" // nanoseconds
)

// TimestampOptions take each entry's time from the entry itself. A time
// without a zone is read in Location and stored as UTC. An entry whose time
// cannot be found or parsed keeps its read time (or, for Docker and CRI, the
// time in the record) and is counted in
// logcapturer_source_errors_total{reason="timestamp"}.
type TimestampOptions struct {
	// Regex finds the time in the entry (YAML timestamp.regex): a regular
	// expression (RE2) with a named group "ts". Exclusive with JSONField.
	Regex string `yaml:"regex"`
	// JSONField is the name of a top-level field of an entry that is a
	// JSON object (YAML timestamp.json_field). A string is parsed with
	// Layout, a number as a Unix epoch in the unit Layout says (seconds
	// unless Layout is unix_ms, unix_us or unix_ns). Exclusive with Regex.
	JSONField string `yaml:"json_field"`
	// Layout is the Go time layout of the text (YAML timestamp.layout),
	// e.g. "2006-01-02 15:04:05.000", or unix, unix_ms, unix_us, unix_ns.
	// Default time.RFC3339Nano (which also parses times without a
	// fraction).
	Layout string `yaml:"layout"`
	// Location is the IANA zone of times without a zone (YAML
	// timestamp.location), "UTC" or "Local". Default "Local": the host's
	// zone (time.Local when the source is built).
	Location string `yaml:"location"`
}

// Enabled reports whether timestamps are parsed.
func (o TimestampOptions) Enabled() bool { return o.Regex != "" || o.JSONField != "" }

// Validate checks the options; errors name the YAML key, one a line.
func (o TimestampOptions) Validate() error { return joinProblems(o.rules) }

// rules reports each problem of o with its YAML key.
func (o TimestampOptions) rules(report func(key, msg string)) {
	if !o.Enabled() {
		if o.Layout != "" || o.Location != "" {
			report("timestamp", "regex or json_field is required when layout or location is set")
		}
		return
	}
	if o.Regex != "" && o.JSONField != "" {
		report("timestamp", "set regex or json_field, not both")
	}
	if o.Regex != "" {
		re, err := regexp.Compile(o.Regex)
		switch {
		case err != nil:
			report("timestamp.regex", "does not compile: "+err.Error())
		case re.SubexpIndex("ts") < 0:
			report("timestamp.regex", fmt.Sprintf("%q has no named group ts, as in (?P<ts>...)", o.Regex))
		}
	}
	if _, err := loadLocation(o.Location); err != nil {
		report("timestamp.location", err.Error())
	}
}

// loadLocation is LoadLocation with the name in its error.
func loadLocation(name string) (*time.Location, error) {
	loc, err := LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", name, err)
	}
	return loc, nil
}

// LoadLocation returns the zone a location key names (the time zone of
// timestamps without one, in every source type): "" and "Local" are the
// host's zone (time.Local as it is now), "UTC" is UTC, anything else an
// IANA zone name loaded by time.LoadLocation, whose error it returns.
func LoadLocation(name string) (*time.Location, error) {
	switch name {
	case "", "Local":
		return time.Local, nil
	case "UTC":
		return time.UTC, nil
	}
	return time.LoadLocation(name)
}

// SetDefaults fills the zero fields with their defaults. NewFile calls it;
// it is exported so that a caller can show the effective options.
func (o *FileOptions) SetDefaults() {
	if o.Type == "" {
		o.Type = TypeFile
	}
	if len(o.Paths) == 0 {
		switch o.Type {
		case TypeDocker:
			o.Paths = []string{DefaultDockerPath}
		case TypeCRI:
			o.Paths = []string{DefaultCRIPath}
		}
	}
	if o.StartAt == "" {
		o.StartAt = StartAtBeginning
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.BlockBytes <= 0 {
		o.BlockBytes = DefaultBlockBytes
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.MaxOpenFiles <= 0 {
		o.MaxOpenFiles = DefaultMaxOpenFiles
	}
	if o.CloseInactive <= 0 {
		o.CloseInactive = DefaultCloseInactive
	}
	if o.FingerprintBytes <= 0 {
		o.FingerprintBytes = DefaultFingerprintBytes
	}
	if o.Multiline.Enabled() {
		if o.Multiline.MaxLines <= 0 {
			o.Multiline.MaxLines = DefaultMultilineLines
		}
		if o.Multiline.MaxWait <= 0 {
			o.Multiline.MaxWait = DefaultMultilineWait
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// maxWait is how long a pending multiline entry or partial line waits at
// the end of a file for more.
func (o *FileOptions) maxWait() time.Duration {
	if o.Multiline.MaxWait > 0 {
		return o.Multiline.MaxWait
	}
	return DefaultMultilineWait
}

// reservedLabels returns the labels the source sets for o.Type.
func reservedLabels(typ string) []string {
	switch typ {
	case TypeDocker:
		return []string{filenameLabel, streamLabel, parseErrorLabel, containerIDLabel, containerNameLabel, imageLabel}
	case TypeCRI:
		return []string{filenameLabel, streamLabel, parseErrorLabel, namespaceLabel, podLabel, containerLabel}
	}
	return []string{filenameLabel}
}

// Validate checks the options as NewFile would, after defaults. It returns
// every problem, one a line, each as "key: message" with the YAML key
// relative to the source's entry ("paths[1]", "multiline.start"), or nil.
// Negative numbers are errors; zero means the default.
func (o *FileOptions) Validate() error {
	return joinProblems(func(report func(key, msg string)) {
		o.commonRules(report)
		o.typeRules(report)
		if o.Emitter == nil {
			report("emitter", "required")
		}
	})
}

// commonRules reports the problems that config checks too when it loads a
// file (name, type, globs, start_at, label names, negative numbers).
func (o *FileOptions) commonRules(report func(key, msg string)) {
	if o.Name == "" {
		report("name", "required")
	}
	switch o.Type {
	case "", TypeFile:
		if len(o.Paths) == 0 {
			report("paths", "at least one glob is required")
		}
	case TypeDocker, TypeCRI:
	default:
		report("type", fmt.Sprintf("%q: want %q, %q or %q", o.Type, TypeFile, TypeDocker, TypeCRI))
	}
	for i, p := range o.Paths {
		key := "paths[" + strconv.Itoa(i) + "]"
		if err := glob.Check(p); err != nil {
			report(key, err.Error())
		}
	}
	for i, p := range o.Exclude {
		if err := glob.Check(p); err != nil {
			report("exclude["+strconv.Itoa(i)+"]", err.Error())
		}
	}
	if o.StartAt != "" && o.StartAt != StartAtBeginning && o.StartAt != StartAtEnd {
		report("start_at", fmt.Sprintf("%q: want %q or %q", o.StartAt, StartAtBeginning, StartAtEnd))
	}
	if _, ok := o.Labels[""]; ok {
		report("labels", "empty label name")
	}
	for _, n := range []struct {
		key string
		v   int64
	}{
		{"max_line_bytes", int64(o.MaxLineBytes)}, {"block_bytes", int64(o.BlockBytes)}, {"max_open_files", int64(o.MaxOpenFiles)},
		{"fingerprint_bytes", int64(o.FingerprintBytes)}, {"poll_interval", int64(o.PollInterval)}, {"close_inactive", int64(o.CloseInactive)},
	} {
		if n.v < 0 {
			report(n.key, fmt.Sprintf("must not be negative, got %d", n.v))
		}
	}
}

// typeRules reports what only this package knows: labels the source sets
// itself, multiline and timestamp options (regexes that do not compile, a
// timestamp regex without a ts group, an unknown zone). The source types'
// config Check runs these, so that logcapturer check places them at their
// lines with every other problem.
func (o *FileOptions) typeRules(report func(key, msg string)) {
	typ := o.Type
	if typ == "" {
		typ = TypeFile
	}
	reserved := reservedLabels(typ)
	if o.PromtailLabels {
		if typ != TypeDocker {
			report("promtail_labels", "is for a docker source only")
		}
		reserved = []string{parseErrorLabel}
	}
	names := make([]string, 0, len(o.Labels))
	for k := range o.Labels {
		if slices.Contains(reserved, k) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		report("labels."+k, fmt.Sprintf("%q is reserved: the %s source sets it", k, typ))
	}
	if o.Kubernetes != nil && typ != TypeCRI && typ != TypeFile {
		report("type", "a kubernetes source reads its files as cri or raw lines")
	}
	o.Multiline.rules(report)
	o.Timestamp.rules(report)
	o.encodingRules(typ, report)
}

// encodingRules reports an encoding that is not known, cannot be
// converted, or does not go with the source's type.
func (o *FileOptions) encodingRules(typ string, report func(key, msg string)) {
	c, err := parseEncoding(o.Encoding)
	switch {
	case err != nil:
		report("encoding", err.Error())
	case c == nil:
	case typ == TypeDocker:
		report("encoding", "Docker's json-file logs are UTF-8 JSON: remove encoding")
	case typ == TypeCRI && c.wide():
		report("encoding", fmt.Sprintf("%q: CRI log lines start with an ASCII time and stream; a UTF-16 file cannot be one", o.Encoding))
	}
}

// staged reports whether entries run through a StageRunner.
func (o *FileOptions) staged() bool {
	return o.Relabel != nil || (o.Stages != nil && len(o.Stages.Content) > 0) || o.promtailDocker()
}

// promtailDocker reports whether the source labels entries as Promtail's
// docker_sd_configs does (PromtailLabels on a docker source).
func (o *FileOptions) promtailDocker() bool {
	return o.PromtailLabels && o.Type == TypeDocker
}
