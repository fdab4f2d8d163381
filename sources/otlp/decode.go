package otlp

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/logcapturer/logcapturer/internal/jsonstr"
	"github.com/logcapturer/logcapturer/internal/otlpproto"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

// maxDepth bounds the nesting of arrays and key/value lists in an
// AnyValue: deeper is malformed (a 1 MiB body could otherwise nest half a
// million levels and exhaust the stack).
const maxDepth = 64

// errMalformed is wrapped by every error of decode: the request is not a
// valid ExportLogsServiceRequest and is answered 400.
var errMalformed = errors.New("malformed request")

// encodedBlock is one WAL block the decoder built, ready to emit.
type encodedBlock struct {
	data           []byte
	entries, bytes int
}

// decoder turns one ExportLogsServiceRequest into encoded WAL blocks. It
// is reused request after request (a sync.Pool in the receiver), never
// concurrently. The strings of the entries it builds point into the body
// and into its arena until the blocks are encoded: decode copies every
// byte it keeps into the encoded blocks before it returns.
type decoder struct {
	m          *mapping
	source     string
	blockBytes int

	now   int64       // the receive time, UTC Unix ns
	arena []byte      // text made from non-string values, ids
	res   []wal.Label // the current resource's labels (static + mapped)
	resMD []wal.Label // the current resource's other attributes
	scMD  []wal.Label // the current scope's name, version, attributes
	rec   []wal.Label // one record's metadata, before sorting
	md    []wal.Label // the current block's entries' metadata
	level levelCache  // label sets with a level, for the current resource
	blk   wal.Block   // the block being filled
	size  int         // its line bytes
	est   int         // its encoded size, about
	out   []encodedBlock
}

// levelCache remembers the label sets made for the levels seen in the
// current resource, so records of one level share one slice.
type levelCache struct {
	keys []string
	sets [][]wal.Label
}

func newDecoder(m *mapping, source string, blockBytes int) *decoder {
	return &decoder{m: m, source: source, blockBytes: max(blockBytes, 1)}
}

// decode decodes body, a protobuf ExportLogsServiceRequest received at
// now (UTC Unix ns), into encoded blocks. On error (wrapping
// errMalformed, with where it was found) no block is returned. The
// returned slice is valid until the next decode.
func (d *decoder) decode(body []byte, now int64) ([]encodedBlock, error) {
	d.reset(now)
	i := 0
	for len(body) > 0 {
		num, typ, v, rest, err := field(body)
		if err != nil {
			return nil, malformed("", err)
		}
		body = rest
		if num == otlpproto.RequestResourceLogs && typ == protowire.BytesType {
			if err := d.resourceLogs(v); err != nil {
				return nil, malformed(fmt.Sprintf("resource_logs[%d]", i), err)
			}
			i++
		}
	}
	d.flush()
	return d.out, nil
}

func (d *decoder) reset(now int64) {
	d.now = now
	d.arena = d.arena[:0]
	d.md = d.md[:0]
	d.blk = wal.Block{Source: d.source, Entries: d.blk.Entries[:0]}
	d.size, d.est = 0, 0
	clear(d.out)
	d.out = d.out[:0]
}

func malformed(where string, err error) error {
	if errors.Is(err, errMalformed) {
		if where == "" {
			return err
		}
		return fmt.Errorf("%s.%w", where, err)
	}
	if where == "" {
		return fmt.Errorf("%w: %v", errMalformed, err)
	}
	return fmt.Errorf("%w: %s: %v", errMalformed, where, err)
}

// field consumes one field of a message: its number, wire type, value
// (the bytes of a length-delimited field, else the encoded value) and the
// rest of b.
func field(b []byte) (protowire.Number, protowire.Type, []byte, []byte, error) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return 0, 0, nil, nil, protowire.ParseError(n)
	}
	b = b[n:]
	if typ == protowire.BytesType {
		v, m := protowire.ConsumeBytes(b)
		if m < 0 {
			return 0, 0, nil, nil, protowire.ParseError(m)
		}
		return num, typ, v, b[m:], nil
	}
	m := protowire.ConsumeFieldValue(num, typ, b)
	if m < 0 {
		return 0, 0, nil, nil, protowire.ParseError(m)
	}
	return num, typ, b[:m], b[m:], nil
}

// eachField calls fn for every field of message b.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(b) > 0 {
		num, typ, v, rest, err := field(b)
		if err != nil {
			return err
		}
		if err := fn(num, typ, v); err != nil {
			return err
		}
		b = rest
	}
	return nil
}

