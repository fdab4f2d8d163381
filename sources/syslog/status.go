package syslog

import (
	"slices"
	"strings"
	"time"
)

// ConnStatus is one open stream connection.
type ConnStatus struct {
	// Remote is the peer's address ("local" for a unix socket peer).
	Remote string `json:"remote"`
	// Since is when the connection was accepted (UTC).
	Since time.Time `json:"since"`
	// Entries is how many messages of it the batcher took; Bytes how
	// many bytes were read from it.
	Entries int64 `json:"entries"`
	Bytes   int64 `json:"bytes"`
}

// Connections returns the open stream connections, sorted by remote
// address. A datagram source has none. Safe for concurrent use; it copies
// a list under a mutex and never waits for I/O.
func (s *Source) Connections() []ConnStatus {
	s.mu.Lock()
	out := make([]ConnStatus, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, ConnStatus{Remote: c.remote, Since: c.since, Entries: c.entries.Load(), Bytes: c.bytes.Load()})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b ConnStatus) int { return strings.Compare(a.Remote, b.Remote) })
	return out
}
