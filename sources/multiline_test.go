package sources

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const stack = `2024-01-01 10:00:00 ERROR boom
java.lang.IllegalStateException: x
  at a.b(C.java:1)
  at d.e(F.java:2)
2024-01-01 10:00:01 INFO ok
`

func TestMultiline(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "orphan continuation\n  more\n"+stack)
	ml := MultilineOptions{Start: `^\d{4}-\d\d-\d\d `, MaxWait: 200 * time.Millisecond}
	h := newHarness(t, FileOptions{Paths: []string{path}, Multiline: ml})
	h.start(t)
	id := idOf(t, path)
	first := "2024-01-01 10:00:00 ERROR boom\njava.lang.IllegalStateException: x\n  at a.b(C.java:1)\n  at d.e(F.java:2)"
	h.rec.waitLines(t, id, "orphan continuation\n  more", first)
	// The entry under way is not emitted, and the position is its start:
	// a restart from it neither loses nor repeats it.
	pos, _ := h.rec.last(id)
	if want := int64(strings.Index(mustRead(t, path), "2024-01-01 10:00:01")); pos.Offset != want {
		t.Errorf("position %d, want %d (the start of the unfinished entry)", pos.Offset, want)
	}
	// It ends when the next entry starts...
	appendFile(t, path, "  with a continuation\n2024-01-01 10:00:02 INFO next\n")
	h.rec.waitLines(t, id, "orphan continuation\n  more", first,
		"2024-01-01 10:00:01 INFO ok\n  with a continuation")
	// ... or after max_wait without a new line.
	h.rec.waitLines(t, id, "orphan continuation\n  more", first,
		"2024-01-01 10:00:01 INFO ok\n  with a continuation", "2024-01-01 10:00:02 INFO next")
	if pos, _ := h.rec.last(id); pos.Offset != fileSize(t, path) {
		t.Errorf("final position %d, size %d", pos.Offset, fileSize(t, path))
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMultilineRestart: a source stopped while an entry is under way
// emits it whole after the restart, once.
func TestMultilineRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "2024 a\n  a1\n2024 b\n  b1\n")
	ml := MultilineOptions{Start: `^2024 `, MaxWait: time.Hour}
	h1 := newHarness(t, FileOptions{Paths: []string{path}, Multiline: ml})
	h1.start(t)
	h1.rec.waitLines(t, "", "2024 a\n  a1")
	h1.waitScans(t, 2)
	h1.f.Close()
	appendFile(t, path, "  b2\n2024 c\n")
	h2 := newHarness(t, FileOptions{Paths: []string{path}, Multiline: ml, Positions: positionsOf(h1.rec)})
	h2.start(t)
	h2.rec.waitLines(t, "", "2024 b\n  b1\n  b2")
}

func TestMultilineMaxLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "S1\nc\nc\nc\nc\nS2\n")
	h := newHarness(t, FileOptions{Paths: []string{path},
		Multiline: MultilineOptions{Start: `^S`, MaxLines: 3, MaxWait: 50 * time.Millisecond}})
	h.start(t)
	h.rec.waitLines(t, "", "S1\nc\nc", "c\nc", "S2")
}

// TestMultilineMaxBytes: an entry is cut before it spans more than
// max_line_bytes of the file.
func TestMultilineMaxBytes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	line := strings.Repeat("x", 99)
	appendFile(t, path, "S\n"+strings.Repeat(line+"\n", 30)+"S\n")
	h := newHarness(t, FileOptions{Paths: []string{path}, MaxLineBytes: 1000,
		Multiline: MultilineOptions{Start: `^S`, MaxWait: 50 * time.Millisecond}})
	h.start(t)
	waitFor(t, func() bool { return len(h.rec.lines("")) >= 5 }, 5*time.Second, "entries")
	h.waitScans(t, 3)
	lines := h.rec.lines("")
	joined := strings.Join(lines, "\n")
	if want := "S\n" + strings.Repeat(line+"\n", 30) + "S"; joined != want {
		t.Errorf("entries do not rebuild the file: %q", lines)
	}
	for _, l := range lines {
		if len(l) > 1000 {
			t.Errorf("entry of %d bytes", len(l))
		}
	}
	if testutilValue(h.f.metrics.linesSplit) == 0 {
		t.Error("cuts not counted")
	}
}