func (d *decoder) resourceLogs(b []byte) error {
	// A new slice: the entries of the previous resource may still point
	// at the last one.
	d.res = slices.Clone(d.m.static)
	d.resMD = d.resMD[:0]
	d.level.keys, d.level.sets = d.level.keys[:0], d.level.sets[:0]
	// The resource first, wherever it is in the message (fields may come
	// in any order; a repeated message field merges).
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != otlpproto.RLResource || typ != protowire.BytesType {
			return nil
		}
		return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
			if num != otlpproto.ResourceAttributes || typ != protowire.BytesType {
				return nil
			}
			k, val, err := d.keyValue(v)
			if err != nil || k == "" {
				return wrap("resource.attributes", err)
			}
			if label, ok := d.m.resource[k]; ok {
				if val != "" {
					d.res = setLabel(d.res, label, val)
				}
				return nil
			}
			d.resMD = append(d.resMD, wal.Label{Name: k, Value: val})
			return nil
		})
	})
	if err != nil {
		return err
	}
	i := 0
	return eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != otlpproto.RLScopeLogs || typ != protowire.BytesType {
			return nil
		}
		err := d.scopeLogs(v)
		if err != nil {
			return wrap(fmt.Sprintf("scope_logs[%d]", i), err)
		}
		i++
		return nil
	})
}

func wrap(where string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", where, err)
}

func (d *decoder) scopeLogs(b []byte) error {
	d.scMD = d.scMD[:0]
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != otlpproto.SLScope || typ != protowire.BytesType {
			return nil
		}
		return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
			if typ != protowire.BytesType {
				return nil
			}
			switch num {
			case otlpproto.ScopeName:
				d.scMD = setMeta(d.scMD, metaScopeName, str(v))
			case otlpproto.ScopeVersion:
				d.scMD = setMeta(d.scMD, metaScopeVersion, str(v))
			case otlpproto.ScopeAttributes:
				k, val, err := d.keyValue(v)
				if err != nil {
					return wrap("scope.attributes", err)
				}
				if k != "" {
					d.scMD = append(d.scMD, wal.Label{Name: k, Value: val})
				}
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	i := 0
	return eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != otlpproto.SLLogRecords || typ != protowire.BytesType {
			return nil
		}
		if err := d.logRecord(v); err != nil {
			return wrap(fmt.Sprintf("log_records[%d]", i), err)
		}
		i++
		return nil
	})
}

// setMeta sets name to value in md (unsorted), or appends it; an empty
// value removes nothing and adds nothing.
func setMeta(md []wal.Label, name, value string) []wal.Label {
	if value == "" {
		return md
	}
	return append(md, wal.Label{Name: name, Value: value})
}

