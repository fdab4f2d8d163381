package sources

import (
	"bytes"
	"context"
	"time"

	"github.com/logcapturer/logcapturer/wal"
)

// The tailer with pipeline_stages (FileOptions.Stages). Lines are decoded
// and grouped by the assembler as without stages; each entry then goes to
// the source's StageRunner, one StageStream per open file, with the offset
// of its first line. A file's read offset (tailedFile.offset) moves past
// what was handed to the stages; the position recorded in its blocks is
// the stream's: the offset of the first line whose entry the stages still
// hold, or the read offset when they hold none of the file. What the
// stages hand on, now or later (a multiline block ended by Tick), is
// emitted as blocks of the file it came from. A block the Emitter refused
// stays in its stream and is emitted again before the file is read further.

// readStaged reads tf once at its offset and hands the entries to the
// stages. It returns the bytes consumed and only ctx's error.
func (t *tailer) readStaged(ctx context.Context, tf *tailedFile, size int64) (int64, error) {
	used, ok := t.readParsed(tf, size)
	if !ok {
		return 0, nil
	}
	if used == 0 {
		return 0, t.endStaged(ctx, tf)
	}

	base := tf.offset
	readTime := t.opts.Now().UTC().UnixNano()
	var in StageInput
	for k := range t.asm.out {
		e := &t.asm.out[k]
		in.Time, in.Line = t.entryTime(e, readTime), e.line
		in.Labels = in.Labels[:0]
		switch {
		case e.stream == "":
		case t.opts.promtailDocker():
			in.Labels = append(in.Labels, wal.Label{Name: metaLogStream, Value: e.stream})
			in.Line = bytes.TrimRight(in.Line, "\r")
		default:
			in.Labels = append(in.Labels, wal.Label{Name: streamLabel, Value: e.stream})
		}
		if e.parseErr {
			in.Labels = append(in.Labels, wal.Label{Name: parseErrorLabel, Value: "true"})
			t.m.error(reasonParse)
		}
		in.Start = wal.Position{Offset: base + int64(e.start)}
		in.End = wal.Position{Offset: base + int64(used)}
		t.runner.Add(tf.st, &in)
	}
	tf.offset = base + int64(used)
	tf.skip = skipAfter(tf.skip, base, t.asm.out, tf.offset)
	t.m.readBytes.Add(float64(used))
	if len(t.asm.out) == 0 { // every line read was skipped (see streamSkip)
		tf.st.Reset(wal.Position{Offset: tf.offset})
	}
	return int64(used), t.endStaged(ctx, tf)
}

// endStaged ends a read of tf: when tf is gone for good and read to its
// end, the stages hand on what they hold (a multiline block of its lines
// would wait for nothing); then every stream with something to record is
// emitted, tf's first.
func (t *tailer) endStaged(ctx context.Context, tf *tailedFile) error {
	if tf.offset >= tf.size && t.expired(tf) {
		if _, held := tf.st.Held(); held {
			t.runner.Flush()
		}
	}
	if _, err := t.emitStream(ctx, tf); err != nil {
		return err
	}
	return t.emitDirty(ctx)
}

// tickStages lets the stages release what waited long enough, and emits
// it.
func (t *tailer) tickStages(ctx context.Context) error {
	t.runner.Tick(time.Now())
	return t.emitDirty(ctx)
}

// emitDirty emits the streams the stages handed entries to. A stream whose
// block is refused keeps it; it is emitted again at the file's next read.
func (t *tailer) emitDirty(ctx context.Context) error {
	for _, st := range t.runner.Dirty() {
		tf, _ := st.Ref.(*tailedFile)
		if tf == nil || tf.f == nil {
			continue // cannot happen: a file is closed only when its stream is settled
		}
		if _, err := t.emitStream(ctx, tf); err != nil {
			return err
		}
	}
	return nil
}

// stageBusy reports whether tf cannot be closed yet: the stages hold one
// of its entries, or a block of it waits to be emitted.
func (t *tailer) stageBusy(tf *tailedFile) bool {
	if tf.st == nil {
		return false
	}
	if _, held := tf.st.Held(); held {
		return true
	}
	_, _, _, pending := tf.st.Pending()
	return pending
}

// emitStream emits the block of tf's stream (the entries the stages handed
// on, and its position), if there is anything to record. It reports
// whether nothing is left to emit; the only error is ctx's.
func (t *tailer) emitStream(ctx context.Context, tf *tailedFile) (bool, error) {
	entries, lineBytes, pos, ok := tf.st.Pending()
	if !ok {
		return true, nil
	}
	// The skips hold at tf.offset only: at the start of an entry the
	// stages still hold, lines they skip may be in it.
	var skip []streamSkip
	if pos.Offset == tf.offset {
		skip = tf.skip
	}
	fp, ok, err := t.emitBlock(ctx, tf, entries, tf.st.Labels(), pos.Offset, lineBytes, skip)
	if !ok {
		return false, err
	}
	tf.st.Emitted(pos)
	tf.fp, tf.announce = fp, false
	return true, nil
}
