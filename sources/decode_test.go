package sources

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// entry is one recorded entry with its block's labels.
type entry struct {
	line   string
	time   time.Time
	labels map[string]string
}

func (r *recorder) entries() []entry {
	var out []entry
	for _, b := range r.all() {
		labels := make(map[string]string)
		for _, l := range b.labels {
			labels[l.Name] = l.Value
		}
		for i, l := range b.lines {
			out = append(out, entry{line: l, time: time.Unix(0, b.times[i]).UTC(), labels: labels})
		}
	}
	return out
}

// copyTree copies testdata/src into a new temporary directory, keeping its
// shape (Docker and CRI labels come from the path).
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

type wantEntry struct {
	line   string
	stream string // "parse_error" for a raw line
	time   string // RFC 3339; "" for the read time
}

func checkEntries(t *testing.T, got []entry, want []wantEntry, readTime time.Time, common map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d entries, want %d", len(got), len(want))
	}
	lastRead := readTime.Add(-time.Nanosecond)
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if g.line != w.line {
			t.Errorf("entry %d: line %.60q (%d bytes), want %.60q (%d bytes)", i, g.line, len(g.line), w.line, len(w.line))
		}
		if w.stream == "parse_error" {
			if g.labels[parseErrorLabel] != "true" || g.labels[streamLabel] != "" {
				t.Errorf("entry %d %.40q: labels %v, want parse_error=true", i, g.line, g.labels)
			}
		} else if g.labels[streamLabel] != w.stream || g.labels[parseErrorLabel] != "" {
			t.Errorf("entry %d %.40q: labels %v, want stream=%s", i, g.line, g.labels, w.stream)
		}
		if w.time == "" {
			// The read time, each entry 1 ns after the last one so
			// timed (EntryClock).
			if !g.time.After(lastRead) || g.time.Sub(readTime) > time.Microsecond {
				t.Errorf("entry %d %.40q: time %v, want after %v and within 1µs of the read time %v", i, g.line, g.time, lastRead, readTime)
			}
			lastRead = g.time
		} else if wt, err := time.Parse(time.RFC3339Nano, w.time); err != nil {
			t.Fatal(err)
		} else if !g.time.Equal(wt) {
			t.Errorf("entry %d %.40q: time %v, want %v", i, g.line, g.time, wt)
		}
		for k, v := range common {
			if g.labels[k] != v {
				t.Errorf("entry %d: label %s=%q, want %q", i, k, g.labels[k], v)
			}
		}
	}
}

func TestDockerFixture(t *testing.T) {
	dir := copyTree(t, "testdata/docker")
	readTime := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, FileOptions{Type: TypeDocker, Paths: []string{filepath.Join(dir, "containers/*/*-json.log")},
		MaxLineBytes: 64 << 10, Now: func() time.Time { return readTime }})
	h.start(t)
	id := "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899"
	r := strings.Repeat
	want := []wantEntry{
		{"hello stdout", "stdout", "2024-05-01T10:00:00.000000001Z"},
		{"err line", "stderr", "2024-05-01T10:00:00.5Z"},
		{r("a", 16384) + r("b", 16384) + "ccc", "stdout", "2024-05-01T10:00:01Z"},
		{"interleaved", "stderr", "2024-05-01T10:00:01.1Z"},
		{"this is not json {", "parse_error", ""},
		{"windows line\r", "stdout", "2024-05-01T10:00:02Z"},
		{"caf\u00e9 \U0001F600 tab\there \"q\" <html>", "stdout", "2024-05-01T10:00:03Z"},
		{`{"stream":"stdout","time":"2024-05-01T10:00:04Z"}`, "parse_error", ""},
		{"", "parse_error", ""},
		// 16 KiB partials joined, cut before max_line_bytes (64 KiB).
		{r("d", 16384) + r("e", 16384) + r("f", 16384), "stdout", "2024-05-01T10:00:05Z"},
		{r("g", 16384) + r("h", 16384) + "end", "stdout", "2024-05-01T10:00:05Z"},
		// Never completed: emitted after max_wait.
		{"dangling partial", "stdout", "2024-05-01T10:00:06Z"},
	}
	waitFor(t, func() bool { return len(h.rec.entries()) >= len(want) }, 10*time.Second, "every entry")
	checkEntries(t, h.rec.entries(), want, readTime, map[string]string{
		containerIDLabel: id, containerNameLabel: "web", imageLabel: "nginx:1.25",
		filenameLabel: filepath.Join(dir, "containers", id, id+"-json.log")})
	if got := h.errors(reasonParse); got != 3 {
		t.Errorf("parse errors = %v, want 3", got)
	}
	if got := testutilValue(h.f.metrics.linesSplit); got != 1 {
		t.Errorf("lines split = %v, want 1", got)
	}
	// Every position is at a record boundary where no partial line of any
	// stream is under way; the last is the end of the file.
	data, err := os.ReadFile(filepath.Join(dir, "containers", id, id+"-json.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range h.rec.all() {
		if off := b.rec.Position.Offset; off < int64(len(data)) && data[off-1] != '\n' {
			t.Errorf("position %d is not at a line start", off)
		}
	}
	if pos, _ := h.rec.last(idOf(t, filepath.Join(dir, "containers", id, id+"-json.log"))); pos.Offset != int64(len(data)) {
		t.Errorf("last position %d, file size %d", pos.Offset, len(data))
	}
}

