package sources

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// positionsOf returns the last position of every file the recorder saw, as
// the pipeline would recover them from the WAL.
func positionsOf(r *recorder) map[string]int64 {
	m := make(map[string]int64)
	for _, b := range r.all() {
		m[b.rec.Position.FileID] = b.rec.Position.Offset
	}
	return m
}

func TestFileIDRoundTrip(t *testing.T) {
	k := fileKey{dev: 0xfe00, ino: 0x1234567}
	for _, fp := range []fingerprint{{}, {n: 5, hash: 1}, {n: 1024, hash: ^uint64(0)}} {
		id := fileID(k, fp)
		gk, gfp, hashed, ok := parseFileID(id)
		if !ok || !hashed || gk != k || gfp != fp {
			t.Errorf("parse(%q) = %v %v %v %v", id, gk, gfp, hashed, ok)
		}
	}
	if gk, _, hashed, ok := parseFileID(k.String()); !ok || hashed || gk != k {
		t.Errorf("legacy id: %v %v %v", gk, hashed, ok)
	}
	for _, bad := range []string{"", "x", "1-2-3", "g-1", "1-2-x-4", "1-2-3-4-5"} {
		if _, _, _, ok := parseFileID(bad); ok {
			t.Errorf("parse(%q) ok", bad)
		}
	}
}

// TestFileCopyTruncate: the file is copied away and truncated, then written
// past the old offset before the source looks again (the Emitter is
// blocked meanwhile). The size check cannot see it; the fingerprint does.
func TestFileCopyTruncate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "old-1\nold-2\n")
	rec := &recorder{t: t}
	g := newGate(rec)
	g.shut()
	h := newHarness(t, FileOptions{Paths: []string{path}, Emitter: g})
	h.start(t)
	waitFor(t, func() bool { return g.waiting.Load() == 1 }, 5*time.Second, "the first block")

	// copytruncate, then the application writes more than before.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".1", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "new-1 is longer\nnew-2\n")
	g.release()
	id := idOf(t, path)
	rec.waitLines(t, id, "old-1", "old-2", "new-1 is longer", "new-2")
	if got := h.errors(reasonTruncated); got != 1 {
		t.Errorf("truncations = %v, want 1", got)
	}

	// A plain truncation (shorter than the offset) is seen too.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "n3\n")
	rec.waitLines(t, id, "old-1", "old-2", "new-1 is longer", "new-2", "n3")
	if got := h.errors(reasonTruncated); got != 2 {
		t.Errorf("truncations = %v, want 2", got)
	}
}

// TestFileTruncatedWhileStopped: a file truncated and written again past
// the stored offset while nothing ran is read from its beginning, for a
// long file (fingerprint of the first FingerprintBytes) and a short one
// (fingerprint of the bytes before the offset).
func TestFileTruncatedWhileStopped(t *testing.T) {
	for name, size := range map[string]int{"long": 3000, "short": 40} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			old := strings.Repeat("o", size) + "\n"
			appendFile(t, path, old)
			id := idOf(t, path)
			h1 := newHarness(t, FileOptions{Paths: []string{path}})
			h1.start(t)
			h1.rec.waitLines(t, id, old[:size])
			h1.f.Close()

			// Same inode, new content, longer than the offset.
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			fresh := strings.Repeat("n", size+10)
			appendFile(t, path, fresh+"\n")

			h2 := newHarness(t, FileOptions{Paths: []string{path}, Positions: positionsOf(h1.rec)})
			h2.start(t)
			h2.rec.waitLines(t, id, fresh)
			if got := h2.errors(reasonPosition); got != 1 {
				t.Errorf("position mismatches = %v, want 1", got)
			}
		})
	}
}

// TestFileShortFileGrows: a file shorter than FingerprintBytes has a FileID
// per offset; after it grew past FingerprintBytes while nothing ran, its
// stored position is still found.
func TestFileShortFileGrows(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "a\nb\n")
	id := idOf(t, path)
	h1 := newHarness(t, FileOptions{Paths: []string{path}})
	h1.start(t)
	h1.rec.waitLines(t, id, "a", "b")
	appendFile(t, path, "c\n")
	h1.rec.waitLines(t, id, "a", "b", "c")
	h1.f.Close()
	if n := len(positionsOf(h1.rec)); n < 2 {
		t.Fatalf("%d FileIDs for two blocks of a short file", n)
	}

	long := strings.Repeat("x", 2000)
	appendFile(t, path, long+"\nd\n")
	h2 := newHarness(t, FileOptions{Paths: []string{path}, Positions: positionsOf(h1.rec), StartAt: StartAtEnd})
	h2.start(t)
	h2.rec.waitLines(t, id, long, "d")
	h2.f.Close()

	// And once long, its FileID is stable.
	appendFile(t, path, "e\n")
	h3 := newHarness(t, FileOptions{Paths: []string{path}, Positions: positionsOf(h2.rec)})
	h3.start(t)
	h3.rec.waitLines(t, id, "e")
	ids := positionsOf(h3.rec)
	for fid := range positionsOf(h2.rec) {
		if _, ok := ids[fid]; !ok {
			t.Errorf("FileID %s of the long file changed: %v", fid, ids)
		}
	}
}

