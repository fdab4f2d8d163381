package loki

import (
	"github.com/logcapturer/logcapturer/sinks"
	"slices"
	"strconv"
	"unsafe"

	"github.com/klauspost/compress/s2"
	"github.com/logcapturer/logcapturer/wal"
	"google.golang.org/protobuf/encoding/protowire"
)

// Encoder turns the blocks of a batch into a Loki push request body. It
// keeps its buffers between calls, so encoding a batch allocates only for
// streams it has not seen at that size before. An Encoder is not safe for
// concurrent use; the Sink keeps a free list of them.
type Encoder struct {
	static    []wal.Label // sanitised, sorted
	metaNames []string
	json      bool

	ls      labelSet
	index   map[string]int32 // stream key -> streams index
	streams []stream
	nstream int
	blocks  []blockInfo
	meta    []wal.Label // structured metadata of every block, by blockInfo
	raw     []byte      // protobuf or JSON body
	out     []byte      // snappy-compressed body
}

type stream struct {
	key      string      // {a="b", ...}
	labels   []wal.Label // for JSON; aliases key-independent copies
	refs     []entryRef
	unsorted bool
	last     int64
}

// entryRef is one entry of a stream: its time (the sort key), where it is
// and its encoded size.
type entryRef struct {
	t    int64
	blk  int32
	idx  int32
	size int32
}

type blockInfo struct {
	stream       int32
	meta0, meta1 int32 // e.meta[meta0:meta1]
	metaSize     int32 // protobuf bytes of the metadata fields of one entry
}

// NewEncoder returns an encoder for opts.Labels, opts.StructuredMetadata
// and opts.Encoding. opts must be valid.
func NewEncoder(opts Options) *Encoder {
	opts.setDefaults()
	e := &Encoder{
		metaNames: slices.Clone(opts.StructuredMetadata),
		json:      opts.Encoding == EncodingJSON,
		index:     make(map[string]int32),
	}
	for k, v := range opts.Labels {
		e.static = append(e.static, wal.Label{Name: k, Value: v})
	}
	slices.SortFunc(e.static, func(a, b wal.Label) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return e
}

// Encode groups the entries of blocks into streams, sorts each stream's
// entries by time (stably: equal times keep their WAL order) and returns
// the request body and the number of entries in it. With protobuf the body
// is snappy-compressed. The body is valid until the next call.
func (e *Encoder) Encode(blocks []wal.Block) (body []byte, entries int) {
	entries = e.group(blocks)
	if entries == 0 {
		return nil, 0
	}
	if e.json {
		e.raw = e.appendJSON(e.raw[:0], blocks)
		return e.raw, entries
	}
	e.raw = e.appendProto(e.raw[:0], blocks)
	// s2.EncodeSnappy writes the Snappy block format (what Loki decodes
	// with golang/snappy); it is the fast variant of the encoder that
	// klauspost/compress/snappy.Encode wraps with its slower "better" mode.
	e.out = s2.EncodeSnappy(e.out[:cap(e.out)], e.raw)
	return e.out, entries
}

// Raw returns the uncompressed body of the last Encode (the protobuf
// before snappy; for JSON the body itself).
func (e *Encoder) Raw() []byte { return e.raw }

func (e *Encoder) group(blocks []wal.Block) int {
	clear(e.index)
	for i := 0; i < e.nstream; i++ {
		s := &e.streams[i]
		s.refs, s.unsorted, s.labels = s.refs[:0], false, s.labels[:0]
	}
	e.nstream = 0
	e.blocks = slices.Grow(e.blocks[:0], len(blocks))[:len(blocks)]
	e.meta = e.meta[:0]
	n := 0
	for bi := range blocks {
		blk := &blocks[bi]
		if len(blk.Entries) == 0 {
			e.blocks[bi] = blockInfo{stream: -1}
			continue
		}
		info := &e.blocks[bi]
		if prev := e.prevWithEntries(blocks, bi); prev >= 0 && blocks[prev].Source == blk.Source &&
			sameLabels(blocks[prev].Labels, blk.Labels) {
			*info = e.blocks[prev]
		} else {
			*info = e.resolve(blk)
		}
		s := &e.streams[info.stream]
		for ii := range blk.Entries {
			ent := &blk.Entries[ii]
			if ent.Time < s.last && len(s.refs) > 0 {
				s.unsorted = true
			}
			s.last = ent.Time
			s.refs = append(s.refs, entryRef{t: ent.Time, blk: int32(bi), idx: int32(ii),
				size: int32(e.entrySize(ent, info))})
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

// prevWithEntries returns the index of the last block before bi that has
// entries, or -1.
func (e *Encoder) prevWithEntries(blocks []wal.Block, bi int) int {
	for j := bi - 1; j >= 0; j-- {
		if e.blocks[j].stream >= 0 {
			return j
		}
	}
	return -1
}

// resolve computes a block's stream and metadata.
func (e *Encoder) resolve(blk *wal.Block) blockInfo {
	e.ls.build(blk, e.static, e.metaNames)
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
		s.labels = append(s.labels[:0], e.ls.stream...)
		e.index[s.key] = si
	}
	info := blockInfo{stream: si, meta0: int32(len(e.meta))}
	for _, l := range e.ls.meta {
		e.meta = append(e.meta, l)
		info.metaSize += int32(sizeTagged(3, sizePair(l)))
	}
	info.meta1 = int32(len(e.meta))
	return info
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

func (e *Encoder) entrySize(ent *wal.Entry, info *blockInfo) int {
	return sizeTagged(fieldEntryTimestamp, sizeTS(ent.Time)) +
		sizeTagged(fieldEntryLine, len(ent.Line)) + int(info.metaSize)
}

func appendTagged(dst []byte, num protowire.Number, n int) []byte {
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendVarint(dst, uint64(n))
}

func (e *Encoder) appendProto(dst []byte, blocks []wal.Block) []byte {
	for i := 0; i < e.nstream; i++ {
		s := &e.streams[i]
		n := sizeTagged(fieldStreamLabels, len(s.key))
		for _, r := range s.refs {
			n += sizeTagged(fieldStreamEntries, int(r.size))
		}
		dst = slices.Grow(dst, sizeTagged(fieldRequestStreams, n))
		dst = appendTagged(dst, fieldRequestStreams, n)
		dst = appendTagged(dst, fieldStreamLabels, len(s.key))
		dst = append(dst, s.key...)
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
			info := &e.blocks[r.blk]
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
func (e *Encoder) appendJSON(dst []byte, blocks []wal.Block) []byte {
	dst = append(dst, `{"streams":[`...)
	for i := 0; i < e.nstream; i++ {
		s := &e.streams[i]
		if i > 0 {
			dst = append(dst, ',')
		}
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
			dst = sinks.AppendJSONString(dst, bytesString(blocks[r.blk].Entries[r.idx].Line))
			info := &e.blocks[r.blk]
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

// bytesString views b as a string without copying; the string must not
// outlive b or be kept while b changes (sinks.AppendJSONString only reads it).
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
