package sources

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// seqLines returns seqLine(from..to-1), each with its newline.
func seqLines(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(seqLine(i))
		b.WriteByte('\n')
	}
	return b.String()
}

// seqList returns seqLine(i) for every [from, to) range, in order.
func seqList(ranges ...[2]int) []string {
	var out []string
	for _, r := range ranges {
		for i := r[0]; i < r[1]; i++ {
			out = append(out, seqLine(i))
		}
	}
	return out
}

// copyLike copies src to dst as logrotate's copytruncate does (3.21, seen
// with strace): create dst, write it in 8 KiB chunks, fsync it. The caller
// truncates src afterwards.
func copyLike(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for len(data) > 0 {
		n := min(len(data), 8<<10)
		if _, err := f.Write(data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// waitSorted waits until the recorder holds len(want) lines, then checks
// they are want in any order (a copy and its original are read in no
// particular order), then that nothing more comes for a few scans.
func waitSorted(t *testing.T, h *harness, want []string) {
	t.Helper()
	waitFor(t, func() bool { return len(h.rec.lines("")) >= len(want) }, 5*time.Second, "every line")
	h.waitScans(t, 3)
	got := h.rec.lines("")
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("got %d lines, want %d; first difference at %d:\n got %.80q\nwant %.80q",
			len(got), len(want), firstDiff(got, want), got[min(firstDiff(got, want), len(got)-1)],
			want[min(firstDiff(got, want), len(want)-1)])
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// newestPerPath returns, of the positions in the records, the newest of
// each path: fewer than the pipeline keeps once older blocks left the WAL
// (the newest of each file, pipeline/state.go prunePositions), so what
// resumes from these resumes from the pipeline's too.
func newestPerPath(recs ...*recorder) map[string]int64 {
	idOf := make(map[string]string) // path -> FileID of its newest block
	off := make(map[string]int64)   // FileID -> offset of its newest block
	for _, r := range recs {
		for _, b := range r.all() {
			idOf[b.rec.Position.Path] = b.rec.Position.FileID
			off[b.rec.Position.FileID] = b.rec.Position.Offset
		}
	}
	m := make(map[string]int64)
	for _, id := range idOf {
		m[id] = off[id]
	}
	return m
}

// TestFileCopytruncateCopySeenAfterTruncation: copytruncate with the copy's
// name inside the glob, the source busy (the Emitter blocks) from before
// the copy until after the truncation. The lines written after its last
// read and before the copy are only in the copy: they are read from it,
// at the offset the truncated file had, and nothing is read twice (the
// copy is not read from its beginning).
func TestFileCopytruncateCopySeenAfterTruncation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, seqLines(0, 200))
	rec := &recorder{t: t}
	g := newGate(rec)
	h := newHarness(t, FileOptions{Paths: []string{path + "*"}, Emitter: g})
	h.rec = rec
	h.start(t)
	waitFor(t, func() bool { return len(rec.lines("")) == 200 }, 5*time.Second, "the first lines")

	g.shut()
	appendFile(t, path, seqLines(200, 400))
	waitFor(t, func() bool { return g.waiting.Load() == 1 }, 5*time.Second, "a block waiting")
	appendFile(t, path, seqLines(400, 450)) // after the last read: only in the copy
	copyLike(t, path, path+".1")
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, seqLines(450, 460))
	g.release()

	waitSorted(t, h, seqList([2]int{0, 460}))
	if got := testutilValue(h.f.metrics.copies); got != 1 {
		t.Errorf("copies = %v, want 1", got)
	}
}

// TestFileCopytruncateCopySeenFirst: the copy is seen before the
// truncation. It is not read while its original is; lines written to the
// original after the copy are read from the original; once the original
// is truncated the copy resumes at the offset the original had, and a
// block without entries records that position, so a restart that knows
// only the newest position of each path (older ones pruned) does not read
// the copy again.
func TestFileCopytruncateCopySeenFirst(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	glob := path + "*"
	appendFile(t, path, seqLines(0, 200))
	h := newHarness(t, FileOptions{Paths: []string{glob}})
	h.start(t)
	waitFor(t, func() bool { return len(h.rec.lines("")) == 200 }, 5*time.Second, "the first lines")

	copyLike(t, path, path+".1")
	waitFor(t, func() bool { return testutilValue(h.f.metrics.copies) == 1 }, 5*time.Second, "the copy recognised")
	appendFile(t, path, seqLines(200, 210)) // after the copy: in the original only
	waitFor(t, func() bool { return len(h.rec.lines("")) == 210 }, 5*time.Second, "the lines after the copy")
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, seqLines(300, 310))
	waitSorted(t, h, seqList([2]int{0, 210}, [2]int{300, 310}))

	copyID := idOf(t, path+".1")
	pos, ok := h.rec.last(copyID)
	if !ok || pos.Offset != fileSize(t, path+".1") {
		t.Fatalf("position of the copy = %+v (%v), want its size %d", pos, ok, fileSize(t, path+".1"))
	}
	h.f.Close()

	appendFile(t, path, seqLines(310, 320))
	h2 := newHarness(t, FileOptions{Paths: []string{glob}, Positions: newestPerPath(h.rec)})
	h2.start(t)
	waitSorted(t, h2, seqList([2]int{310, 320}))
}

// TestFileCopytruncateWhileStopped: the copy and the truncation happened
// while logcapturer was stopped, with lines written after its last read
// before the copy. After the restart the copy resumes at the position
// recovered for the truncated file, and the truncated file is read from
// its beginning.
func TestFileCopytruncateWhileStopped(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	glob := path + "*"
	appendFile(t, path, seqLines(0, 200))
	h1 := newHarness(t, FileOptions{Paths: []string{glob}})
	h1.start(t)
	waitFor(t, func() bool { return len(h1.rec.lines("")) == 200 }, 5*time.Second, "the first lines")
	h1.f.Close()

	appendFile(t, path, seqLines(200, 250)) // only in the copy
	copyLike(t, path, path+".1")
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, seqLines(300, 310))

	h2 := newHarness(t, FileOptions{Paths: []string{glob}, Positions: positionsOf(h1.rec)})
	h2.start(t)
	waitSorted(t, h2, seqList([2]int{200, 250}, [2]int{300, 310}))
	if got := testutilValue(h2.f.metrics.copies); got != 1 {
		t.Errorf("copies = %v, want 1", got)
	}
}
