package sources

import "sync"

// Block buffers. A source encodes each block into a buffer of its own and
// hands it to the pipeline in a Record; the pipeline keeps it until the
// block is durable in the WAL (it may have to append it again) and then
// has no more use for it. At high rates that is one allocation per 64 KiB
// block, as many bytes as are logged, in fresh memory the runtime has to
// fault in. BlockBuffer and ReleaseBlockBuffer recycle them instead.
//
// The pool is a sync.Pool: what it holds is dropped by the garbage
// collector within two cycles when no one takes it, so an idle process
// keeps nothing.

const (
	// Only buffers of a tailer's block size are recycled: a smaller one
	// would rarely fit, and a larger one (a huge line) would hold memory.
	minPooledBlock = 16 << 10
	maxPooledBlock = 256 << 10
)

var blockBuffers sync.Pool // of *[]byte

// BlockBuffer returns an empty buffer with room for at least size bytes,
// recycled when one is available.
func BlockBuffer(size int) []byte {
	if size >= minPooledBlock && size <= maxPooledBlock {
		if p, ok := blockBuffers.Get().(*[]byte); ok {
			if cap(*p) >= size {
				return (*p)[:0]
			}
			blockBuffers.Put(p)
		}
	}
	return make([]byte, 0, size)
}

// ReleaseBlockBuffer hands b back for reuse. The caller must hold the only
// reference to b's bytes: the pipeline calls it for a Record's Data once
// the block is durable in the WAL (which copied it).
func ReleaseBlockBuffer(b []byte) {
	if cap(b) < minPooledBlock || cap(b) > maxPooledBlock {
		return
	}
	b = b[:0]
	blockBuffers.Put(&b)
}
