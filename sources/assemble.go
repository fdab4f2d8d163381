package sources

import (
	"math"
	"regexp"
	"slices"
	"sort"

	"golang.org/x/text/transform"
)

// An assembler turns the bytes of a file, from a position where no entry is
// under way, into entries: it splits lines, decodes them (Docker, CRI),
// joins partial lines, and groups lines into multiline entries. It keeps no
// state from one call of parse to the next: the tailer calls it again from
// the start of the first entry it could not finish, so the position it
// records is always a point from which reading again yields exactly the
// entries not emitted yet, whatever happens in between (a crash, a close).

// parsedEntry is one finished entry: its bytes in the buffer and its text.
type parsedEntry struct {
	start, end int // the bytes of the entry in the parsed buffer
	line       []byte
	time       int64 // from the record (Docker, CRI), 0: none
	stream     string
	parseErr   bool
}

// pending is an entry or a partial line being built.
type pending struct {
	active     bool
	start, end int
	buf        []byte
	time       int64
	lines      int
}

// streamState is the work in progress of one stream (stdout, stderr; ""
// for plain files). Streams are joined independently: Docker and CRI
// interleave them in one file.
type streamState struct {
	name  string
	part  pending // partial line (Docker, CRI)
	entry pending // multiline entry
}

type assembler struct {
	typ       string
	maxLine   int
	multiline *regexp.Regexp // nil: one line, one entry
	maxLines  int

	streams []*streamState
	// skip: the lines of these streams before until (offsets in the
	// buffer parsed) are in entries emitted already (see streamSkip).
	skip    []streamSkip
	scratch []byte // Docker unescaping
	arena   []byte // texts of finished entries
	out     []parsedEntry
	cuts    int // entries cut at maxLine (lines split)

	// nl is how the lines of the file parsed end; tr, when set, converts
	// them to UTF-8 (the encoding option) into conv, which holds one line
	// (what is kept is copied: into a pending entry, or the arena).
	nl   newline
	tr   transform.Transformer
	conv []byte
	// encFailures counts the lines of the last parse that tr refused
	// (kept as they were read).
	encFailures int
}

// toUTF8 returns text converted by a.tr (text itself without one).
func (a *assembler) toUTF8(text []byte) []byte {
	if a.tr == nil {
		return text
	}
	var err error
	a.conv, err = appendUTF8(a.conv[:0], a.tr, text)
	if err != nil {
		a.encFailures++
	}
	return a.conv
}

func newAssembler(o *FileOptions, ml *regexp.Regexp) *assembler {
	return &assembler{typ: o.Type, maxLine: o.MaxLineBytes, multiline: ml, maxLines: o.Multiline.MaxLines}
}

// parse fills a.out with the entries of buf that are finished, in the order
// of their first byte, and returns how many bytes of buf they cover: the
// start of the first entry still open (or of the unterminated last line).
// flushEntries ends the entries under way at the end of buf (max_wait);
// flushRaw also takes an unterminated last line as complete (the file is
// gone). pendingLeft reports whether an entry or partial line is under way
// at the returned offset (as opposed to only an unterminated line).
func (a *assembler) parse(buf []byte, flushEntries, flushRaw bool) (used int, pendingLeft bool) {
	a.out, a.arena, a.cuts, a.encFailures = a.out[:0], a.arena[:0], 0, 0
	for _, st := range a.streams {
		st.part.active, st.entry.active = false, false
	}
	maxLine := a.maxLine
	pos := 0
	for pos < len(buf) {
		text, adv, cut, ok := nextLine(buf[pos:], maxLine, a.nl, flushRaw)
		if !ok {
			break
		}
		if cut {
			a.cuts++
		}
		text = a.toUTF8(text)
		if r := a.decode(text, cut); !a.skipped(r, pos) {
			a.feed(r, pos, pos+adv)
		}
		pos += adv
	}
	used = pos
	if pos < len(buf) && !flushEntries && !flushRaw {
		// The next line is not all there, but more than maxLine bytes
		// past the start of an entry or partial line are: whatever that
		// line is, adding it would take the entry past maxLine, so the
		// entry ends before it, as it would once the line is complete.
		// This keeps every entry within one read buffer.
		for _, st := range a.streams {
			if st.part.active && len(buf)-st.part.start > maxLine {
				a.cuts++
				a.finishPart(st)
			}
			if st.entry.active && len(buf)-st.entry.start > maxLine {
				a.cuts++
				a.finishEntry(st)
			}
		}
	}
	if flushEntries || flushRaw {
		for _, st := range a.streams {
			a.finishPart(st)
			a.finishEntry(st)
		}
	}
	for _, st := range a.streams {
		if st.part.active && st.part.start < used {
			used, pendingLeft = st.part.start, true
		}
		if st.entry.active && st.entry.start < used {
			used, pendingLeft = st.entry.start, true
		}
		if st.part.active || st.entry.active {
			pendingLeft = true
		}
	}
	if !sort.SliceIsSorted(a.out, func(i, j int) bool { return a.out[i].start < a.out[j].start }) {
		sort.SliceStable(a.out, func(i, j int) bool { return a.out[i].start < a.out[j].start })
	}
	n := sort.Search(len(a.out), func(i int) bool { return a.out[i].start >= used })
	a.out = a.out[:n]
	return used, pendingLeft
}

