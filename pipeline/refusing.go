package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
)

// A sink that refuses most of what it is sent for good (a receiver that
// answers 400 to every push: labels it rejects, timestamps out of its
// window) is up, and logcapturer does its job: the refused ranges go to
// the dead-letter queue. Readiness does not change (restarting the shipper
// would not help), but the sink's state is SinkRefusing and the pipeline
// has the warning WarningSinkRefusing, so that the status page, the
// sinks table and logcapturer_component_warning show it.
//
// The rule: over the last refusingWindow, the sink settled at least
// refusingMinSends sends (delivered, or refused for good) and more than
// half of their entries were refused. A partial success counts its
// refused entries as refused and the rest as delivered. Retryable failures
// and refused credentials settle nothing and do not count (those make the
// states retrying, circuit_open and unauthorized); nor do dead letters
// for max_attempts, which the sink did not refuse. The warning ends when
// the rule no longer holds: the sink delivered as many entries as it
// refused over the window, or the window holds fewer sends.
const (
	refusingWindow   = 5 * time.Minute
	refusingBuckets  = 10 // of refusingWindow/refusingBuckets each
	refusingMinSends = 5
)

// outcomes counts what a sink's sends settled over the last
// refusingWindow, in refusingBuckets buckets of equal time: fixed memory
// whatever the rate. Guarded by sinkLoop.mu.
type outcomes struct {
	buckets [refusingBuckets]outcomeBucket
}

type outcomeBucket struct {
	slot                      int64 // time / bucket width: which period the counts are for
	sends, delivered, refused int
}

const bucketWidth = refusingWindow / refusingBuckets

// add counts one settled send at now.
func (o *outcomes) add(now time.Time, delivered, refused int) {
	slot := now.UnixNano() / int64(bucketWidth)
	b := &o.buckets[slot%refusingBuckets]
	if b.slot != slot {
		*b = outcomeBucket{slot: slot}
	}
	b.sends++
	b.delivered += delivered
	b.refused += refused
}

// sum totals the buckets within refusingWindow of now.
func (o *outcomes) sum(now time.Time) (sends, delivered, refused int) {
	slot := now.UnixNano() / int64(bucketWidth)
	for _, b := range o.buckets {
		if b.slot > slot-refusingBuckets && b.slot <= slot {
			sends += b.sends
			delivered += b.delivered
			refused += b.refused
		}
	}
	return sends, delivered, refused
}

// refusingRule reports whether the counts make a sink refusing.
func refusingRule(sends, delivered, refused int) bool {
	return sends >= refusingMinSends && refused > delivered
}

// settledSend counts a send's outcome for the refusing rule: err nil is a
// delivery of entries; a permanent err refuses them, or only those it
// says it refused (a partial success). Other errors settle nothing.
func (sl *sinkLoop) settledSend(now time.Time, entries int, err error) {
	delivered, refused := entries, 0
	if err != nil {
		var p *sinks.Permanent
		if !errors.As(err, &p) {
			return
		}
		refused = entries
		if p.Rejected > 0 && p.Rejected < entries {
			refused = p.Rejected
		}
		delivered = entries - refused
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	sl.recent.add(now, delivered, refused)
	if err != nil {
		sl.lastRefusal, sl.lastRefusalAt = err.Error(), now
	}
}

// evaluateRefusing applies the refusing rule at now: it sets the sink's
// refusing flag and raises or clears its WarningSinkRefusing warning,
// which logs one line when it starts and one when it ends. Called by the
// committer (sinkLoop.evaluate).
func (sl *sinkLoop) evaluateRefusing(now time.Time) {
	sl.mu.Lock()
	sends, delivered, refused := sl.recent.sum(now)
	on := refusingRule(sends, delivered, refused)
	sl.refusing = on
	last := sl.lastRefusal
	sl.mu.Unlock()
	if !on {
		sl.p.warnings.clear(sl.component, WarningSinkRefusing)
		return
	}
	sl.p.warnings.raise(sl.component, WarningSinkRefusing, fmt.Sprintf(
		"%d of the %d entries settled in the last %s were refused and dead-lettered (each dead letter is logged at debug level while this lasts); last refusal: %s",
		refused, delivered+refused, refusingWindow, last))
}