func (d *decoder) logRecord(b []byte) error {
	var (
		t, obs          uint64
		sevNum          int32
		sevText, event  string
		body            []byte
		trace, span     []byte
		hasTrace, hasSp bool
	)
	d.rec = append(append(d.rec[:0], d.resMD...), d.scMD...)
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch {
		case num == otlpproto.LRTime && typ == protowire.Fixed64Type:
			t = binary.LittleEndian.Uint64(v)
		case num == otlpproto.LRObservedTime && typ == protowire.Fixed64Type:
			obs = binary.LittleEndian.Uint64(v)
		case num == otlpproto.LRSeverityNumber && typ == protowire.VarintType:
			x, _ := protowire.ConsumeVarint(v)
			sevNum = int32(x)
		case typ != protowire.BytesType:
		case num == otlpproto.LRSeverityText:
			sevText = str(v)
		case num == otlpproto.LRBody:
			body = v
		case num == otlpproto.LRAttributes:
			k, val, err := d.keyValue(v)
			if err != nil {
				return wrap("attributes", err)
			}
			if k != "" {
				d.rec = append(d.rec, wal.Label{Name: k, Value: val})
			}
		case num == otlpproto.LRTraceID:
			trace, hasTrace = v, true
		case num == otlpproto.LRSpanID:
			span, hasSp = v, true
		case num == otlpproto.LREventName:
			event = str(v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	line, err := d.anyText(body, 0)
	if err != nil {
		return wrap("body", err)
	}
	if hasTrace {
		if err := d.id(metaTraceID, trace, 16); err != nil {
			return wrap("trace_id", err)
		}
	}
	if hasSp {
		if err := d.id(metaSpanID, span, 8); err != nil {
			return wrap("span_id", err)
		}
	}
	d.rec = setMeta(d.rec, metaEventName, event)

	level := sevText
	if level == "" {
		level = severityName(sevNum)
	}
	if sevNum != 0 && level != "" && derivedSeverity(level) != sevNum {
		d.rec = setMeta(d.rec, metaSeverityNumber, d.text(protowireInt(int64(sevNum))))
	}
	labels := d.res
	if level != "" {
		if d.m.severity != "" {
			labels = d.levelSet(level)
		} else {
			d.rec = setMeta(d.rec, DefaultSeverityLabel, level)
		}
	}

	var ts int64
	switch {
	case t != 0 && t <= math.MaxInt64:
		ts = int64(t)
	case obs != 0 && obs <= math.MaxInt64:
		ts = int64(obs)
	default:
		ts = d.m.clock.Next(d.now)
	}
	d.add(wal.Entry{Time: ts, Line: line, Metadata: d.metadata()}, labels)
	return nil
}

// protowireInt formats n as decimal text into a small buffer.
func protowireInt(n int64) []byte {
	var b [20]byte
	return appendInt(b[:0], n)
}

// id sets the metadata key name to the hex of an id of n bytes; an empty
// or all-zero id is no id.
func (d *decoder) id(name string, v []byte, n int) error {
	if len(v) == 0 || allZero(v) {
		return nil
	}
	if len(v) != n {
		return fmt.Errorf("%d bytes, want %d", len(v), n)
	}
	start := len(d.arena)
	d.arena = hex.AppendEncode(d.arena, v)
	d.rec = append(d.rec, wal.Label{Name: name, Value: str(d.arena[start:])})
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// metadata sorts the record's metadata by name, keeps the last value of
// each name (log attributes over scope over resource), and returns it as
// a slice of the block's metadata arena (nil when empty).
func (d *decoder) metadata() []wal.Label {
	if len(d.rec) == 0 {
		return nil
	}
	slices.SortStableFunc(d.rec, func(a, b wal.Label) int { return strings.Compare(a.Name, b.Name) })
	start := len(d.md)
	for i := range d.rec {
		if i+1 < len(d.rec) && d.rec[i+1].Name == d.rec[i].Name {
			continue
		}
		d.md = append(d.md, d.rec[i])
	}
	// A full slice expression: a later append to md must not write into
	// this entry's metadata (it never does, but a reallocation keeps the
	// old array, which the entry still points at, intact).
	return d.md[start:len(d.md):len(d.md)]
}

// levelSet returns the current resource's labels with the severity label
// set to level, one slice per level and resource.
func (d *decoder) levelSet(level string) []wal.Label {
	for i, k := range d.level.keys {
		if k == level {
			return d.level.sets[i]
		}
	}
	set := setLabel(d.res, d.m.severity, level)
	d.level.keys = append(d.level.keys, level)
	d.level.sets = append(d.level.sets, set)
	return set
}

// add appends an entry with its label set to the block, and encodes the
// block once it holds blockBytes of lines.
func (d *decoder) add(e wal.Entry, labels []wal.Label) {
	if len(d.blk.Entries) == 0 {
		d.blk.Labels = labels
	} else if !sameLabels(labels, d.blk.Labels) {
		e.Labels = labels
	}
	d.blk.Entries = append(d.blk.Entries, e)
	d.size += len(e.Line)
	d.est += len(e.Line) + 16
	for _, m := range e.Metadata {
		d.est += len(m.Name) + len(m.Value) + 4
	}
	if d.size >= d.blockBytes {
		d.flush()
	}
}

func sameLabels(a, b []wal.Label) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return slices.Equal(a, b)
}

// flush encodes the block being filled, if it has entries.
func (d *decoder) flush() {
	if len(d.blk.Entries) == 0 {
		return
	}
	data := wal.EncodeBlock(sources.BlockBuffer(d.est+512), &d.blk)
	d.out = append(d.out, encodedBlock{data: data, entries: len(d.blk.Entries), bytes: d.size})
	clear(d.blk.Entries)
	d.blk.Entries = d.blk.Entries[:0]
	d.blk.Labels = nil
	d.md = d.md[:0]
	d.size, d.est = 0, 0
}

// keyValue decodes a KeyValue: its key and its value as text.
func (d *decoder) keyValue(b []byte) (string, string, error) {
	var key string
	var val []byte
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case otlpproto.KVKey:
			key = str(v)
		case otlpproto.KVValue:
			val = v
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	text, err := d.anyText(val, 0)
	if err != nil {
		return "", "", wrap(fmt.Sprintf("%q", key), err)
	}
	return key, str(text), nil
}

// anyText returns an AnyValue as text: a string or bytes value as it is
// (pointing into b), a bool, int or double as its text, an array or
// key/value list as JSON, no value as "".
func (d *decoder) anyText(b []byte, depth int) ([]byte, error) {
	num, v, err := anyValue(b)
	if err != nil {
		return nil, err
	}
	switch num {
	case 0:
		return nil, nil
	case otlpproto.AnyString, otlpproto.AnyBytes:
		return v, nil
	}
	start := len(d.arena)
	d.arena, err = appendAnyJSON(d.arena, num, v, depth)
	if err != nil {
		return nil, err
	}
	if num == otlpproto.AnyDouble {
		// A double's text without JSON's quotes around NaN and infinities.
		if s := d.arena[start:]; len(s) > 0 && s[0] == '"' {
			copy(s, s[1:len(s)-1])
			d.arena = d.arena[:len(d.arena)-2]
		}
	}
	return d.arena[start:len(d.arena):len(d.arena)], nil
}

// anyValue decodes an AnyValue: the number of the field set last (0 when
// none) and its value.
func anyValue(b []byte) (protowire.Number, []byte, error) {
	var num protowire.Number
	var val []byte
	err := eachField(b, func(n protowire.Number, typ protowire.Type, v []byte) error {
		want := protowire.BytesType
		switch n {
		case otlpproto.AnyBool, otlpproto.AnyInt:
			want = protowire.VarintType
		case otlpproto.AnyDouble:
			want = protowire.Fixed64Type
		case otlpproto.AnyString, otlpproto.AnyArray, otlpproto.AnyKVList, otlpproto.AnyBytes:
		default:
			return nil
		}
		if typ == want {
			num, val = n, v
		}
		return nil
	})
	return num, val, err
}

// appendAnyJSON appends the AnyValue of field num with value v as JSON: a
// string as a string, a bool, int or double as a number (NaN and the
// infinities as strings), bytes as a base64 string, an array as an array,
// a key/value list as an object (keys in their order; a repeated key is
// repeated), no value as null.
func appendAnyJSON(dst []byte, num protowire.Number, v []byte, depth int) ([]byte, error) {
	switch num {
	case 0:
		return append(dst, "null"...), nil
	case otlpproto.AnyString:
		return jsonstr.AppendBytes(dst, v), nil
	case otlpproto.AnyBytes:
		dst = append(dst, '"')
		dst = appendBase64(dst, v)
		return append(dst, '"'), nil
	case otlpproto.AnyBool:
		x, _ := protowire.ConsumeVarint(v)
		if x != 0 {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case otlpproto.AnyInt:
		x, _ := protowire.ConsumeVarint(v)
		return appendInt(dst, int64(x)), nil
	case otlpproto.AnyDouble:
		return appendFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(v))), nil
	}
	if depth >= maxDepth {
		return dst, fmt.Errorf("values nested deeper than %d", maxDepth)
	}
	open, close := byte('['), byte(']')
	if num == otlpproto.AnyKVList {
		open, close = '{', '}'
	}
	dst = append(dst, open)
	n := 0
	err := eachField(v, func(f protowire.Number, typ protowire.Type, item []byte) error {
		if f != otlpproto.ListValues || typ != protowire.BytesType {
			return nil
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		if num == otlpproto.AnyKVList {
			var key, val []byte
			err := eachField(item, func(f protowire.Number, typ protowire.Type, x []byte) error {
				if typ == protowire.BytesType {
					switch f {
					case otlpproto.KVKey:
						key = x
					case otlpproto.KVValue:
						val = x
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			dst = jsonstr.AppendBytes(dst, key)
			dst = append(dst, ':')
			item = val
		}
		vn, vv, err := anyValue(item)
		if err != nil {
			return err
		}
		dst, err = appendAnyJSON(dst, vn, vv, depth+1)
		return err
	})
	if err != nil {
		return dst, err
	}
	return append(dst, close), nil
}

// str views b as a string without copying. The string must not outlive
// b's array, nor be kept while b changes: the decoder's strings live only
// until their blocks are encoded.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// text returns b copied into the arena, as a string.
func (d *decoder) text(b []byte) string {
	start := len(d.arena)
	d.arena = append(d.arena, b...)
	return str(d.arena[start:])
}
