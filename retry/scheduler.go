package retry

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Scheduler holds every sink's retry ranges and dead letters, mirrored from
// the Store, and runs the one goroutine that hands due ranges to the sinks.
// A sink receives its due ranges on the channel Register returned; when
// that channel is full the ranges wait in the heap (the scheduler never
// blocks on one sink), and the sink calls Signal when it has room again.
//
// The store is the truth: every change is written (one fsynced bbolt
// transaction) before it shows in memory, and Register reloads it after a
// restart. All methods are safe for concurrent use.
type Scheduler struct {
	logger *slog.Logger
	reg    prometheus.Registerer
	store  *Store
	m      *metrics
	now    func() time.Time

	mu     sync.Mutex
	queues map[string]*queue
	order  []*queue

	wake   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

type queue struct {
	name    string
	out     chan Range
	pending rangeHeap           // stored ranges not yet handed out, and stale items
	ranges  map[rangeKey]stored // every stored range (pending or handed out) by its store key
	seq     uint64              // numbers the ranges added, so a stale heap item is told apart
	entries int
	dead    map[deadKey]DeadLetter
	deadEnt int
}

// deadKey identifies a dead letter as the store does: From and Dup.
type deadKey struct{ from, dup uint64 }

func keyOfDead(d DeadLetter) deadKey { return deadKey{d.From, d.Dup} }

// rangeKey identifies a stored range as the store does: due time and
// From. Several ranges may start at the same index (after a crash the
// sink's reader re-sends blocks a stored range holds, and files them again
// if the send fails; a rewind does the same), so From alone does not
// identify one; the store keeps the keys unique.
type rangeKey struct {
	due  int64
	from uint64
}

func keyOf(r Range) rangeKey { return rangeKey{due: r.Due.UnixNano(), from: r.From} }

// stored is a stored range and the number of the heap item that may hand
// it out.
type stored struct {
	r   Range
	seq uint64
}

// addRange records a stored range as pending. Called with s.mu held.
func (q *queue) addRange(r Range) {
	q.seq++
	q.ranges[keyOf(r)] = stored{r: r, seq: q.seq}
	q.entries += r.Entries
	heap.Push(&q.pending, item{r: r, seq: q.seq})
}

// removeRange forgets the stored range r (its heap item, if it is still
// pending, is stale from now on and skipped). Called with s.mu held.
func (q *queue) removeRange(r Range) (Range, bool) {
	k := keyOf(r)
	cur, ok := q.ranges[k]
	if ok {
		q.entries -= cur.r.Entries
		delete(q.ranges, k)
	}
	return cur.r, ok
}

// live reports whether heap item it still stands for a pending range: not
// settled, rescheduled or handed out since it was pushed. Called with s.mu
// held.
func (q *queue) live(it item) bool {
	cur, ok := q.ranges[keyOf(it.r)]
	return ok && cur.seq == it.seq
}

// addDead records a stored dead letter. Called with s.mu held.
func (q *queue) addDead(d DeadLetter) {
	k := keyOfDead(d)
	if old, ok := q.dead[k]; ok {
		q.deadEnt -= old.Entries
	}
	q.dead[k] = d
	q.deadEnt += d.Entries
}

// removeDead forgets the dead letter d. Called with s.mu held.
func (q *queue) removeDead(d DeadLetter) (DeadLetter, bool) {
	k := keyOfDead(d)
	cur, ok := q.dead[k]
	if ok {
		q.deadEnt -= cur.Entries
		delete(q.dead, k)
	}
	return cur, ok
}

// Options configures a Scheduler.
type Options struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// New returns a Scheduler over store. A nil logger discards; a nil
// registerer registers no metrics.
func New(logger *slog.Logger, reg prometheus.Registerer, store *Store, opts Options) (*Scheduler, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Scheduler{
		logger: logger, reg: reg, store: store, m: m, now: opts.Now,
		queues: make(map[string]*queue),
		wake:   make(chan struct{}, 1),
	}, nil
}

// Register adds a sink, loads its stored ranges and dead letters, and
// returns the channel its due ranges arrive on (capacity: the sink's
// workers). Call it before Start.
func (s *Scheduler) Register(sink string, capacity int) (<-chan Range, error) {
	rs, ds, err := s.store.Load(sink)
	if err != nil {
		return nil, err
	}
	q := &queue{
		name:   sink,
		out:    make(chan Range, max(1, capacity)),
		ranges: make(map[rangeKey]stored, len(rs)),
		dead:   make(map[deadKey]DeadLetter, len(ds)),
	}
	for _, r := range rs {
		q.addRange(r)
	}
	for _, d := range ds {
		q.addDead(d)
	}
	// Series exist from the start, so alerts see them before the first event.
	s.m.retries.WithLabelValues(sink)
	s.m.dlqExpired.WithLabelValues(sink)
	s.m.dlqAdded.WithLabelValues(sink, "max_attempts")
	s.mu.Lock()
	s.queues[sink] = q
	s.order = append(s.order, q)
	s.gauges(q)
	s.mu.Unlock()
	if len(rs)+len(ds) > 0 {
		s.logger.Info("reloaded retry state", "sink", sink, "retry_ranges", len(rs), "dead_letters", len(ds))
	}
	return q.out, nil
}

// Start runs the scheduler goroutine until Close.
func (s *Scheduler) Start(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run(ctx)
	}()
}

