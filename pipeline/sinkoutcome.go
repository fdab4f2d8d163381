package pipeline

// What a failed send does (filing the range for a retry or the dead-letter
// queue), the circuit breaker, and the conditions a sink's state raises
// (sink_failing, sink_stuck, sink_send_hung, refusing): the sink loop's
// outcomes, apart from its reading and sending (sinkloop.go).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/logcapturer/logcapturer/retry"
	"github.com/logcapturer/logcapturer/sinks"
)

// failed files a failed range: to the dead-letter queue when the sink
// rejected it for good or it is out of attempts, else back into the retry
// queue with backoff. old is the retry range it replaces (zero for a new
// batch). It returns false only when the pipeline stopped before the range
// was stored.
func (sl *sinkLoop) failed(ctx context.Context, old, r retry.Range, err error, now time.Time) bool {
	class, after := sinks.Classify(err)
	reason := ""
	if class == sinks.ClassPermanent {
		reason = "permanent"
		var p *sinks.Permanent
		if errors.As(err, &p) && p.Reason != "" {
			reason = p.Reason
		}
		if p != nil && p.Rejected > 0 && p.Rejected < r.Entries {
			// A partial success the sink could not narrow to entries
			// (Loki's "total ignored"): the range still goes to the queue
			// whole (a replay resends it; Loki drops what it holds),
			// counted by what was refused.
			r.Entries = p.Rejected
		}
	} else if class == sinks.ClassRetryable && sl.opts.MaxAttempts > 0 && r.Attempts >= sl.opts.MaxAttempts {
		// Refused credentials never use up attempts: the data is fine.
		reason = "max_attempts"
	}
	if reason != "" {
		d := retry.DeadLetter{From: r.From, To: r.To, Entries: r.Entries, Bytes: r.Bytes, Picks: r.Picks, Reason: reason,
			Attempts: r.Attempts, FirstFailure: r.FirstFailure, LastFailure: now, LastError: r.LastError}
		// One line per dead letter, at debug while the sink is refusing:
		// its warning then says so, once.
		level := slog.LevelWarn
		if sl.isRefusing() {
			level = slog.LevelDebug
		}
		sl.p.logger.Log(ctx, level, "range moved to the dead-letter queue", "sink", sl.name, "from", r.From, "to", r.To,
			"entries", r.Entries, "reason", reason, "attempts", r.Attempts, "err", err)
		sl.settledRange(r.From)
		return sl.storeRetryOp(ctx, func() error { return sl.p.sched.Dead(sl.name, old, d) })
	}
	wait := retry.Backoff(r.Attempts, sl.opts.MinBackoff, sl.opts.MaxBackoff, after)
	if class == sinks.ClassUnauthorized {
		// Refused credentials do not count as attempts, so the wait grows
		// with the time since the first failure instead; it is at most
		// ProbeInterval (30 s by default) whatever max_backoff says, so
		// delivery resumes soon after the fix.
		wait = min(max(wait, now.Sub(r.FirstFailure)), sl.opts.ProbeInterval)
	}
	r.Due = now.Add(wait)
	return sl.storeRetryOp(ctx, func() error { return sl.p.sched.Retry(sl.name, old, r) })
}

// storeRetryOp runs a retry-state write until it succeeds or the pipeline
// stops: a range must be stored before the cursor passes it.
func (sl *sinkLoop) storeRetryOp(ctx context.Context, op func() error) bool {
	failing := false
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		err := op()
		if err == nil {
			if failing {
				sl.p.health.clear(sl.component, ReasonStateCommitFailing)
			}
			return true
		}
		// Logged once when it starts and once when it ends (a full disk
		// fails every try), with the readiness reason in between.
		failing = true
		sl.p.health.raise(sl.component, ReasonStateCommitFailing, "store retry state in state.db: "+err.Error())
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
}

// unauthorizedProbe bounds the wait between probes of a sink that refuses
// our credentials.
const unauthorizedProbe = 30 * time.Second

