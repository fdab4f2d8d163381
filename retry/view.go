package retry

import (
	"cmp"
	"slices"
)

// Ranges returns a copy of the sink's stored retry ranges (waiting or
// handed out) in index order. Safe for concurrent use; it never touches
// the store.
func (s *Scheduler) Ranges(sink string) []Range {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[sink]
	if q == nil {
		return nil
	}
	out := make([]Range, 0, len(q.ranges))
	for _, c := range q.ranges {
		out = append(out, c.r)
	}
	slices.SortFunc(out, func(a, b Range) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To), a.Due.Compare(b.Due))
	})
	return out
}

// Sinks returns the names of the registered sinks, in registration order.
func (s *Scheduler) Sinks() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.order))
	for _, q := range s.order {
		out = append(out, q.name)
	}
	return out
}