// Close stops the goroutine and waits for it, and unregisters the metrics.
// Stored state stays. Safe to call twice.
func (s *Scheduler) Close() {
	s.once.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		s.wg.Wait()
		s.m.set.Unregister()
	})
}

// Signal tells the scheduler a sink has room for another range.
func (s *Scheduler) Signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Scheduler) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := s.dispatch()
		timer.Stop()
		var tc <-chan time.Time
		if !next.IsZero() {
			timer.Reset(max(0, next.Sub(s.now())))
			tc = timer.C
		}
		select {
		case <-s.wake:
		case <-tc:
		case <-ctx.Done():
			return
		}
	}
}

// dispatch hands every due range to its sink while the sink has room, and
// returns the earliest due time still waiting for a sink with room (zero:
// nothing to wait for but a wake-up).
func (s *Scheduler) dispatch() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var next time.Time
	for _, q := range s.order {
		for len(q.pending) > 0 {
			it := q.pending[0]
			if !q.live(it) {
				heap.Pop(&q.pending) // settled or rescheduled meanwhile
				continue
			}
			r := it.r
			if r.Due.After(now) {
				if next.IsZero() || r.Due.Before(next) {
					next = r.Due
				}
				break
			}
			select {
			case q.out <- r:
				heap.Pop(&q.pending)
				s.m.retries.WithLabelValues(q.name).Inc()
				continue
			default: // full: the sink signals when it has room
			}
			break
		}
	}
	return next
}

func (s *Scheduler) queue(sink string) (*queue, error) {
	q := s.queues[sink]
	if q == nil {
		return nil, fmt.Errorf("retry: unknown sink %q", sink)
	}
	return q, nil
}

func (s *Scheduler) gauges(q *queue) {
	s.m.ranges.WithLabelValues(q.name).Set(float64(len(q.ranges)))
	s.m.entries.WithLabelValues(q.name).Set(float64(q.entries))
	s.m.dlqEntries.WithLabelValues(q.name).Set(float64(q.deadEnt))
}

// Add stores a range after its first failure and schedules it at r.Due.
// When Add returns, the range is durable and the sink's cursor may pass it.
func (s *Scheduler) Add(sink string, r Range) error {
	return s.Retry(sink, Range{}, r)
}

