package retry

// item is a range in the heap of pending ranges, numbered: it is stale
// (skipped) once its range was settled or rescheduled, which gives the
// range a new number (queue.live).
type item struct {
	r   Range
	seq uint64
}

// rangeHeap is a min-heap of ranges by due time, then index (for
// container/heap).
type rangeHeap []item

func (h rangeHeap) Len() int { return len(h) }
func (h rangeHeap) Less(i, j int) bool {
	if !h[i].r.Due.Equal(h[j].r.Due) {
		return h[i].r.Due.Before(h[j].r.Due)
	}
	return h[i].r.From < h[j].r.From
}
func (h rangeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *rangeHeap) Push(x any)   { *h = append(*h, x.(item)) }
func (h *rangeHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
