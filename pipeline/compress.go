package pipeline

import (
	"sync"
	"sync/atomic"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

const (
	// minCompressRatio is the least a block must shrink by for the WAL to
	// keep it compressed. Below it, S2's time (about 1 ns per byte of
	// varied log lines on this project's bench machine) costs more than
	// the WAL saves by writing, fsyncing and reading fewer bytes
	// (measured: file → file, 500 MiB of lines S2 shrinks 2.6 times,
	// 2.62 CPU s stored as they are, 4.3–6.1 s compressed).
	minCompressRatio = 4
	// compressProbe: after a block of a source shrinks less than
	// minCompressRatio, the next compressProbe-1 blocks of that source
	// are stored without trying, then one is tried again.
	compressProbe = 16
)

// compressor decides per source whether blocks are worth compressing.
type compressor struct {
	sources sync.Map // source name -> *atomic.Int32: blocks left to skip
}

// compress returns data compressed (wal.CompressBlock) when it shrinks at
// least minCompressRatio times, handing data's buffer back to the sources'
// pool; otherwise data itself.
func (p *Pipeline) compress(source string, data []byte) []byte {
	v, ok := p.compressor.sources.Load(source)
	if !ok {
		v, _ = p.compressor.sources.LoadOrStore(source, new(atomic.Int32))
	}
	skip := v.(*atomic.Int32)
	if skip.Load() > 0 {
		skip.Add(-1)
		p.m.walCompression.WithLabelValues("skipped").Inc()
		return data
	}
	c := wal.CompressBlock(data, minCompressRatio)
	if len(c) == len(data) {
		skip.Store(compressProbe - 1)
		p.m.walCompression.WithLabelValues("tried").Inc()
		return data
	}
	// The WAL's groups and the pending list now hold only the compressed
	// bytes; the source may reuse its buffer.
	sources.ReleaseBlockBuffer(data)
	p.m.walCompression.WithLabelValues("compressed").Inc()
	return c
}