// TestMultilineDocker groups the lines of one stream only.
func TestMultilineDocker(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c", "c-json.log")
	os.MkdirAll(filepath.Dir(path), 0o755)
	rec := func(log, stream string) string {
		return `{"log":"` + log + `\n","stream":"` + stream + `","time":"2024-05-01T10:00:00Z"}` + "\n"
	}
	appendFile(t, path, rec("Exception", "stderr")+rec("out 1", "stdout")+rec("  at x", "stderr")+
		rec("out 2", "stdout")+rec("Exception 2", "stderr"))
	h := newHarness(t, FileOptions{Type: TypeDocker, Paths: []string{filepath.Join(dir, "*/*-json.log")},
		Multiline: MultilineOptions{Start: `^(out|Exception)`, MaxWait: 50 * time.Millisecond}})
	h.start(t)
	waitFor(t, func() bool { return len(h.rec.entries()) >= 4 }, 5*time.Second, "entries")
	var got []string
	for _, e := range h.rec.entries() {
		got = append(got, e.labels[streamLabel]+":"+e.line)
	}
	want := []string{"stderr:Exception\n  at x", "stdout:out 1", "stdout:out 2", "stderr:Exception 2"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("entries %q, want %q", got, want)
	}
}

func TestTimestampRegexAndJSON(t *testing.T) {
	readTime := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		ts    TimestampOptions
		lines string
		want  []string
	}{
		"regex": {TimestampOptions{Regex: `^(?P<ts>\S+ \S+) `, Layout: "2006-01-02 15:04:05.000", Location: "UTC"},
			"2024-05-01 10:00:00.250 a\nno time here\n",
			[]string{"2024-05-01T10:00:00.25Z", "2030-01-01T00:00:00Z"}},
		"regex with zone": {TimestampOptions{Regex: `time=(?P<ts>\S+)`, Location: "Asia/Tokyo"},
			"x time=2024-05-01T10:00:00+02:00\n",
			[]string{"2024-05-01T08:00:00Z"}},
		"json string": {TimestampOptions{JSONField: "ts", Layout: "2006-01-02 15:04:05", Location: "America/Sao_Paulo"},
			`{"msg":"a","ts":"2024-05-01 10:00:00"}` + "\n" + `{"ts":5}` + "\nnot json\n",
			[]string{"2024-05-01T13:00:00Z", "1970-01-01T00:00:05Z", "2030-01-01T00:00:00Z"}},
		"json epoch ms": {TimestampOptions{JSONField: "t", Layout: LayoutUnixMs},
			`{"t":1714557600123}` + "\n" + `{"t":"1714557600123"}` + "\n",
			[]string{"2024-05-01T10:00:00.123Z", "2024-05-01T10:00:00.123Z"}},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			appendFile(t, path, tc.lines)
			h := newHarness(t, FileOptions{Paths: []string{path}, Timestamp: tc.ts, Now: func() time.Time { return readTime }})
			h.start(t)
			waitFor(t, func() bool { return len(h.rec.entries()) >= len(tc.want) }, 5*time.Second, "entries")
			for i, e := range h.rec.entries() {
				if got := e.time.Format(time.RFC3339Nano); got != tc.want[i] {
					t.Errorf("entry %d %q: time %s, want %s", i, e.line, got, tc.want[i])
				}
			}
		})
	}
}

