package syslog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"

	"github.com/logcapturer/logcapturer/wal"
)

// GELF over UDP (https://go2docs.graylog.org/current/getting_in_log_data/gelf.html):
// a datagram is a whole message or one chunk of one; a message is JSON,
// plain or compressed with gzip or zlib.
const (
	// gelfChunkHeader is a chunk's header: the magic bytes 0x1e 0x0f, an
	// 8-byte message ID, the chunk's sequence number and the chunk count.
	gelfChunkHeader = 12
	// gelfMaxChunks is the most chunks a message may have (the spec's).
	gelfMaxChunks = 128
	// gelfChunkTimeout is how long a message's chunks may take to arrive
	// (the spec's 5 seconds).
	gelfChunkTimeout = 5 * time.Second
	// gelfMaxPendingBytes bounds the chunks held for messages not
	// complete yet; past it the oldest message is dropped.
	gelfMaxPendingBytes = 16 << 20
)

// Labels a gelf source sets on each entry (when the message has the field,
// and without promtail_labels).
const (
	LabelGELFHost     = "host"     // the message's host
	LabelGELFLevel    = "level"    // its level as a syslog severity name: emergency ... debug
	LabelGELFFacility = "facility" // its (deprecated) facility
)

// gelfOwnLabels are the label names a gelf source sets itself.
var gelfOwnLabels = []string{LabelGELFFacility, LabelGELFHost, LabelGELFLevel, LabelParseError}

// gelfLevels are the names of the GELF levels (syslog severities), as
// Promtail's gelf target names them in __gelf_message_level.
var gelfLevels = [8]string{"emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"}

// gelfPartial is a chunked message whose chunks are arriving.
type gelfPartial struct {
	gen    uint64 // its entry in gelfAssembler.order
	first  time.Time
	chunks [][]byte // by sequence number; nil: not arrived
	got    int
	bytes  int // held: the chunks' data and gelfPartialOverhead per slot
}

// gelfPartialOverhead is what a pending message costs besides its chunks'
// data, per chunk slot (a slice header and change) and once (the map
// entry, the record): counted against gelfMaxPendingBytes.
const gelfPartialOverhead = 32

// gelfMaxPartial bounds the messages whose chunks are arriving; a new one
// past it gives the oldest up.
const gelfMaxPartial = 1024

// gelfOrder is one message in gelfAssembler.order.
type gelfOrder struct {
	id  [8]byte
	gen uint64
}

// gelfAssembler reassembles chunked messages. One per datagram reader
// goroutine. Memory: at most gelfMaxPartial messages and
// gelfMaxPendingBytes of chunks and slots; order is compacted when it
// holds more than twice as many entries as there are pending messages.
type gelfAssembler struct {
	partial map[[8]byte]*gelfPartial
	// order lists messages by first chunk, oldest first; an entry whose
	// gen is not its message's (completed, given up, its ID reused) is
	// stale and skipped.
	order []gelfOrder
	gen   uint64
	bytes int
}

func newGELFAssembler() *gelfAssembler {
	return &gelfAssembler{partial: make(map[[8]byte]*gelfPartial)}
}

// errGELFNull is decode's error for a JSON null: go-gelf decodes it to no
// message, which Promtail skips.
var errGELFNull = errors.New("null")

// errGELFIncomplete is returned for a chunk that does not complete its
// message: nothing to decode yet.
var errGELFIncomplete = errors.New("incomplete")