// TestFileInodeReuse: a stored position of a deleted file is not applied
// to a new file that got its inode.
func TestFileInodeReuse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "first file, line one\nfirst file, line two\n")
	oldID := idOf(t, path)
	h1 := newHarness(t, FileOptions{Paths: []string{path}})
	h1.start(t)
	h1.rec.waitLines(t, oldID, "first file, line one", "first file, line two")

	// Deleted and recreated while the source runs.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return h1.filesOpen() == 0 }, 5*time.Second, "the deleted file to be closed")
	appendFile(t, path, "second file, a longer line one\n")
	newID := idOf(t, path)
	t.Logf("inode reused while running: %v", newID == oldID)
	h1.rec.waitLines(t, "", "first file, line one", "first file, line two", "second file, a longer line one")
	h1.f.Close()

	// Deleted and recreated while nothing runs; and a stored position
	// forced onto the new file's inode, as if it had been reused.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "third file, longer than the others, line one\n")
	k := fileKeyOf(t, path)
	t.Logf("inode reused while stopped: %v", k.String() == newID)
	pos := positionsOf(h1.rec)
	pos[fileID(k, fingerprint{n: 20, hash: 12345})] = 20
	h2 := newHarness(t, FileOptions{Paths: []string{path}, Positions: pos})
	h2.start(t)
	h2.rec.waitLines(t, "", "third file, longer than the others, line one")
}

func fileKeyOf(t testing.TB, path string) fileKey {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := keyOf(fi)
	return k
}

// TestFileRotatedInsideGlobAcrossRestart: the file was renamed to a name the
// glob matches (app.log -> app.log.1) and written to under its new name
// while nothing ran; after restart it resumes at its offset, and the new
// app.log is read from 0.
func TestFileRotatedInsideGlobAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.WriteString("1\n2\n")
	glob := filepath.Join(dir, "app.log*")
	h1 := newHarness(t, FileOptions{Paths: []string{glob}})
	h1.start(t)
	h1.rec.waitLines(t, "", "1", "2")
	h1.f.Close()

	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	w.WriteString("3\n")
	appendFile(t, path, "new\n")

	h2 := newHarness(t, FileOptions{Paths: []string{glob}, Positions: positionsOf(h1.rec), StartAt: StartAtEnd})
	h2.start(t)
	h2.rec.waitLines(t, idOf(t, path+".1"), "3")
	// A file without a stored position at startup follows StartAt "end";
	// with "beginning" it would be read from 0.
	h2.waitScans(t, 3)
	if got := h2.rec.lines(""); len(got) != 1 {
		t.Errorf("lines %q, want only 3", got)
	}
	appendFile(t, path, "new2\n")
	h2.rec.waitLines(t, idOf(t, path), "new2")
}

// TestFileSymlinkRetarget: the glob matches a symlink whose target is
// replaced: the new target is read from its beginning, the old one to its
// end.
func TestFileSymlinkRetarget(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	link := filepath.Join(dir, "current.log")
	appendFile(t, a, "a1\n")
	appendFile(t, b, "b1\n")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, FileOptions{Paths: []string{link}})
	h.start(t)
	h.rec.waitLines(t, idOf(t, a), "a1")

	tmp := filepath.Join(dir, "tmp.link")
	if err := os.Symlink(b, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
	appendFile(t, a, "a2\n") // the writer of a has not switched yet
	h.rec.waitLines(t, idOf(t, b), "b1")
	h.rec.waitLines(t, idOf(t, a), "a1", "a2")
	waitFor(t, func() bool { return h.filesOpen() == 1 }, 5*time.Second, "a to be closed")
	appendFile(t, b, "b2\n")
	h.rec.waitLines(t, idOf(t, b), "b1", "b2")
	if pos, _ := h.rec.last(idOf(t, b)); pos.Path != link {
		t.Errorf("path %q, want the link's", pos.Path)
	}
}

