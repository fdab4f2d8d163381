package loki

import (
	"errors"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
)

// FuzzClassify: any status, body and Retry-After classify without panic,
// by status alone, with After within bounds and partial counts >= 0.
func FuzzClassify(f *testing.F) {
	f.Add(400, "user 'fake', total ignored: 1 out of 10 for stream: {a=\"b\"}", "")
	f.Add(429, "rate", "7")
	f.Add(503, "", "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add(400, "total ignored: 99999999999999999999 out of 1", "-5")
	f.Add(400, "total ignored: 3 out of ", "1e9")
	f.Fuzz(func(t *testing.T, status int, body, retryAfter string) {
		if status < 100 || status > 999 || status/100 == 2 {
			return
		}
		err := classify(status, []byte(body), retryAfter, time.Unix(1700000000, 0))
		class, after := sinks.Classify(err)
		retry := status == 429 || status == 408 || status >= 500
		if (class == sinks.ClassRetryable) != retry {
			t.Fatalf("status %d classed %v", status, class)
		}
		if after < 0 || after > sinks.MaxRetryAfter {
			t.Fatalf("after %s", after)
		}
		var pe *PushError
		if !errors.As(err, &pe) || pe.Ignored < 0 || pe.Total < 0 || pe.Reason == "" || len(pe.Message) > maxMessage+len("…") {
			t.Fatalf("push error %+v", pe)
		}
	})
}
