package sources

import (
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/wal"
)

// TestBlockSizeBoundsEncoding: the capacity emitBlock reserves for a block
// (blockSize) holds its encoding, whether the entries are plain (the
// tailer without stages) or carry labels and structured metadata of their
// own (with stages), so that encoding a block never grows its buffer.
func TestBlockSizeBoundsEncoding(t *testing.T) {
	tl := &tailer{opts: &FileOptions{Name: "app"}}
	stream := []wal.Label{{Name: "filename", Value: "/var/log/app.log"}, {Name: "job", Value: "app"}}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	own := func(i int) []wal.Label {
		return []wal.Label{{Name: "filename", Value: "/var/log/app.log"}, {Name: "level", Value: strings.Repeat("w", i%7)}}
	}
	meta := func(i int) []wal.Label { return []wal.Label{{Name: "trace_id", Value: strings.Repeat("f", 1+i%33)}} }
	for _, tc := range []struct {
		name  string
		entry func(i int) wal.Entry
	}{
		{"plain", func(i int) wal.Entry { return wal.Entry{} }},
		{"own labels", func(i int) wal.Entry { return wal.Entry{Labels: own(i)} }},
		{"metadata", func(i int) wal.Entry { return wal.Entry{Metadata: meta(i)} }},
		{"both, alternating", func(i int) wal.Entry {
			if i%2 == 0 {
				return wal.Entry{}
			}
			return wal.Entry{Labels: own(i), Metadata: meta(i)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{1, 2, 100, 1000} {
				var entries []wal.Entry
				lineBytes := 0
				for i := range n {
					e := tc.entry(i)
					e.Time = now + int64(i)*int64(time.Hour) // large deltas: long varints
					e.Line = []byte(strings.Repeat("x", (i*37)%300))
					lineBytes += len(e.Line)
					entries = append(entries, e)
				}
				id := "dev-ino-0123456789abcdef"
				size := tl.blockSize(id, "/var/log/app.log", stream, entries, lineBytes)
				blk := wal.Block{Source: "app", Labels: stream, Entries: entries,
					Position: wal.Position{FileID: id, Path: "/var/log/app.log", Offset: 1 << 40}}
				if got := len(wal.EncodeBlock(nil, &blk)); got > size {
					t.Errorf("%d entries: encoded %d bytes, blockSize %d", n, got, size)
				}
			}
		})
	}
}