// add takes one datagram received at now and returns the whole message
// it completes (the datagram itself when it is not a chunk), or
// errGELFIncomplete, or an error for a chunk that cannot belong to a
// message. It reports, in dropped, the messages given up: chunks that took
// longer than gelfChunkTimeout, past the bounds on what is held, or a
// chunk count that changed.
func (a *gelfAssembler) add(pkt []byte, now time.Time) (msg []byte, dropped int, err error) {
	dropped = a.expire(now)
	if len(pkt) < 2 || pkt[0] != 0x1e || pkt[1] != 0x0f {
		return pkt, dropped, nil
	}
	if len(pkt) <= gelfChunkHeader {
		return nil, dropped, fmt.Errorf("gelf chunk of %d bytes: no room for data after its %d-byte header", len(pkt), gelfChunkHeader)
	}
	var id [8]byte
	copy(id[:], pkt[2:10])
	seq, count := int(pkt[10]), int(pkt[11])
	if count == 0 || count > gelfMaxChunks || seq >= count {
		return nil, dropped, fmt.Errorf("gelf chunk %d of %d: want a sequence number below a count of 1 to %d", seq, count, gelfMaxChunks)
	}
	p := a.partial[id]
	if p != nil && len(p.chunks) != count {
		a.remove(id)
		return nil, dropped + 1, fmt.Errorf("gelf chunk %d of %d: earlier chunks of the message said %d chunks", seq, count, len(p.chunks))
	}
	if p == nil {
		for len(a.partial) >= gelfMaxPartial && a.dropOldest() {
			dropped++
		}
		a.gen++
		p = &gelfPartial{gen: a.gen, first: now, chunks: make([][]byte, count), bytes: gelfPartialOverhead * (count + 1)}
		a.partial[id] = p
		a.bytes += p.bytes
		a.order = append(a.order, gelfOrder{id: id, gen: a.gen})
	}
	if p.chunks[seq] == nil {
		p.got++
	} else {
		p.bytes -= len(p.chunks[seq])
		a.bytes -= len(p.chunks[seq])
	}
	p.chunks[seq] = append([]byte(nil), pkt[gelfChunkHeader:]...) // the read buffer is reused
	p.bytes += len(p.chunks[seq])
	a.bytes += len(p.chunks[seq])
	if p.got < count {
		for a.bytes > gelfMaxPendingBytes && a.dropOldest() {
			dropped++
		}
		a.compact()
		return nil, dropped, errGELFIncomplete
	}
	msg = bytes.Join(p.chunks, nil)
	a.remove(id)
	a.compact()
	return msg, dropped, nil
}

// live reports whether the order entry e is its message's.
func (a *gelfAssembler) live(e gelfOrder) bool {
	p := a.partial[e.id]
	return p != nil && p.gen == e.gen
}

// dropOldest gives the oldest pending message up; false: none.
func (a *gelfAssembler) dropOldest() bool {
	for len(a.order) > 0 {
		e := a.order[0]
		a.order = a.order[1:]
		if a.live(e) {
			a.remove(e.id)
			return true
		}
	}
	return false
}

// compact drops stale order entries when they outnumber the pending
// messages, so that order stays bounded by them.
func (a *gelfAssembler) compact() {
	if len(a.order) <= 2*len(a.partial)+64 {
		return
	}
	live := make([]gelfOrder, 0, len(a.partial))
	for _, e := range a.order {
		if a.live(e) {
			live = append(live, e)
		}
	}
	a.order = live
}

// remove forgets the message id, reporting whether it was pending.
func (a *gelfAssembler) remove(id [8]byte) bool {
	p := a.partial[id]
	if p == nil {
		return false
	}
	a.bytes -= p.bytes
	delete(a.partial, id)
	return true
}

// expire drops the messages whose first chunk came more than
// gelfChunkTimeout before now, and returns how many.
func (a *gelfAssembler) expire(now time.Time) int {
	n := 0
	for len(a.order) > 0 {
		e := a.order[0]
		if a.live(e) {
			if now.Sub(a.partial[e.id].first) <= gelfChunkTimeout {
				break
			}
			a.remove(e.id)
			n++
		}
		a.order = a.order[1:]
	}
	if len(a.order) == 0 {
		a.order = nil // let the backing array go
	}
	return n
}

// pending reports whether chunks are held.
func (a *gelfAssembler) pending() bool { return len(a.partial) > 0 }

// inflater inflates GELF messages, its readers reused from message to
// message (a new gzip or zlib reader costs about 40KiB).
type inflater struct {
	src     bytes.Reader
	gz      *gzip.Reader
	zl      io.ReadCloser
	scratch bytes.Buffer
}

