package pipeline

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/logcapturer/logcapturer/wal"
)

// ErrTakeoverDone is returned by Takeover when state.db already records a
// handover of that name.
var ErrTakeoverDone = errors.New("the handover is recorded already")

// takeoverKey is the meta bucket key recording the handover name.
func takeoverKey(name string) []byte { return []byte("takeover/" + name) }

// TakeoverDone reports whether state.db records the handover name (see
// Takeover). Safe to call after Open; it reads state.db.
func (p *Pipeline) TakeoverDone(name string) (bool, error) {
	done := false
	err := p.st.db.View(func(tx *bolt.Tx) error {
		done = tx.Bucket(bucketMeta).Get(takeoverKey(name)) != nil
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("read handover %s: %w", name, err)
	}
	return done, nil
}

// Takeover records the positions a handover from another shipper gives
// sources (source name to positions, each with the FileID the source
// computes, see sources.FileConfig.TakeoverPosition), and that the
// handover name is done, with summary, in one fsynced bbolt transaction:
// all of it is recorded, or nothing (then the error says why). A position
// is recorded as checkpointed at WAL index 0: the first block the source
// writes for the file supersedes it. The positions are added to those
// Open recovered, so SourcePositions returns them; a recovered position
// of the same source and FileID wins (it is newer). Call after Open,
// before Start; not safe for concurrent use. It fails with
// ErrTakeoverDone when name is recorded already, and never records it
// twice.
func (p *Pipeline) Takeover(name, summary string, positions map[string][]wal.Position) error {
	if p.started {
		return errors.New("takeover: the pipeline is started")
	}
	add := map[posKey]posVal{}
	for src, list := range positions {
		for _, pos := range list {
			k := posKey{Source: src, FileID: pos.FileID}
			if _, ok := p.recovered[k]; ok || pos.FileID == "" && pos.Cursor == "" {
				continue
			}
			add[k] = posVal{Offset: pos.Offset, Path: pos.Path, Cursor: pos.Cursor}
		}
	}
	err := p.st.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta.Get(takeoverKey(name)) != nil {
			return ErrTakeoverDone
		}
		pb := tx.Bucket(bucketPositions)
		for k, v := range add {
			key, val := encodePosition(k, v)
			if err := pb.Put(key, val); err != nil {
				return err
			}
		}
		return meta.Put(takeoverKey(name), []byte(summary))
	})
	if errors.Is(err, ErrTakeoverDone) {
		return fmt.Errorf("takeover %s: %w", name, err)
	}
	if err != nil {
		return fmt.Errorf("record takeover %s in state.db: %w", name, err)
	}
	for k, v := range add {
		p.recovered[k] = v
	}
	return nil
}