func TestDockerLabelsWithoutConfig(t *testing.T) {
	dir := t.TempDir()
	id := strings.Repeat("ab", 32)
	p := filepath.Join(dir, id, id+"-json.log")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p, `{"log":"x\n","stream":"stdout","time":"2024-05-01T10:00:00Z"}`+"\n")
	h := newHarness(t, FileOptions{Type: TypeDocker, Paths: []string{filepath.Join(dir, "*/*-json.log")}})
	h.start(t)
	h.rec.waitLines(t, "", "x")
	got := h.rec.entries()[0].labels
	if got[containerIDLabel] != id || got[containerNameLabel] != "" || got[imageLabel] != "" {
		t.Errorf("labels %v", got)
	}
}

func TestCRIFixture(t *testing.T) {
	dir := copyTree(t, "testdata/cri")
	readTime := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, FileOptions{Type: TypeCRI, Paths: []string{filepath.Join(dir, "pods/*/*/*.log")},
		MaxLineBytes: 64 << 10, Now: func() time.Time { return readTime }})
	h.start(t)
	r := strings.Repeat
	want := []wantEntry{
		{"hello", "stdout", "2024-05-01T10:00:00.000000001Z"},
		{"part one |part two|end", "stdout", "2024-05-01T10:00:00.1Z"},
		{"interleaved err", "stderr", "2024-05-01T10:00:00.2Z"},
		{"garbage line", "parse_error", ""},
		{"with cr\r", "stdout", "2024-05-01T10:00:01Z"},
		{"", "stdout", "2024-05-01T10:00:02Z"},
		{"", "stderr", "2024-05-01T10:00:03Z"},
		{"zoned time", "stdout", "2024-05-01T08:00:04Z"},
		{"extra flag", "stdout", "2024-05-01T10:00:05Z"},
		{"2024-05-01T10:00:06Z stdout X bad tag", "parse_error", ""},
		{r("k", 16384) + r("l", 16384) + r("m", 16384), "stdout", "2024-05-01T10:00:07Z"},
		{r("n", 16384) + r("o", 16384) + r("p", 16384) + "end", "stdout", "2024-05-01T10:00:07Z"},
	}
	waitFor(t, func() bool { return len(h.rec.entries()) >= len(want) }, 10*time.Second, "every entry")
	checkEntries(t, h.rec.entries(), want, readTime, map[string]string{
		namespaceLabel: "default", podLabel: "web-7d4b9", containerLabel: "nginx"})
	if got := h.errors(reasonParse); got != 2 {
		t.Errorf("parse errors = %v, want 2", got)
	}
}

func TestCRILabelsFromPath(t *testing.T) {
	for path, want := range map[string][3]string{
		"/var/log/pods/kube-system_coredns-5d78c9869d-abcde_8f1e/coredns/0.log":                 {"kube-system", "coredns-5d78c9869d-abcde", "coredns"},
		"/var/log/containers/coredns-5d78c9869d-abcde_kube-system_coredns-0123456789abcdef.log": {"kube-system", "coredns-5d78c9869d-abcde", "coredns"},
	} {
		l := criLabels(path)
		if len(l) != 3 || l[0].Value != want[0] || l[1].Value != want[1] || l[2].Value != want[2] {
			t.Errorf("%s: %v, want %v", path, l, want)
		}
	}
	if l := criLabels("/tmp/x/y.log"); l != nil {
		t.Errorf("labels %v for a path of another shape", l)
	}
}
