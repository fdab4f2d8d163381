package retry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/logcapturer/logcapturer/wal"
	bolt "go.etcd.io/bbolt"
)

// Range is a span of WAL indexes a sink failed to deliver and will retry.
type Range struct {
	From, To     uint64
	Entries      int       // entries routed to the sink in the range (only the picked ones with Picks)
	Bytes        int       // line bytes routed to the sink (likewise)
	Picks        Picks     // zero: every routed entry of [From, To]; else only these
	Attempts     int       // sends that failed so far, refusals of our credentials (sinks.Unauthorized) not counted
	Due          time.Time // when to try again
	FirstFailure time.Time
	LastError    string
}

// DeadLetter is a range a sink will not deliver by itself: rejected for
// good, or out of attempts. It keeps its WAL blocks until replayed, purged
// or expired.
type DeadLetter struct {
	From, To uint64
	// Dup tells apart dead letters of one sink that start at the same
	// index (a batch re-sent after a crash and refused again, split
	// differently): 0 for one, a number the store gives for each other.
	// Each is kept, listed, replayed and purged on its own account.
	Dup          uint64
	Entries      int
	Bytes        int
	Picks        Picks  // zero: every routed entry of [From, To]; else only these (a partial rejection)
	Reason       string // permanent reason word, or "max_attempts"
	Attempts     int
	FirstFailure time.Time
	LastFailure  time.Time
	LastError    string
}

// Store persists retry ranges and dead letters in the pipeline's bbolt
// file: bucket "retry/<sink>" keyed by due time (big-endian ns) + from, and
// bucket "dlq/<sink>" keyed by from, + Dup when it is not 0. Safe for concurrent use (bbolt
// serialises writers); every write is one fsynced transaction.
type Store struct {
	db *bolt.DB
}

// NewStore uses db, which the caller opened and closes.
func NewStore(db *bolt.DB) *Store { return &Store{db: db} }

func retryBucket(sink string) []byte { return []byte("retry/" + sink) }
func dlqBucket(sink string) []byte   { return []byte("dlq/" + sink) }

func retryKey(r Range) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(r.Due.UnixNano()))
	binary.BigEndian.PutUint64(k[8:], r.From)
	return k
}

// dlqKey is From (8 bytes, big-endian), followed by Dup (8 more) unless it
// is 0: a store written before Dup existed holds only 8-byte keys, and a
// dead letter whose From is free is stored as it was then.
func dlqKey(from, dup uint64) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 16), from)
	if dup != 0 {
		k = binary.BigEndian.AppendUint64(k, dup)
	}
	return k
}

// value layout (version 0): to (8 bytes, big-endian), then uvarints entries,
// bytes, attempts, varint first failure ns, [varint last failure ns,] then
// uvarint-prefixed strings (retry: last error; dlq: reason, last error).
//
// Version 1 appends a trailer: uvarint version (1), then the entry selection
// (Picks) as uvarint-prefixed bytes, empty for the whole range. A value
// without a trailer is version 0 and selects the whole range, so values
// stored before version 1 load unchanged; a binary that predates version 1
// ignores the trailer and would resend the whole range on replay (safe:
// Loki drops entries it holds).
const valueVersion = 1

func appendTrailer(b []byte, p Picks) []byte {
	b = binary.AppendUvarint(b, valueVersion)
	b = binary.AppendUvarint(b, uint64(len(p.enc)))
	return append(b, p.enc...)
}

// trailer reads the version 1 trailer, if any, and checks the
// selection lies within [from, to].
func trailer(r *wal.Decoder, from, to uint64) Picks {
	if r.Err != nil || len(r.Buf) == 0 {
		return Picks{} // version 0
	}
	if v := r.Uvarint(); r.Err == nil && v != valueVersion {
		r.Fail(fmt.Errorf("record version %d is newer than this logcapturer reads (%d)", v, valueVersion))
		return Picks{}
	}
	enc := r.Bytes()
	if r.Err != nil {
		return Picks{}
	}
	p, err := parsePicks(enc)
	if err == nil && !p.IsZero() {
		ps := p.Slice()
		if ps[0].Index < from || ps[len(ps)-1].Index > to {
			err = fmt.Errorf("entry selection %d-%d outside the range %d-%d", ps[0].Index, ps[len(ps)-1].Index, from, to)
		}
	}
	if err != nil {
		r.Fail(err)
		return Picks{}
	}
	return p
}

