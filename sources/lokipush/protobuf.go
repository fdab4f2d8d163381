package lokipush

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/logcapturer/logcapturer/wal"
)

// Field numbers of Loki's push.proto (PushRequest, StreamAdapter,
// EntryAdapter, LabelPairAdapter, google.protobuf.Timestamp).
const (
	fieldRequestStreams = 1
	fieldStreamLabels   = 1
	fieldStreamEntries  = 2
	fieldEntryTimestamp = 1
	fieldEntryLine      = 2
	fieldEntryMetadata  = 3
	fieldPairName       = 1
	fieldPairValue      = 2
	fieldTimeSeconds    = 1
	fieldTimeNanos      = 2
)

// errMalformed wraps every structural error of a protobuf body.
var errMalformed = errors.New("malformed protobuf push request")

// Bounds of a timestamp that fits Unix nanoseconds in an int64.
const (
	minSeconds = math.MinInt64/1_000_000_000 + 1
	maxSeconds = math.MaxInt64/1_000_000_000 - 1
)

// decodeProtobuf decodes a PushRequest (already snappy-decoded) into b.
// A structural error (a body that is not a PushRequest) is returned and
// b's content is then to be dropped; a stream with bad labels is noted
// with b.refuse and skipped. Lines point into body. Unknown fields are
// skipped, as protobuf wants.
func decodeProtobuf(body []byte, b *builder) error {
	for len(body) > 0 {
		num, typ, n := protowire.ConsumeTag(body)
		if n < 0 {
			return fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
		}
		body = body[n:]
		if num == fieldRequestStreams && typ == protowire.BytesType {
			msg, n := protowire.ConsumeBytes(body)
			if n < 0 {
				return fmt.Errorf("%w: stream: %v", errMalformed, protowire.ParseError(n))
			}
			body = body[n:]
			if err := decodeStream(msg, b); err != nil {
				return err
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, body)
		if n < 0 {
			return fmt.Errorf("%w: field %d: %v", errMalformed, num, protowire.ParseError(n))
		}
		body = body[n:]
	}
	return nil
}

// decodeStream reads a stream's labels (wherever the field is), then its
// entries.
func decodeStream(msg []byte, b *builder) error {
	var labels string
	var hasEntries bool
	if err := fields(msg, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch {
		case num == fieldStreamLabels && typ == protowire.BytesType:
			labels = string(v)
		case num == fieldStreamEntries && typ == protowire.BytesType:
			hasEntries = true
		}
		return nil
	}); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	if !hasEntries {
		return nil
	}
	pushed, err := parseLabels(labels)
	if err != nil {
		b.refuse(err)
		return nil
	}
	ls, err := b.stream(pushed)
	if err != nil {
		b.refuse(err)
		return nil
	}
	return fields(msg, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != fieldStreamEntries || typ != protowire.BytesType {
			return nil
		}
		return decodeEntry(v, ls, b)
	})
}

func decodeEntry(msg []byte, ls []wal.Label, b *builder) error {
	var (
		ts   int64
		line []byte
		meta []wal.Label
	)
	err := fields(msg, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case fieldEntryTimestamp:
			t, err := decodeTimestamp(v)
			if err != nil {
				return err
			}
			ts = t
		case fieldEntryLine:
			line = v
		case fieldEntryMetadata:
			var p wal.Label
			if err := fields(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
				if typ != protowire.BytesType {
					return nil
				}
				switch num {
				case fieldPairName:
					p.Name = string(v)
				case fieldPairValue:
					p.Value = string(v)
				}
				return nil
			}); err != nil {
				return fmt.Errorf("structured metadata: %w", err)
			}
			if !utf8.ValidString(p.Name) || !utf8.ValidString(p.Value) {
				return fmt.Errorf("%w: structured metadata %q is not valid UTF-8", errMalformed, short(p.Name))
			}
			meta = append(meta, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("entry: %w", err)
	}
	b.add(ls, ts, line, sortMeta(meta))
	return nil
}

// decodeTimestamp reads a google.protobuf.Timestamp as Unix nanoseconds.
func decodeTimestamp(msg []byte) (int64, error) {
	var sec, nanos int64
	err := fields(msg, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if typ != protowire.VarintType {
			return nil
		}
		x, _ := protowire.ConsumeVarint(v)
		switch num {
		case fieldTimeSeconds:
			sec = int64(x)
		case fieldTimeNanos:
			nanos = int64(int32(x))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("timestamp: %w", err)
	}
	if sec < minSeconds || sec > maxSeconds || nanos < 0 || nanos >= 1e9 {
		return 0, fmt.Errorf("%w: timestamp %ds %dns is out of range", errMalformed, sec, nanos)
	}
	return sec*1e9 + nanos, nil
}

// fields calls fn for each field of msg, with the field's value: the
// payload of a bytes field, the encoded varint or fixed value otherwise.
func fields(msg []byte, fn func(protowire.Number, protowire.Type, []byte) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
		}
		msg = msg[n:]
		var v []byte
		if typ == protowire.BytesType {
			v, n = protowire.ConsumeBytes(msg)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, msg)
			if n >= 0 {
				v = msg[:n]
			}
		}
		if n < 0 {
			return fmt.Errorf("%w: field %d: %v", errMalformed, num, protowire.ParseError(n))
		}
		msg = msg[n:]
		if err := fn(num, typ, v); err != nil {
			return err
		}
	}
	return nil
}
