package loki

import (
	"bufio"
	"bytes"
	"cmp"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
)

// A 400 from Loki's distributor is a partial success: it validates every
// entry, drops the invalid ones and writes the rest, then answers 400 with
// what it dropped (pkg/distributor/distributor.go, pushWithResolver: an
// invalid entry is added to validationErrors and skipped, the stream keeps
// its valid entries, and once they are written the push returns
// validationErr). The body is util.GroupedErrors.Error()
// (pkg/util/errors/errors.go): the distinct messages joined by "; ", each
// prefixed "N errors like: " unless it is the only message and occurred
// once. Messages are grouped by their exact text, and the text names the
// entry's time to the second, so the body lists every refused entry, by
// second and kind.
//
// Per entry (Validator.ValidateEntry, pkg/distributor/validator.go, checked
// in this order, the first failing check is the entry's only error; formats
// from pkg/validation/validate.go):
//
//   - GreaterThanMaxSampleAgeErrorMsg, ts < now - reject_old_samples_max_age:
//     "entry for stream '%s' has timestamp too old: %v, oldest acceptable
//     timestamp is: %v", both times formatted time.RFC3339, so the bound is
//     stated truncated to the second;
//   - TooFarInFutureErrorMsg, ts > now + creation_grace_period:
//     "entry for stream '%s' has timestamp too new: %v"; the bound is not
//     stated;
//   - LineTooLongErrorMsg, len(line) > max_line_size: "max entry size '%d'
//     bytes exceeded for stream '%s' while adding an entry with length '%d'
//     bytes";
//   - structured metadata disallowed, too large, too many (not matched
//     here: the whole batch goes to the DLQ).
//
// Per stream (one error for all the stream's entries, counted once:
// label parsing, missing labels, missing enforced labels, too many label
// names, label name or value too long, duplicate label name): not matched
// here either. The stream in a message is Loki's, with service_name
// discovered, so it is not compared with ours; every per-entry bound holds
// for the whole push (one now, one tenant), so the bounds and counts alone
// pick the entries.

// maxRefusalBody bounds how much of a 400 body is parsed: about 150 bytes
// per refused entry, so 32 MiB covers some 200,000 refused entries (a batch
// holds at most max_entries). A longer body is not trusted: whole batch.
const maxRefusalBody = 32 << 20

// maxRefusalItem bounds one message (a stream selector is at most a few KiB
// under Loki's label limits).
const maxRefusalItem = 64 << 10

// refusals is what a 400 body says about single entries.
type refusals struct {
	// complete: the body was read whole and every message in it is a
	// per-entry error understood here. Nothing else may be used otherwise.
	complete bool
	total    int           // sum of the counts
	old      map[int64]int // too old: entry second (Unix s) -> count
	oldBound int64         // too old: the stated bound, Unix s (truncated)
	tooNew   map[int64]int // too new: entry second -> count
	long     map[int]int   // line too long: line length -> count
	maxLine  int           // line too long: the stated limit
}

// matched reports whether rf names per-entry refusals to match to a batch.
func (rf *refusals) matched() bool { return rf != nil && rf.complete }

// readRefusals reads a 400 body: the first maxResponseBody bytes are
// returned as the message, and the whole body (up to maxRefusalBody) is
// parsed for per-entry refusals.
func readRefusals(body io.Reader) ([]byte, *refusals, error) {
	pr := &prefixReader{r: io.LimitReader(body, maxRefusalBody+1), max: maxResponseBody}
	rf := parseRefusals(pr)
	if pr.n > maxRefusalBody {
		rf.complete = false
	}
	return pr.buf, rf, pr.err
}

// prefixReader keeps the first max bytes read through it and counts all.
type prefixReader struct {
	r   io.Reader
	max int
	buf []byte
	n   int
	err error // the read error other than io.EOF
}

func (p *prefixReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if keep := min(n, p.max-len(p.buf)); keep > 0 {
		p.buf = append(p.buf, b[:keep]...)
	}
	p.n += n
	if err != nil && err != io.EOF {
		p.err = err
	}
	return n, err
}

const errorsLike = " errors like: "

