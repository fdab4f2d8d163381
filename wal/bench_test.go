package wal

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkAppendSync measures ingest's group commit: blocks of about
// 64 KiB (200-byte lines) appended until the group holds 1 MiB, as the
// pipeline's writer gathers them under load, then one Sync. With the
// default segment size (1 MiB) each group is one record alone in its
// segment, so tidwall allocates its tail once per group and never grows
// it: B/op is about the group's size. segment=4MiB shows what a segment
// larger than the group costs: records share a segment, which tidwall
// grows by copying (before one record per group commit, every segment
// grew block by block: about 6 bytes allocated per byte).
func BenchmarkAppendSync(b *testing.B) {
	for _, seg := range []int64{1 << 20, 4 << 20} {
		b.Run(fmt.Sprintf("group=1MiB/segment=%dMiB", seg>>20), func(b *testing.B) { benchAppendSync(b, seg) })
	}
}

func benchAppendSync(b *testing.B, segmentSize int64) {
	line := bytes.Repeat([]byte("x"), 200)
	blk := &Block{
		Source:   "bench",
		Labels:   []Label{{Name: "job", Value: "bench"}},
		Position: Position{FileID: "1:2", Path: "/var/log/bench.log"},
	}
	for i := 0; len(EncodeBlock(nil, blk)) < 64<<10-len(line)-8; i++ {
		blk.Entries = append(blk.Entries, Entry{Time: 1700000000000000000 + int64(i), Line: line})
	}
	rec := EncodeBlock(nil, blk)
	var batch [][]byte
	for size := 0; size < 1<<20; size += len(rec) { // the writer's fill loop
		batch = append(batch, rec)
	}

	l, err := Open(b.TempDir(), &Options{SegmentSize: segmentSize})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(batch) * len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := l.Append(batch); err != nil {
			b.Fatal(err)
		}
		if err := l.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkReaderFollowsTail measures a sink keeping up with ingest: each
// Read is of the record just appended (16 KiB), past the segment size the
// Reader last saw.
func BenchmarkReaderFollowsTail(b *testing.B) {
	rec := testRecord(1, 100, 160)
	l, err := Open(b.TempDir(), &Options{SegmentSize: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	r := l.NewReader()
	defer r.Close()
	var buf []byte
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		_, last, err := l.Append([][]byte{rec})
		if err != nil {
			b.Fatal(err)
		}
		if buf, err = r.Read(buf, last); err != nil {
			b.Fatal(err)
		}
		if l.Size() > 48<<20 {
			b.StopTimer()
			r.Close()
			l.Close()
			if l, err = Open(b.TempDir(), &Options{SegmentSize: 64 << 20}); err != nil {
				b.Fatal(err)
			}
			r = l.NewReader()
			b.StartTimer()
		}
	}
}

// BenchmarkBlockCodec measures EncodeBlock into a reused buffer and
// DecodeBlock (and DecodeReadBlock, which skips the checksum) into a reused Block, for a 64 KiB block of 200-byte lines:
// plain (no per-entry data, as version 1 had), and staged (every entry has
// a level label from three values and a trace_id in its metadata, as a
// pipeline with labels and structured_metadata stages makes).
func BenchmarkBlockCodec(b *testing.B) {
	line := bytes.Repeat([]byte("x"), 199)
	blk := &Block{Source: "bench", Labels: []Label{{Name: "job", Value: "bench"}},
		Position: Position{FileID: "1:2", Path: "/var/log/bench.log", Offset: 1 << 30}}
	for i := 0; i < 64<<10/200; i++ {
		blk.Entries = append(blk.Entries, Entry{Time: 1700000000000000000 + int64(i)*1000, Line: line})
	}
	benchBlockCodec(b, blk)
	levels := []string{"info", "info", "warn", "info", "error"}
	staged := &Block{Source: blk.Source, Labels: blk.Labels, Position: blk.Position}
	for i, e := range blk.Entries {
		e.Labels = []Label{{Name: "job", Value: "bench"}, {Name: "level", Value: levels[i%len(levels)]}}
		e.Metadata = []Label{{Name: "trace_id", Value: fmt.Sprintf("%032x", i*7919)}}
		staged.Entries = append(staged.Entries, e)
	}
	b.Run("staged", func(b *testing.B) { benchBlockCodec(b, staged) })
}

func benchBlockCodec(b *testing.B, blk *Block) {
	rec := EncodeBlock(nil, blk)
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(rec)))
		b.ReportAllocs()
		buf := make([]byte, 0, len(rec))
		for b.Loop() {
			buf = EncodeBlock(buf[:0], blk)
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(rec)))
		b.ReportAllocs()
		var out Block
		for b.Loop() {
			if err := DecodeBlock(rec, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode read", func(b *testing.B) {
		b.SetBytes(int64(len(rec)))
		b.ReportAllocs()
		var out Block
		for b.Loop() {
			if err := DecodeReadBlock(rec, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
