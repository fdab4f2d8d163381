package wal

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func readerCheck(t *testing.T, r *Reader, from, to uint64) {
	t.Helper()
	var buf []byte
	for i := from; i <= to; i++ {
		var err error
		if buf, err = r.Read(buf, i); err != nil {
			t.Fatalf("Reader.Read(%d): %v", i, err)
		}
		if got := recordIndex(t, buf); got != i {
			t.Fatalf("Reader.Read(%d) returned the record of %d", i, got)
		}
	}
}

func TestReaderAcrossSegmentsAndJumps(t *testing.T) {
	l := openLog(t, t.TempDir(), &Options{SegmentSize: 4096})
	defer l.Close()
	appendRange(t, l, 300, 7, twoLines)
	if len(l.Segments()) < 10 {
		t.Fatalf("want many segments, have %d", len(l.Segments()))
	}
	r := l.NewReader()
	defer r.Close()
	readerCheck(t, r, 1, 300)
	readerCheck(t, r, 150, 160) // jump back
	readerCheck(t, r, 290, 300) // jump forward
	if _, err := r.Read(nil, 301); !errors.Is(err, ErrNotFound) {
		t.Fatalf("past the end: %v", err)
	}
	// Appends after the reader reached the tail, including new segments.
	appendRange(t, l, 100, 3, twoLines)
	readerCheck(t, r, 301, 400)
	// Truncation: what is gone is ErrNotFound, what is kept reads on.
	segs := l.Segments()
	if err := l.TruncateFront(segs[5].FirstIndex); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(nil, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("truncated index: %v", err)
	}
	readerCheck(t, r, segs[5].FirstIndex, 400)

	// A truncation at the tail's own first index replaces the tail file
	// the Reader has open; later appends go to the new file.
	tail := l.Segments()[len(l.Segments())-1].FirstIndex
	if tail == l.LastIndex()+1 {
		appendRange(t, l, 1, 1, twoLines)
	}
	readerCheck(t, r, tail, l.LastIndex())
	if err := l.TruncateFront(tail); err != nil {
		t.Fatal(err)
	}
	from := l.LastIndex() + 1
	appendRange(t, l, 5, 1, twoLines)
	readerCheck(t, r, from, l.LastIndex())
}

func TestReaderConcurrentWithAppendAndTruncate(t *testing.T) {
	l := openLog(t, t.TempDir(), &Options{SegmentSize: 8192})
	defer l.Close()
	appendRange(t, l, 10, 1, twoLines)
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := 0; i < 100; i++ {
			appendRange(t, l, 10, 3, twoLines)
			if err := l.Sync(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for k := 0; k < 2; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := l.NewReader()
			defer r.Close()
			var buf []byte
			next := uint64(1)
			for {
				if next > l.LastIndex() {
					select {
					case <-done:
						if next > l.LastIndex() {
							return
						}
					default:
						continue
					}
				}
				var err error
				buf, err = r.Read(buf, next)
				if errors.Is(err, ErrNotFound) && next < l.FirstIndex() {
					next = l.FirstIndex()
					continue
				}
				if err != nil {
					t.Errorf("Read(%d): %v", next, err)
					return
				}
				if got := recordIndex(t, buf); got != next {
					t.Errorf("Read(%d) returned %d", next, got)
					return
				}
				next++
				if next%97 == 0 { // a truncator racing the readers
					if segs := l.Segments(); len(segs) > 3 {
						if err := l.TruncateFront(segs[1].FirstIndex); err != nil {
							t.Error(err)
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestReaderCorruptRecordSkipped(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, &Options{SegmentSize: 4096})
	appendRange(t, l, 40, 1, twoLines) // a record per block: record 3 holds block 3
	if len(l.Segments()) < 2 {
		t.Fatal("want record 3 in an old segment")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Flip a payload byte of record 3, in the first (old) segment; its
	// header stays valid.
	path := filepath.Join(dir, segmentName(1))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	starts, _ := frames(data)
	data[starts[2]+20] ^= 0xff
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, &Options{SegmentSize: 4096})
	defer l.Close()
	r := l.NewReader()
	defer r.Close()
	readerCheck(t, r, 1, 2)
	var ce *CorruptionError
	if _, err := r.Read(nil, 3); !errors.As(err, &ce) || ce.Index != 3 {
		t.Fatalf("Read(3): %v", err)
	}
	readerCheck(t, r, 4, 40)
}

// TestReaderDoesNotWaitForAppend: a Reader finds a segment without the
// lock Append holds across tidwall's write and its fsync of a finished
// segment; under load a sink moves to a new segment at every group and
// waited for both.
func TestReaderDoesNotWaitForAppend(t *testing.T) {
	l := openLog(t, t.TempDir(), &Options{SegmentSize: 4096})
	defer l.Close()
	for i := uint64(1); i <= 20; i++ { // a segment each
		if _, _, err := l.Append([][]byte{testRecord(i, 1, 5000)}); err != nil {
			t.Fatal(err)
		}
	}
	if len(l.Segments()) < 3 {
		t.Fatalf("%d segments, want several", len(l.Segments()))
	}
	r := l.NewReader()
	defer r.Close()
	l.mu.Lock() // as an Append in progress does
	done := make(chan error, 1)
	go func() {
		var err error
		for _, i := range []uint64{3, 15, 7} { // each in another segment
			if _, err = r.Read(nil, i); err != nil {
				break
			}
		}
		done <- err
	}()
	select {
	case err := <-done:
		l.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		l.mu.Unlock()
		<-done
		t.Fatal("Read waited for the lock an Append holds")
	}
}
