package otlp

import (
	"errors"
	"testing"

	"github.com/logcapturer/logcapturer/wal"
)

// FuzzDecode: no protobuf body panics the decoder; a body it accepts
// gives blocks the WAL decodes, with every entry counted.
func FuzzDecode(f *testing.F) {
	f.Add(marshal(f, mappingRequest()))
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00})
	f.Add([]byte{0x0a, 0x06, 0x12, 0x04, 0x12, 0x02, 0x2a, 0x00})
	d := testDecoder(map[string]string{"app": "x"}, nil, DefaultSeverityLabel)
	f.Fuzz(func(t *testing.T, body []byte) {
		blocks, err := d.decode(body, now)
		if err != nil {
			if !errors.Is(err, errMalformed) || blocks != nil {
				t.Fatalf("error %v with %d blocks", err, len(blocks))
			}
			return
		}
		checkBlocks(t, blocks)
	})
}

// FuzzDecodeJSON: no JSON body panics the transcoder or the decoder.
func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},"scopeLogs":[{"logRecords":[{"timeUnixNano":"1","body":{"kvlistValue":{"values":[{"key":"a","value":{"arrayValue":{"values":[{"intValue":"1"}]}}}]}},"traceId":"5b8efff798038103d269b633813fc60c"}]}]}]}`))
	f.Add([]byte(`{"resource_logs":[{"scope_logs":[{"log_records":[{"severity_number":"SEVERITY_NUMBER_INFO","body":{"doubleValue":"-Infinity"}}]}]}]}`))
	d := testDecoder(nil, nil, DefaultSeverityLabel)
	f.Fuzz(func(t *testing.T, body []byte) {
		pb, err := jsonToProto(body)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v does not wrap errMalformed", err)
			}
			return
		}
		blocks, err := d.decode(pb, now)
		if err != nil {
			if errors.Is(err, errMalformed) {
				return // ids of a bad length, too deep: found by decode
			}
			t.Fatal(err)
		}
		checkBlocks(t, blocks)
	})
}

func checkBlocks(t *testing.T, blocks []encodedBlock) {
	t.Helper()
	for _, eb := range blocks {
		var b wal.Block
		if err := wal.DecodeBlock(eb.data, &b); err != nil {
			t.Fatalf("block does not decode: %v", err)
		}
		if len(b.Entries) != eb.entries || b.Size() != eb.bytes || eb.entries == 0 {
			t.Fatalf("block of %d entries, %d bytes; counted %d, %d", len(b.Entries), b.Size(), eb.entries, eb.bytes)
		}
	}
}
