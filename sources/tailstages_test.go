package sources

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// stagedFile writes the lines of groups to a file: each group a START line
// and its continuation lines; every third group is marked DROP.
func stagedGroups(n int) [][]string {
	var groups [][]string
	for i := range n {
		g := []string{fmt.Sprintf("START %d", i)}
		if i%3 == 1 {
			g[0] += " DROP"
		}
		for j := range i % 4 {
			g = append(g, fmt.Sprintf("  at frame %d.%d", i, j))
		}
		groups = append(groups, g)
	}
	return groups
}

const stagedPipeline = `
- multiline: {firstline: '^START', max_wait_time: 50ms}
- drop: {expression: DROP}
`

// TestFileStagesCrashAtEveryBlock: a file tailed through a multiline and a
// drop stage, written in chunks, yields the joined entries minus the
// dropped ones; then, for every prefix of the blocks it emitted (the WAL
// a kill -9 could leave), a new source started at the position of the
// prefix's last block yields exactly the entries missing from the prefix:
// no entry twice, none lost, no dropped one.
func TestFileStagesCrashAtEveryBlock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	groups := stagedGroups(21)
	var want []string
	for _, g := range groups {
		if !strings.Contains(g[0], "DROP") {
			want = append(want, strings.Join(g, "\n"))
		}
	}
	appendFile(t, path, "")
	opts := FileOptions{Paths: []string{path}, Stages: stagesNode(t, stagedPipeline)}
	h := newHarness(t, opts)
	h.start(t)
	h.waitStarted(t)
	kept := 0
	for i := 0; i < len(groups); i += 3 { // chunks end where a group ends
		var b strings.Builder
		for _, g := range groups[i:min(i+3, len(groups))] {
			for _, l := range g {
				b.WriteString(l + "\n")
				if !strings.Contains(g[0], "DROP") && l == g[0] {
					kept++
				}
			}
		}
		appendFile(t, path, b.String())
		h.rec.waitLines(t, "", want[:kept]...)
	}
	h.f.Close()
	blocks := h.rec.all()
	if len(blocks) < 10 {
		t.Fatalf("only %d blocks", len(blocks))
	}
	size := fileSize(t, path)
	if last := blocks[len(blocks)-1].rec.Position.Offset; last != size {
		t.Fatalf("last position %d, want the file's size %d", last, size)
	}
	for k := 0; k <= len(blocks); k++ {
		var before []string
		positions := map[string]int64{}
		for _, b := range blocks[:k] {
			before = append(before, b.lines...)
			positions[b.rec.Position.FileID] = b.rec.Position.Offset
		}
		if len(before) > len(want) || !slices.Equal(before, want[:len(before)]) {
			t.Fatalf("blocks[:%d] hold %q, not a prefix of the entries", k, before)
		}
		rest := want[len(before):]
		o := opts
		o.Positions = positions
		r := newHarness(t, o)
		r.start(t)
		if len(rest) == 0 {
			r.waitStarted(t)
			r.waitScans(t, 2)
			if got := r.rec.lines(""); len(got) != 0 {
				t.Fatalf("restart after block %d read again %q", k, got)
			}
		} else {
			r.rec.waitLines(t, "", rest...)
		}
		r.f.Close()
	}
}

// TestFileStagesDockerStreams: a Docker file through a labels stage: the
// stream label set by the source is there for the stages, every entry's
// labels are its whole set, and the block keeps the file's labels.
func TestFileStagesDockerStreams(t *testing.T) {
	dir := t.TempDir()
	cdir := filepath.Join(dir, "abc123")
	path := filepath.Join(cdir, "abc123-json.log")
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, `{"log":"{\"level\":\"info\",\"msg\":\"a\"}\n","stream":"stdout","time":"2024-01-02T03:04:05.000000006Z"}`+"\n"+
		`{"log":"oops\n","stream":"stderr","time":"2024-01-02T03:04:06Z"}`+"\n")
	h := newHarness(t, FileOptions{Type: TypeDocker, Paths: []string{path}, Labels: map[string]string{"job": "d"}, Stages: stagesNode(t, `
- json: {expressions: {level: level}}
- labels: {level: ""}
- labeldrop: [container_id]
`)})
	h.start(t)
	h.rec.waitLines(t, "", `{"level":"info","msg":"a"}`, "oops")
	b := h.rec.all()[0]
	if got := labelString(b.labels); got != "container_id=abc123,filename="+path+",job=d" {
		t.Errorf("block labels %s", got)
	}
	if got := b.entryLabels; !slices.Equal(got, []string{
		"filename=" + path + ",job=d,level=info,stream=stdout",
		"filename=" + path + ",job=d,stream=stderr",
	}) {
		t.Errorf("entry labels %q", got)
	}
	if v := h.errors(reasonParse); v != 0 {
		t.Errorf("parse errors %v", v)
	}
}
