package pipeline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/logcapturer/logcapturer/sources"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

var (
	bucketCursors   = []byte("cursors")
	bucketPositions = []byte("positions")
	bucketMeta      = []byte("meta")
	keyCheckpoint   = []byte("positions_index")
)

// ErrLocked is returned by Open when another process holds state.db.
var ErrLocked = errors.New("state.db is locked by another process")

// posKey identifies one file of one source.
type posKey struct {
	Source, FileID string
}

// posVal is where a source stood in a file, and the WAL index of the block
// that recorded it. Cursor is the position of a source that is not read by
// offset (journald), opaque here; "" for files.
type posVal struct {
	Index  uint64
	Offset int64
	Path   string
	Cursor string
}

// state is the bbolt file state.db: sink cursors and a checkpoint of source
// positions. Only the committer goroutine writes it after Open; every
// transaction is short and none is nested.
type state struct {
	db *bolt.DB
}

func openState(path string) (*state, error) {
	db, err := bolt.Open(path, 0o640, &bolt.Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketCursors, bucketPositions, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("create buckets in %s: %w", path, err)
	}
	return &state{db: db}, nil
}

// load returns the stored cursors, positions and the positions checkpoint:
// the WAL index up to which every block's position is in positions.
func (s *state) load() (cursors map[string]uint64, positions map[posKey]posVal, checkpoint uint64, err error) {
	cursors = make(map[string]uint64)
	positions = make(map[posKey]posVal)
	err = s.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketCursors).ForEach(func(k, v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("cursor %q: %d bytes, want 8", k, len(v))
			}
			cursors[string(k)] = binary.BigEndian.Uint64(v)
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketPositions).ForEach(func(k, v []byte) error {
			key, val, ok := decodePosition(k, v)
			if !ok {
				return fmt.Errorf("position %q: malformed value", k)
			}
			positions[key] = val
			return nil
		}); err != nil {
			return err
		}
		if v := tx.Bucket(bucketMeta).Get(keyCheckpoint); len(v) == 8 {
			checkpoint = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("load state: %w", err)
	}
	return cursors, positions, checkpoint, nil
}

// save writes cursors and positions, and the checkpoint if non-zero, in one
// fsynced transaction.
func (s *state) save(cursors map[string]uint64, positions map[posKey]posVal, checkpoint uint64) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		cb := tx.Bucket(bucketCursors)
		for name, c := range cursors {
			if err := cb.Put([]byte(name), binary.BigEndian.AppendUint64(nil, c)); err != nil {
				return err
			}
		}
		pb := tx.Bucket(bucketPositions)
		for k, v := range positions {
			key, val := encodePosition(k, v)
			if err := pb.Put(key, val); err != nil {
				return err
			}
		}
		if checkpoint > 0 {
			return tx.Bucket(bucketMeta).Put(keyCheckpoint, binary.BigEndian.AppendUint64(nil, checkpoint))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

func (s *state) close() error { return s.db.Close() }

// encodePosition makes the bucket key (source, NUL, FileID) and value:
// index and offset (big-endian uint64s), the path, and, for a cursor, a NUL
// and the cursor. A path holds no NUL, so a value written before cursors
// existed reads as having none, and one with a cursor reads, in a version
// that knows no cursors, as a path that does not exist.
func encodePosition(k posKey, v posVal) (key, val []byte) {
	key = make([]byte, 0, len(k.Source)+1+len(k.FileID))
	key = append(append(append(key, k.Source...), 0), k.FileID...)
	val = make([]byte, 16, 16+len(v.Path)+1+len(v.Cursor))
	binary.BigEndian.PutUint64(val, v.Index)
	binary.BigEndian.PutUint64(val[8:], uint64(v.Offset))
	val = append(val, v.Path...)
	if v.Cursor != "" {
		val = append(append(val, 0), v.Cursor...)
	}
	return key, val
}

func decodePosition(key, val []byte) (posKey, posVal, bool) {
	var k posKey
	for i, c := range key {
		if c == 0 {
			k = posKey{Source: string(key[:i]), FileID: string(key[i+1:])}
			break
		}
	}
	if k.Source == "" || len(val) < 16 {
		return posKey{}, posVal{}, false
	}
	path, cursor, _ := bytes.Cut(val[16:], []byte{0})
	return k, posVal{
		Index:  binary.BigEndian.Uint64(val),
		Offset: int64(binary.BigEndian.Uint64(val[8:])),
		Path:   string(path),
		Cursor: string(cursor),
	}, true
}

// prunePositions deletes positions no restart can use, so the bucket does
// not grow with every file ever seen. Positions are told apart by file
// identity (device and inode, sources.SameFileKey), never by path: a file
// renamed by rotation keeps the path it was last read under in its
// position while a new file has that path now. Of the positions of one
// source and one file, only the newest is kept (the older ones are the
// same file's earlier FileIDs, whose fingerprint grew, or an inode's
// earlier file); a position whose file alive reports gone is deleted (a
// cursor position, which names no file, is kept).
// Either is deleted only once its block is gone from the WAL (index <
// first), so a position the WAL could still resume is never lost. It
// returns how many it deleted.
func (s *state) prunePositions(first uint64, alive func(posKey, posVal) bool) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPositions)
		type item struct {
			raw []byte
			key posKey
			val posVal
		}
		newest := map[[2]string]uint64{}
		var all []item
		if err := b.ForEach(func(k, v []byte) error {
			key, val, ok := decodePosition(k, v)
			if !ok {
				return nil
			}
			all = append(all, item{append([]byte(nil), k...), key, val})
			id := identity(key)
			newest[id] = max(newest[id], val.Index)
			return nil
		}); err != nil {
			return err
		}
		for _, it := range all {
			if it.val.Index >= first {
				continue
			}
			superseded := it.val.Index < newest[identity(it.key)]
			// A cursor source's position (journald's FileID "journal",
			// which names no file: FileFinder.Exists reports an ID it
			// cannot parse as existing) stays until a newer one
			// replaces it. A file's may have a cursor too (the skips of
			// interleaved streams) and goes with its file.
			if superseded || (it.key.FileID != "" && !alive(it.key, it.val)) {
				if err := b.Delete(it.raw); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune positions: %w", err)
	}
	return n, nil
}

// identity is what tells the files of the positions apart: the source and
// the file's device and inode (a position that names no file is its own
// identity).
func identity(k posKey) [2]string {
	if id, ok := sources.SameFileKey(k.FileID); ok {
		return [2]string{k.Source, id}
	}
	return [2]string{k.Source, k.FileID}
}