// setSkip takes the file's skips for a parse of a buffer read at offset.
func (a *assembler) setSkip(skip []streamSkip, offset int64) {
	a.skip = a.skip[:0]
	for _, s := range skip {
		a.skip = append(a.skip, streamSkip{stream: s.stream, until: s.until - offset})
	}
}

// skipped reports whether the record r starting at pos is in an entry
// emitted already (see streamSkip). A raw line (parse error) never is: it
// is an entry of its own, emitted only with everything before it.
func (a *assembler) skipped(r record, pos int) bool {
	if r.parseErr {
		return false
	}
	for _, s := range a.skip {
		if s.stream == r.stream && int64(pos) < s.until {
			return true
		}
	}
	return false
}

// decode turns a line into a record. A line cut at maxLine cannot be a
// Docker or CRI record: it is kept raw.
func (a *assembler) decode(text []byte, cut bool) record {
	switch a.typ {
	case TypeDocker:
		if cut {
			return record{content: text, parseErr: true}
		}
		return decodeDocker(text, &a.scratch)
	case TypeCRI:
		if cut {
			return record{content: text, parseErr: true}
		}
		return decodeCRI(text)
	}
	return record{content: text}
}

// maxStreams bounds the streams an assembler tracks. Docker and CRI write
// two (stdout, stderr), and "" is a record without one; a file that names
// more is not theirs (a record per stream name, or garbage), and must not
// grow the list, or its linear lookup, with its size.
const maxStreams = 8

func (a *assembler) stream(name string) *streamState {
	for _, st := range a.streams {
		if st.name == name {
			return st
		}
	}
	if len(a.streams) >= maxStreams {
		a.dropStreams()
	}
	st := &streamState{name: name}
	a.streams = append(a.streams, st)
	return st
}

// dropStreams makes room for a stream: it forgets the streams with nothing
// under way, and when every one has, it ends the entry and partial line of
// the one that began first, as max_lines would, and forgets it.
func (a *assembler) dropStreams() {
	a.streams = slices.DeleteFunc(a.streams, func(st *streamState) bool {
		return !st.part.active && !st.entry.active
	})
	if len(a.streams) < maxStreams {
		return
	}
	first, at := 0, math.MaxInt
	for i, st := range a.streams {
		for _, p := range []*pending{&st.part, &st.entry} {
			if p.active && p.start < at {
				first, at = i, p.start
			}
		}
	}
	st := a.streams[first]
	a.finishPart(st)
	a.finishEntry(st)
	a.streams = slices.Delete(a.streams, first, first+1)
}

// feed takes the record of the line at buf[start:end].
func (a *assembler) feed(r record, start, end int) {
	if r.parseErr {
		// Shipped raw, alone: never joined with anything.
		a.emit(parsedEntry{start: start, end: end, line: r.content, parseErr: true})
		return
	}
	st := a.stream(r.stream)
	p := &st.part
	if !p.active && !r.partial {
		a.line(st, r.content, start, end, r.time)
		return
	}
	if p.active && end-p.start > a.maxLine {
		a.cuts++
		a.finishPart(st)
	}
	if !p.active {
		*p = pending{active: true, start: start, buf: p.buf[:0], time: r.time}
	}
	p.buf = append(p.buf, r.content...)
	p.end = end
	if !r.partial {
		a.finishPart(st)
	}
}

// finishPart ends the partial line of st, if any, as a line.
func (a *assembler) finishPart(st *streamState) {
	p := &st.part
	if !p.active {
		return
	}
	p.active = false
	a.line(st, p.buf, p.start, p.end, p.time)
}

// line takes one whole line of st: an entry, or a part of a multiline one.
func (a *assembler) line(st *streamState, text []byte, start, end int, ts int64) {
	if a.multiline == nil {
		a.emit(parsedEntry{start: start, end: end, line: text, time: ts, stream: st.name})
		return
	}
	e := &st.entry
	isStart := a.multiline.Match(text)
	if e.active && (isStart || end-e.start > a.maxLine) {
		if !isStart {
			a.cuts++
		}
		a.finishEntry(st)
	}
	if !e.active {
		*e = pending{active: true, start: start, buf: e.buf[:0], time: ts}
	} else {
		e.buf = append(e.buf, '\n')
	}
	e.buf = append(e.buf, text...)
	e.end = end
	e.lines++
	if e.lines >= a.maxLines {
		a.finishEntry(st)
	}
}

func (a *assembler) finishEntry(st *streamState) {
	e := &st.entry
	if !e.active {
		return
	}
	e.active = false
	a.emit(parsedEntry{start: e.start, end: e.end, line: e.buf, time: e.time, stream: st.name})
}

// emit adds a finished entry, copying its text into the arena (the text
// may live in a buffer that is reused).
func (a *assembler) emit(e parsedEntry) {
	s := len(a.arena)
	a.arena = append(a.arena, e.line...)
	e.line = a.arena[s:len(a.arena):len(a.arena)]
	a.out = append(a.out, e)
}
