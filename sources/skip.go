package sources

import (
	"slices"
	"strconv"
	"strings"
)

// streamSkip says that the lines of stream that start before until (a file
// offset past tailedFile.offset) are in entries emitted already. A file of
// interleaved streams (Docker's or CRI's stdout and stderr) is read again
// from the start of the first entry still under way (offset), and an entry
// of another stream that began before it may have ended after it: its
// lines after offset were emitted with it, and a read from offset skips
// them instead of making them an entry of their own a second time.
//
// A block records the skips that hold at its position in the position's
// Cursor (encodeSkips), so that a restart from it skips them too.
type streamSkip struct {
	stream string
	until  int64
}

// skipAfter returns the skips that hold at offset once the entries es of a
// read from base are emitted: skip's, with each stream's moved to the end
// of its last entry in es, without those offset has passed. It is nil, and
// allocates nothing, unless an entry ends past offset.
func skipAfter(skip []streamSkip, base int64, es []parsedEntry, offset int64) []streamSkip {
	var out []streamSkip
	for _, s := range skip {
		if s.until > offset {
			out = append(out, s)
		}
	}
	for i := range es {
		e := &es[i]
		end := base + int64(e.end)
		if e.parseErr || end <= offset {
			continue
		}
		k := slices.IndexFunc(out, func(s streamSkip) bool { return s.stream == e.stream })
		if k < 0 {
			out = append(out, streamSkip{stream: e.stream, until: end})
		} else {
			out[k].until = max(out[k].until, end)
		}
	}
	return out
}

// skipCursorPrefix starts the Cursor of a file position that has skips:
// "skip" then, per stream, " until len:stream" (the stream's length in
// bytes, so that any name survives). A file position has no other cursor.
const skipCursorPrefix = "skip"

// encodeSkips renders skips as a file position's Cursor; "" for none.
func encodeSkips(skips []streamSkip) string {
	if len(skips) == 0 {
		return ""
	}
	b := []byte(skipCursorPrefix)
	for _, s := range skips {
		b = append(b, ' ')
		b = strconv.AppendInt(b, s.until, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(len(s.stream)), 10)
		b = append(b, ':')
		b = append(b, s.stream...)
	}
	return string(b)
}

// decodeSkips parses a file position's Cursor, keeping the skips past
// offset. A cursor it does not understand yields none: the lines are then
// read again (shipped twice), never skipped by mistake.
func decodeSkips(cursor string, offset int64) []streamSkip {
	rest, ok := strings.CutPrefix(cursor, skipCursorPrefix)
	if !ok {
		return nil
	}
	var out []streamSkip
	for rest != "" {
		var until, n string
		if rest, ok = strings.CutPrefix(rest, " "); !ok {
			return nil
		}
		if until, rest, ok = strings.Cut(rest, " "); !ok {
			return nil
		}
		if n, rest, ok = strings.Cut(rest, ":"); !ok {
			return nil
		}
		u, err1 := strconv.ParseInt(until, 10, 64)
		l, err2 := strconv.Atoi(n)
		if err1 != nil || err2 != nil || l < 0 || l > len(rest) {
			return nil
		}
		if u > offset {
			out = append(out, streamSkip{stream: rest[:l], until: u})
		}
		rest = rest[l:]
	}
	return out
}
