package sources

import "time"

// WALFuller is what an Emitter that can say, without blocking, that its
// WAL is at its size cap and waiting for room (wal.max_bytes reached under
// full_policy: block) implements: Emit would then hold the record until a
// sink frees space. A push receiver asks before it emits and answers its
// client at once (429 with Retry-After) instead of holding the request.
// The pipeline implements it. Safe for concurrent use, never blocks.
type WALFuller interface {
	WALFull() bool
}

// PushStatus is what a push receiver (loki_push, OTLP) shows in the
// sources view: where it listens, its bytes in flight and the clients
// that pushed lately.
type PushStatus struct {
	// Listen is the address the receiver listens on ("" before Start).
	Listen string `json:"listen"`
	// InflightBytes are the bytes of pushes handed to the pipeline and not
	// yet durable; MaxInflightBytes the bound (max_inflight_bytes).
	InflightBytes    int64 `json:"inflight_bytes"`
	MaxInflightBytes int64 `json:"max_inflight_bytes"`
	// LastPush is when the last push was answered 2xx (nil: never).
	LastPush *time.Time `json:"last_push,omitempty"`
	// Clients are the clients seen lately, by address, the most recent
	// first (at most a few hundred are kept).
	Clients []PushClient `json:"clients"`
}

// PushClient is one client of a push receiver, by remote address (IP
// only: a client's connections share it).
type PushClient struct {
	Remote string `json:"remote"`
	// Requests and Entries count its pushes and the entries it had
	// acknowledged (durable); Refused its requests answered otherwise.
	Requests int64 `json:"requests"`
	Entries  int64 `json:"entries"`
	Refused  int64 `json:"refused"`
	// Last is when its last request was answered, LastCode with what.
	Last     time.Time `json:"last"`
	LastCode int       `json:"last_code"`
}
