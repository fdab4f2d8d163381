package otlp

import (
	"encoding/binary"
	"slices"

	"github.com/logcapturer/logcapturer/internal/otlpproto"
	"github.com/logcapturer/logcapturer/wal"
	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers are otlpproto's. Every one is below 16, so a tag is one
// byte (sizeTagged, appendTagged rely on it).

// ScopeName is the InstrumentationScope every record is sent under.
const ScopeName = "logcapturer"

// scopeMsg is the InstrumentationScope message {name: "logcapturer"}.
var scopeMsg = protowire.AppendString(protowire.AppendTag(nil, otlpproto.ScopeName, protowire.BytesType), ScopeName)

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
	dst = appendTagged(dst, otlpproto.KVKey, len(a.key))
	dst = append(dst, a.key...)
	dst = appendTagged(dst, otlpproto.KVValue, sizeAny(len(a.value)))
	return appendAny(dst, a.value, a.bin)
}

func appendAny(dst []byte, v string, bin bool) []byte {
	f := protowire.Number(otlpproto.AnyString)
	if bin {
		f = otlpproto.AnyBytes
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
	n += int(r.e1 - r.e0) // attributes, encoded

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
		dst = appendTagged(dst, otlpproto.RequestResourceLogs, rl)
		dst = appendTagged(dst, otlpproto.RLResource, len(res.enc))
		dst = append(dst, res.enc...)
		dst = appendTagged(dst, otlpproto.RLScopeLogs, sl)
		dst = appendTagged(dst, otlpproto.SLScope, len(scopeMsg))
		dst = append(dst, scopeMsg...)
		for j := range res.recs {
			r := &res.recs[j]
			dst = e.appendRecord(dst, r, &blocks[r.blk].Entries[r.idx])
		}
	}
	return dst
}

func (e *Encoder) appendRecord(dst []byte, r *rec, ent *wal.Entry) []byte {
	dst = appendTagged(dst, otlpproto.SLLogRecords, int(r.size))
	t := otlpTime(ent.Time)
	if t != 0 {
		dst = protowire.AppendTag(dst, otlpproto.LRTime, protowire.Fixed64Type)
		dst = binary.LittleEndian.AppendUint64(dst, t)
	}
	if r.sevNum != 0 {
		dst = protowire.AppendTag(dst, otlpproto.LRSeverityNumber, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(r.sevNum))
	}
	if r.sevText != "" {
		dst = appendTagged(dst, otlpproto.LRSeverityText, len(r.sevText))
		dst = append(dst, r.sevText...)
	}
	dst = appendTagged(dst, otlpproto.LRBody, sizeAny(len(ent.Line)))
	f := protowire.Number(otlpproto.AnyString)
	if r.binBody {
		f = otlpproto.AnyBytes
	}
	dst = appendTagged(dst, f, len(ent.Line))
	dst = append(dst, ent.Line...)
	dst = append(dst, e.attrs[r.e0:r.e1]...)
	if r.dropped > 0 {
		dst = protowire.AppendTag(dst, otlpproto.LRDropped, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(r.dropped))
	}
	if r.hasTrace {
		dst = appendTagged(dst, otlpproto.LRTraceID, 16)
		dst = append(dst, r.trace[:]...)
	}
	if r.hasSpan {
		dst = appendTagged(dst, otlpproto.LRSpanID, 8)
		dst = append(dst, r.span[:]...)
	}
	if t != 0 {
		dst = protowire.AppendTag(dst, otlpproto.LRObservedTime, protowire.Fixed64Type)
		dst = binary.LittleEndian.AppendUint64(dst, t)
	}
	return dst
}