// TestFileManyFiles tails 5,000 files in one directory with the default
// max_open_files (1,024): every line is read, descriptors stay bounded, and
// files closed to free a descriptor are reopened when they grow.
func TestFileManyFiles(t *testing.T) {
	const n = 5000
	dir := t.TempDir()
	for i := range n {
		appendFile(t, filepath.Join(dir, fmt.Sprintf("f%04d.log", i)), fmt.Sprintf("%d-a\n", i))
	}
	h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*.log")}, PollInterval: 50 * time.Millisecond})
	h.start(t)
	maxOpen := 0.0
	waitFor(t, func() bool {
		maxOpen = max(maxOpen, h.filesOpen())
		return len(h.rec.lines("")) >= n
	}, 30*time.Second, "the first line of every file")
	for i := 0; i < n; i += 97 {
		appendFile(t, filepath.Join(dir, fmt.Sprintf("f%04d.log", i)), fmt.Sprintf("%d-b\n", i))
	}
	want := n + (n+96)/97
	waitFor(t, func() bool {
		maxOpen = max(maxOpen, h.filesOpen())
		return len(h.rec.lines("")) >= want
	}, 10*time.Second, fmt.Sprintf("the second lines (have %d of %d)", len(h.rec.lines("")), want))
	h.waitScans(t, 2)
	lines := h.rec.lines("")
	seen := make(map[string]int, len(lines))
	for _, l := range lines {
		seen[l]++
	}
	if len(lines) != want || len(seen) != want {
		t.Errorf("%d lines, %d distinct, want %d", len(lines), len(seen), want)
	}
	if maxOpen > DefaultMaxOpenFiles {
		t.Errorf("%v files open at once, max_open_files is %d", maxOpen, DefaultMaxOpenFiles)
	}
	if h.errors(reasonOpenLimit) == 0 {
		t.Error("max_open_files waits were not counted")
	}
	t.Logf("max files open %v, descriptor waits %v", maxOpen, h.errors(reasonOpenLimit))
}

// TestFileAppearsAfterStart: the glob's directory does not exist at start;
// the file is read from its beginning once both appear.
func TestFileAppearsAfterStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	path := filepath.Join(dir, "app.log")
	h := newHarness(t, FileOptions{Paths: []string{filepath.Join(dir, "*.log")}, StartAt: StartAtEnd})
	h.start(t)
	h.waitStarted(t)
	if h.log.count("glob matches no file yet") != 1 {
		t.Errorf("want a warning for the empty glob, log:\n%s", h.log)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "hello\n")
	h.rec.waitLines(t, idOf(t, path), "hello")
	appendFile(t, path, "again\n")
	h.rec.waitLines(t, idOf(t, path), "hello", "again")
}

// TestFileCloseInactive: an idle file is closed and reopened at its
// position when it grows.
func TestFileCloseInactive(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "1\n")
	h := newHarness(t, FileOptions{Paths: []string{path}, CloseInactive: 100 * time.Millisecond})
	h.start(t)
	id := idOf(t, path)
	h.rec.waitLines(t, id, "1")
	waitFor(t, func() bool { return h.filesOpen() == 0 }, 5*time.Second, "the idle file to be closed")
	h.waitScans(t, 3) // an unchanged idle file stays closed
	if h.filesOpen() != 0 {
		t.Fatal("idle file reopened without growing")
	}
	appendFile(t, path, "2\n")
	h.rec.waitLines(t, id, "1", "2")
	waitFor(t, func() bool { return h.filesOpen() == 0 }, 5*time.Second, "the idle file to be closed again")
	// Truncated and rewritten while closed: read from 0.
	if err := os.WriteFile(path, []byte("other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.rec.waitLines(t, id, "1", "2", "other")
}

// TestFileDeletedOpenMetric: a deleted file stays open, counted, until it
// is read to its end, even while the Emitter blocks.
func TestFileDeletedOpenMetric(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "a\n")
	rec := &recorder{t: t}
	g := newGate(rec)
	g.shut()
	h := newHarness(t, FileOptions{Paths: []string{path}, Emitter: g})
	h.start(t)
	waitFor(t, func() bool { return g.waiting.Load() == 1 }, 5*time.Second, "the first block")
	appendFile(t, path, "b\n")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	g.release()
	waitFor(t, func() bool { return testutilValue(h.f.metrics.filesDeletedOpen) == 1 || h.filesOpen() == 0 },
		5*time.Second, "the deleted file to be counted")
	rec.waitLines(t, "", "a", "b")
	waitFor(t, func() bool { return h.filesOpen() == 0 && testutilValue(h.f.metrics.filesDeletedOpen) == 0 },
		5*time.Second, "the deleted file to be closed")
}

// TestFileFinder: a FileID's file is found by identity, not by name: at its
// path, renamed in its directory (rotation), and not once deleted, even
// while a new file has its old path.
func TestFileFinder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	if err := os.WriteFile(path, []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := fileID(fileKeyOf(t, path), fingerprint{n: 4, hash: 1})
	if key, ok := SameFileKey(id); !ok || key != fileKeyOf(t, path).String() {
		t.Fatalf("SameFileKey(%q) = %q, %v", id, key, ok)
	}
	if !NewFileFinder().Exists(path, id) {
		t.Fatal("a file at its own path was not found")
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !NewFileFinder().Exists(path, id) {
		t.Fatal("a file renamed in its directory, its path taken by a new file, was not found")
	}
	if err := os.Remove(path + ".1"); err != nil {
		t.Fatal(err)
	}
	if NewFileFinder().Exists(path, id) {
		t.Fatal("a deleted file was found")
	}
	if NewFileFinder().Exists(filepath.Join(dir, "nodir", "x.log"), id) {
		t.Fatal("a file in a missing directory was found")
	}
	if !NewFileFinder().Exists(path, "journal-cursor") {
		t.Fatal("a position that names no file must count as existing")
	}
}
