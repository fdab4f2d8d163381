package pipeline

import "github.com/logcapturer/logcapturer/sources"

// WALFull reports whether the WAL is at wal.max_bytes under full_policy
// block: an Emit now waits until a sink frees space. A push receiver asks
// it before it emits (sources.WALFuller) and answers 429 at once. It never
// blocks; safe for concurrent use.
func (p *Pipeline) WALFull() bool {
	return p.opts.FullPolicy == FullBlock && p.opts.MaxBytes > 0 && p.log.Size() >= p.opts.MaxBytes
}

var _ sources.WALFuller = (*Pipeline)(nil)
