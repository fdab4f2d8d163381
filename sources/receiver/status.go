package receiver

import (
	"slices"
	"sync"
	"time"

	"github.com/logcapturer/logcapturer/sources"
)

// maxClients bounds the clients a receiver remembers: the least recent
// is forgotten for a new one.
const maxClients = 256

// clients is what the status shows of the receiver's clients.
type clients struct {
	mu       sync.Mutex
	byRemote map[string]*sources.PushClient
	lastPush time.Time
}

func (c *clients) init() { c.byRemote = make(map[string]*sources.PushClient) }

// seen counts one answered request of remote.
func (c *clients) seen(remote string, code, entries int, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pc := c.byRemote[remote]
	if pc == nil {
		if len(c.byRemote) >= maxClients {
			var oldest *sources.PushClient
			for _, o := range c.byRemote {
				if oldest == nil || o.Last.Before(oldest.Last) {
					oldest = o
				}
			}
			delete(c.byRemote, oldest.Remote)
		}
		pc = &sources.PushClient{Remote: remote}
		c.byRemote[remote] = pc
	}
	pc.Requests++
	pc.Entries += int64(entries)
	if code < 200 || code > 299 {
		pc.Refused++
	}
	pc.Last, pc.LastCode = now.UTC(), code
}

// pushed notes a push made durable.
func (c *clients) pushed(now time.Time) {
	c.mu.Lock()
	c.lastPush = now.UTC()
	c.mu.Unlock()
}

func (c *clients) status() sources.PushStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := sources.PushStatus{Clients: make([]sources.PushClient, 0, len(c.byRemote))}
	if !c.lastPush.IsZero() {
		t := c.lastPush
		st.LastPush = &t
	}
	for _, pc := range c.byRemote {
		st.Clients = append(st.Clients, *pc)
	}
	slices.SortFunc(st.Clients, func(a, b sources.PushClient) int { return b.Last.Compare(a.Last) })
	return st
}
