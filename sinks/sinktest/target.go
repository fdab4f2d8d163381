package sinktest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// Mode is how the Target answers.
type Mode int

const (
	Healthy  Mode = iota // 204, lines recorded
	Fail500              // 500
	Throttle             // 429 with Retry-After
	Refuse               // connection refused: the listener is closed
	Hang                 // no answer until the client gives up
)

// Target is an HTTP receiver on 127.0.0.1. It records every line of every
// accepted request (newline-separated bodies). Safe for concurrent use.
type Target struct {
	addr string
	srv  *http.Server
	wg   sync.WaitGroup
	quit chan struct{}

	mu         sync.Mutex
	ln         net.Listener
	mode       Mode
	retryAfter string
	reject     string
	lines      map[string]int
	numbered   []uint8 // counts of lines "L<9 digits>…", by number, when ExpectNumbered
	nDistinct  int
	nTotal     int
	requests   int
	accepted   int
}

// NewTarget starts a healthy Target; it is closed when the test ends.
func NewTarget(t testing.TB) *Target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg := &Target{addr: ln.Addr().String(), lines: map[string]int{}, quit: make(chan struct{}), retryAfter: "1"}
	tg.srv = &http.Server{Handler: http.HandlerFunc(tg.serve)}
	tg.serveOn(ln)
	t.Cleanup(tg.Close)
	return tg
}

func (tg *Target) serveOn(ln net.Listener) {
	tg.ln = ln
	tg.wg.Add(1)
	go func() {
		defer tg.wg.Done()
		_ = tg.srv.Serve(ln)
	}()
}

// URL is where to post.
func (tg *Target) URL() string { return "http://" + tg.addr + "/push" }

// SetMode switches how the Target answers from now on.
func (tg *Target) SetMode(t testing.TB, m Mode) {
	t.Helper()
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if m == Refuse && tg.ln != nil {
		tg.ln.Close()
		tg.ln = nil
	}
	if m != Refuse && tg.ln == nil {
		ln, err := net.Listen("tcp", tg.addr)
		if err != nil {
			t.Fatalf("listen again on %s: %v", tg.addr, err)
		}
		tg.serveOn(ln)
	}
	tg.mode = m
}

// ExpectNumbered preallocates counters for lines that start with "L" and
// nine digits (numbers below n), so recording them allocates nothing and the
// Target's memory stays flat in memory tests. Call it before traffic.
func (tg *Target) ExpectNumbered(n int) {
	tg.mu.Lock()
	tg.numbered = make([]uint8, n)
	tg.mu.Unlock()
}

// NumberedCount returns how often the line numbered i was received.
func (tg *Target) NumberedCount(i int) int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return int(tg.numbered[i])
}

func lineNumber(l []byte) (int, bool) {
	if len(l) < 10 || l[0] != 'L' {
		return 0, false
	}
	n := 0
	for _, c := range l[1:10] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = 10*n + int(c-'0')
	}
	return n, true
}

// SetRetryAfter sets the Retry-After header of Throttle answers.
func (tg *Target) SetRetryAfter(v string) {
	tg.mu.Lock()
	tg.retryAfter = v
	tg.mu.Unlock()
}

// Reject makes requests holding a line that contains s fail with 400 (""
// accepts everything again).
func (tg *Target) Reject(s string) {
	tg.mu.Lock()
	tg.reject = s
	tg.mu.Unlock()
}

func (tg *Target) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	tg.mu.Lock()
	tg.requests++
	mode, reject, ra := tg.mode, tg.reject, tg.retryAfter
	tg.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch mode {
	case Fail500:
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	case Throttle:
		w.Header().Set("Retry-After", ra)
		http.Error(w, "rate limited", http.StatusTooManyRequests)
		return
	case Refuse:
		// Raced in on a connection opened before the listener closed: drop
		// it, as a dead peer would.
		hangUp(w)
		return
	case Hang:
		select {
		case <-r.Context().Done():
		case <-tg.quit:
		}
		// Never answer: returning from the handler would make net/http
		// answer 200 OK, and a client still connected (the Target being
		// closed) would take the lines for stored.
		hangUp(w)
		return
	}
	if reject != "" && bytes.Contains(body, []byte(reject)) {
		http.Error(w, "rejected: line contains "+reject, http.StatusBadRequest)
		return
	}
	tg.mu.Lock()
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		if n, ok := lineNumber(sc.Bytes()); ok && n < len(tg.numbered) {
			if tg.numbered[n] == 0 {
				tg.nDistinct++
			}
			tg.numbered[n]++
			tg.nTotal++
			continue
		}
		tg.lines[sc.Text()]++
	}
	tg.accepted++
	tg.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// hangUp closes the request's connection without an answer, as a dead
// peer would (503 if the connection cannot be taken over).
func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	http.Error(w, "no answer", http.StatusServiceUnavailable)
}

// Count returns how often line was received.
func (tg *Target) Count(line string) int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if n, ok := lineNumber([]byte(line)); ok && n < len(tg.numbered) {
		return int(tg.numbered[n])
	}
	return tg.lines[line]
}

// Distinct returns the number of distinct lines received, and the total.
func (tg *Target) Distinct() (distinct, total int) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	for _, n := range tg.lines {
		total += n
	}
	return len(tg.lines) + tg.nDistinct, total + tg.nTotal
}

// Matching returns how many distinct received lines contain s.
func (tg *Target) Matching(s string) int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	n := 0
	for l := range tg.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// Requests returns the requests received and accepted.
func (tg *Target) Requests() (all, accepted int) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.requests, tg.accepted
}

// Close stops the server and waits for it. Safe to call twice.
func (tg *Target) Close() {
	tg.mu.Lock()
	select {
	case <-tg.quit:
		tg.mu.Unlock()
		return
	default:
	}
	close(tg.quit)
	tg.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tg.srv.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		_ = tg.srv.Close()
	}
	_ = tg.srv.Close()
	tg.wg.Wait()
}
