package journald

import (
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

// Defaults.
const (
	DefaultJournalctlPath = "journalctl"
	DefaultMaxEntryBytes  = 1 << 20
	// maxMaxEntryBytes bounds max_entry_bytes (an entry's offsets are
	// int32).
	maxMaxEntryBytes = 1 << 30
)

// Values of Options.Since besides a time.
const (
	SinceNow       = "now"
	SinceBeginning = "beginning"
)

// DefaultFieldLabels maps the labels every entry gets by default to the
// journal fields they come from. PRIORITY becomes a level name (see
// levelName).
func DefaultFieldLabels() map[string]string {
	return map[string]string{
		"unit":              "_SYSTEMD_UNIT",
		"priority":          "PRIORITY",
		"hostname":          "_HOSTNAME",
		"syslog_identifier": "SYSLOG_IDENTIFIER",
		"transport":         "_TRANSPORT",
	}
}

// Options are a journald source's own keys (type: journald). The keys
// every source has (name, labels, sinks) are the config's.
type Options struct {
	// Path is a journal directory (journalctl --directory), e.g. a host's
	// /var/log/journal mounted into a container. Files (--file) and Root
	// (--root) are the other ways to point at journals; at most one of the
	// three is set. None: the system journal.
	Path  string   `yaml:"path"`
	Files []string `yaml:"files"`
	Root  string   `yaml:"root"`
	// Merge reads the journals of all machines found (--merge).
	Merge bool `yaml:"merge"`
	// Matches are journalctl field matches, as Promtail has them: a
	// space-separated string of FIELD=value terms ("+" between two groups
	// is an OR), e.g. "_SYSTEMD_UNIT=nginx.service".
	Matches string `yaml:"matches"`
	// Priority is the highest (least urgent) level read: a level name
	// (emerg, alert, crit, err, warning, notice, info, debug), a number
	// 0-7, or a range FROM..TO (journalctl --priority).
	Priority string `yaml:"priority"`
	// Since is where a journal never read before is read from: "now" (the
	// default), "beginning", or a time (RFC 3339, e.g.
	// 2025-01-02T15:04:05Z). Once a block is in the WAL the source resumes
	// after the cursor it holds.
	Since string `yaml:"since"`
	// MaxAge is Promtail's: the oldest entry to read. On a first start the
	// journal is read from now-MaxAge (instead of Since, which must then be
	// left out), and entries older than it are skipped at any time (a
	// cursor stored long ago does not bring back weeks of entries).
	MaxAge config.Duration `yaml:"max_age"`
	// JSON makes the line the whole entry as a JSON object, as Promtail's
	// json: true writes it (see formatter.appendJSON); otherwise the line
	// is MESSAGE.
	JSON bool `yaml:"json"`
	// FieldLabels maps label names to the journal fields they take their
	// values from, merged over DefaultFieldLabels; a label mapped to ""
	// is removed. An entry without the field has no such label.
	FieldLabels map[string]string `yaml:"field_labels"`
	// Metadata maps structured metadata names to journal fields, added to
	// each entry that has the field (none by default), e.g.
	// {pid: _PID, boot_id: _BOOT_ID}.
	Metadata map[string]string `yaml:"metadata"`
	// JournalctlPath is the journalctl to run (default: journalctl, looked
	// up in PATH).
	JournalctlPath string `yaml:"journalctl_path"`
	// MaxEntryBytes bounds an entry's names and values: a larger entry is
	// skipped and counted (default 1MiB, at most 1GiB).
	MaxEntryBytes config.ByteSize `yaml:"max_entry_bytes"`
	// PromtailJob is the job_name of the Promtail journal target this
	// source replaces: the takeover (config Takeover) starts it after the
	// journal cursor Promtail saved for that job (TakeoverCursor). A
	// converted Promtail config sets it.
	PromtailJob string `yaml:"promtail_job"`
}

// TakeoverCursor returns the position at which the source starts after
// Promtail's saved cursor, when job is o's PromtailJob; ok is false for
// another job. The cursor is used as journalctl --after-cursor uses it:
// the entry Promtail shipped last is not read again; a cursor journalctl
// refuses (the journal was vacuumed since) is counted and logged, and the
// source starts by since and max_age.
func (o *Options) TakeoverCursor(job, cursor string) (pos wal.Position, ok bool) {
	if o.PromtailJob == "" || job != o.PromtailJob || cursor == "" {
		return wal.Position{}, false
	}
	return wal.Position{FileID: FileID, Cursor: cursor}, true
}

// NewOptions returns Options with their defaults set.
func NewOptions() *Options {
	return &Options{JournalctlPath: DefaultJournalctlPath, MaxEntryBytes: DefaultMaxEntryBytes}
}

// Check reports what is wrong with o at its keys. It touches neither the
// file system nor the network.
func (o *Options) Check(c *config.Check) {
	set := 0
	for _, b := range []bool{o.Path != "", len(o.Files) > 0, o.Root != ""} {
		if b {
			set++
		}
	}
	if set > 1 {
		c.Problem("path", "set only one of path, files and root")
	}
	for i, f := range o.Files {
		if f == "" {
			c.Problem(fmt.Sprintf("files[%d]", i), "must not be empty")
		}
	}
	if _, err := parseMatches(o.Matches); err != nil {
		c.Problem("matches", "%v", err)
	}
	if o.Priority != "" && !validPriority(o.Priority) {
		c.Problem("priority", "must be a level name (emerg, alert, crit, err, warning, notice, info, debug), 0-7 or a range FROM..TO, got %q", o.Priority)
	}
	if o.Since != "" {
		if _, err := parseSince(o.Since); err != nil {
			c.Problem("since", "%v", err)
		}
		if o.MaxAge != 0 {
			c.Problem("since", "set since or max_age, not both")
		}
	}
	if o.MaxAge < 0 {
		c.Problem("max_age", "must not be negative")
	}
	for _, m := range []struct {
		key string
		v   map[string]string
	}{{"field_labels", o.FieldLabels}, {"metadata", o.Metadata}} {
		for _, k := range sortedKeys(m.v) {
			if !validLabelName(k) {
				c.Problem(m.key+"."+k, "is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)")
			}
			if f := m.v[k]; f != "" && !validName([]byte(f)) {
				c.Problem(m.key+"."+k, "%q is not a journal field name (letters, digits, underscores)", f)
			}
		}
	}
	sources.CheckStages(c)
	if o.JournalctlPath == "" {
		c.Problem("journalctl_path", "must not be empty")
	}
	if o.MaxEntryBytes < 1024 || o.MaxEntryBytes > maxMaxEntryBytes {
		c.Problem("max_entry_bytes", "must be between 1KiB and 1GiB")
	}
}

// Validate is Check outside a config file: nil or an error listing every
// problem.
func (o *Options) Validate() error { return config.CheckOnly(o) }

// fieldLabels returns the label mapping in force: the defaults with
// FieldLabels merged over them.
func (o *Options) fieldLabels() map[string]string {
	m := DefaultFieldLabels()
	maps.Copy(m, o.FieldLabels)
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

// parseMatches splits Matches into journalctl's match arguments.
func parseMatches(s string) ([]string, error) {
	terms := strings.Fields(s)
	for i, t := range terms {
		if t == "+" {
			if i == 0 || i == len(terms)-1 || terms[i-1] == "+" {
				return nil, fmt.Errorf("%q must stand between two matches", "+")
			}
			continue
		}
		name, _, ok := strings.Cut(t, "=")
		if !ok || name == "" || !validName([]byte(name)) {
			return nil, fmt.Errorf("%q is not a FIELD=value match", t)
		}
	}
	return terms, nil
}

// levels are the syslog levels by number, as journalctl names them.
var levels = [...]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// levelName is the label value of a PRIORITY, as Promtail's journal
// target writes it (error for 3); other values are kept as they are.
func levelName(p []byte) string {
	if len(p) == 1 && p[0] >= '0' && p[0] <= '7' {
		if p[0] == '3' {
			return "error"
		}
		return levels[p[0]-'0']
	}
	return string(p)
}

func validPriority(s string) bool {
	one := func(s string) bool {
		if len(s) == 1 && s[0] >= '0' && s[0] <= '7' {
			return true
		}
		for _, l := range levels {
			if s == l {
				return true
			}
		}
		return false
	}
	if from, to, ok := strings.Cut(s, ".."); ok {
		return one(from) && one(to)
	}
	return one(s)
}

// parseSince parses Since: the zero time for "beginning", a zero time and
// now=true for "now" (or ""), else the time.
func parseSince(s string) (since time.Time, err error) {
	switch s {
	case "", SinceNow, SinceBeginning:
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("must be now, beginning or an RFC 3339 time such as 2025-01-02T15:04:05Z, got %q", s)
	}
	return t, nil
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
