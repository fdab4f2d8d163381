package otlp

import (
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"unsafe"

	"github.com/logcapturer/logcapturer/internal/jsonstr"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/wal"
)

// appendJSON writes the request in OTLP/JSON: the protobuf JSON mapping
// with lowerCamelCase names, 64-bit integers as decimal strings, enums as
// integers, trace and span ids as hex (OTLP's exception) and bytes_value
// as base64. Fields at their zero value are left out, as protojson does.
func (e *Encoder) appendJSON(dst []byte, blocks []wal.Block) []byte {
	dst = append(dst, `{"resourceLogs":[`...)
	for i := 0; i < e.nres; i++ {
		res := &e.res[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"resource":{"attributes":`...)
		dst = appendJSONKVs(dst, e.resKVs[res.kv0:res.kv1])
		dst = append(dst, `},"scopeLogs":[{"scope":{"name":"`+ScopeName+`"},"logRecords":[`...)
		for j := range res.recs {
			if j > 0 {
				dst = append(dst, ',')
			}
			r := &res.recs[j]
			dst = e.appendJSONRecord(dst, r, &blocks[r.blk].Entries[r.idx])
		}
		dst = append(dst, "]}]}"...)
	}
	return append(dst, "]}"...)
}

func (e *Encoder) appendJSONRecord(dst []byte, r *rec, ent *wal.Entry) []byte {
	dst = append(dst, '{')
	if t := otlpTime(ent.Time); t != 0 {
		dst = append(dst, `"timeUnixNano":"`...)
		dst = strconv.AppendUint(dst, t, 10)
		dst = append(dst, `","observedTimeUnixNano":"`...)
		dst = strconv.AppendUint(dst, t, 10)
		dst = append(dst, `",`...)
	}
	if r.sevNum != 0 {
		dst = append(dst, `"severityNumber":`...)
		dst = strconv.AppendInt(dst, int64(r.sevNum), 10)
		dst = append(dst, ',')
	}
	if r.sevText != "" {
		dst = append(dst, `"severityText":`...)
		dst = jsonstr.Append(dst, r.sevText)
		dst = append(dst, ',')
	}
	dst = append(dst, `"body":`...)
	dst = appendJSONAny(dst, sinks.BytesString(ent.Line), r.binBody)
	if r.a1 > r.a0 {
		dst = append(dst, `,"attributes":`...)
		dst = appendJSONKVs(dst, e.kvs[r.a0:r.a1])
	}
	if r.dropped > 0 {
		dst = append(dst, `,"droppedAttributesCount":`...)
		dst = strconv.AppendUint(dst, uint64(r.dropped), 10)
	}
	if r.hasTrace {
		dst = append(dst, `,"traceId":"`...)
		dst = hex.AppendEncode(dst, r.trace[:])
		dst = append(dst, '"')
	}
	if r.hasSpan {
		dst = append(dst, `,"spanId":"`...)
		dst = hex.AppendEncode(dst, r.span[:])
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

func appendJSONKVs(dst []byte, kvs []kv) []byte {
	dst = append(dst, '[')
	for i := range kvs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"key":`...)
		dst = jsonstr.Append(dst, kvs[i].key)
		dst = append(dst, `,"value":`...)
		dst = appendJSONAny(dst, kvs[i].value, kvs[i].bin)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendJSONAny appends an AnyValue: stringValue, or bytesValue in
// base64 for bytes that are not UTF-8.
func appendJSONAny(dst []byte, v string, bin bool) []byte {
	if bin {
		dst = append(dst, `{"bytesValue":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, unsafe.Slice(unsafe.StringData(v), len(v)))
		return append(dst, `"}`...)
	}
	dst = append(dst, `{"stringValue":`...)
	dst = jsonstr.Append(dst, v)
	return append(dst, '}')
}