// TestTimestampTimeZone: on a host 3 hours behind UTC (America/Sao_Paulo,
// no DST since 2019), a zone-less timestamp read with location UTC and one
// read in the local zone land on the right instant. The old shipper read
// both in the local zone and was 3 hours off. Run in a child process with
// TZ set, so that time.Local is the host's zone as in production.
func TestTimestampTimeZone(t *testing.T) {
	if os.Getenv("LOGCAPTURER_TZ_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTimestampTimeZone$", "-test.v")
		cmd.Env = append(os.Environ(), "LOGCAPTURER_TZ_CHILD=1", "TZ=America/Sao_Paulo")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "zone ok") {
			t.Fatalf("child with TZ=America/Sao_Paulo: %v\n%s", err, out)
		}
		return
	}
	if _, off := time.Now().Zone(); off != -3*3600 {
		t.Skipf("TZ=America/Sao_Paulo did not apply (offset %d): no tzdata?", off)
	}
	for loc, want := range map[string]string{"UTC": "2024-05-01T10:00:00Z", "": "2024-05-01T13:00:00Z", "Local": "2024-05-01T13:00:00Z"} {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		appendFile(t, path, "2024-05-01 10:00:00 hello\n")
		h := newHarness(t, FileOptions{Paths: []string{path},
			Timestamp: TimestampOptions{Regex: `^(?P<ts>\S+ \S+)`, Layout: time.DateTime, Location: loc}})
		h.start(t)
		waitFor(t, func() bool { return len(h.rec.entries()) == 1 }, 5*time.Second, "the entry")
		if got := h.rec.entries()[0].time.Format(time.RFC3339); got != want {
			t.Errorf("location %q: %s, want %s", loc, got, want)
		}
		h.f.Close()
	}
	if !t.Failed() {
		t.Log("zone ok")
	}
}

