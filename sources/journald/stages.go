package journald

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

// The source with pipeline_stages (Params.Stages). Each entry read goes to
// the StageRunner with Start, the cursor of the entry read before it (the
// position from which journalctl --after-cursor yields it again), and
// End, its own cursor; an entry skipped before the stages (max_age, no
// MESSAGE) only moves the position (StageStream.Advance). A block's cursor
// is the stream's position: the Start of the first entry the stages still
// hold (a multiline block under way), else the cursor of the last entry
// read, kept or dropped. So a restart resumes after the last entry whose
// output is in the WAL or that was dropped, and never past a held one.
// A block the Emitter refused stays in the stream and goes out, with the
// entries read since, at the next pause. When journalctl ends, the stages
// hand on what they hold (a multiline block is cut there) and it is
// started again after the last entry read.

// stageTick is how often the stages are ticked while they hold entries
// and journalctl is quiet (multiline max_wait_time).
const stageTick = 250 * time.Millisecond

// addStaged hands the entry just read to the stages; a stream with a full
// block's worth of lines is emitted.
func (r *runner) addStaged(ctx context.Context) error {
	s, e := r.s, &r.e
	at := e.realtime * 1000
	r.blk.at = at
	cur := string(e.cursor)
	start := wal.Position{FileID: FileID, Path: s.where, Cursor: r.cursor}
	end := start
	end.Cursor = cur
	r.cursor = cur
	if ma := s.opts.MaxAge; ma > 0 && at < s.p.Now().Add(-time.Duration(ma)).UnixNano() {
		s.metrics.skipped.WithLabelValues(skipMaxAge).Inc()
		r.st.Advance(end)
		return nil
	}
	var ok bool
	if r.line, ok = s.fmt.line(r.line[:0], e); !ok {
		s.metrics.skipped.WithLabelValues(skipNoMessage).Inc()
		r.st.Advance(end)
		return nil
	}
	in := sources.StageInput{Time: at, Line: r.line, Labels: s.fmt.entryLabels(e), Metadata: s.fmt.metadata(e), Start: start, End: end}
	if s.p.InternalLabels {
		in.Labels = r.internalLabels(in.Labels)
	}
	s.p.Stages.Add(r.st, &in)
	if _, n, _, _ := r.st.Pending(); n >= blockBytes {
		return r.flushStaged(ctx)
	}
	return nil
}

// internalLabels appends Promtail's journal target labels to ls:
// __journal_<field name lowercased> for every data field, and
// __journal_priority_keyword. As go-systemd's GetEntry, which fills
// Promtail's map from sd_journal_enumerate_data: the address fields
// (__CURSOR, __REALTIME_TIMESTAMP, ...) are not fields, and a repeated
// field has its last value.
func (r *runner) internalLabels(ls []wal.Label) []wal.Label {
	e := &r.e
	ls = append(r.labels[:0], ls...)
	for _, f := range e.fields {
		field := e.name(f)
		if strings.HasPrefix(string(field), "__") {
			continue
		}
		name := "__journal_" + strings.ToLower(string(field))
		v := string(e.value(f))
		if !utf8.ValidString(v) {
			v = strings.ToValidUTF8(v, "\uFFFD")
		}
		ls = setLabel(ls, name, v)
		if name == "__journal_priority" {
			ls = setLabel(ls, "__journal_priority_keyword", levelName(e.value(f)))
		}
	}
	r.labels = ls
	return ls
}

// setLabel sets name in ls, over an earlier value.
func setLabel(ls []wal.Label, name, value string) []wal.Label {
	for i := range ls {
		if ls[i].Name == name {
			ls[i].Value = value
			return ls
		}
	}
	return append(ls, wal.Label{Name: name, Value: value})
}

// flushStaged emits what the stages handed on, with the stream's
// position, if either changed since the last block.
func (r *runner) flushStaged(ctx context.Context) error {
	s := r.s
	entries, lineBytes, pos, ok := r.st.Pending()
	if !ok || (len(entries) == 0 && pos.Cursor == "") {
		return nil
	}
	blk := wal.Block{Source: s.p.Name, Labels: r.st.Labels(), Position: pos, Entries: entries}
	rec := sources.Record{
		Source:   s.p.Name,
		Position: pos,
		Entries:  len(entries),
		Bytes:    lineBytes,
		Data:     wal.EncodeBlock(nil, &blk),
	}
	if err := s.p.Emitter.Emit(ctx, rec); err != nil {
		return err
	}
	r.st.Emitted(pos)
	s.metrics.blocks.Inc()
	s.metrics.entries.Add(float64(len(entries)))
	s.status.Lock()
	s.status.cursor, s.status.cursorTime = pos.Cursor, time.Unix(0, r.blk.at).UTC()
	s.status.Unlock()
	return nil
}

// restartStaged readies the stages for another run of journalctl: what
// they hold is handed on and emitted if the Emitter takes it (else at the
// next pause); the run starts after the last entry read.
func (r *runner) restartStaged(ctx context.Context) {
	r.s.p.Stages.Flush()
	if ctx.Err() == nil {
		_ = r.flushStaged(ctx)
	}
}
