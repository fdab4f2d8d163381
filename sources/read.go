package sources

import (
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"time"

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
			if tf.eof {
				tf.eofAt = t.now
			}
			break
		}
		total += n
	}
	return total, nil
}

// readBlock stats tf, checks it was not truncated, reads once at its
// offset and emits what it holds. It returns the bytes consumed: 0 when
// there is nothing complete yet, when the read failed, or when the Emitter
// refused the block (the same bytes are read again later). The only error
// returned is ctx's.
func (t *tailer) readBlock(ctx context.Context, tf *tailedFile) (int64, error) {
	fi, err := tf.f.Stat()
	if err != nil {
		t.readFailed(tf, err)
		return 0, nil
	}
	size := fi.Size()
	if size != tf.size {
		if size > tf.size {
			tf.activeAt = t.now
		}
		tf.size = size
		switch {
		case size < tf.offset:
			t.truncated(tf, "the file is shorter than the offset")
		case !t.sameHead(tf):
			t.truncated(tf, "the first bytes of the file changed")
		}
	}
	if tf.fresh && size > 0 {
		t.checkCopy(tf, size)
	}
	if tf.copyOf != nil { // a copy: read only once its original is done
		tf.eof = true
		return 0, nil
	}
	if tf.announce {
		if err := t.announce(ctx, tf); err != nil || tf.announce {
			return 0, err
		}
	}
	if tf.st != nil && len(tf.st.entries) > 0 {
		// A block the Emitter refused: emitted before anything more is read.
		if done, err := t.emitStream(ctx, tf); !done {
			tf.eof = true
			return 0, err
		}
	}
	avail := size - tf.offset
	if avail == 0 {
		t.readOK(tf)
		tf.eof, tf.waitSince = true, time.Time{}
		if tf.st != nil {
			return 0, t.endStaged(ctx, tf)
		}
		return 0, nil
	}
	t.useEncoding(tf)
	if tf.st != nil {
		return t.readStaged(ctx, tf, size)
	}
	if t.asm != nil {
		return t.readEntries(ctx, tf, size)
	}
	return t.readLines(ctx, tf, avail)
}

// sameHead reports whether tf still starts with the bytes its fingerprint
// was taken of. A file truncated and written again past the offset between
// two looks (copytruncate) fails it, unless its new head is the same.
func (t *tailer) sameHead(tf *tailedFile) bool {
	if tf.fp.n == 0 {
		return true
	}
	fp, err := hashPrefix(tf.f, tf.fp.n, &t.scratch)
	if errors.Is(err, errShort) {
		return false
	}
	return err != nil || fp.hash == tf.fp.hash // a read error is not a truncation
}

// truncated restarts tf from its beginning. A copy of what it held before
// (copytruncate) resumes at the offset it had. A truncation is how
// copytruncate rotates: it is logged once, at Info, with the copies it
// resumed.
func (t *tailer) truncated(tf *tailedFile, why string) {
	t.m.error(reasonTruncated)
	args := []any{"path", tf.path, "file_id", tf.key.String(), "offset", tf.offset, "size", tf.size, "why", why}
	if copies := t.noteTruncated(tf); len(copies) > 0 {
		args = append(args, "copies_resumed", strings.Join(copies, ","))
	}
	t.log.Info("file truncated (copytruncate rotation?); reading it again from the beginning", args...)
	tf.offset, tf.fp, tf.waitSince, tf.announce, tf.skip = 0, fingerprint{}, time.Time{}, false, nil
	if tf.st != nil {
		tf.st.Reset(wal.Position{})
	}
}

// announce records tf's position, set without reading (a copy resumed at
// its original's offset), with a block without entries. Like any block,
// it is retried at the next read if the Emitter refuses it. It returns
// only ctx's error.
func (t *tailer) announce(ctx context.Context, tf *tailedFile) error {
	_, err := t.emit(ctx, tf, nil, tf.labels, tf.offset, 0, tf.skip)
	return err
}