// Retry replaces the handed-out range old (zero: none) by r, failed again
// and due at r.Due. Ranges are identified by due time and From: old is the
// range as it was handed out. r is stored a few nanoseconds earlier if
// another range has its key.
func (s *Scheduler) Retry(sink string, old, r Range) error {
	r, err := s.store.PutRetry(sink, old, r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	q, err := s.queue(sink)
	if err == nil {
		if old.To != 0 {
			q.removeRange(old)
		}
		q.addRange(r)
		s.gauges(q)
	}
	s.mu.Unlock()
	s.Signal()
	return err
}

// Hurry makes up to limit (0: every) waiting ranges of sink due now,
// lowest index first: for when the sink has recovered, so they are handed
// out oldest first as fast as the sink takes them instead of waiting out
// backoffs earned during the outage, or for a probe that cannot wait. Ranges
// already handed out are left alone. It returns how many ranges it moved.
func (s *Scheduler) Hurry(sink string, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock() // held across the write, so no range is handed out meanwhile
	q, err := s.queue(sink)
	if err != nil {
		return 0, err
	}
	now := s.now()
	var olds []Range
	for _, it := range q.pending {
		if q.live(it) && it.r.Due.After(now) {
			olds = append(olds, it.r)
		}
	}
	slices.SortFunc(olds, func(a, b Range) int { return cmp.Compare(a.From, b.From) })
	if limit > 0 && len(olds) > limit {
		olds = olds[:limit]
	}
	if len(olds) == 0 {
		return 0, nil
	}
	news, err := s.store.Reschedule(sink, olds, now)
	if err != nil {
		return 0, err
	}
	for i, r := range news {
		q.removeRange(olds[i]) // its heap item is stale now and skipped
		q.addRange(r)
	}
	s.gauges(q)
	s.Signal()
	return len(news), nil
}

// Waiting returns how many of sink's ranges wait in the heap (not handed
// out) and the earliest and latest due times among them.
func (s *Scheduler) Waiting(sink string) (n int, earliest, latest time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[sink]
	if q == nil {
		return 0, time.Time{}, time.Time{}
	}
	for _, it := range q.pending {
		if r := it.r; q.live(it) {
			n++
			if earliest.IsZero() || r.Due.Before(earliest) {
				earliest = r.Due
			}
			if r.Due.After(latest) {
				latest = r.Due
			}
		}
	}
	return n, earliest, latest
}

// Done removes a handed-out range the sink has now delivered: r as it was
// handed out (its due time and From identify it; another range may start
// at the same index).
func (s *Scheduler) Done(sink string, r Range) error {
	if err := s.store.DeleteRetry(sink, r); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queue(sink)
	if err != nil {
		return err
	}
	q.removeRange(r)
	s.gauges(q)
	return nil
}

// Dead moves a range to the dead-letter queue: old is the handed-out retry
// range it replaces (zero if it never was one).
func (s *Scheduler) Dead(sink string, old Range, d DeadLetter) error {
	d, err := s.store.PutDead(sink, old, d)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queue(sink)
	if err != nil {
		return err
	}
	if old.To != 0 {
		q.removeRange(old)
	}
	q.addDead(d)
	s.m.dlqAdded.WithLabelValues(sink, d.Reason).Add(float64(d.Entries))
	s.gauges(q)
	return nil
}

// Low returns the lowest WAL index a sink's retry ranges and dead letters
// still need, and whether there is any.
func (s *Scheduler) Low(sink string) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[sink]
	if q == nil {
		return 0, false
	}
	var low uint64
	found := false
	for k := range q.ranges {
		if !found || k.from < low {
			low, found = k.from, true
		}
	}
	for k := range q.dead {
		if !found || k.from < low {
			low, found = k.from, true
		}
	}
	return low, found
}

// Stats returns the number of retry ranges, their entries, and the first
// failure time of the oldest (zero when there is none).
func (s *Scheduler) Stats(sink string) (ranges, entries int, oldest time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[sink]
	if q == nil {
		return 0, 0, time.Time{}
	}
	for _, c := range q.ranges {
		if oldest.IsZero() || c.r.FirstFailure.Before(oldest) {
			oldest = c.r.FirstFailure
		}
	}
	return len(q.ranges), q.entries, oldest
}

// DeadLetters returns a sink's dead letters in index order.
func (s *Scheduler) DeadLetters(sink string) []DeadLetter {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[sink]
	if q == nil {
		return nil
	}
	out := make([]DeadLetter, 0, len(q.dead))
	for _, d := range q.dead {
		out = append(out, d)
	}
	slices.SortFunc(out, compareDead)
	return out
}

// compareDead orders dead letters by From, then Dup.
func compareDead(a, b DeadLetter) int {
	return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.Dup, b.Dup))
}

// Replay moves dead letters back into the retry queue, due now, with their
// attempts reset and their first failure kept (a range that fails again
// and goes back to the dead-letter queue shows when it first failed): the
// dead letters starting at from (usually one), or every one when from
// is 0. It returns how many it moved.
func (s *Scheduler) Replay(sink string, from uint64) (int, error) {
	return s.removeDead(sink, from, true)
}

// Purge deletes dead letters (those starting at from, or all when from is
// 0); their WAL blocks may then be deleted. It returns how many.
func (s *Scheduler) Purge(sink string, from uint64) (int, error) {
	return s.removeDead(sink, from, false)
}

func (s *Scheduler) removeDead(sink string, from uint64, replay bool) (int, error) {
	s.mu.Lock()
	q, err := s.queue(sink)
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	var picked []DeadLetter
	for k, d := range q.dead {
		if from == 0 || k.from == from {
			picked = append(picked, d)
		}
	}
	s.mu.Unlock()
	if len(picked) == 0 {
		if from != 0 {
			return 0, fmt.Errorf("sink %s has no dead letter starting at index %d", sink, from)
		}
		return 0, nil
	}
	rs, err := s.store.RemoveDead(sink, picked, replay, s.now())
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	for _, d := range picked {
		q.removeDead(d)
	}
	for _, r := range rs {
		q.addRange(r)
	}
	s.gauges(q)
	s.mu.Unlock()
	s.Signal()
	return len(picked), nil
}

