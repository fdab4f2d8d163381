package otlp

import (
	"strings"
	"unicode/utf8"

	"github.com/logcapturer/logcapturer/internal/otlpproto"
	"github.com/logcapturer/logcapturer/wal"
)

// Encoder turns the blocks of a batch into an OTLP
// ExportLogsServiceRequest body (protobuf or JSON, uncompressed). It keeps
// its buffers between calls, so a batch allocates only for resources it
// has not seen at that size before. An Encoder is not safe for concurrent
// use; the Sink keeps a free list of them.
type Encoder struct {
	m    mapping
	json bool

	resIndex map[string]int32 // Resource message bytes -> resources index
	res      []resource       // slots reused between batches
	nres     int
	kvs      []kv // log attributes of the records, by rec.a0:a1
	resKVs   []kv // resource attributes, by resource.kv0:kv1
	tmpKVs   []kv
	tmp      []byte // a resource's key while it is looked up
	raw      []byte // the body
	// attrs holds LogRecord attribute fields already encoded (protobuf
	// only): a label set's once, shared by its entries (labelCtx.enc0:enc1),
	// and those of each entry with structured metadata (rec.e0:e1). A
	// record's attributes are then one copy, not a KeyValue encoding per
	// record.
	attrs []byte
}

// kv is one attribute. bin: the value is not UTF-8 and goes as bytes_value.
type kv struct {
	key, value string
	bin        bool
}

// resource is one ResourceLogs of the request: its attributes, their
// protobuf encoding (the Resource message) and its records in WAL order.
type resource struct {
	kv0, kv1 int32
	enc      []byte
	recs     []rec
}

// rec is one LogRecord: where its entry is and what the mapping made of
// it. Strings alias the batch's labels and metadata.
type rec struct {
	blk, idx int32
	size     int32 // LogRecord message bytes (protobuf only)
	sevNum   int32
	sevText  string
	a0, a1   int32 // attributes: Encoder.kvs[a0:a1]
	e0, e1   int32 // the same encoded: Encoder.attrs[e0:e1] (protobuf only)
	dropped  uint32
	binBody  bool // body is not UTF-8: bytes_value
	hasTrace bool
	hasSpan  bool
	trace    [16]byte
	span     [8]byte
}

// labelCtx is what an entry's label set and source give every entry that
// shares them: the resource, the label-derived log attributes
// (Encoder.kvs[kv0:kv1]), and severity and ids when labels carry them.
type labelCtx struct {
	res        int32
	kv0, kv1   int32
	enc0, enc1 int32 // Encoder.kvs[kv0:kv1] encoded: Encoder.attrs[enc0:enc1]
	sevText    string
	sevNum     int32
	hasTrace   bool
	hasSpan    bool
	trace      [16]byte
	span       [8]byte
}

// NewEncoder returns an encoder for opts' mapping and encoding. opts must
// be valid.
func NewEncoder(opts Options) *Encoder {
	opts.setDefaults()
	return &Encoder{m: newMapping(&opts), json: opts.Encoding == EncodingJSON, resIndex: make(map[string]int32)}
}

// Encode maps the entries of blocks to LogRecords, one ResourceLogs per
// distinct resource (in the order first seen, records in WAL order) with
// one ScopeLogs named "logcapturer", and returns the uncompressed request
// body and the number of records in it. The body is valid until the next
// call.
func (e *Encoder) Encode(blocks []wal.Block) (body []byte, records int) {
	n := e.group(blocks)
	if n == 0 {
		return nil, 0
	}
	if e.json {
		e.raw = e.appendJSON(e.raw[:0], blocks)
	} else {
		e.raw = e.appendProto(e.raw[:0], blocks)
	}
	return e.raw, n
}

func (e *Encoder) group(blocks []wal.Block) int {
	clear(e.resIndex)
	for i := 0; i < e.nres; i++ {
		e.res[i].recs = e.res[i].recs[:0]
	}
	e.nres = 0
	e.kvs, e.resKVs, e.attrs = e.kvs[:0], e.resKVs[:0], e.attrs[:0]
	n := 0
	for bi := range blocks {
		blk := &blocks[bi]
		if len(blk.Entries) == 0 {
			continue
		}
		var shared labelCtx
		haveShared := false
		for ii := range blk.Entries {
			ent := &blk.Entries[ii]
			var ctx labelCtx
			if ent.Labels != nil {
				ctx = e.labels(ent.Labels, blk.Source)
			} else {
				if !haveShared {
					shared, haveShared = e.labels(blk.Labels, blk.Source), true
				}
				ctx = shared
			}
			r := e.record(int32(bi), int32(ii), ent, &ctx)
			res := &e.res[ctx.res]
			res.recs = append(res.recs, r)
		}
		n += len(blk.Entries)
	}
	return n
}

