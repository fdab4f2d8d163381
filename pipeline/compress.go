package pipeline

import (
	"sync/atomic"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

const (
	// minCompressRatio is the least a block must shrink by for the WAL to
	// keep it compressed. Below it, S2's time and the smaller WAL records
	// (several share a tidwall segment, whose tail then grows by copying)
	// cost more than the WAL saves by writing, fsyncing and reading fewer
	// bytes (measured: file → file, 500 MiB of lines S2 shrinks 2.6 times,
	// 2.6–3.0 CPU s stored as they are, 4.9–6.0 s compressed from 2 times
	// up).
	minCompressRatio = 4
	// compressProbe: after a block of a stream shrinks less than
	// minCompressRatio, the next compressProbe-1 blocks of that stream are
	// stored without trying, then one is tried again.
	compressProbe = 16
	// compressSlots is the size of the table of streams' skip counts: a
	// stream (source and file) is hashed to a slot, so the table stays
	// this size however many files come and go; two streams sharing a
	// slot at worst try or skip each other's blocks.
	compressSlots = 256
)

// compressor decides per stream whether blocks are worth compressing.
type compressor struct {
	skip [compressSlots]atomic.Int32 // blocks left to store without trying
}

// compress returns rec's data compressed (wal.CompressBlock) when it
// shrinks at least minCompressRatio times, handing the source's buffer
// back to its pool; otherwise the data itself. Only a real attempt that
// fell short makes the stream skip: a block too small to try does not.
func (p *Pipeline) compress(rec *sources.Record) []byte {
	if len(rec.Data) < wal.MinCompressRecord {
		return rec.Data // never tried, and no skip used up
	}
	skip := &p.compressor.skip[streamSlot(rec.Source, rec.Position.FileID)]
	if skip.Load() > 0 {
		skip.Add(-1)
		p.m.walCompression.WithLabelValues("skipped").Inc()
		return rec.Data
	}
	c, tried := wal.CompressBlock(rec.Data, minCompressRatio)
	switch {
	case !tried:
		return rec.Data
	case len(c) == len(rec.Data):
		skip.Store(compressProbe - 1)
		p.m.walCompression.WithLabelValues("tried").Inc()
		return rec.Data
	}
	// The WAL's groups and the pending list now hold only the compressed
	// bytes; the source may reuse its buffer.
	sources.ReleaseBlockBuffer(rec.Data)
	p.m.walCompression.WithLabelValues("compressed").Inc()
	return c
}

// streamSlot hashes a source and a file id (FNV-1a) to a compressor slot.
func streamSlot(source, fileID string) uint32 {
	h := uint32(2166136261)
	for _, s := range [...]string{source, "\x00", fileID} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint32(s[i])) * 16777619
		}
	}
	return h % compressSlots
}