// parseRefusals parses a GroupedErrors body from r.
func parseRefusals(r io.Reader) *refusals {
	rf := &refusals{complete: true}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxRefusalItem)
	sc.Split(splitItems)
	var (
		item  strings.Builder
		items int
	)
	flush := func() {
		if items > 0 {
			rf.add(strings.TrimSpace(item.String()))
		}
		item.Reset()
	}
	for sc.Scan() {
		tok := sc.Text()
		// A message may itself contain "; " (a label value, "label names;
		// limit"): a token that does not start a counted message continues
		// the previous one. Only a body of one message lacks the count.
		if _, _, ok := countPrefix(tok); ok || items == 0 {
			flush()
			items++
		} else {
			item.WriteString("; ")
		}
		item.WriteString(tok)
		if item.Len() > maxRefusalItem {
			rf.complete = false
		}
	}
	flush()
	if sc.Err() != nil || items == 0 || rf.total == 0 {
		rf.complete = false
	}
	return rf
}

func splitItems(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.Index(data, []byte("; ")); i >= 0 {
		return i + 2, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// countPrefix splits "N errors like: msg".
func countPrefix(s string) (int, string, bool) {
	n, rest, ok := leadingInt(s)
	if !ok || n <= 0 || !strings.HasPrefix(rest, errorsLike) {
		return 0, s, false
	}
	return n, rest[len(errorsLike):], true
}

// add counts one message of the body.
func (rf *refusals) add(item string) {
	n, msg, ok := countPrefix(item)
	if !ok {
		n = 1
	}
	if !rf.complete {
		return
	}
	rf.total += n
	const (
		tooOld   = "' has timestamp too old: "
		bound    = ", oldest acceptable timestamp is: "
		tooNew   = "' has timestamp too new: "
		maxSize  = "max entry size '"
		exceeded = "' bytes exceeded for stream '"
		length   = "' while adding an entry with length '"
	)
	switch {
	case strings.HasPrefix(msg, "entry for stream '") && strings.Contains(msg, tooOld):
		rest := msg[strings.LastIndex(msg, tooOld)+len(tooOld):]
		at, b, found := strings.Cut(rest, bound)
		ts, err1 := time.Parse(time.RFC3339, at)
		bt, err2 := time.Parse(time.RFC3339, b)
		if !found || err1 != nil || err2 != nil || !nsSecond(ts) || !nsSecond(bt) || rf.old != nil && bt.Unix() != rf.oldBound {
			rf.complete = false
			return
		}
		rf.oldBound = bt.Unix()
		rf.old = bump(rf.old, ts.Unix(), n)
	case strings.HasPrefix(msg, "entry for stream '") && strings.Contains(msg, tooNew):
		ts, err := time.Parse(time.RFC3339, msg[strings.LastIndex(msg, tooNew)+len(tooNew):])
		if err != nil || !nsSecond(ts) {
			rf.complete = false
			return
		}
		rf.tooNew = bump(rf.tooNew, ts.Unix(), n)
	case strings.HasPrefix(msg, maxSize) && strings.Contains(msg, exceeded) && strings.HasSuffix(msg, "' bytes"):
		limit, rest, ok1 := leadingInt(msg[len(maxSize):])
		i := strings.LastIndex(msg, length)
		var l int
		ok2 := false
		if i >= 0 {
			var tail string
			l, tail, ok2 = leadingInt(msg[i+len(length):])
			ok2 = ok2 && tail == "' bytes"
		}
		if !ok1 || !ok2 || !strings.HasPrefix(rest, exceeded) || l <= limit || rf.long != nil && limit != rf.maxLine {
			rf.complete = false
			return
		}
		rf.maxLine = limit
		rf.long = bump(rf.long, l, n)
	default:
		rf.complete = false // a per-stream error, or one not matched here
	}
}

// nsSecond reports whether t's second and the next fit in Unix ns (years
// 1678 to 2262), as every entry time does.
func nsSecond(t time.Time) bool {
	s := t.Unix()
	return s > math.MinInt64/int64(time.Second)+1 && s < math.MaxInt64/int64(time.Second)-1
}

func bump[K comparable](m map[K]int, k K, n int) map[K]int {
	if m == nil {
		m = make(map[K]int)
	}
	m[k] += n
	return m
}

// batchEntry is one entry of a batch, for the selection.
type batchEntry struct {
	ts           int64
	block, entry int
	length       int
}

// secondOf is the Unix second of ns, rounded down as time.Format does.
func secondOf(ns int64) int64 {
	s := ns / 1e9
	if ns%1e9 < 0 {
		s--
	}
	return s
}

// pick returns exactly the entries of b that rf says Loki refused, in
// Blocks order, or ok false when rf cannot be matched to b entry for entry
// (the counts, seconds or lengths disagree, or a cut would separate entries
// of equal time). The rules, from Loki's checks above:
//
//   - too old: refused iff ts < B, with B in [S, S+1s) for the stated S.
//     Every entry before S is refused, none from S+1s; of those in that
//     second, the oldest ones make up the count.
//   - too new: refused iff ts > G, G not stated. If m is the earliest
//     second a too-new message names, every entry from m+1s is refused and
//     none before m; of those in second m, the newest ones make up the
//     count. Nothing is assumed about creation_grace_period (10m by
//     default, but set per tenant).
//   - line too long: of the entries not refused for their time (Loki checks
//     time first), those longer than the stated limit.
//
// Then the seconds and lengths of the picked entries must match the
// messages' exactly. in, when not nil, limits the batch to the entries it
// accepts (the push's tenant's).
func (rf *refusals) pick(b *sinks.Batch, in func(blk, e int) bool) ([]sinks.Span, bool) {
	if !rf.complete || rf.total > b.Entries {
		return nil, false
	}
	refs := make([]batchEntry, 0, b.Entries)
	for bi := range b.Blocks {
		for ei, e := range b.Blocks[bi].Entries {
			if in == nil || in(bi, ei) {
				refs = append(refs, batchEntry{ts: e.Time, block: bi, entry: ei, length: len(e.Line)})
			}
		}
	}
	oldBefore := int64(-1 << 63) // refused as too old: ts < oldBefore
	if k := sum(rf.old); k > 0 {
		s := rf.oldBound * 1e9
		t, ok := cut(refs, s, s+1e9, k, true)
		if !ok {
			return nil, false
		}
		oldBefore = t
	}
	newFrom := int64(1<<63 - 1) // refused as too new: ts >= newFrom
	if k := sum(rf.tooNew); k > 0 {
		m := minKey(rf.tooNew)
		t, ok := cut(refs, m*1e9, m*1e9+1e9, k, false)
		if !ok || t < oldBefore {
			return nil, false
		}
		newFrom = t
	}
	var (
		spans             []sinks.Span
		gotOld, gotNew    map[int64]int
		gotLong           map[int]int
		nOld, nNew, nLong int
		tooLong           = len(rf.long) > 0
	)
	for _, r := range refs {
		switch {
		case r.ts < oldBefore:
			gotOld = bump(gotOld, secondOf(r.ts), 1)
			nOld++
		case r.ts >= newFrom:
			gotNew = bump(gotNew, secondOf(r.ts), 1)
			nNew++
		case tooLong && r.length > rf.maxLine:
			gotLong = bump(gotLong, r.length, 1)
			nLong++
		default:
			continue
		}
		spans = sinks.AppendSpan(spans, r.block, r.entry)
	}
	if nOld+nNew+nLong != rf.total || !sameCounts(gotOld, rf.old) || !sameCounts(gotNew, rf.tooNew) || !sameCounts(gotLong, rf.long) {
		return nil, false
	}
	return spans, true
}

// cut finds the threshold that refuses exactly k entries when the true
// bound lies in [lo, hi): with oldest, entries below the threshold
// (returned as "ts < t"); else entries at or above it ("ts >= t"). It
// fails when k cannot be met or would split entries of equal time.
func cut(refs []batchEntry, lo, hi int64, k int, oldest bool) (int64, bool) {
	sure := 0 // refused whatever the bound is within [lo, hi)
	var window []int64
	for _, r := range refs {
		switch {
		case r.ts >= lo && r.ts < hi:
			window = append(window, r.ts)
		case oldest && r.ts < lo, !oldest && r.ts >= hi:
			sure++
		}
	}
	need := k - sure
	if need < 0 || need > len(window) || !oldest && need == 0 {
		// A too-new message names second lo/1e9, so at least one entry
		// of that second was refused.
		return 0, false
	}
	if oldest {
		slices.Sort(window)
		if need == len(window) {
			return hi, true
		}
		if need > 0 && window[need-1] == window[need] {
			return 0, false
		}
		return window[need], true
	}
	slices.SortFunc(window, func(a, b int64) int { return cmp.Compare(b, a) }) // newest first
	if need < len(window) && window[need-1] == window[need] {
		return 0, false
	}
	return window[need-1], true
}

func sum[K comparable](m map[K]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func minKey(m map[int64]int) int64 {
	first := true
	var lo int64
	for k := range m {
		if first || k < lo {
			lo, first = k, false
		}
	}
	return lo
}

func sameCounts[K comparable](a, b map[K]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