func encodeRange(r Range) []byte {
	b := binary.BigEndian.AppendUint64(nil, r.To)
	b = binary.AppendUvarint(b, uint64(r.Entries))
	b = binary.AppendUvarint(b, uint64(r.Bytes))
	b = binary.AppendUvarint(b, uint64(r.Attempts))
	b = binary.AppendVarint(b, r.FirstFailure.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(r.LastError)))
	b = append(b, r.LastError...)
	return appendTrailer(b, r.Picks)
}

func decodeRange(k, v []byte) (Range, error) {
	if len(k) != 16 || len(v) < 8 {
		return Range{}, errors.New("malformed retry record")
	}
	r := Range{Due: time.Unix(0, int64(binary.BigEndian.Uint64(k))).UTC(), From: binary.BigEndian.Uint64(k[8:]), To: binary.BigEndian.Uint64(v)}
	d := wal.Decoder{Buf: v[8:]}
	r.Entries, r.Bytes, r.Attempts = int(d.Uvarint()), int(d.Uvarint()), int(d.Uvarint())
	r.FirstFailure = time.Unix(0, d.Varint()).UTC()
	r.LastError = d.String()
	r.Picks = trailer(&d, r.From, r.To)
	return r, d.Err
}

func encodeDead(d DeadLetter) []byte {
	b := binary.BigEndian.AppendUint64(nil, d.To)
	b = binary.AppendUvarint(b, uint64(d.Entries))
	b = binary.AppendUvarint(b, uint64(d.Bytes))
	b = binary.AppendUvarint(b, uint64(d.Attempts))
	b = binary.AppendVarint(b, d.FirstFailure.UnixNano())
	b = binary.AppendVarint(b, d.LastFailure.UnixNano())
	for _, s := range []string{d.Reason, d.LastError} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return appendTrailer(b, d.Picks)
}

func decodeDead(k, v []byte) (DeadLetter, error) {
	if (len(k) != 8 && len(k) != 16) || len(v) < 8 {
		return DeadLetter{}, errors.New("malformed dead-letter record")
	}
	dl := DeadLetter{From: binary.BigEndian.Uint64(k), To: binary.BigEndian.Uint64(v)}
	if len(k) == 16 {
		if dl.Dup = binary.BigEndian.Uint64(k[8:]); dl.Dup == 0 {
			return DeadLetter{}, errors.New("malformed dead-letter key: a second part of 0")
		}
	}
	d := wal.Decoder{Buf: v[8:]}
	dl.Entries, dl.Bytes, dl.Attempts = int(d.Uvarint()), int(d.Uvarint()), int(d.Uvarint())
	dl.FirstFailure = time.Unix(0, d.Varint()).UTC()
	dl.LastFailure = time.Unix(0, d.Varint()).UTC()
	dl.Reason = d.String()
	dl.LastError = d.String()
	dl.Picks = trailer(&d, dl.From, dl.To)
	return dl, d.Err
}

// update runs fn in one write transaction with the sink's buckets created.
func (s *Store) update(sink string, fn func(rb, db *bolt.Bucket) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		rb, err := tx.CreateBucketIfNotExists(retryBucket(sink))
		if err != nil {
			return err
		}
		db, err := tx.CreateBucketIfNotExists(dlqBucket(sink))
		if err != nil {
			return err
		}
		return fn(rb, db)
	})
}

// PutRetry stores r, replacing old (pass a zero Range for none), and
// returns r as stored: its Due a few nanoseconds earlier when another
// range has the same key (the same From, due at the same instant).
func (s *Store) PutRetry(sink string, old, r Range) (Range, error) {
	err := s.update(sink, func(rb, _ *bolt.Bucket) error {
		if old.To != 0 {
			if err := rb.Delete(retryKey(old)); err != nil {
				return err
			}
		}
		var err error
		r, err = putRange(rb, r)
		return err
	})
	if err != nil {
		return Range{}, fmt.Errorf("store retry range %d-%d of sink %s: %w", r.From, r.To, sink, err)
	}
	return r, nil
}

// putRange puts r under a key no other range has, and returns it as put.
// Several ranges may start at the same WAL index (a batch re-sent after a
// crash or a rewind, and failed again, starts where a stored range does);
// were they due at the same instant too (Hurry and Replay make ranges due
// now), one Put would overwrite the other and lose its blocks. The
// collision makes the range due a nanosecond earlier.
func putRange(rb *bolt.Bucket, r Range) (Range, error) {
	for rb.Get(retryKey(r)) != nil {
		r.Due = r.Due.Add(-time.Nanosecond)
	}
	return r, rb.Put(retryKey(r), encodeRange(r))
}