// deadToRetry returns the retry ranges that replay ds, due at now; none
// unless replay.
func deadToRetry(ds []DeadLetter, now time.Time, replay bool) []Range {
	if !replay {
		return nil
	}
	rs := make([]Range, 0, len(ds))
	for _, d := range ds {
		rs = append(rs, Range{From: d.From, To: d.To, Entries: d.Entries, Bytes: d.Bytes, Picks: d.Picks,
			Due: now, FirstFailure: d.FirstFailure, LastError: "replayed from the dead-letter queue"})
	}
	return rs
}

// Expire deletes the oldest dead letters of every sink while the sink's
// dead letters hold more than maxBytes line bytes or are older than maxAge
// (by last failure); zero disables a limit. It returns the entries expired.
func (s *Scheduler) Expire(maxBytes int64, maxAge time.Duration) int {
	total := 0
	now := s.now()
	s.mu.Lock()
	var work []struct {
		q     *queue
		picks []DeadLetter
	}
	for _, q := range s.order {
		ds := make([]DeadLetter, 0, len(q.dead))
		var bytes int64
		for _, d := range q.dead {
			ds = append(ds, d)
			bytes += int64(d.Bytes)
		}
		slices.SortFunc(ds, compareDead)
		var picks []DeadLetter
		for _, d := range ds {
			old := maxAge > 0 && now.Sub(d.LastFailure) > maxAge
			big := maxBytes > 0 && bytes > maxBytes
			if !old && !big {
				continue
			}
			picks = append(picks, d)
			bytes -= int64(d.Bytes)
		}
		if len(picks) > 0 {
			work = append(work, struct {
				q     *queue
				picks []DeadLetter
			}{q, picks})
		}
	}
	s.mu.Unlock()
	for _, w := range work {
		if _, err := s.store.RemoveDead(w.q.name, w.picks, false, now); err != nil {
			s.logger.Error("expire dead letters", "sink", w.q.name, "err", err)
			continue
		}
		s.mu.Lock()
		n := 0
		for _, d := range w.picks {
			if _, ok := w.q.removeDead(d); ok {
				n += d.Entries
			}
		}
		s.gauges(w.q)
		s.mu.Unlock()
		s.m.dlqExpired.WithLabelValues(w.q.name).Add(float64(n))
		s.logger.Warn("expired dead letters (dlq.max_bytes or dlq.max_age)", "sink", w.q.name, "ranges", len(w.picks), "entries", n)
		total += n
	}
	return total
}

// DropBelow forgets every retry range and dead letter that ends below
// index (their WAL blocks were deleted: by full_policy drop_oldest, or while
// the sink was not in the config) of every sink, or of the sinks named in
// only, and returns the entries dropped per sink.
func (s *Scheduler) DropBelow(index uint64, only ...string) map[string]int {
	out := map[string]int{}
	for _, q := range s.snapshotQueues() {
		if len(only) > 0 && !slices.Contains(only, q.name) {
			continue
		}
		var rs []Range
		var ds []DeadLetter
		s.mu.Lock()
		for _, c := range q.ranges {
			if c.r.To < index {
				rs = append(rs, c.r)
			}
		}
		for _, d := range q.dead {
			if d.To < index {
				ds = append(ds, d)
			}
		}
		s.mu.Unlock()
		for _, r := range rs {
			if err := s.store.DeleteRetry(q.name, r); err != nil {
				s.logger.Error("drop retry range", "sink", q.name, "err", err)
				continue
			}
			s.mu.Lock()
			if _, ok := q.removeRange(r); ok {
				out[q.name] += r.Entries
			}
			s.mu.Unlock()
		}
		if len(ds) > 0 {
			if _, err := s.store.RemoveDead(q.name, ds, false, s.now()); err == nil {
				s.mu.Lock()
				for _, d := range ds {
					if _, ok := q.removeDead(d); ok {
						out[q.name] += d.Entries
					}
				}
				s.mu.Unlock()
			}
		}
		s.mu.Lock()
		s.gauges(q)
		s.mu.Unlock()
	}
	return out
}

func (s *Scheduler) snapshotQueues() []*queue {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*queue(nil), s.order...)
}
