package otlp

import (
	"encoding/binary"
	"slices"

	"github.com/logcapturer/logcapturer/wal"
	"google.golang.org/protobuf/encoding/protowire"
)

// Protobuf field numbers of OTLP (opentelemetry-proto: collector/logs/v1,
// logs/v1, common/v1, resource/v1). Every one is below 16, so a tag is one
// byte.
const (
	fieldRequestResourceLogs = 1 // ExportLogsServiceRequest.resource_logs
	fieldRLResource          = 1 // ResourceLogs.resource
	fieldRLScopeLogs         = 2 // ResourceLogs.scope_logs
	fieldResourceAttributes  = 1 // Resource.attributes
	fieldSLScope             = 1 // ScopeLogs.scope
	fieldSLLogRecords        = 2 // ScopeLogs.log_records
	fieldScopeName           = 1 // InstrumentationScope.name
	fieldLRTime              = 1 // LogRecord.time_unix_nano, fixed64
	fieldLRSeverityNumber    = 2 // LogRecord.severity_number, enum
	fieldLRSeverityText      = 3 // LogRecord.severity_text
	fieldLRBody              = 5 // LogRecord.body, AnyValue
	fieldLRAttributes        = 6 // LogRecord.attributes, KeyValue
	fieldLRDropped           = 7 // LogRecord.dropped_attributes_count
	fieldLRTraceID           = 9
	fieldLRSpanID            = 10
	fieldLRObservedTime      = 11 // fixed64
	fieldKVKey               = 1
	fieldKVValue             = 2
	fieldAnyString           = 1 // AnyValue.string_value
	fieldAnyBytes            = 7 // AnyValue.bytes_value
)

// ScopeName is the InstrumentationScope every record is sent under.
const ScopeName = "logcapturer"

// scopeMsg is the InstrumentationScope message {name: "logcapturer"}.
var scopeMsg = protowire.AppendString(protowire.AppendTag(nil, fieldScopeName, protowire.BytesType), ScopeName)

// sizeTagged is the size of a length-delimited field (tag < 16) of n bytes.
func sizeTagged(n int) int { return 1 + protowire.SizeBytes(n) }

func appendTagged(dst []byte, num protowire.Number, n int) []byte {
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendVarint(dst, uint64(n))
}

// sizeAny is the size of an AnyValue holding a string or bytes of n.
func sizeAny(n int) int { return sizeTagged(n) }

func sizeKV(a *kv) int {
	return sizeTagged(len(a.key)) + sizeTagged(sizeAny(len(a.value)))
}

// appendKV appends a as a KeyValue in field num.
func appendKV(dst []byte, num protowire.Number, a kv) []byte {
	dst = appendTagged(dst, num, sizeKV(&a))
	dst = appendTagged(dst, fieldKVKey, len(a.key))
	dst = append(dst, a.key...)
	dst = appendTagged(dst, fieldKVValue, sizeAny(len(a.value)))
	return appendAny(dst, a.value, a.bin)
}

func appendAny(dst []byte, v string, bin bool) []byte {
	f := protowire.Number(fieldAnyString)
	if bin {
		f = fieldAnyBytes
	}
	dst = appendTagged(dst, f, len(v))
	return append(dst, v...)
}

func (e *Encoder) recordSize(r *rec, ent *wal.Entry) int {
	n := 0
	if otlpTime(ent.Time) != 0 {
		n += 2 * (1 + 8) // time_unix_nano and observed_time_unix_nano
	}
	if r.sevNum != 0 {
		n += 1 + protowire.SizeVarint(uint64(r.sevNum))
	}
	if r.sevText != "" {
		n += sizeTagged(len(r.sevText))
	}
	n += sizeTagged(sizeAny(len(ent.Line)))
	for i := r.a0; i < r.a1; i++ {
		n += sizeTagged(sizeKV(&e.kvs[i]))
	}
	if r.dropped > 0 {
		n += 1 + protowire.SizeVarint(uint64(r.dropped))
	}
	if r.hasTrace {
		n += sizeTagged(16)
	}
	if r.hasSpan {
		n += sizeTagged(8)
	}
	return n
}

func (e *Encoder) appendProto(dst []byte, blocks []wal.Block) []byte {
	for i := 0; i < e.nres; i++ {
		res := &e.res[i]
		sl := sizeTagged(len(scopeMsg))
		for j := range res.recs {
			sl += sizeTagged(int(res.recs[j].size))
		}
		rl := sizeTagged(len(res.enc)) + sizeTagged(sl)
		dst = slices.Grow(dst, sizeTagged(rl))
		dst = appendTagged(dst, fieldRequestResourceLogs, rl)
		dst = appendTagged(dst, fieldRLResource, len(res.enc))
		dst = append(dst, res.enc...)
		dst = appendTagged(dst, fieldRLScopeLogs, sl)
		dst = appendTagged(dst, fieldSLScope, len(scopeMsg))
		dst = append(dst, scopeMsg...)
		for j := range res.recs {
			r := &res.recs[j]
			dst = e.appendRecord(dst, r, &blocks[r.blk].Entries[r.idx])
		}
	}
	return dst
}

func (e *Encoder) appendRecord(dst []byte, r *rec, ent *wal.Entry) []byte {
	dst = appendTagged(dst, fieldSLLogRecords, int(r.size))
	t := otlpTime(ent.Time)
	if t != 0 {
		dst = protowire.AppendTag(dst, fieldLRTime, protowire.Fixed64Type)
		dst = binary.LittleEndian.AppendUint64(dst, t)
	}
	if r.sevNum != 0 {
		dst = protowire.AppendTag(dst, fieldLRSeverityNumber, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(r.sevNum))
	}
	if r.sevText != "" {
		dst = appendTagged(dst, fieldLRSeverityText, len(r.sevText))
		dst = append(dst, r.sevText...)
	}
	dst = appendTagged(dst, fieldLRBody, sizeAny(len(ent.Line)))
	f := protowire.Number(fieldAnyString)
	if r.binBody {
		f = fieldAnyBytes
	}
	dst = appendTagged(dst, f, len(ent.Line))
	dst = append(dst, ent.Line...)
	for i := r.a0; i < r.a1; i++ {
		dst = appendKV(dst, fieldLRAttributes, e.kvs[i])
	}
	if r.dropped > 0 {
		dst = protowire.AppendTag(dst, fieldLRDropped, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(r.dropped))
	}
	if r.hasTrace {
		dst = appendTagged(dst, fieldLRTraceID, 16)
		dst = append(dst, r.trace[:]...)
	}
	if r.hasSpan {
		dst = appendTagged(dst, fieldLRSpanID, 8)
		dst = append(dst, r.span[:]...)
	}
	if t != 0 {
		dst = protowire.AppendTag(dst, fieldLRObservedTime, protowire.Fixed64Type)
		dst = binary.LittleEndian.AppendUint64(dst, t)
	}
	return dst
}
