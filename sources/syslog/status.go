package syslog

import (
	"slices"
	"strings"

	"github.com/logcapturer/logcapturer/sources"
)

// Connections returns the open stream connections, sorted by remote
// address (the status view's connections). A datagram source has none.
// Safe for concurrent use; it copies a list under a mutex and never waits
// for I/O.
func (s *Source) Connections() []sources.ConnStatus {
	s.mu.Lock()
	out := make([]sources.ConnStatus, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, sources.ConnStatus{Remote: c.remote, Since: c.since, Entries: c.entries.Load(), Bytes: c.bytes.Load()})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b sources.ConnStatus) int { return strings.Compare(a.Remote, b.Remote) })
	return out
}