// labels resolves a label set: the resource (found or added) and what the
// set gives each of its entries.
func (e *Encoder) labels(ls []wal.Label, source string) labelCtx {
	var c labelCtx
	// Resource attributes, sorted by name (the mapping is).
	e.tmpKVs = e.tmpKVs[:0]
	hasService := false
	for _, a := range e.m.resource {
		if v := first(ls, a.labels); v != "" {
			e.tmpKVs = append(e.tmpKVs, makeKV(a.name, v))
			hasService = hasService || a.name == attrServiceName
		}
	}
	if !hasService && source != "" {
		i := 0
		for i < len(e.tmpKVs) && e.tmpKVs[i].key < attrServiceName {
			i++
		}
		e.tmpKVs = append(e.tmpKVs, kv{})
		copy(e.tmpKVs[i+1:], e.tmpKVs[i:])
		e.tmpKVs[i] = makeKV(attrServiceName, source)
	}
	e.tmp = e.tmp[:0]
	for _, a := range e.tmpKVs {
		e.tmp = appendKV(e.tmp, otlpproto.ResourceAttributes, a)
	}
	ri, ok := e.resIndex[string(e.tmp)]
	if !ok {
		ri = int32(e.nres)
		if e.nres == len(e.res) {
			e.res = append(e.res, resource{})
		}
		e.nres++
		r := &e.res[ri]
		r.enc = append(r.enc[:0], e.tmp...)
		r.kv0 = int32(len(e.resKVs))
		e.resKVs = append(e.resKVs, e.tmpKVs...)
		r.kv1 = int32(len(e.resKVs))
		e.resIndex[string(r.enc)] = ri
	}
	c.res = ri
	// Log attributes from labels.
	c.kv0 = int32(len(e.kvs))
	for _, a := range e.m.attrs {
		if v := first(ls, a.labels); v != "" {
			e.kvs = append(e.kvs, makeKV(a.name, v))
		}
	}
	c.kv1 = int32(len(e.kvs))
	c.enc0, c.enc1 = e.encodeAttrs(c.kv0, c.kv1)
	if e.m.severity != "" {
		if v := lookup(ls, e.m.severity); v != "" {
			c.sevText, c.sevNum = validKey(v), severityNumber(v)
		}
	}
	if e.m.traceID != "" {
		c.hasTrace = parseID(c.trace[:], lookup(ls, e.m.traceID))
	}
	if e.m.spanID != "" {
		c.hasSpan = parseID(c.span[:], lookup(ls, e.m.spanID))
	}
	return c
}

func makeKV(k, v string) kv {
	return kv{key: validKey(k), value: v, bin: !utf8.ValidString(v)}
}

// record maps one entry. Structured metadata becomes attributes after the
// label-derived ones, except the keys the severity or an id was taken from
// (when no label gave it), names starting with "__", and a key a label
// attribute already has (counted in dropped_attributes_count).
func (e *Encoder) record(bi, ii int32, ent *wal.Entry, c *labelCtx) rec {
	r := rec{blk: bi, idx: ii, sevNum: c.sevNum, sevText: c.sevText, a0: c.kv0, a1: c.kv1, e0: c.enc0, e1: c.enc1,
		hasTrace: c.hasTrace, hasSpan: c.hasSpan, trace: c.trace, span: c.span, binBody: !utf8.Valid(ent.Line)}
	if len(ent.Metadata) > 0 {
		r.a0 = int32(len(e.kvs))
		e.kvs = append(e.kvs, e.kvs[c.kv0:c.kv1]...)
		for _, md := range ent.Metadata {
			switch {
			case md.Name == "" || strings.HasPrefix(md.Name, "__"):
				continue
			case r.sevText == "" && md.Name == e.m.severity && md.Value != "":
				r.sevText, r.sevNum = validKey(md.Value), severityNumber(md.Value)
				continue
			case !r.hasTrace && md.Name == e.m.traceID && parseID(r.trace[:], md.Value):
				r.hasTrace = true
				continue
			case !r.hasSpan && md.Name == e.m.spanID && parseID(r.span[:], md.Value):
				r.hasSpan = true
				continue
			}
			if hasKey(e.kvs[c.kv0:c.kv1], md.Name) {
				r.dropped++
				continue
			}
			e.kvs = append(e.kvs, makeKV(md.Name, md.Value))
		}
		r.a1 = int32(len(e.kvs))
		r.e0, r.e1 = e.encodeAttrs(r.a0, r.a1)
	}
	if !e.json {
		r.size = int32(e.recordSize(&r, ent))
	}
	return r
}

// encodeAttrs appends e.kvs[a0:a1] to e.attrs as LogRecord attribute
// fields and returns where they are (protobuf only; JSON encodes from kvs).
func (e *Encoder) encodeAttrs(a0, a1 int32) (int32, int32) {
	if e.json {
		return 0, 0
	}
	e0 := int32(len(e.attrs))
	for i := a0; i < a1; i++ {
		e.attrs = appendKV(e.attrs, otlpproto.LRAttributes, e.kvs[i])
	}
	return e0, int32(len(e.attrs))
}

func hasKey(kvs []kv, k string) bool {
	for i := range kvs {
		if kvs[i].key == k {
			return true
		}
	}
	return false
}

// otlpTime is an entry's time as OTLP's unsigned Unix ns: a time before
// 1970 (which no source stamps) is 0, "unknown".
func otlpTime(t int64) uint64 { return uint64(max(t, 0)) }