// Reschedule makes the stored ranges olds due at due, in one transaction,
// and returns them as stored (in the order of olds).
func (s *Store) Reschedule(sink string, olds []Range, due time.Time) ([]Range, error) {
	news := make([]Range, 0, len(olds))
	err := s.update(sink, func(rb, _ *bolt.Bucket) error {
		news = news[:0]
		for _, r := range olds {
			if err := rb.Delete(retryKey(r)); err != nil {
				return err
			}
		}
		for _, r := range olds {
			r.Due = due
			r, err := putRange(rb, r)
			if err != nil {
				return err
			}
			news = append(news, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reschedule %d retry ranges of sink %s: %w", len(olds), sink, err)
	}
	return news, nil
}

// DeleteRetry removes r.
func (s *Store) DeleteRetry(sink string, r Range) error {
	err := s.update(sink, func(rb, _ *bolt.Bucket) error { return rb.Delete(retryKey(r)) })
	if err != nil {
		return fmt.Errorf("delete retry range %d-%d of sink %s: %w", r.From, r.To, sink, err)
	}
	return nil
}

// PutDead stores d as a new dead letter and removes the retry range old
// (zero for none) in one transaction. It returns d as stored: with the Dup
// that tells it apart from a dead letter already stored at its From, whose
// record it never replaces.
func (s *Store) PutDead(sink string, old Range, d DeadLetter) (DeadLetter, error) {
	err := s.update(sink, func(rb, db *bolt.Bucket) error {
		if old.To != 0 {
			if err := rb.Delete(retryKey(old)); err != nil {
				return err
			}
		}
		d.Dup = 0
		if db.Get(dlqKey(d.From, 0)) != nil {
			n, err := db.NextSequence()
			if err != nil {
				return err
			}
			d.Dup = n
		}
		return db.Put(dlqKey(d.From, d.Dup), encodeDead(d))
	})
	if err != nil {
		return DeadLetter{}, fmt.Errorf("store dead letter %d-%d of sink %s: %w", d.From, d.To, sink, err)
	}
	return d, nil
}

// DeleteDead removes the dead letters ds (by From and Dup) and, if replay
// is non-nil, stores those ranges as due retries, in one transaction. It
// returns the ranges as stored (see PutRetry).
func (s *Store) DeleteDead(sink string, ds []DeadLetter, replay []Range) ([]Range, error) {
	stored := make([]Range, 0, len(replay))
	err := s.update(sink, func(rb, db *bolt.Bucket) error {
		stored = stored[:0]
		for _, d := range ds {
			if err := db.Delete(dlqKey(d.From, d.Dup)); err != nil {
				return err
			}
		}
		for _, r := range replay {
			r, err := putRange(rb, r)
			if err != nil {
				return err
			}
			stored = append(stored, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delete dead letters of sink %s: %w", sink, err)
	}
	return stored, nil
}

// RemoveDead deletes the dead letters ds; with replay it stores them as
// retry ranges due at now with their attempts reset and their first
// failure kept, in the same
// transaction. It returns the ranges it queued.
func (s *Store) RemoveDead(sink string, ds []DeadLetter, replay bool, now time.Time) ([]Range, error) {
	return s.DeleteDead(sink, ds, deadToRetry(ds, now, replay))
}

// Load returns the sink's stored retry ranges (in due order) and dead
// letters (in index order).
func (s *Store) Load(sink string) ([]Range, []DeadLetter, error) {
	var (
		rs []Range
		ds []DeadLetter
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(retryBucket(sink)); b != nil {
			if err := b.ForEach(func(k, v []byte) error {
				r, err := decodeRange(k, v)
				if err != nil {
					return fmt.Errorf("retry key %x: %w", k, err)
				}
				rs = append(rs, r)
				return nil
			}); err != nil {
				return err
			}
		}
		if b := tx.Bucket(dlqBucket(sink)); b != nil {
			return b.ForEach(func(k, v []byte) error {
				d, err := decodeDead(k, v)
				if err != nil {
					return fmt.Errorf("dlq key %x: %w", k, err)
				}
				ds = append(ds, d)
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load retry state of sink %s: %w", sink, err)
	}
	return rs, ds, nil
}

// Sinks lists the sinks that have retry or dead-letter buckets.
func (s *Store) Sinks() ([]string, error) {
	seen := map[string]bool{}
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			n := string(name)
			for _, p := range []string{"retry/", "dlq/"} {
				if len(n) > len(p) && n[:len(p)] == p && !seen[n[len(p):]] {
					seen[n[len(p):]] = true
					out = append(out, n[len(p):])
				}
			}
			return nil
		})
	})
	return out, err
}
