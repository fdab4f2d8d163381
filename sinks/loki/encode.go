package loki

import (
	"slices"
	"strconv"
	"strings"

	"github.com/klauspost/compress/s2"
	"github.com/logcapturer/logcapturer/internal/jsonstr"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/wal"
	"google.golang.org/protobuf/encoding/protowire"
)

// Encoder turns the blocks of a batch into Loki push request bodies, one
// per tenant. It keeps its buffers between calls, so encoding a batch
// allocates only for streams it has not seen at that size before. An
// Encoder is not safe for concurrent use; the Sink keeps a free list of
// them.
type Encoder struct {
	static    []wal.Label // sanitised, sorted
	metaNames []string
	json      bool
	tenant    string // the default tenant (Options.TenantID)

	ls      labelSet
	index   map[string]int32 // tenant "\xff" selector -> streams index
	streams []stream
	nstream int
	infos   []entryInfo // one per block, then one per entry label set or metadata of its own
	meta    []wal.Label // structured metadata, by entryInfo
	tenants []string    // distinct tenants of the batch, in order of first appearance
	pushes  []Push
	bodies  [][]byte // pushes' bodies, by tenant
	raw     []byte   // protobuf or JSON body
	memo    memo
}

// Push is one request of an encoded batch: every stream of one tenant.
type Push struct {
	// Tenant is sent as X-Scope-OrgID; "" sends none.
	Tenant string
	// Body is the request body, valid until the next Encode.
	Body []byte
	// Entries is the number of entries in Body.
	Entries int
}

type stream struct {
	key      string      // tenant "\xff" {a="b", ...}
	sel      int         // the selector is key[sel:]
	tenant   int32       // index in Encoder.tenants
	labels   []wal.Label // for JSON; aliases key-independent copies
	refs     []entryRef
	unsorted bool
	last     int64
}

// entryRef is one entry of a stream: its time (the sort key), where it is,
// its encoded size and its entryInfo.
type entryRef struct {
	t    int64
	blk  int32
	idx  int32
	size int32
	info int32
}

// entryInfo is what a block's entries (or one entry with labels or
// metadata of its own) are sent with: their stream and their structured
// metadata.
type entryInfo struct {
	stream       int32
	meta0, meta1 int32 // e.meta[meta0:meta1]
	metaSize     int32 // protobuf bytes of the metadata fields of one entry
}

// memo remembers the last entry label set resolved, so that entries that
// share one (the WAL decoder hands out one slice for equal sets) cost one
// comparison.
type memo struct {
	labels []wal.Label
	info   int32 // labels' stream and label-derived metadata; -1: none
	base   int32 // the info meta was merged into
	meta   []wal.Label
	full   int32 // base with meta merged in; -1: none
}

// NewEncoder returns an encoder for opts.Labels, opts.StructuredMetadata,
// opts.TenantID and opts.Encoding. opts must be valid.
func NewEncoder(opts Options) *Encoder {
	opts.setDefaults()
	e := &Encoder{
		metaNames: slices.Clone(opts.StructuredMetadata),
		json:      opts.Encoding == EncodingJSON,
		tenant:    opts.TenantID,
		index:     make(map[string]int32),
	}
	for k, v := range opts.Labels {
		if v != "" { // absent, as in Loki
			e.static = append(e.static, wal.Label{Name: k, Value: v})
		}
	}
	slices.SortFunc(e.static, func(a, b wal.Label) int { return strings.Compare(a.Name, b.Name) })
	return e
}

