package wal

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkAppendSync measures ingest's group commit: records of about
// 64 KiB (blocks of 200-byte lines), 16 (1 MiB) or 64 (4 MiB, the pipeline's
// largest group) per Append, then one Sync.
func BenchmarkAppendSync(b *testing.B) {
	for _, n := range []int{16, 64} {
		b.Run(fmt.Sprintf("group=%dKiB", n*64), func(b *testing.B) { benchAppendSync(b, n) })
	}
}

func benchAppendSync(b *testing.B, n int) {
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
	batch := make([][]byte, n)
	for i := range batch {
		batch[i] = rec
	}

	l, err := Open(b.TempDir(), nil)
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
