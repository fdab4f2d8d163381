package wal

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The directory testdata/v2 holds a WAL written by the last release whose
// records were one block each (block format version 2, before one record
// per group commit): wal/ is the log, blocks.json what its blocks hold
// (index firstIndexV2 first). Its first segments were deleted by
// TruncateFront, as retention does, so it starts past index 1. It was
// generated at commit 83b5891 (a checkout of that release) by
//
//	LOGCAPTURER_WRITE_WAL_FIXTURE=1 go test ./wal -run TestWriteV2Fixture
//
// and TestV2FixtureBytes proves that every record in it is one block
// exactly as EncodeBlock writes it.
const fixtureV2Dir = "testdata/v2"

// fixtureV2Blocks returns the blocks written to the version 2 fixture
// before its front was truncated: the version 1 fixture's blocks, then
// blocks with what version 2 added (entries' own labels and metadata, a
// journal cursor).
func fixtureV2Blocks() []Block {
	const t0 = 1764990000000000000
	blocks := fixtureV1Blocks()
	app := []Label{{Name: "env", Value: "prod"}, {Name: "job", Value: "app"}}
	blocks = append(blocks,
		Block{Source: "app", Labels: app, Position: Position{FileID: "2049:131", Path: "/var/log/app.log", Offset: 500},
			Entries: []Entry{
				{Time: t0, Line: []byte("level=warn msg=a"), Labels: []Label{{Name: "env", Value: "prod"}, {Name: "job", Value: "app"}, {Name: "level", Value: "warn"}}},
				{Time: t0 + 1, Line: []byte("level=warn msg=b"), Labels: []Label{{Name: "env", Value: "prod"}, {Name: "job", Value: "app"}, {Name: "level", Value: "warn"}},
					Metadata: []Label{{Name: "trace_id", Value: "4bf92f3577b34da6a3ce929d0e0e4736"}}},
				{Time: t0 + 2, Line: []byte("no labels of its own")},
				{Time: t0 + 3, Line: []byte("all labels dropped"), Labels: []Label{}},
			}},
		Block{Source: "journal", Labels: []Label{{Name: "job", Value: "systemd-journal"}},
			Position: Position{FileID: "journal", Cursor: "s=6c3d1f0e;i=1a2b;b=9e2a;m=5f1c;t=62d9;x=7d3f"},
			Entries: []Entry{
				{Time: t0 + 10, Line: []byte("Started nginx.service."), Labels: []Label{{Name: "job", Value: "systemd-journal"}, {Name: "unit", Value: "nginx.service"}}},
			}},
		Block{Source: "push", Labels: []Label{{Name: "service_name", Value: "api"}, {Name: "__tenant_id__", Value: "team-a"}},
			Entries: []Entry{
				{Time: t0 + 20, Line: []byte("pushed"), Metadata: []Label{{Name: "user", Value: "ana"}}},
				{Time: t0 + 21, Line: []byte("pushed too"), Metadata: []Label{{Name: "user", Value: "ana"}}},
			}},
	)
	return blocks
}

// fixtureV2Truncate is the index TestWriteV2Fixture truncated the
// fixture's front to (a segment's first index, as retention cuts).
const fixtureV2Truncate = 4