// breakerResult feeds the circuit breaker with a send's outcome (err nil:
// delivered). BreakerFailures consecutive retryable failures, or one
// refusal of our credentials, open it: the reader stops reading new
// blocks, and retries (or, when there are none, the reader's own probe)
// probe the sink. Any answer that shows the sink up and taking our
// credentials, a success or a permanent rejection, closes it, and every
// range waiting in the retry queue becomes due at once. State changes are
// logged once, with the last error.
func (sl *sinkLoop) breakerResult(err error, class sinks.Class) {
	now := time.Now()
	sl.mu.Lock()
	if err != nil {
		sl.lastErr, sl.lastErrAt = err.Error(), now
	}
	if err == nil || class == sinks.ClassPermanent {
		sl.fails = 0
		if err == nil {
			sl.lastSuccess = now
			sl.failingSince = time.Time{}
		}
		wasOpen, wasUnauth := sl.open, sl.unauth
		sl.open, sl.unauth = false, false
		lastErr := sl.lastErr
		sl.mu.Unlock()
		if wasUnauth {
			sl.p.health.clear(sl.component, ReasonSinkUnauthorized)
		}
		if err == nil {
			sl.p.health.clear(sl.component, ReasonSinkFailing)
		}
		if wasOpen {
			sl.p.m.circuitOpen.WithLabelValues(sl.name).Set(0)
			n, herr := sl.p.sched.Hurry(sl.name, 0)
			sl.p.logger.Info("sink recovered; circuit closed, waiting retries due now", "sink", sl.name,
				"retry_ranges", n, "last_error", lastErr)
			if herr != nil {
				sl.p.logger.Error("make the waiting retries due", "sink", sl.name, "err", herr)
			}
			notify(sl.wake)
		}
		return
	}
	if sl.failingSince.IsZero() {
		sl.failingSince = now
	}
	sl.fails++
	opened := false
	if !sl.open && (sl.fails >= sl.opts.BreakerFailures || class == sinks.ClassUnauthorized) {
		sl.open, opened = true, true
	}
	unauth := class == sinks.ClassUnauthorized && !sl.unauth
	if class == sinks.ClassUnauthorized {
		sl.unauth = true
	}
	fails := sl.fails
	sl.mu.Unlock()
	if unauth {
		sl.p.health.raise(sl.component, ReasonSinkUnauthorized, err.Error())
	}
	if opened {
		sl.p.m.circuitOpen.WithLabelValues(sl.name).Set(1)
		sl.p.logger.Warn("sink failing; circuit open: new blocks wait, retries probe", "sink", sl.name,
			"failures", fails, "reason", sinks.Reason(err), "err", err)
	}
}

func (sl *sinkLoop) isRefusing() bool {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.refusing
}

func (sl *sinkLoop) circuitOpen() bool {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.open
}

// stuckAfter is how long a sink may have work it could do now, with its
// breaker closed and nothing in flight, before it has the sink_stuck
// condition.
const stuckAfter = 30 * time.Second

// evaluate updates the sink's time-based conditions: sink_failing once a
// run of failures has lasted unreadyAfter, sink_send_hung while a send has
// been in flight for hungAfter or longer, and sink_stuck when, for
// stuckAfter without a break, the breaker was closed, nothing was in
// flight, and yet there was work to do at once (durable blocks the reader
// had not read, or a retry range past due); and the warning sink_refusing
// (evaluateRefusing). Called by the committer only.
func (sl *sinkLoop) evaluate(now time.Time, durable uint64, unreadyAfter time.Duration) {
	sl.evaluateRefusing(now)
	sl.readMu.Lock()
	readNext := sl.readNext
	sl.readMu.Unlock()
	sl.mu.Lock()
	failingSince, open, inFlight, lastErr := sl.failingSince, sl.open, sl.inFlight, sl.lastErr
	oldestSend := sl.oldestSend()
	sl.mu.Unlock()
	h := sl.p.health
	h.set(sl.component, ReasonSinkFailing, !failingSince.IsZero() && now.Sub(failingSince) >= unreadyAfter, lastErr)
	if !oldestSend.IsZero() && now.Sub(oldestSend) >= sl.hungAfter {
		h.raise(sl.component, ReasonSinkSendHung, fmt.Sprintf("a send has been in flight for %s (more than %s) and has not returned",
			now.Sub(oldestSend).Round(time.Second), sl.hungAfter))
	} else {
		h.clear(sl.component, ReasonSinkSendHung)
	}

	idle := !open && inFlight == 0
	if idle && readNext > durable {
		n, due, _ := sl.p.sched.Waiting(sl.name)
		idle = n > 0 && now.After(due)
	}
	if !idle {
		sl.stuckSince = time.Time{}
		h.clear(sl.component, ReasonSinkStuck)
		return
	}
	if sl.stuckSince.IsZero() {
		sl.stuckSince = now
	}
	if now.Sub(sl.stuckSince) >= stuckAfter {
		h.raise(sl.component, ReasonSinkStuck, fmt.Sprintf(
			"nothing in flight for %s while blocks from wal index %d or retries wait", now.Sub(sl.stuckSince).Round(time.Second), readNext))
	}
}