// Encode groups the entries of blocks into streams by each entry's whole
// label set (its own Labels, else its block's) and tenant, sorts each
// stream's entries by time (stably: equal times keep their WAL order) and
// returns one Push per tenant, in the order the tenants first appear. With
// protobuf the bodies are snappy-compressed. The result is valid until the
// next call; a batch without entries gives none.
func (e *Encoder) Encode(blocks []wal.Block) []Push {
	if e.group(blocks) == 0 {
		return nil
	}
	e.pushes = e.pushes[:0]
	for len(e.bodies) < len(e.tenants) {
		e.bodies = append(e.bodies, nil)
	}
	for ti, t := range e.tenants {
		n := 0
		for i := 0; i < e.nstream; i++ {
			if s := &e.streams[i]; s.tenant == int32(ti) {
				n += len(s.refs)
			}
		}
		if n == 0 {
			// Only streams without entries: a block's own labels when
			// every entry of it carries labels of its own.
			continue
		}
		if e.json {
			e.bodies[ti] = e.appendJSON(e.bodies[ti][:0], blocks, int32(ti))
			e.raw = e.bodies[ti]
		} else {
			e.raw = e.appendProto(e.raw[:0], blocks, int32(ti))
			// s2.EncodeSnappy writes the Snappy block format (what Loki
			// decodes with golang/snappy); it is the fast variant of the
			// encoder that klauspost/compress/snappy.Encode wraps with its
			// slower "better" mode.
			e.bodies[ti] = s2.EncodeSnappy(e.bodies[ti][:cap(e.bodies[ti])], e.raw)
		}
		e.pushes = append(e.pushes, Push{Tenant: t, Body: e.bodies[ti], Entries: n})
	}
	return e.pushes
}

// Raw returns the uncompressed body of the last push Encode made (the
// protobuf before snappy; for JSON the body itself).
func (e *Encoder) Raw() []byte { return e.raw }

func (e *Encoder) group(blocks []wal.Block) int {
	clear(e.index)
	for i := 0; i < e.nstream; i++ {
		s := &e.streams[i]
		s.refs, s.unsorted, s.labels = s.refs[:0], false, s.labels[:0]
	}
	e.nstream = 0
	e.tenants = e.tenants[:0]
	e.infos = slices.Grow(e.infos[:0], len(blocks))[:len(blocks)]
	e.meta = e.meta[:0]
	e.memo = memo{info: -1, full: -1}
	n := 0
	for bi := range blocks {
		blk := &blocks[bi]
		if len(blk.Entries) == 0 {
			e.infos[bi] = entryInfo{stream: -1}
			continue
		}
		if prev := e.prevWithEntries(blocks, bi); prev >= 0 && blocks[prev].Source == blk.Source &&
			sameLabels(blocks[prev].Labels, blk.Labels) {
			e.infos[bi] = e.infos[prev]
		} else {
			e.infos[bi] = e.resolve(blk.Labels, blk.Source)
		}
		for ii := range blk.Entries {
			ent := &blk.Entries[ii]
			info := int32(bi)
			if ent.Labels != nil || len(ent.Metadata) > 0 {
				info = e.entryInfo(blk, bi, ent)
			}
			s := &e.streams[e.infos[info].stream]
			if ent.Time < s.last && len(s.refs) > 0 {
				s.unsorted = true
			}
			s.last = ent.Time
			s.refs = append(s.refs, entryRef{t: ent.Time, blk: int32(bi), idx: int32(ii),
				size: int32(e.entrySize(ent, &e.infos[info])), info: info})
		}
		n += len(blk.Entries)
	}
	for i := 0; i < e.nstream; i++ {
		if s := &e.streams[i]; s.unsorted {
			slices.SortStableFunc(s.refs, func(a, b entryRef) int {
				switch {
				case a.t < b.t:
					return -1
				case a.t > b.t:
					return 1
				}
				return 0
			})
		}
	}
	return n
}

// entryInfo returns the info of an entry with labels or metadata of its
// own: its stream (by its own labels, else its block's) and its metadata,
// the entry's own merged over what Options.StructuredMetadata moved out of
// its labels.
func (e *Encoder) entryInfo(blk *wal.Block, bi int, ent *wal.Entry) int32 {
	m := &e.memo
	base := int32(bi)
	if ent.Labels != nil {
		if m.info < 0 || !sameSlice(m.labels, ent.Labels) && !sameLabels(m.labels, ent.Labels) {
			m.labels, m.info = ent.Labels, int32(len(e.infos))
			e.infos = append(e.infos, e.resolve(ent.Labels, blk.Source))
		}
		base = m.info
	}
	if len(ent.Metadata) == 0 {
		return base
	}
	if m.full >= 0 && m.base == base && (sameSlice(m.meta, ent.Metadata) || sameLabels(m.meta, ent.Metadata)) {
		return m.full
	}
	b := e.infos[base]
	info := entryInfo{stream: b.stream, meta0: int32(len(e.meta))}
	for _, l := range ent.Metadata {
		name := SanitizeName(l.Name)
		if name == "" || l.Value == "" || hasMetaName(e.meta[info.meta0:], name) {
			continue
		}
		e.meta = append(e.meta, wal.Label{Name: name, Value: SanitizeValue(l.Value)})
	}
	for _, l := range e.meta[b.meta0:b.meta1] {
		if !hasMetaName(e.meta[info.meta0:], l.Name) {
			e.meta = append(e.meta, l)
		}
	}
	merged := e.meta[info.meta0:]
	slices.SortFunc(merged, func(x, y wal.Label) int { return strings.Compare(x.Name, y.Name) })
	for _, l := range merged {
		info.metaSize += int32(sizeTagged(fieldEntryMeta, sizePair(l)))
	}
	info.meta1 = int32(len(e.meta))
	e.infos = append(e.infos, info)
	m.base, m.meta, m.full = base, ent.Metadata, int32(len(e.infos)-1)
	return m.full
}