// TestWriteV2Fixture regenerates testdata/v2 (see fixtureV2Dir). It runs
// only when LOGCAPTURER_WRITE_WAL_FIXTURE=1, and must run at commit
// 83b5891: today's Log writes another layout.
func TestWriteV2Fixture(t *testing.T) {
	if os.Getenv("LOGCAPTURER_WRITE_WAL_FIXTURE") != "1" {
		t.Skip("set LOGCAPTURER_WRITE_WAL_FIXTURE=1 (at commit 83b5891) to rewrite " + fixtureV2Dir)
	}
	blocks := fixtureV2Blocks()
	if err := os.RemoveAll(fixtureV2Dir); err != nil {
		t.Fatal(err)
	}
	l := openLog(t, filepath.Join(fixtureV2Dir, "wal"), &Options{SegmentSize: 256})
	for i := range blocks {
		if _, _, err := l.Append([][]byte{EncodeBlock(nil, &blocks[i])}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.TruncateFront(fixtureV2Truncate); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	writeFixtureJSON(t, fixtureV2Dir, blocks[fixtureV2Truncate-1:])
}

// TestV2FixtureBytes proves that each record of the version 2 fixture is
// one block as EncodeBlock writes it: the layout of the release before one
// record per group commit.
func TestV2FixtureBytes(t *testing.T) {
	want := fixtureV2Blocks()[fixtureV2Truncate-1:]
	first, recs := rawFixtureRecords(t, fixtureV2Dir)
	if first != fixtureV2Truncate || len(recs) != len(want) {
		t.Fatalf("fixture holds %d records from %d, want %d from %d", len(recs), first, len(want), fixtureV2Truncate)
	}
	for i := range want {
		if got := EncodeBlock(nil, &want[i]); string(got) != string(recs[i]) {
			t.Fatalf("record %d:\n file %x\n  v2 %x", first+uint64(i), recs[i], got)
		}
	}
}

// fixtureJSON returns the blocks the blocks.json of the fixture in dir
// says it holds, after checking them against want.
func fixtureJSON(t *testing.T, dir string, want []Block) []Block {
	t.Helper()
	var fromJSON []Block
	js, err := os.ReadFile(filepath.Join(dir, "blocks.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if len(fromJSON) != len(want) {
		t.Fatalf("%s/blocks.json holds %d blocks, want %d", dir, len(fromJSON), len(want))
	}
	for i := range want {
		if !equalBlocks(&fromJSON[i], &want[i]) {
			t.Fatalf("%s/blocks.json block %d differs from the fixture's blocks", dir, i)
		}
	}
	return want
}

// fixtureV2JSON returns the blocks the version 2 fixture holds.
func fixtureV2JSON(t *testing.T) []Block {
	t.Helper()
	return fixtureJSON(t, fixtureV2Dir, fixtureV2Blocks()[fixtureV2Truncate-1:])
}

// copyFixture copies the log of the fixture in dir to a new directory
// (Open fsyncs and may repair) and returns it.
func copyFixture(t *testing.T, dir string) string {
	t.Helper()
	to := t.TempDir()
	if err := os.CopyFS(to, os.DirFS(filepath.Join(dir, "wal"))); err != nil {
		t.Fatal(err)
	}
	return to
}

// copyFixtureV2 copies the version 2 fixture's log.
func copyFixtureV2(t *testing.T) string { return copyFixture(t, fixtureV2Dir) }

// readBlocks reads the blocks from..to through Log.Read and a Reader and
// checks them against want (want[0] is index from), and with check, if
// not nil, each record and its decoding.
func readBlocks(t *testing.T, l *Log, from uint64, want []Block, check func(index uint64, rec []byte, got *Block)) {
	t.Helper()
	r := l.NewReader()
	defer r.Close()
	var (
		buf []byte
		got Block // reused, as sinks do
		err error
	)
	for i := range want {
		index := from + uint64(i)
		for _, read := range []func([]byte, uint64) ([]byte, error){l.Read, r.Read} {
			if buf, err = read(buf, index); err != nil {
				t.Fatalf("read %d: %v", index, err)
			}
			if err := DecodeBlock(buf, &got); err != nil {
				t.Fatalf("decode %d: %v", index, err)
			}
			if !equalBlocks(&got, &want[i]) {
				t.Fatalf("block %d:\n got %+v\nwant %+v", index, got, want[i])
			}
			if check != nil {
				check(index, buf, &got)
			}
		}
	}
}

// TestV2Fixture opens the version 2 fixture with today's code and reads
// every block back unchanged, under the index it had.
func TestV2Fixture(t *testing.T) {
	want := fixtureV2JSON(t)
	dir := copyFixtureV2(t)
	l := openLog(t, dir, nil)
	defer l.Close()
	if l.FirstIndex() != fixtureV2Truncate || l.LastIndex() != fixtureV2Truncate-1+uint64(len(want)) {
		t.Fatalf("fixture holds %d…%d, want %d…%d", l.FirstIndex(), l.LastIndex(), fixtureV2Truncate, fixtureV2Truncate-1+len(want))
	}
	readBlocks(t, l, fixtureV2Truncate, want, nil)
}
