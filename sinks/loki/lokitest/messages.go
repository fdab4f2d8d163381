package lokitest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
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
	return Reply{Status: http.StatusBadRequest, Body: TooOldMessage(stream, entry, entry.Add(24*time.Hour))}
}

// The distributor's per-entry messages, formatted as Loki formats them:
// pkg/validation/validate.go (GreaterThanMaxSampleAgeErrorMsg,
// TooFarInFutureErrorMsg, LineTooLongErrorMsg) filled in by
// Validator.ValidateEntry (pkg/distributor/validator.go), times with
// time.RFC3339, so to the second. stream is Loki's label set as
// labels.Labels prints it, which includes the service_name Loki discovers
// (ServiceName).

// TooOldMessage: entry is older than bound (now - reject_old_samples_max_age).
func TooOldMessage(stream string, entry, bound time.Time) string {
	return fmt.Sprintf("entry for stream '%s' has timestamp too old: %s, oldest acceptable timestamp is: %s",
		stream, entry.Format(time.RFC3339), bound.Format(time.RFC3339))
}

// TooNewMessage: entry is after now + creation_grace_period (not stated).
func TooNewMessage(stream string, entry time.Time) string {
	return fmt.Sprintf("entry for stream '%s' has timestamp too new: %s", stream, entry.Format(time.RFC3339))
}

// LineTooLongMessage: a line of length bytes over max_line_size.
func LineTooLongMessage(stream string, maxLine, length int) string {
	return fmt.Sprintf("max entry size '%d' bytes exceeded for stream '%s' while adding an entry with length '%d' bytes",
		maxLine, stream, length)
}

// Grouped joins messages as Loki's util.GroupedErrors.Error() does
// (pkg/util/errors/errors.go): one item per distinct message, "N errors
// like: " before it unless it is the only distinct message and occurred
// once, items joined by "; ", in Go's random map order.
func Grouped(msgs []string) string {
	counts := make(map[string]int, len(msgs))
	for _, m := range msgs {
		counts[m]++
	}
	var b strings.Builder
	i := 0
	for m, n := range counts {
		if i > 0 {
			b.WriteString("; ")
		}
		if len(counts) > 1 || n > 1 {
			fmt.Fprintf(&b, "%d errors like: ", n)
		}
		b.WriteString(m)
		i++
	}
	return b.String()
}

// RealPartialTooOld is a body measured from Grafana Loki built from its main
// branch (2026-12; recorded in the project's design notes and issue "Faults
// never wedge the pipeline", item 7): the HTTP 400 answer to one push of
// stream {job="t"} holding 2 entries older than reject_old_samples_max_age,
// both within the second 2026-11-22T13:32:52Z, and 3 current ones. Loki
// stored the 3 current entries. Note the service_name Loki added to the
// stream, the bound stated to the second, and that there is no "total
// ignored" line. (The bound is 3 days after the old entries; with Loki's
// default max age of 7d the push was made on 2026-12-02.)
const RealPartialTooOld = `2 errors like: entry for stream '{job="t", service_name="t"}' has timestamp too old: 2026-11-22T13:32:52Z, oldest acceptable timestamp is: 2026-11-25T13:32:52Z`

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