func hasMetaName(ls []wal.Label, name string) bool {
	for _, l := range ls {
		if l.Name == name {
			return true
		}
	}
	return false
}

// sameSlice reports whether a and b are the same slice (not only equal).
func sameSlice(a, b []wal.Label) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// prevWithEntries returns the index of the last block before bi that has
// entries, or -1.
func (e *Encoder) prevWithEntries(blocks []wal.Block, bi int) int {
	for j := bi - 1; j >= 0; j-- {
		if e.infos[j].stream >= 0 {
			return j
		}
	}
	return -1
}

// resolve computes the stream and label-derived metadata of a label set.
func (e *Encoder) resolve(labels []wal.Label, source string) entryInfo {
	e.ls.build(labels, source, e.static, e.metaNames, e.tenant)
	si, ok := e.index[string(e.ls.key)]
	if !ok {
		si = int32(e.nstream)
		if e.nstream == len(e.streams) {
			e.streams = append(e.streams, stream{})
		}
		e.nstream++
		s := &e.streams[si]
		if s.key != string(e.ls.key) { // the slot's last key is often the same: no allocation
			s.key = string(e.ls.key)
		}
		s.sel = e.ls.sel
		s.tenant = e.tenantIndex(s.key[:s.sel-1])
		s.labels = append(s.labels[:0], e.ls.stream...)
		e.index[s.key] = si
	}
	info := entryInfo{stream: si, meta0: int32(len(e.meta))}
	for _, l := range e.ls.meta {
		e.meta = append(e.meta, l)
		info.metaSize += int32(sizeTagged(fieldEntryMeta, sizePair(l)))
	}
	info.meta1 = int32(len(e.meta))
	return info
}

func (e *Encoder) tenantIndex(t string) int32 {
	for i, x := range e.tenants {
		if x == t {
			return int32(i)
		}
	}
	e.tenants = append(e.tenants, t)
	return int32(len(e.tenants) - 1)
}

// Protobuf field numbers of logproto (pkg/push/push.proto).
const (
	fieldRequestStreams = 1 // PushRequest.streams: StreamAdapter
	fieldStreamLabels   = 1 // StreamAdapter.labels: string
	fieldStreamEntries  = 2 // StreamAdapter.entries: EntryAdapter
	fieldEntryTimestamp = 1 // EntryAdapter.timestamp: google.protobuf.Timestamp
	fieldEntryLine      = 2 // EntryAdapter.line: string
	fieldEntryMeta      = 3 // EntryAdapter.structuredMetadata: LabelPairAdapter
	fieldPairName       = 1
	fieldPairValue      = 2
	fieldTSSeconds      = 1
	fieldTSNanos        = 2
)

// splitTime splits Unix ns into a protobuf Timestamp: seconds and nanos in
// [0, 1e9), also before 1970.
func splitTime(t int64) (sec int64, nsec int32) {
	sec, n := t/1e9, t%1e9
	if n < 0 {
		sec, n = sec-1, n+1e9
	}
	return sec, int32(n)
}

func sizeTS(t int64) int {
	sec, nsec := splitTime(t)
	n := 0
	if sec != 0 {
		n += 1 + protowire.SizeVarint(uint64(sec))
	}
	if nsec != 0 {
		n += 1 + protowire.SizeVarint(uint64(nsec))
	}
	return n
}