// inflate returns msg uncompressed (gzip or zlib, told by its first
// bytes, as Graylog and go-gelf tell them; anything else is plain), at
// most limit bytes of it, and whether it was longer. The result is valid
// until the next call.
func (f *inflater) inflate(msg []byte, limit int) (out []byte, tooLong bool, err error) {
	var r io.Reader
	f.src.Reset(msg)
	switch {
	case len(msg) >= 2 && msg[0] == 0x1f && msg[1] == 0x8b:
		if f.gz == nil {
			f.gz, err = gzip.NewReader(&f.src)
		} else {
			err = f.gz.Reset(&f.src)
		}
		if err != nil {
			f.gz = nil
			return nil, false, fmt.Errorf("gzip: %w", err)
		}
		r = f.gz
	case len(msg) >= 2 && msg[0] == 0x78 && (int(msg[0])*256+int(msg[1]))%31 == 0:
		if f.zl == nil {
			f.zl, err = zlib.NewReader(&f.src)
		} else {
			err = f.zl.(zlib.Resetter).Reset(&f.src, nil)
		}
		if err != nil {
			f.zl = nil
			return nil, false, fmt.Errorf("zlib: %w", err)
		}
		r = f.zl
	default:
		return msg, len(msg) > limit, nil
	}
	f.scratch.Reset()
	if _, err := f.scratch.ReadFrom(io.LimitReader(r, int64(limit)+1)); err != nil && f.scratch.Len() == 0 {
		return nil, false, fmt.Errorf("decompress: %w", err)
	}
	// A stream that breaks after some output (a bad checksum, a missing
	// trailer) gives what it inflated, as go-gelf's decoder reads it.
	out = f.scratch.Bytes()
	return out, len(out) > limit, nil
}

// gelfMessage is a decoded GELF message: the fields Promtail's gelf target
// (github.com/grafana/go-gelf/v2's Message) keeps, in the order and with
// the encoding/json names it writes them, and the additional fields (a
// name starting with "_").
type gelfMessage struct {
	Version  string  `json:"version"`
	Host     string  `json:"host"`
	Short    string  `json:"short_message"`
	Full     string  `json:"full_message,omitempty"`
	TimeUnix float64 `json:"timestamp"`
	Level    int32   `json:"level,omitempty"`
	Facility string  `json:"facility,omitempty"`
	extra    map[string]any
	hasLevel bool
}

// decode reads the JSON object data into m, as go-gelf does: a known
// field of the wrong JSON type is an error, other fields without a
// leading "_" are ignored.
func (m *gelfMessage) decode(data []byte) error {
	var fields map[string]any
	// The first JSON value, what follows it ignored, as go-gelf decodes
	// (json.Unmarshal first: it is the faster, and takes a clean message).
	if json.Unmarshal(data, &fields) != nil {
		fields = nil
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&fields); err != nil {
			return err
		}
	}
	if fields == nil {
		return errGELFNull
	}
	*m = gelfMessage{}
	for k, v := range fields {
		if len(k) > 0 && k[0] == '_' {
			if m.extra == nil {
				m.extra = make(map[string]any, len(fields))
			}
			m.extra[k] = v
			continue
		}
		ok := true
		switch k {
		case "version":
			m.Version, ok = v.(string)
		case "host":
			m.Host, ok = v.(string)
		case "short_message":
			m.Short, ok = v.(string)
		case "full_message":
			m.Full, ok = v.(string)
		case "timestamp":
			m.TimeUnix, ok = v.(float64)
		case "level":
			var f float64
			if f, ok = v.(float64); ok {
				m.Level, m.hasLevel = int32(max(min(f, math.MaxInt32), math.MinInt32)), true
			}
		case "facility":
			m.Facility, ok = v.(string)
		}
		if !ok {
			return fmt.Errorf("field %s: %T is not its type", k, v)
		}
	}
	return nil
}

// appendLine appends the entry's line: the message as Promtail's gelf
// target writes it (encoding/json of the known fields, then the
// additional ones by name).
func (m *gelfMessage) appendLine(dst []byte) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return dst, err
	}
	dst = append(dst, b[:len(b)-1]...)
	if len(m.extra) > 0 {
		eb, err := json.Marshal(m.extra)
		if err != nil {
			return dst, err
		}
		dst = append(append(dst, ','), eb[1:len(eb)-1]...)
	}
	return append(dst, '}'), nil
}

// gelfTime is the message's timestamp (seconds since the epoch, with a
// fraction), rounded to the microsecond: a float64 of today's seconds
// holds no finer digits (Promtail keeps the float's artefacts:
// 1765000000.25 s becomes ...249999872 ns).
func gelfTime(sec float64) (time.Time, bool) {
	us := math.Round(sec * 1e6)
	if sec == 0 || math.IsNaN(us) || us*1e3 >= math.MaxInt64 || us*1e3 <= math.MinInt64 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(us)*1e3), true
}