func TestTimestampErrorsCounted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "2024-13-45 99:99:99 bad\nnothing\n")
	h := newHarness(t, FileOptions{Paths: []string{path},
		Timestamp: TimestampOptions{Regex: `^(?P<ts>\S+ \S+)`, Layout: time.DateTime}})
	h.start(t)
	h.rec.waitLines(t, "", "2024-13-45 99:99:99 bad", "nothing")
	if got := h.errors(reasonTimestamp); got != 2 {
		t.Errorf("timestamp errors = %v, want 2", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	em := &recorder{t: t}
	good := FileOptions{Name: "n", Paths: []string{"/var/log/*.log"}, Emitter: em}
	for want, mutate := range map[string]func(*FileOptions){
		"type":                func(o *FileOptions) { o.Type = "syslog" },
		"labels":              func(o *FileOptions) { o.Type = TypeDocker; o.Labels = map[string]string{"stream": "x"} },
		"max_open_files":      func(o *FileOptions) { o.MaxOpenFiles = -1 },
		"close_inactive":      func(o *FileOptions) { o.CloseInactive = -time.Second },
		"fingerprint_bytes":   func(o *FileOptions) { o.FingerprintBytes = -1 },
		"multiline.start":     func(o *FileOptions) { o.Multiline.Start = "(" },
		"multiline.max_lines": func(o *FileOptions) { o.Multiline = MultilineOptions{Start: "x", MaxLines: -1} },
		"timestamp.regex":     func(o *FileOptions) { o.Timestamp.Regex = `^(\S+)` },
		"timestamp.location":  func(o *FileOptions) { o.Timestamp = TimestampOptions{JSONField: "ts", Location: "Mars/Olympus"} },
		"timestamp:":          func(o *FileOptions) { o.Timestamp = TimestampOptions{JSONField: "ts", Regex: "(?P<ts>x)"} },
	} {
		o := good
		mutate(&o)
		err := o.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
	// Every problem at once, a "key: message" a line.
	all := good
	all.Type, all.Labels, all.MaxOpenFiles = TypeDocker, map[string]string{"stream": "x"}, -1
	all.Multiline.Start, all.Timestamp.Regex = "(", `^(\S+)`
	var keys []string
	if err := all.Validate(); err != nil {
		for _, l := range strings.Split(err.Error(), "\n") {
			k, _, _ := strings.Cut(l, ": ")
			keys = append(keys, k)
		}
	}
	if want := "max_open_files labels.stream multiline.start timestamp.regex"; strings.Join(keys, " ") != want {
		t.Errorf("all problems: keys %q, want %s", keys, want)
	}
	d := FileOptions{Name: "d", Type: TypeDocker, Emitter: em}
	if err := d.Validate(); err != nil {
		t.Errorf("docker without paths: %v", err)
	}
	d.SetDefaults()
	if d.Paths[0] != DefaultDockerPath || d.MaxOpenFiles != DefaultMaxOpenFiles || d.CloseInactive != DefaultCloseInactive ||
		d.FingerprintBytes != DefaultFingerprintBytes {
		t.Errorf("defaults %+v", d)
	}
	c := FileOptions{Name: "c", Type: TypeCRI, Emitter: em, Multiline: MultilineOptions{Start: "^x"}}
	c.SetDefaults()
	if c.Paths[0] != DefaultCRIPath || c.Multiline.MaxLines != 500 || c.Multiline.MaxWait != 2*time.Second {
		t.Errorf("defaults %+v", c)
	}
}

// TestMultilineInterleaved: in a Docker file whose streams interleave, an
// entry of stderr that began before an stdout entry still under way ends
// after that entry's start. The file is read again from there (the
// position is always where no entry is under way), and the lines of the
// stderr entry after it were read a second time, as an entry of their
// own: "  at x\n  at y" arrived twice. They are now skipped (streamSkip):
// when the source reads on, when it restarts from the positions it
// recorded (their Cursor holds the skips), and when the file was closed
// for inactivity and is opened again.
func TestMultilineInterleaved(t *testing.T) {
	rec := func(log, stream string) string {
		return `{"log":"` + log + `\n","stream":"` + stream + `","time":"2024-05-01T10:00:00Z"}` + "\n"
	}
	want := []string{"stderr:Exception\n  at x\n  at y", "stdout:out 1", "stderr:Exception 2", "stdout:out 2", "stderr:Exception 3"}
	for _, resume := range []string{"reading on", "restart", "close_inactive"} {
		t.Run(resume, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "c", "c-json.log")
			os.MkdirAll(filepath.Dir(path), 0o755)
			appendFile(t, path, rec("Exception", "stderr")+rec("out 1", "stdout")+rec("  at x", "stderr")+
				rec("  at y", "stderr")+rec("Exception 2", "stderr"))
			opts := FileOptions{Type: TypeDocker, Paths: []string{filepath.Join(dir, "*/*-json.log")},
				Multiline: MultilineOptions{Start: `^(out|Exception)`, MaxWait: time.Hour}}
			if resume == "close_inactive" {
				opts.CloseInactive = 100 * time.Millisecond
			}
			h := newHarness(t, opts)
			h.start(t)
			waitFor(t, func() bool { return len(h.rec.entries()) >= 1 }, 5*time.Second, "the first entry")
			got := h.rec
			switch resume {
			case "restart":
				h.waitScans(t, 2)
				h.f.Close()
				if n := len(h.rec.entries()); n != 1 {
					t.Fatalf("%d entries before the restart, want 1", n)
				}
				opts.Positions, opts.Cursors = positionsOf(h.rec), map[string]string{}
				for _, b := range h.rec.all() {
					opts.Cursors[b.rec.Position.FileID] = b.rec.Position.Cursor
				}
				opts.Emitter = h.rec // one list of entries across the restart
				newHarness(t, opts).start(t)
			case "close_inactive":
				waitFor(t, func() bool { return h.filesOpen() == 0 }, 5*time.Second, "the idle file to be closed")
			}
			// "out 1" and "Exception 2" are under way until the next start
			// line of their stream.
			appendFile(t, path, rec("out 2", "stdout")+rec("Exception 3", "stderr"))
			waitFor(t, func() bool { return len(got.entries()) >= 3 }, 5*time.Second, "entries")
			appendFile(t, path, rec("out 3", "stdout")+rec("Exception 4", "stderr"))
			waitFor(t, func() bool { return len(got.entries()) >= 5 }, 5*time.Second, "entries")
			var lines []string
			for _, e := range got.entries() {
				lines = append(lines, e.labels[streamLabel]+":"+e.line)
			}
			if strings.Join(lines, "|") != strings.Join(want, "|") {
				t.Errorf("entries %q, want %q", lines, want)
			}
		})
	}
}
