package sinks

import (
	"context"
	"net/url"

	"github.com/logcapturer/logcapturer/wal"
)

// Batch is what a sink delivers: the entries of the WAL blocks From..To
// (inclusive) that are routed to it. Blocks not routed to the sink are in the
// range but not in Blocks, so the range always covers what the ack settles.
type Batch struct {
	From, To uint64
	Blocks   []wal.Block
	Entries  int // entries in Blocks
	Bytes    int // line bytes in Blocks
}

// Sink delivers batches to one destination.
type Sink interface {
	// Name is the sink's configured name.
	Name() string
	// Send delivers b and returns nil only once the destination holds it
	// durably (a file sink has fsynced, a network sink has its receiver's
	// acknowledgement). A failure is a *Retryable or *Permanent error; an
	// unclassified error counts as retryable. Send must return promptly
	// when ctx is done. The pipeline calls Send from its fixed workers,
	// concurrently when a sink has more than one; b is not retained.
	Send(ctx context.Context, b *Batch) error
	// Close releases the sink's resources. Safe to call twice.
	Close() error
}

// Destination returns where s delivers, for the status page and the
// sinks table: the Destination() of a sink that has the method (every
// sink of this module does), else "". A destination never holds
// credentials: URLs go through RedactURL.
func Destination(s Sink) string {
	if d, ok := s.(interface{ Destination() string }); ok {
		return d.Destination()
	}
	return ""
}

// RedactURL returns raw with its credentials hidden, for display: the
// userinfo (user:password@) is removed and every query value is replaced
// by "xxxxx" (a query can carry a token). A raw that does not parse gives
// "(invalid url)", never raw itself.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid url)"
	}
	u.User = nil
	if u.RawQuery != "" {
		q := u.Query()
		for k, vs := range q {
			for i := range vs {
				vs[i] = "xxxxx"
			}
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}
