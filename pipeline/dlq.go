package pipeline

import "github.com/logcapturer/logcapturer/retry"

// DeadLetters returns the sink's dead-letter ranges in index order. Safe for
// concurrent use.
func (p *Pipeline) DeadLetters(sink string) []retry.DeadLetter {
	return p.sched.DeadLetters(sink)
}

// ReplayDLQ moves the sink's dead letter starting at index from (every one
// when from is 0) back to the retry queue, due now with fresh attempts: do
// it once the cause is fixed. It returns how many ranges moved.
func (p *Pipeline) ReplayDLQ(sink string, from uint64) (int, error) {
	return p.sched.Replay(sink, from)
}

// PurgeDLQ deletes the sink's dead letter starting at from (every one when
// from is 0); the WAL may then delete its blocks. It returns how many.
func (p *Pipeline) PurgeDLQ(sink string, from uint64) (int, error) {
	return p.sched.Purge(sink, from)
}
