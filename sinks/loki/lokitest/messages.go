package lokitest

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Loki's own error messages (pkg/validation, pkg/ingester/stream.go and
// the distributor's rate limiter, Loki 3.x), for replies that look like a
// real Loki's. Loki answers errors with text/plain bodies.

// Tenant is the tenant Loki names in messages when auth is disabled.
const Tenant = "fake"

// TooFarBehind is the ingester's partial-success answer when ignored of the
// total entries of stream were older than the out-of-order window: a 400
// whose last line is "total ignored: N out of M". The other entries were
// stored.
func TooFarBehind(stream string, entry time.Time, ignored, total int) Reply {
	oldest := entry.Add(time.Hour)
	body := ""
	for i := 0; i < ignored && i < 10; i++ { // Loki lists at most max_returned_errors (10)
		body += fmt.Sprintf("entry with timestamp %s ignored, reason: 'entry too far behind, entry timestamp is: %s, oldest acceptable timestamp is: %s',\n",
			entry.UTC(), entry.UTC().Format(time.RFC3339), oldest.UTC().Format(time.RFC3339))
	}
	body += fmt.Sprintf("user '%s', total ignored: %d out of %d for stream: %s", Tenant, ignored, total, stream)
	return Reply{Status: http.StatusBadRequest, Body: body}
}

// Partial is TooFarBehind for an arbitrary stream: "total ignored: ignored
// out of total".
func Partial(ignored, total int) Reply {
	return TooFarBehind(`{job="test"}`, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), ignored, total)
}

// TooNew is the distributor's 400 for an entry past the creation grace
// period.
func TooNew(stream string, entry time.Time) Reply {
	return Reply{Status: http.StatusBadRequest,
		Body: fmt.Sprintf("entry for stream '%s' has timestamp too new: %s", stream, entry.UTC().Format(time.RFC3339))}
}

// TooOld is the distributor's 400 for an entry older than
// reject_old_samples_max_age.
func TooOld(stream string, entry time.Time) Reply {
	return Reply{Status: http.StatusBadRequest,
		Body: fmt.Sprintf("entry for stream '%s' has timestamp too old: %s, oldest acceptable timestamp is: %s",
			stream, entry.UTC().Format(time.RFC3339), entry.Add(24*time.Hour).UTC().Format(time.RFC3339))}
}

// RateLimited is the distributor's 429 with a Retry-After of after
// (whole seconds; 0 sends none).
func RateLimited(after time.Duration) Reply {
	r := Reply{Status: http.StatusTooManyRequests,
		Body: fmt.Sprintf("Ingestion rate limit exceeded for user %s (limit: 4194304 bytes/sec) while attempting to ingest '1000' lines totaling '200000' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased", Tenant)}
	if after > 0 {
		r.RetryAfter = strconv.Itoa(int(after / time.Second))
	}
	return r
}

// Unavailable is a 500 as Loki's distributor gives it when too few
// ingesters are healthy.
func Unavailable() Reply {
	return Reply{Status: http.StatusInternalServerError,
		Body: "at least 2 live replicas required, could only find 1 - unhealthy instances: 10.0.0.3:9095"}
}