// readLines is the fast path of plain files without multiline or
// timestamps: one read, split on '\n', one block.
func (t *tailer) readLines(ctx context.Context, tf *tailedFile, avail int64) (int64, error) {
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
		t.readOK(tf)
		// The unterminated tail of a file that is gone for good is a
		// line: nobody will complete it.
		flush := int64(n) == avail && t.expired(tf)
		used, lineBytes = t.split(t.buf[:n], flush)
		if used > 0 || int64(n) < want || want == min(int64(len(t.buf)), avail) {
			break
		}
		want = min(int64(len(t.buf)), avail)
	}
	t.noteCuts(tf, t.cuts)
	if used == 0 {
		tf.eof = true
		return 0, nil
	}
	tf.eof = false
	ts := t.opts.Now().UTC().UnixNano()
	for i := range t.entries {
		t.entries[i].Time = t.clock.Next(ts)
	}
	if ok, err := t.emit(ctx, tf, t.entries, tf.labels, tf.offset+int64(used), lineBytes, nil); !ok {
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
	t.conv = t.conv[:0]
	for len(rest) > 0 {
		line, adv, cut, ok := nextLine(rest, maxLine, t.nl, flush)
		if !ok {
			break
		}
		if t.tr != nil {
			line = t.toUTF8(line)
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
	t.cuts = cuts
	if cuts > 0 {
		t.m.linesSplit.Add(float64(cuts))
	}
	return used, lineBytes
}

// useEncoding sets the newline and converter of the reads of tf (the
// encoding option). A UTF-16 file without a stated byte order takes it
// from its first two bytes once it has them.
func (t *tailer) useEncoding(tf *tailedFile) {
	if t.codec == nil {
		return
	}
	if tf.nl == newlineBOM && tf.size >= 2 {
		var head [2]byte
		if n, _ := tf.f.ReadAt(head[:], 0); n == 2 {
			tf.nl = t.codec.fileNewline(head[:])
		}
	}
	t.nl, t.tr = tf.nl, t.codec.transformer(tf.nl)
	if t.asm != nil {
		t.asm.nl, t.asm.tr = t.nl, t.tr
	}
}

// toUTF8 returns line converted to UTF-8, appended to t.conv; a line the
// converter refuses is kept as it is and counted.
func (t *tailer) toUTF8(line []byte) []byte {
	start := len(t.conv)
	var err error
	t.conv, err = appendUTF8(t.conv, t.tr, line)
	if err != nil {
		t.m.error(reasonEncoding)
	}
	return t.conv[start:len(t.conv):len(t.conv)]
}

// noteCuts logs, once per file, that lines of tf were cut at MaxLineBytes
// (cuts chunks cut off in the last read); every cut is counted
// (lines_split_total).
func (t *tailer) noteCuts(tf *tailedFile, cuts int) {
	if cuts == 0 || tf.cutWarned {
		return
	}
	tf.cutWarned = true
	t.log.Warn("line longer than max_line_bytes: shipped in chunks of max_line_bytes (further cuts in this file are only counted)",
		"path", tf.path, "file_id", tf.key.String(), "max_line_bytes", t.opts.MaxLineBytes)
}

// readParsed reads tf once at its offset, into t.buf, and has the
// assembler parse what it read (t.asm.out); it is the read of readEntries
// and readStaged. A read that finds no finished entry is retried with all
// of t.buf. An entry still under way at the end of the file is finished
// once it has waited max_wait without the file growing, or once the file
// is gone. It returns the bytes the finished entries take (0 when there
// are none: tf is at its end), and false when the read failed (counted
// and noted in tf by readFailed). Cut lines are counted and noted.
func (t *tailer) readParsed(tf *tailedFile, size int64) (int, bool) {
	avail := size - tf.offset
	flushRaw := t.expired(tf)
	flushEntries := flushRaw || (!tf.waitSince.IsZero() && tf.waitSize == size &&
		t.now.Sub(tf.waitSince) >= t.opts.maxWait())
	want := min(int64(t.opts.BlockBytes), avail)
	var (
		used    int
		pending bool
		atEOF   bool
	)
	t.asm.setSkip(tf.skip, tf.offset)
	for {
		n, err := tf.f.ReadAt(t.buf[:want], tf.offset)
		if n == 0 && err != nil && !errors.Is(err, io.EOF) {
			t.readFailed(tf, err)
			return 0, false
		}
		t.readOK(tf)
		atEOF = int64(n) == avail
		used, pending = t.asm.parse(t.buf[:n], flushEntries && atEOF, flushRaw && atEOF)
		if used > 0 || int64(n) < want || want == min(int64(len(t.buf)), avail) {
			break
		}
		want = min(int64(len(t.buf)), avail)
	}
	for range t.asm.encFailures {
		t.m.error(reasonEncoding)
	}
	if t.asm.cuts > 0 {
		t.m.linesSplit.Add(float64(t.asm.cuts))
		t.noteCuts(tf, t.asm.cuts)
	}
	if used == 0 {
		tf.eof = true
		if pending && atEOF {
			if tf.waitSince.IsZero() || tf.waitSize != size {
				tf.waitSince, tf.waitSize = t.now, size
			}
		} else {
			tf.waitSince = time.Time{}
		}
		return 0, true
	}
	tf.eof, tf.waitSince = false, time.Time{}
	return used, true
}

// readEntries is the path of Docker and CRI files and of multiline or
// timestamp parsing: the assembler finds the finished entries of one read,
// which are emitted in blocks of one stream each. An entry still under way
// at the end of the file is emitted as it is once it has waited max_wait
// without the file growing, or once the file is gone.
func (t *tailer) readEntries(ctx context.Context, tf *tailedFile, size int64) (int64, error) {
	used, ok := t.readParsed(tf, size)
	if !ok || used == 0 {
		return 0, nil
	}

	base := tf.offset
	out := t.asm.out
	readTime := t.opts.Now().UTC().UnixNano()
	for i := 0; i < len(out); {
		first := &out[i]
		j, lineBytes := i, 0
		for j < len(out) && out[j].stream == first.stream && out[j].parseErr == first.parseErr &&
			(j == i || (lineBytes+len(out[j].line) <= t.opts.BlockBytes && j-i < maxBlockEntries)) {
			lineBytes += len(out[j].line)
			j++
		}
		end := used
		if j < len(out) {
			end = out[j].start
		}
		ents := t.entries[:0]
		for k := i; k < j; k++ {
			ents = append(ents, wal.Entry{Time: t.entryTime(&out[k], readTime), Line: out[k].line})
		}
		t.entries = ents
		skip := skipAfter(tf.skip, base, out[i:j], base+int64(end))
		if ok, err := t.emit(ctx, tf, ents, t.blockLabels(tf, first.stream, first.parseErr), base+int64(end), lineBytes, skip); !ok {
			return tf.offset - base, err
		}
		tf.skip = skip
		if first.parseErr {
			t.m.errors.WithLabelValues(reasonParse).Add(float64(j - i))
		}
		i = j
	}
	if len(out) == 0 { // every line read was skipped (see streamSkip)
		tf.offset = base + int64(used)
		tf.skip = skipAfter(tf.skip, 0, nil, tf.offset)
	}
	return int64(used), nil
}

// entryTime returns an entry's time: parsed from it when timestamps are
// configured, else the record's (Docker, CRI), else the read time (1 ns
// after the last entry's when that is not later: see EntryClock).
func (t *tailer) entryTime(e *parsedEntry, readTime int64) int64 {
	ts := e.time
	if st := t.src.stamp; st != nil && !e.parseErr {
		if v, ok := st.parse(e.line); ok {
			ts = v
		} else {
			t.m.error(reasonTimestamp)
		}
	}
	if ts == 0 {
		return t.clock.Next(readTime)
	}
	return ts
}

// blockLabels returns the labels of a block of tf's entries of one stream.
func (t *tailer) blockLabels(tf *tailedFile, stream string, parseErr bool) []wal.Label {
	if stream == "" && !parseErr {
		return tf.labels
	}
	l := append(t.labels[:0], tf.labels...)
	if stream != "" {
		l = append(l, wal.Label{Name: streamLabel, Value: stream})
	}
	if parseErr {
		l = append(l, wal.Label{Name: parseErrorLabel, Value: "true"})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	t.labels = l
	return l
}

// emit encodes entries as one block of tf ending at offset end, with the
// skips that hold there (see streamSkip), and hands it to the Emitter
// (emitBlock). On success tf.offset moves to end. It returns
// false when the block was not accepted, with ctx's error if ctx is done;
// any other Emit error is counted, logged once per streak, and the block is
// read again at the next wake-up.
func (t *tailer) emit(ctx context.Context, tf *tailedFile, entries []wal.Entry, labels []wal.Label, end int64, lineBytes int, skip []streamSkip) (bool, error) {
	fp, ok, err := t.emitBlock(ctx, tf, entries, labels, end, lineBytes, skip)
	if !ok {
		return false, err
	}
	t.m.readBytes.Add(float64(end - tf.offset))
	tf.offset, tf.fp, tf.announce = end, fp, false
	return true, nil
}

// emitBlock encodes entries (lineBytes of lines) as one block of tf, with
// labels as its stream labels and its position at offset end (with skip
// in its Cursor), and hands
// it to the Emitter; it is the emit of both emit and emitStream. It
// returns whether the Emitter took the block, and the fingerprint of tf's
// first min(end, fingerprint_bytes) bytes that the block's FileID names.
// The only error is ctx's: any other Emit error is counted, logged once
// per streak (and its end logged once). A block taken is counted
// (entries, blocks); the caller moves tf on.
func (t *tailer) emitBlock(ctx context.Context, tf *tailedFile, entries []wal.Entry, labels []wal.Label, end int64, lineBytes int, skip []streamSkip) (fingerprint, bool, error) {
	fp := tf.fp
	if n := min(end, int64(t.opts.FingerprintBytes)); n != fp.n {
		var err error
		if fp, err = hashPrefix(tf.f, n, &t.scratch); err != nil {
			fp = fingerprint{}
		}
	}
	id := fileID(tf.key, fp)
	pos := wal.Position{FileID: id, Path: tf.path, Offset: end, Cursor: encodeSkips(skip)}
	blk := wal.Block{Source: t.opts.Name, Labels: labels, Position: pos, Entries: entries}
	rec := Record{
		Source:   t.opts.Name,
		Position: pos,
		Entries:  len(entries),
		Bytes:    lineBytes,
		Data:     wal.EncodeBlock(BlockBuffer(t.blockSize(id, tf.path, labels, entries, lineBytes)), &blk),
	}
	if err := t.opts.Emitter.Emit(ctx, rec); err != nil {
		if ctx.Err() != nil {
			return fp, false, ctx.Err()
		}
		t.m.error(reasonEmit)
		if !t.emitFailing {
			t.emitFailing = true
			t.log.Warn("emitter refused a block; retrying at the next wake-up", "path", tf.path, "err", err)
		}
		return fp, false, nil
	}
	if t.emitFailing {
		t.emitFailing = false
		t.log.Info("emitter accepts blocks again")
	}
	t.m.entries.Add(float64(len(entries)))
	t.m.blocks.Inc()
	return fp, true, nil
}

// blockSize is an upper bound of the encoded size of a block of the
// source: the header, the stream labels, then per entry a time delta and
// the line's length prefix, and for an entry with labels or structured
// metadata of its own (from stages) its flags and those.
func (t *tailer) blockSize(id, path string, labels []wal.Label, entries []wal.Entry, lineBytes int) int {
	size := 5 + 4*maxVarintLen + len(t.opts.Name) + len(id) + len(path) + lineBytes
	for _, l := range labels {
		size += len(l.Name) + len(l.Value) + 2*maxVarintLen
	}
	for i := range entries {
		e := &entries[i]
		size += maxVarintLen + wal.UvarintLen(uint64(len(e.Line)))
		if e.Labels == nil && len(e.Metadata) == 0 {
			continue
		}
		size += maxVarintLen
		for _, l := range e.Labels {
			size += len(l.Name) + len(l.Value) + 2*maxVarintLen
		}
		for _, l := range e.Metadata {
			size += len(l.Name) + len(l.Value) + 2*maxVarintLen
		}
	}
	return size
}

// readFailed logs a stat or read failure of an open file once per path and
// counts every one; Files shows the file unreadable until a read
// succeeds. The file counts as read to its end, so that a gone file that
// cannot be read any more is closed after its grace period.
func (t *tailer) readFailed(tf *tailedFile, err error) {
	t.m.error(reasonRead)
	t.warnOnce(tf.path, reasonRead, "cannot read file; retrying at the next wake-up", "file_id", tf.key.String(), "err", err)
	tf.readErr = err.Error()
	if tf.readErrSince.IsZero() {
		tf.readErrSince = time.Now()
	}
	tf.eof = true
}

// readOK notes a successful stat and read of tf: a file that could not be
// read is readable again (logged once), and warns again if it fails anew.
func (t *tailer) readOK(tf *tailedFile) {
	if tf.readErr == "" {
		return
	}
	t.log.Info("file is readable again", "path", tf.path, "file_id", tf.key.String(),
		"unreadable_for", time.Since(tf.readErrSince).Round(time.Millisecond).String())
	tf.readErr, tf.readErrSince = "", time.Time{}
	if t.warned[tf.path] == reasonRead {
		delete(t.warned, tf.path)
	}
}