// sizeTagged is the size of a length-delimited field (tag < 16) holding n bytes.
func sizeTagged(_ protowire.Number, n int) int { return 1 + protowire.SizeBytes(n) }

func sizePair(l wal.Label) int {
	return sizeTagged(fieldPairName, len(l.Name)) + sizeTagged(fieldPairValue, len(l.Value))
}

func (e *Encoder) entrySize(ent *wal.Entry, info *entryInfo) int {
	return sizeTagged(fieldEntryTimestamp, sizeTS(ent.Time)) +
		sizeTagged(fieldEntryLine, len(ent.Line)) + int(info.metaSize)
}

func appendTagged(dst []byte, num protowire.Number, n int) []byte {
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendVarint(dst, uint64(n))
}

// appendProto writes the PushRequest of tenant ti's streams.
func (e *Encoder) appendProto(dst []byte, blocks []wal.Block, ti int32) []byte {
	for i := 0; i < e.nstream; i++ {
		s := &e.streams[i]
		if s.tenant != ti || len(s.refs) == 0 {
			continue
		}
		sel := s.key[s.sel:]
		n := sizeTagged(fieldStreamLabels, len(sel))
		for _, r := range s.refs {
			n += sizeTagged(fieldStreamEntries, int(r.size))
		}
		dst = slices.Grow(dst, sizeTagged(fieldRequestStreams, n))
		dst = appendTagged(dst, fieldRequestStreams, n)
		dst = appendTagged(dst, fieldStreamLabels, len(sel))
		dst = append(dst, sel...)
		for _, r := range s.refs {
			ent := &blocks[r.blk].Entries[r.idx]
			dst = appendTagged(dst, fieldStreamEntries, int(r.size))
			dst = appendTagged(dst, fieldEntryTimestamp, sizeTS(r.t))
			sec, nsec := splitTime(r.t)
			if sec != 0 {
				dst = protowire.AppendTag(dst, fieldTSSeconds, protowire.VarintType)
				dst = protowire.AppendVarint(dst, uint64(sec))
			}
			if nsec != 0 {
				dst = protowire.AppendTag(dst, fieldTSNanos, protowire.VarintType)
				dst = protowire.AppendVarint(dst, uint64(nsec))
			}
			dst = appendTagged(dst, fieldEntryLine, len(ent.Line))
			dst = append(dst, ent.Line...)
			info := &e.infos[r.info]
			for _, l := range e.meta[info.meta0:info.meta1] {
				dst = appendTagged(dst, fieldEntryMeta, sizePair(l))
				dst = appendTagged(dst, fieldPairName, len(l.Name))
				dst = append(dst, l.Name...)
				dst = appendTagged(dst, fieldPairValue, len(l.Value))
				dst = append(dst, l.Value...)
			}
		}
	}
	return dst
}

// appendJSON writes Loki's JSON push body:
//
//	{"streams":[{"stream":{"a":"b"},"values":[["<ns>","line"],["<ns>","line",{"k":"v"}]]}]}
//
// Timestamps are decimal strings of Unix ns. JSON strings must be UTF-8,
// so invalid UTF-8 in lines becomes U+FFFD (the protobuf encoding sends
// lines byte for byte).
func (e *Encoder) appendJSON(dst []byte, blocks []wal.Block, ti int32) []byte {
	dst = append(dst, `{"streams":[`...)
	first := true
	for i := 0; i < e.nstream; i++ {
		s := &e.streams[i]
		if s.tenant != ti || len(s.refs) == 0 {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, `{"stream":`...)
		dst = sinks.AppendJSONLabels(dst, s.labels)
		dst = append(dst, `,"values":[`...)
		for j, r := range s.refs {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `["`...)
			dst = strconv.AppendInt(dst, r.t, 10)
			dst = append(dst, `",`...)
			dst = jsonstr.AppendBytes(dst, blocks[r.blk].Entries[r.idx].Line)
			info := &e.infos[r.info]
			if info.meta1 > info.meta0 {
				dst = append(dst, ',')
				dst = sinks.AppendJSONLabels(dst, e.meta[info.meta0:info.meta1])
			}
			dst = append(dst, ']')
		}
		dst = append(dst, "]}"...)
	}
	return append(dst, "]}"...)
}
