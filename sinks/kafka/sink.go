package kafka

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/wal"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// maxLate bounds the ranges remembered as delivered after their Send gave
// up (see Sink.Send).
const maxLate = 64

// Sink produces each entry of a batch as one Kafka record. See the package
// documentation.
type Sink struct {
	name    string
	opts    Config
	topic   *labelTemplate
	key     *labelTemplate // nil: no key
	logger  *slog.Logger
	m       *metrics
	cl      *kgo.Client
	ctx     context.Context // every record's context; cancelled by Close
	cancel  context.CancelFunc
	closeMu sync.Once

	mu sync.Mutex
	// stale counts Sends that returned before all their records were
	// acknowledged: their records are still in the producer's buffer.
	// staleDone is closed when stale drops to 0.
	stale     int
	staleDone chan struct{}
	// late are ranges whose records were all acknowledged after their Send
	// had returned a timeout: the pipeline will send them again, and they
	// need not be produced twice.
	late []walRange
	// free are buffers of settled Sends, at most one per concurrent Send.
	free []*buffers
	// authErr is the refusal of the last connection attempt (SASL), nil
	// once one succeeds: the records then wait without an error of their
	// own, and a Send that times out says why.
	authErr error
}

// connHook watches connection attempts for refused credentials.
type connHook struct{ s *Sink }

var _ kgo.HookBrokerConnect = connHook{}

func (h connHook) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	var u *sinks.Unauthorized
	if err != nil && !errors.As(classify(err), &u) {
		return // a dial error says nothing about the credentials
	}
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if u != nil {
		h.s.authErr = u
	} else {
		h.s.authErr = nil
	}
}

// refused returns the credentials' refusal, if the last connection attempt
// was refused.
func (s *Sink) refused() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authErr
}

type walRange struct{ from, to uint64 }

var _ sinks.Sink = (*Sink)(nil)

