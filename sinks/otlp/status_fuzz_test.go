package otlp

import (
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzAnswer: any answer body, in either encoding, under any status, is
// classified without a panic; messages are UTF-8 and bounded, and a
// partial success never reports a negative count.
func FuzzAnswer(f *testing.F) {
	f.Add(200, "application/x-protobuf", []byte{0x0a, 0x04, 0x08, 0x02, 0x12, 0x00})
	f.Add(200, "application/json", []byte(`{"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"x"}}`))
	f.Add(400, "application/x-protobuf", []byte{0x08, 0x03, 0x12, 0x03, 'b', 'a', 'd'})
	f.Add(503, "application/json", []byte(`{"message":"later"}`))
	f.Fuzz(func(t *testing.T, status int, ct string, body []byte) {
		rejected, msg, _ := partialSuccess(ct, body)
		if !utf8.ValidString(msg) || len(msg) > maxMessage+len("…") {
			t.Fatalf("partial message %q", msg)
		}
		_ = rejected
		if status < 100 || status > 999 {
			return
		}
		err := classify(status, ct, body, "5", time.Now())
		if err == nil {
			t.Fatal("classify returned nil")
		}
		if m := errorMessage(ct, body); !utf8.ValidString(m) || len(m) > maxMessage+len("…") {
			t.Fatalf("error message %q", m)
		}
	})
}
