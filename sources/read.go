package sources

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/logcapturer/logcapturer/wal"
)

const maxVarintLen = 10 // binary.MaxVarintLen64

// drain reads blocks from tf until it has nothing more or has yielded
// maxRoundBytes this round. It returns the bytes consumed and only ctx's
// error.
func (t *tailer) drain(ctx context.Context, tf *tailedFile) (int64, error) {
	var total int64
	for total < maxRoundBytes {
		n, err := t.readBlock(ctx, tf)
		if err != nil {
			return total, err
		}
		if n == 0 {
			break
		}
		total += n
	}
	return total, nil
}

// readBlock reads once from tf at its offset, splits the complete lines
// into a block and emits it. It returns the bytes consumed: 0 when there is
// no complete line yet, when the read failed, or when the Emitter refused
// the block (the same bytes are read again later). The only error returned
// is ctx's.
func (t *tailer) readBlock(ctx context.Context, tf *tailedFile) (int64, error) {
	fi, err := tf.f.Stat()
	if err != nil {
		t.readFailed(tf, err)
		return 0, nil
	}
	size := fi.Size()
	if size < tf.offset {
		t.m.error(reasonTruncated)
		t.log.Warn("file truncated; reading it again from the beginning",
			"path", tf.path, "file_id", tf.id, "offset", tf.offset, "size", size)
		tf.offset = 0
	}
	avail := size - tf.offset
	if avail == 0 {
		tf.eof = true
		return 0, nil
	}
	// Read one block's worth; only when that holds no complete line (a
	// line longer than BlockBytes) read as much as the buffer holds, which
	// is enough for a MaxLineBytes chunk.
	want := min(int64(t.opts.BlockBytes), avail)
	var used, lineBytes int
	for {
		n, err := tf.f.ReadAt(t.buf[:want], tf.offset)
		if n == 0 && err != nil && !errors.Is(err, io.EOF) {
			t.readFailed(tf, err)
			return 0, nil
		}
		// The unterminated tail of a file that is gone for good is a
		// line: nobody will complete it.
		flush := int64(n) == avail && t.expired(tf)
		used, lineBytes = t.split(t.buf[:n], flush)
		if used > 0 || int64(n) < want || want == min(int64(len(t.buf)), avail) {
			break
		}
		want = min(int64(len(t.buf)), avail)
	}
	if used == 0 {
		tf.eof = true
		return 0, nil
	}
	tf.eof = false
	if ok, err := t.emit(ctx, tf, int64(used), lineBytes); !ok {
		return 0, err
	}
	return int64(used), nil
}

// split fills t.entries with the lines of buf, each without its '\n' and
// aliasing buf, stopping before the line that would take the block past
// BlockBytes or maxBlockEntries (a block holds at least one line). A line
// longer than MaxLineBytes yields chunks of MaxLineBytes, also before its
// '\n' is read: as soon as MaxLineBytes+1 bytes without '\n' are there, the
// first MaxLineBytes are certainly a chunk of a too-long line. An
// unterminated tail is left for the next read unless flush is set. It
// returns the bytes consumed and the line bytes in the block.
func (t *tailer) split(buf []byte, flush bool) (used, lineBytes int) {
	maxLine, maxBlock := t.opts.MaxLineBytes, t.opts.BlockBytes
	ents := t.entries[:0]
	cuts := 0
	rest := buf
	for len(rest) > 0 {
		// Search no further than a line may be long: a long line without
		// '\n' must not be scanned again for each of its chunks.
		win := rest
		if len(win) > maxLine+1 {
			win = win[:maxLine+1]
		}
		var line []byte
		adv, cut := 0, false
		if i := bytes.IndexByte(win, '\n'); i >= 0 {
			line, adv = rest[:i], i+1
		} else if len(rest) > maxLine {
			line, adv, cut = rest[:maxLine], maxLine, true
		} else if flush {
			line, adv = rest, len(rest)
		} else {
			break
		}
		if len(ents) > 0 && (lineBytes+len(line) > maxBlock || len(ents) == maxBlockEntries) {
			break
		}
		if cut {
			cuts++
		}
		ents = append(ents, wal.Entry{Line: line})
		lineBytes += len(line)
		used += adv
		rest = rest[adv:]
	}
	t.entries = ents
	if cuts > 0 {
		t.m.linesSplit.Add(float64(cuts))
	}
	return used, lineBytes
}

// emit encodes t.entries as one block of tf ending at tf.offset+used and
// hands it to the Emitter. On success tf.offset moves past the block. It
// returns false when the block was not accepted, with ctx's error if ctx is
// done; any other Emit error is counted, logged once per streak, and the
// block is read again at the next wake-up.
func (t *tailer) emit(ctx context.Context, tf *tailedFile, used int64, lineBytes int) (bool, error) {
	ts := t.opts.Now().UTC().UnixNano()
	// An upper bound of the encoded size: the header, labels, the first
	// time, then per entry a one-byte time delta (all entries share ts) and
	// the line's length prefix.
	size := 5 + 4*maxVarintLen + len(t.opts.Name) + len(tf.id) + 2*len(tf.path) +
		t.labelBytes + 2*maxVarintLen + lineBytes
	for i := range t.entries {
		t.entries[i].Time = ts
		size += 1 + uvarintLen(len(t.entries[i].Line))
	}
	t.labels[t.fnSlot].Value = tf.path
	pos := wal.Position{FileID: tf.id, Path: tf.path, Offset: tf.offset + used}
	blk := wal.Block{Source: t.opts.Name, Labels: t.labels, Position: pos, Entries: t.entries}
	rec := Record{
		Source:   t.opts.Name,
		Position: pos,
		Entries:  len(t.entries),
		Bytes:    lineBytes,
		Data:     wal.EncodeBlock(make([]byte, 0, size), &blk),
	}
	if err := t.opts.Emitter.Emit(ctx, rec); err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		t.m.error(reasonEmit)
		if !t.emitFailing {
			t.emitFailing = true
			t.log.Warn("emitter refused a block; retrying at the next wake-up", "path", tf.path, "err", err)
		}
		return false, nil
	}
	if t.emitFailing {
		t.emitFailing = false
		t.log.Info("emitter accepts blocks again")
	}
	tf.offset = pos.Offset
	t.m.readBytes.Add(float64(used))
	t.m.entries.Add(float64(len(t.entries)))
	t.m.blocks.Inc()
	return true, nil
}

// readFailed logs a stat or read failure of an open file once per path and
// counts every one. The file counts as read to its end, so that a gone file
// that cannot be read any more is closed after its grace period.
func (t *tailer) readFailed(tf *tailedFile, err error) {
	t.m.error(reasonRead)
	t.warnOnce(tf.path, reasonRead, "cannot read file; retrying at the next wake-up", "file_id", tf.id, "err", err)
	tf.eof = true
}

func uvarintLen(n int) int {
	l := 1
	for n >= 0x80 {
		n >>= 7
		l++
	}
	return l
}
