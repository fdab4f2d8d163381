package receiver

import (
	"fmt"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

// stageBlockBytes is where the entries the stages hand on are cut into
// another block.
const stageBlockBytes = 1 << 20

// stage runs the entries of one request's records (as Decode made them)
// through the source's stages (Options.Stages) and returns the records of
// what they hand on. A push has no position to read again from, so the
// stages never hold an entry past its request: they are flushed at the
// end of each, and every entry of a request is in its records (or
// dropped) before it is answered. A multiline block therefore never
// spans two pushes, and max_wait_time has nothing to wait for. The
// requests take turns (the runner is not safe for concurrent use).
func (s *Server) stage(recs []sources.Record) ([]sources.Record, error) {
	s.stageMu.Lock()
	defer s.stageMu.Unlock()
	r := s.opts.Stages
	var (
		blk  wal.Block
		in   sources.StageInput
		st   *sources.StageStream
		last []wal.Label // the labels st was made for
	)
	for i := range recs {
		if err := wal.DecodeBlock(recs[i].Data, &blk); err != nil {
			return nil, fmt.Errorf("run the stages: %w", err) // cannot happen: Decode encoded it
		}
		for j := range blk.Entries {
			e := &blk.Entries[j]
			ls := blk.Labels
			if e.Labels != nil {
				ls = e.Labels
			}
			if st == nil || !equalLabels(ls, last) {
				st = r.NewStream(ls, wal.Position{}, nil)
				last = append(last[:0], ls...)
			}
			in = sources.StageInput{Time: e.Time, Line: e.Line, Metadata: e.Metadata}
			r.Add(st, &in)
		}
	}
	r.Flush()
	r.Tick(s.opts.Now())
	out := recs[:0]
	for _, st := range r.Dirty() {
		entries, _, pos, _ := st.Pending()
		for len(entries) > 0 {
			n, bytes := 0, 0
			for n < len(entries) && (n == 0 || bytes+len(entries[n].Line) <= stageBlockBytes) {
				bytes += len(entries[n].Line)
				n++
			}
			b := wal.Block{Source: s.opts.Name, Labels: st.Labels(), Entries: entries[:n]}
			out = append(out, sources.Record{Data: wal.EncodeBlock(nil, &b), Entries: n, Bytes: bytes})
			entries = entries[n:]
		}
		st.Emitted(pos)
	}
	return out, nil
}

func equalLabels(a, b []wal.Label) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
