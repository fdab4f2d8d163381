package wal

import (
	"os"
	"path/filepath"
	"testing"
)

// The directory testdata/groups holds a WAL written by the last release
// before compressed blocks (block format version 2 in group records, one
// record per Append): wal/ is the log, blocks.json what its blocks hold
// (index fixtureGroupsFirst first). Its first segment was deleted by
// TruncateFront, as retention does. It was generated at commit 17ce5ae (a
// checkout of that release) by
//
//	LOGCAPTURER_WRITE_WAL_FIXTURE=1 go test ./wal -run TestWriteGroupsFixture
const fixtureGroupsDir = "testdata/groups"

// fixtureGroupsFirst is the first index left after TestWriteGroupsFixture
// truncated the fixture's front (its second segment's first block).
const fixtureGroupsFirst = 4

// TestWriteGroupsFixture regenerates testdata/groups (see
// fixtureGroupsDir): the version 2 fixture's blocks appended three at a
// time (one group record each) into segments of 256 bytes, then the first
// segment truncated. It runs only when LOGCAPTURER_WRITE_WAL_FIXTURE=1,
// and must run at commit 17ce5ae: today's Log compresses nothing itself,
// but the fixture stands for what that release left on disk.
func TestWriteGroupsFixture(t *testing.T) {
	if os.Getenv("LOGCAPTURER_WRITE_WAL_FIXTURE") != "1" {
		t.Skip("set LOGCAPTURER_WRITE_WAL_FIXTURE=1 (at commit 17ce5ae) to rewrite " + fixtureGroupsDir)
	}
	blocks := fixtureV2Blocks()
	if err := os.RemoveAll(fixtureGroupsDir); err != nil {
		t.Fatal(err)
	}
	l := openLog(t, filepath.Join(fixtureGroupsDir, "wal"), &Options{SegmentSize: 256})
	for i := 0; i < len(blocks); i += 3 {
		var recs [][]byte
		for j := i; j < min(i+3, len(blocks)); j++ {
			recs = append(recs, EncodeBlock(nil, &blocks[j]))
		}
		if _, _, err := l.Append(recs); err != nil {
			t.Fatal(err)
		}
	}
	segs := l.Segments()
	if len(segs) < 3 || segs[1].FirstIndex != fixtureGroupsFirst {
		t.Fatalf("segments %+v: want the second to start at %d", segs, fixtureGroupsFirst)
	}
	if err := l.TruncateFront(fixtureGroupsFirst); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	writeFixtureJSON(t, fixtureGroupsDir, blocks[fixtureGroupsFirst-1:])
}

// TestGroupsFixture opens the fixture of the release before compressed
// blocks with today's code, reads every block back unchanged under the
// index it had, then appends a compressed block and a plain one after it
// and reads the whole log again: both formats in one log, across a
// reopen.
func TestGroupsFixture(t *testing.T) {
	want := fixtureJSON(t, fixtureGroupsDir, fixtureV2Blocks()[fixtureGroupsFirst-1:])
	dir := copyFixture(t, fixtureGroupsDir)
	l := openLog(t, dir, nil)
	last := uint64(fixtureGroupsFirst - 1 + len(want))
	if l.FirstIndex() != fixtureGroupsFirst || l.LastIndex() != last {
		t.Fatalf("fixture holds %d…%d, want %d…%d", l.FirstIndex(), l.LastIndex(), fixtureGroupsFirst, last)
	}
	readBlocks(t, l, fixtureGroupsFirst, want, nil)

	more := []Block{*logBlock(100, 7), *logBlock(2, 8)}
	c := compress1(EncodeBlock(nil, &more[0]))
	if !Compressed(c) {
		t.Fatal("the new block did not compress")
	}
	if _, _, err := l.Append([][]byte{c, EncodeBlock(nil, &more[1])}); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, nil)
	defer l.Close()
	readBlocks(t, l, fixtureGroupsFirst, append(want, more...), nil)
}
