package sources

import "testing"

// TestBlockBuffer: a buffer from BlockBuffer is empty with room for the
// size asked, whatever was released before (smaller, larger, outside the
// pooled sizes), and released bytes come back only as empty buffers.
func TestBlockBuffer(t *testing.T) {
	for _, released := range []int{0, 1 << 10, 20 << 10, 64 << 10, 200 << 10, 1 << 20} {
		for _, size := range []int{0, 100, 16 << 10, 20 << 10, 64 << 10, 100 << 10, 256 << 10, 2 << 20} {
			if released > 0 {
				b := make([]byte, released/2, released)
				for i := range b {
					b[i] = 0xAA
				}
				ReleaseBlockBuffer(b)
			}
			b := BlockBuffer(size)
			if len(b) != 0 || cap(b) < size {
				t.Fatalf("released %d, BlockBuffer(%d): len %d cap %d", released, size, len(b), cap(b))
			}
		}
	}
}