// gelfConverter turns GELF datagrams into entries: the datagram reader's.
type gelfConverter struct {
	cfg      *Config
	asm      *gelfAssembler
	base     []wal.Label
	own      []wal.Label
	scratch  []wal.Label
	last     []wal.Label
	internal bool // add Promtail's __gelf_message_* labels
	inf      inflater
	line     []byte
	msg      gelfMessage
}

func newGELFConverter(cfg *Config, base []wal.Label) *gelfConverter {
	return &gelfConverter{cfg: cfg, asm: newGELFAssembler(), base: base}
}

// gelfResult is what one datagram came to.
type gelfResult struct {
	entry    bool  // an entry was added
	parse    bool  // it was not a GELF message (shipped raw with parse_error when it was JSON text)
	chunks   int   // messages given up before all their chunks came
	tooLong  bool  // dropped: longer than max_message_length uncompressed
	badChunk error // a chunk that cannot belong to a message
}

// assemble takes one datagram received at recv and returns the whole
// message it completes, if it does.
func (c *gelfConverter) assemble(pkt []byte, recv time.Time) (msg []byte, r gelfResult) {
	msg, dropped, err := c.asm.add(pkt, recv)
	r.chunks = dropped
	if err != nil {
		if !errors.Is(err, errGELFIncomplete) {
			r.badChunk = err
		}
		return nil, r
	}
	return msg, r
}

// entry appends to ck the entry of one whole message received at recv.
func (c *gelfConverter) entry(msg []byte, recv time.Time, ck *chunk) (r gelfResult) {
	data, tooLong, err := c.inf.inflate(msg, int(c.cfg.MaxMessageLength))
	switch {
	case err != nil:
		r.parse = true // compressed garbage: nothing to ship
		return r
	case tooLong:
		r.tooLong = true
		return r
	}
	if err := c.msg.decode(data); err != nil {
		r.parse = true
		if errors.Is(err, errGELFNull) {
			return r // no message, as in Promtail; counted
		}
		r.entry = true
		c.own = append(c.own[:0], wal.Label{Name: LabelParseError, Value: "true"})
		c.scratch = mergeLabels(c.scratch[:0], c.base, c.own)
		ck.addBytes(recv.UnixNano(), bytes.TrimSpace(data), c.labels(), nil)
		return r
	}
	m := &c.msg
	ts := recv
	if c.cfg.UseIncomingTimestamp {
		if t, ok := gelfTime(m.TimeUnix); ok {
			ts = t
		}
	}
	level := ""
	if m.Level >= 0 && int(m.Level) < len(gelfLevels) {
		level = gelfLevels[m.Level]
	}
	own := c.own[:0]
	if !c.cfg.PromtailLabels {
		if m.Facility != "" {
			own = append(own, wal.Label{Name: LabelGELFFacility, Value: m.Facility})
		}
		if m.Host != "" {
			own = append(own, wal.Label{Name: LabelGELFHost, Value: m.Host})
		}
		if m.hasLevel && level != "" {
			own = append(own, wal.Label{Name: LabelGELFLevel, Value: level})
		}
	}
	c.own = own
	c.scratch = mergeLabels(c.scratch[:0], c.base, own)
	if c.internal {
		// Promtail's gelf target sets all four, a missing level being 0:
		// "emergency".
		c.scratch = append(c.scratch,
			wal.Label{Name: "__gelf_message_facility", Value: m.Facility},
			wal.Label{Name: "__gelf_message_host", Value: m.Host},
			wal.Label{Name: "__gelf_message_level", Value: level},
			wal.Label{Name: "__gelf_message_version", Value: m.Version})
		c.scratch = sortLabels(c.scratch)
	}
	line, err := m.appendLine(c.line[:0])
	c.line = line
	if err != nil { // a value encoding/json cannot write back: ship as received
		r.parse = true
		line = bytes.TrimSpace(data)
	}
	ck.addBytes(ts.UnixNano(), line, c.labels(), nil)
	r.entry = true
	return r
}

func (c *gelfConverter) labels() []wal.Label { return sharedLabels(c.scratch, &c.last) }
