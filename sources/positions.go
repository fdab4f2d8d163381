package sources

import (
	"io"
	"sort"
)

// storedPos is one position recovered from the WAL (or saved by the source
// itself when it closed an idle file).
type storedPos struct {
	fp     fingerprint
	hashed bool // false: a legacy "dev-ino" FileID, no fingerprint to check
	offset int64
	cursor string // the position's Cursor (see decodeSkips)
}

// storedPositions indexes the stored positions by device and inode. A file
// may have several: one per FileID it had (the FileID of a file shorter
// than FingerprintBytes changes with every block, see fileID).
//
// It is owned by the tailer's goroutine.
type storedPositions struct {
	byKey map[fileKey][]storedPos
}

// newStoredPositions parses the FileOptions.Positions map, with the
// Cursors of its positions. FileIDs it does not understand are ignored:
// they cannot name a file this source tails.
func newStoredPositions(m map[string]int64, cursors map[string]string) *storedPositions {
	s := &storedPositions{byKey: make(map[fileKey][]storedPos)}
	for id, off := range m {
		k, fp, hashed, ok := parseFileID(id)
		if !ok || off < 0 {
			continue
		}
		s.add(k, storedPos{fp: fp, hashed: hashed, offset: off, cursor: cursors[id]})
	}
	return s
}

func (s *storedPositions) add(k fileKey, p storedPos) { s.byKey[k] = append(s.byKey[k], p) }

// matchResult says what lookup found.
type matchResult int

const (
	matchNone     matchResult = iota // no stored position for this device and inode
	matchFound                       // a position whose fingerprint matches
	matchMismatch                    // positions exist, none matches: truncated or inode reused
)

// lookup finds the position to resume r (device and inode k, size bytes
// long) at, and forgets every position stored for k: a position applies to
// one file only.
//
// A fingerprinted position applies when the file still holds its first
// fp.n bytes and they hash the same: the bytes before the offset are the
// bytes that were read. The furthest such position wins (offsets of one
// file only grow; a truncated-and-rewritten file fails the check). A legacy
// position without fingerprint applies when it is not past the end.
func (s *storedPositions) lookup(r io.ReaderAt, k fileKey, size int64, scratch *[]byte) (storedPos, matchResult) {
	cands := s.byKey[k]
	if len(cands) == 0 {
		return storedPos{}, matchNone
	}
	delete(s.byKey, k)
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].hashed != cands[j].hashed {
			return cands[i].hashed
		}
		return cands[i].offset > cands[j].offset
	})
	var last fingerprint // the last hash computed, reused for equal n
	for _, c := range cands {
		if c.offset > size || c.fp.n > c.offset {
			continue
		}
		if !c.hashed {
			return c, matchFound
		}
		if last.n != c.fp.n || last.n == 0 {
			fp, err := hashPrefix(r, c.fp.n, scratch)
			if err != nil {
				continue
			}
			last = fp
		}
		if last.hash == c.fp.hash {
			return c, matchFound
		}
	}
	return storedPos{}, matchMismatch
}