// New checks opts, reads the TLS files, and registers the sink's metrics on
// reg with a sink=<name> label. It does not contact the brokers: a sink
// whose brokers are unreachable starts, and its Sends time out (retryable)
// until one answers. A nil logger discards; a nil reg registers nothing.
func New(logger *slog.Logger, reg prometheus.Registerer, name string, opts Config) (*Sink, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("kafka sink %q: %w", name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("sink", name)
	topic, _ := parseTemplate("topic", opts.Topic) // checked by Validate
	var key *labelTemplate
	if opts.Key != "" {
		key, _ = parseTemplate("key", opts.Key)
	}
	kopts, err := clientOptions(logger, opts)
	if err != nil {
		return nil, fmt.Errorf("kafka sink %q: %w", name, err)
	}
	s := &Sink{name: name, opts: opts, topic: topic, key: key, logger: logger}
	cl, err := kgo.NewClient(append(kopts, kgo.WithHooks(connHook{s}))...)
	if err != nil {
		return nil, fmt.Errorf("kafka sink %q: %w", name, err)
	}
	s.cl = cl
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.m, err = newMetrics(reg, name, s); err != nil {
		cl.Close()
		s.cancel()
		return nil, fmt.Errorf("kafka sink %q: %w", name, err)
	}
	return s, nil
}

func clientOptions(logger *slog.Logger, o Config) ([]kgo.Opt, error) {
	kopts := []kgo.Opt{
		kgo.SeedBrokers(o.Brokers...),
		kgo.ClientID(o.ClientID),
		kgo.MaxBufferedBytes(int(o.MaxBufferedBytes)),
		// A Send waits for its records: lingering only delays the last
		// records of every batch.
		kgo.ProducerLinger(0),
		kgo.WithLogger(kgoLogger{logger}),
		kgo.DialTimeout(min(10*time.Second, o.Timeout)),
		// As the Java producer: a topic a template names is created if the
		// brokers allow it (auto.create.topics.enable).
		kgo.AllowAutoTopicCreation(),
	}
	switch o.Compression {
	case "none":
		kopts = append(kopts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	case "gzip":
		kopts = append(kopts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case "snappy":
		kopts = append(kopts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case "lz4":
		kopts = append(kopts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	default:
		kopts = append(kopts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	}
	if o.Acks == AcksLeader {
		kopts = append(kopts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	} else {
		kopts = append(kopts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	tlsCfg, err := o.TLS.Client()
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		kopts = append(kopts, kgo.DialTLSConfig(tlsCfg))
	}
	if s := o.SASL; s.set() {
		if s.PasswordFile != "" {
			if _, err := config.ReadSecret("sasl.password_file", s.PasswordFile); err != nil {
				return nil, err
			}
		}
		kopts = append(kopts, kgo.SASL(mechanism(s)))
	}
	return kopts, nil
}

// mechanism reads the password (file) at every authentication.
func mechanism(s SASL) sasl.Mechanism {
	password := func() (string, error) {
		if s.PasswordFile == "" {
			return s.Password, nil
		}
		return config.ReadSecret("sasl.password_file", s.PasswordFile)
	}
	switch s.Mechanism {
	case MechanismPlain:
		return plain.Plain(func(context.Context) (plain.Auth, error) {
			pw, err := password()
			return plain.Auth{User: s.Username, Pass: pw}, err
		})
	case MechanismSCRAMSHA256:
		return scram.Sha256(func(context.Context) (scram.Auth, error) {
			pw, err := password()
			return scram.Auth{User: s.Username, Pass: pw}, err
		})
	}
	return scram.Sha512(func(context.Context) (scram.Auth, error) {
		pw, err := password()
		return scram.Auth{User: s.Username, Pass: pw}, err
	})
}

// Name returns the sink's name.
func (s *Sink) Name() string { return s.name }

// Destination returns the seed brokers, comma-separated (host:port; the
// SASL credentials are never part of it).
func (s *Sink) Destination() string { return strings.Join(s.opts.Brokers, ",") }

// Send produces every entry of b as a record and returns nil once every
// record is acknowledged (acks: all, by every in-sync replica). It is safe
// for concurrent use and returns when ctx is done or Config.Timeout passes,
// whichever is first; it blocks while the producer's buffer
// (max_buffered_bytes) is full.
//
// Errors: *sinks.Unauthorized for authorization and SASL failures;
// *sinks.Permanent (reason MESSAGE_TOO_LARGE, INVALID_TOPIC_EXCEPTION, ...,
// invalid_topic for a topic template that renders an invalid name) when the
// brokers refused records for good (Rejected counts them; the other records
// were written); *sinks.Retryable otherwise (reason timeout, or the Kafka
// error name).
//
// A Send that times out leaves its records in the producer's buffer: the
// idempotent producer never fails a record it may have written. Until they
// are settled, later Sends wait for them (up to their own timeout) before
// producing anything, so a long outage never buffers more than one timed-out
// batch per worker, nor produces a range twice while its first copy is
// pending. When such records are all acknowledged late, the range is
// remembered, and the pipeline's retry of it returns nil without producing
// it again.
func (s *Sink) Send(ctx context.Context, b *sinks.Batch) error {
	if s.ctx.Err() != nil {
		return &sinks.Retryable{Err: errors.New("kafka sink is closed"), Reason: "closed"}
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	if done, err := s.waitStale(ctx, b); done || err != nil {
		return err
	}
	start := time.Now()
	t := &send{s: s, from: b.From, to: b.To, done: make(chan struct{}), bf: s.getBuffers()}
	t.pending.Store(1) // Send's own reference, dropped once all are produced
	s.produce(ctx, t, b)
	t.release()
	select {
	case <-t.done:
	case <-ctx.Done():
		if s.abandon(t) {
			n := t.pending.Load()
			if err := s.refused(); err != nil {
				s.m.failures.WithLabelValues("unauthorized").Inc()
				return err
			}
			s.m.failures.WithLabelValues("timeout").Inc()
			return &sinks.Retryable{Reason: "timeout", Err: fmt.Errorf(
				"produce wal %d-%d: %d records not acknowledged after %s: %w", b.From, b.To, n, time.Since(start).Round(time.Millisecond), ctx.Err())}
		}
	}
	s.m.duration.Observe(time.Since(start).Seconds())
	err := t.result()
	s.putBuffers(t.bf)
	var r *sinks.Retryable
	if errors.As(err, &r) {
		// Records that waited for metadata fail at the deadline; the
		// reason they waited may be refused credentials.
		if u := s.refused(); u != nil {
			err = u
		}
	}
	if err != nil {
		s.m.failures.WithLabelValues(sinks.Reason(err)).Inc()
	}
	return err
}

// waitStale waits until no earlier timed-out Send has records in the
// buffer. done is true when b's range was delivered late (nothing to do).
func (s *Sink) waitStale(ctx context.Context, b *sinks.Batch) (done bool, err error) {
	for {
		s.mu.Lock()
		for i, r := range s.late {
			if r.from <= b.From && b.To <= r.to {
				s.late = append(s.late[:i], s.late[i+1:]...)
				s.mu.Unlock()
				return true, nil
			}
		}
		stale, ch := s.stale, s.staleDone
		s.mu.Unlock()
		if stale == 0 {
			return false, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			if err := s.refused(); err != nil {
				s.m.failures.WithLabelValues("unauthorized").Inc()
				return false, err
			}
			s.m.failures.WithLabelValues("unacknowledged").Inc()
			return false, &sinks.Retryable{Reason: "unacknowledged", Err: fmt.Errorf(
				"wal %d-%d not produced: %d earlier batches still wait for the brokers: %w", b.From, b.To, stale, ctx.Err())}
		}
	}
}

// abandon marks t as given up on, unless it finished meanwhile; it reports
// whether it did.
func (s *Sink) abandon(t *send) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-t.done:
		return false
	default:
	}
	t.abandoned = true
	if s.stale == 0 {
		s.staleDone = make(chan struct{})
	}
	s.stale++
	s.m.stale.Set(float64(s.stale))
	return true
}

// settled is called once t's records are all settled.
func (s *Sink) settled(t *send) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.abandoned {
		if t.result() == nil {
			if len(s.late) == maxLate {
				s.late = s.late[1:]
			}
			s.late = append(s.late, walRange{t.from, t.to})
		}
		s.stale--
		s.m.stale.Set(float64(s.stale))
		if s.stale == 0 {
			close(s.staleDone)
		}
	}
	close(t.done)
}

// produce hands every entry of b to the producer.
func (s *Sink) produce(ctx context.Context, t *send, b *sinks.Batch) {
	var (
		buf    bytes.Buffer
		labels = map[string]string{}
	)
	t.bf.reserve(b, s.opts.Format)
	for i := range b.Blocks {
		blk := &b.Blocks[i]
		if len(blk.Entries) == 0 {
			continue
		}
		topicB, err := s.topic.render(&buf, blk.Labels, labels)
		if err == nil {
			err = checkTopic(string(topicB))
		}
		if err != nil {
			t.reject(sinks.Span{Block: i, Count: len(blk.Entries)}, "invalid_topic", fmt.Errorf("topic template: %w", err))
			continue
		}
		topic := string(topicB)
		var key []byte
		if s.key != nil {
			k, err := s.key.render(&buf, blk.Labels, labels)
			if err != nil {
				t.reject(sinks.Span{Block: i, Count: len(blk.Entries)}, "invalid_key", fmt.Errorf("key template: %w", err))
				continue
			}
			key = bytes.Clone(k)
		}
		recs := s.records(context.WithValue(s.ctx, blockKey{}, &blockRef{t: t, block: i}), t.bf, blk, topic, key)
		t.mu.Lock()
		for len(t.blocks) < i {
			t.blocks = append(t.blocks, nil) // blocks not produced
		}
		t.blocks = append(t.blocks, recs)
		t.mu.Unlock()
		for j := range recs {
			// ctx only bounds a wait for room in the buffer: a record
			// that cannot get in by then fails with ctx's error.
			t.pending.Add(1)
			s.cl.Produce(ctx, &recs[j], t.promise)
		}
	}
}

// records builds a block's records in bf: their values are appended to
// its slab, the records to its array, so a Send allocates neither per
// record nor, once the buffers have grown, per batch; the producer's buffer
// is the only copy of the entries outside the WAL. ctx, their Context,
// names the block (one per block, not per record) and is done only once
// the sink is closed.
func (s *Sink) records(ctx context.Context, bf *buffers, blk *wal.Block, topic string, key []byte) []kgo.Record {
	var (
		headers    []kgo.RecordHeader
		labelsJSON []byte
	)
	if s.opts.Format == FormatRaw {
		headers = make([]kgo.RecordHeader, len(blk.Labels))
		for i, l := range blk.Labels {
			headers[i] = kgo.RecordHeader{Key: l.Name, Value: []byte(l.Value)}
		}
	} else {
		labelsJSON = sinks.AppendJSONLabels(nil, blk.Labels)
	}
	first := len(bf.recs)
	for i := range blk.Entries {
		e := &blk.Entries[i]
		start := len(bf.slab)
		if s.opts.Format == FormatRaw {
			bf.slab = append(bf.slab, e.Line...)
		} else {
			bf.slab = sinks.AppendJSONEntry(bf.slab, labelsJSON, e)
		}
		// A grown slab leaves earlier values in the old array, which
		// stays theirs.
		bf.recs = append(bf.recs, kgo.Record{
			Topic:     topic,
			Key:       key,
			Value:     bf.slab[start:len(bf.slab):len(bf.slab)],
			Headers:   headers,
			Timestamp: time.Unix(0, e.Time),
			Context:   ctx,
		})
	}
	return bf.recs[first:len(bf.recs):len(bf.recs)]
}

// buffers are a Send's record array and value slab. They go back to the
// sink's free list once every record of the Send is settled (the producer
// no longer refers to them), never after a timeout.
type buffers struct {
	recs []kgo.Record
	slab []byte
}

// maxKeptSlab bounds a kept slab: one huge batch must not pin its buffer.
const maxKeptSlab = 8 << 20

// reserve makes room for b's records and values (an estimate for json:
// escapes may grow the slab).
func (bf *buffers) reserve(b *sinks.Batch, format string) {
	n, size := 0, 0
	for i := range b.Blocks {
		blk := &b.Blocks[i]
		n += len(blk.Entries)
		size += blk.Size()
		if format != FormatRaw {
			labels := 2
			for _, l := range blk.Labels {
				labels += len(l.Name) + len(l.Value) + 6
			}
			size += len(blk.Entries) * (labels + 64)
			for j := range blk.Entries {
				for _, l := range blk.Entries[j].Labels {
					size += len(l.Name) + len(l.Value) + 6
				}
				for _, l := range blk.Entries[j].Metadata {
					size += len(l.Name) + len(l.Value) + 6
				}
			}
		}
	}
	if cap(bf.recs) < n {
		bf.recs = make([]kgo.Record, 0, n)
	}
	if cap(bf.slab) < size {
		bf.slab = make([]byte, 0, size)
	}
	// The array must not grow while records are produced: the producer
	// holds pointers into it.
	bf.recs, bf.slab = bf.recs[:0], bf.slab[:0]
}

func (s *Sink) getBuffers() *buffers {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.free); n > 0 {
		bf := s.free[n-1]
		s.free = s.free[:n-1]
		return bf
	}
	return &buffers{}
}

func (s *Sink) putBuffers(bf *buffers) {
	clear(bf.recs[:cap(bf.recs)]) // drop the references to keys, topics, contexts
	if cap(bf.slab) > maxKeptSlab {
		bf.slab = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free = append(s.free, bf)
}

// Close cancels the records still buffered and closes the client: it
// never waits for the brokers. Records not acknowledged stay in the WAL
// (their ranges are unsettled or in the retry queue) for the next start.
// Safe to call twice; it returns nil.
func (s *Sink) Close() error {
	s.closeMu.Do(func() {
		s.cancel()
		s.cl.Close()
		s.m.unregister()
	})
	return nil
}

// send is the state of one Send: its records' outcomes. The producer calls
// promise serially from its own goroutine.
type send struct {
	s        *Sink
	from, to uint64
	pending  atomic.Int64 // records produced and not settled, +1 while producing
	done     chan struct{}

	bf *buffers

	mu sync.Mutex
	// blocks are the records of each block of the batch produced so far,
	// indexed by block (nil for a block not produced).
	blocks    [][]kgo.Record
	abandoned bool // guarded by s.s.mu
	failed    int  // records refused for good, or skipped
	refused   []sinks.Span
	reason    string
	permErr   error // the first permanent failure
	retryErr  error // the first retryable failure
	authErr   error // the first authorization failure
}

// blockKey keys a record's blockRef in its Context.
type blockKey struct{}

// blockRef is the block of a Send a record belongs to.
type blockRef struct {
	t     *send
	block int
}

func (t *send) promise(r *kgo.Record, err error) {
	if err != nil {
		span := sinks.Span{Block: -1, Count: 1}
		if ref, ok := r.Context.Value(blockKey{}).(*blockRef); ok && ref.t == t {
			span.Block = ref.block
			span.First = t.entryOf(ref.block, r)
		}
		t.fail(span, err)
	}
	t.release()
}

// entryOf is r's index among the records of block b of the batch (the
// index of the entry it carries), or -1.
func (t *send) entryOf(b int, r *kgo.Record) int {
	t.mu.Lock()
	recs := t.blocks[b]
	t.mu.Unlock()
	for i := range recs {
		if &recs[i] == r {
			return i
		}
	}
	return -1
}

func (t *send) release() {
	if t.pending.Add(-1) == 0 {
		t.s.settled(t)
	}
}

// reject counts the entries of span refused before they were produced.
func (t *send) reject(span sinks.Span, reason string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed += span.Count
	t.refused = append(t.refused, span)
	if t.permErr == nil {
		t.permErr, t.reason = err, reason
	}
}

func (t *send) fail(span sinks.Span, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch c := classify(err).(type) {
	case *sinks.Unauthorized:
		if t.authErr == nil {
			t.authErr = c
		}
	case *sinks.Permanent:
		t.failed += span.Count
		t.refused = append(t.refused, span)
		if t.permErr == nil {
			t.permErr, t.reason = c.Err, c.Reason
		}
	default:
		if t.retryErr == nil {
			t.retryErr = c
		}
	}
}

// result is nil when every record was acknowledged; else the error of the
// most pressing class: refused credentials, then anything retryable, then
// refusals for good.
func (t *send) result() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.authErr != nil:
		return t.authErr
	case t.retryErr != nil:
		return t.retryErr
	case t.permErr != nil:
		return &sinks.Permanent{Reason: t.reason, Err: t.permErr, Rejected: t.failed, Refused: refusedSpans(t.refused)}
	}
	return nil
}

// refusedSpans sorts and merges the refused entries into the spans
// sinks.Permanent.Refused wants; nil (the whole batch) when one of them
// could not be placed.
func refusedSpans(in []sinks.Span) []sinks.Span {
	if len(in) == 0 {
		return nil
	}
	sp := slices.Clone(in)
	slices.SortFunc(sp, func(a, b sinks.Span) int {
		if a.Block != b.Block {
			return cmp.Compare(a.Block, b.Block)
		}
		return cmp.Compare(a.First, b.First)
	})
	out := sp[:0]
	for _, x := range sp {
		if x.Block < 0 || x.First < 0 {
			return nil
		}
		if n := len(out); n > 0 && out[n-1].Block == x.Block && out[n-1].First+out[n-1].Count >= x.First {
			out[n-1].Count = max(out[n-1].Count, x.First+x.Count-out[n-1].First)
			continue
		}
		out = append(out, x)
	}
	return out
}
