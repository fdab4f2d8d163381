package receiver

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

// slowAfterFirst takes the first record of each push at once and the next
// ones only after wait (a pipeline whose queue fills behind the first:
// a heal after ENOSPC, a slow fsync), or fails with ctx.
type slowAfterFirst struct {
	inner *autoEmitter
	wait  time.Duration
	mu    sync.Mutex
	n     int
	slow  bool // the first record waits too
}

func (e *slowAfterFirst) Emit(ctx context.Context, rec sources.Record) error {
	e.mu.Lock()
	e.n++
	wait := e.n > 1 || e.slow
	e.mu.Unlock()
	if wait {
		select {
		case <-time.After(e.wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return e.inner.Emit(ctx, rec)
}

// TestEmitWaitFirstRecordOnly: a push of several records whose later
// records wait longer than EmitWait is taken whole (204), not answered
// 429 with its first record already in the WAL (the client's resend
// would store it twice); a push whose first record waits that long is
// 429 with nothing taken. Found by a reviewer.
func TestEmitWaitFirstRecordOnly(t *testing.T) {
	for _, slowFirst := range []bool{false, true} {
		em := &slowAfterFirst{inner: &autoEmitter{}, wait: 150 * time.Millisecond, slow: slowFirst}
		s, err := New(nil, nil, Options{Name: "push", Type: "test", ListenAddress: "127.0.0.1:0",
			Emitter: em, EmitWait: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		s.Handle("POST /push", Endpoint{Decode: func(req *Request) ([]sources.Record, error) {
			var recs []sources.Record
			for _, l := range bytes.Fields(req.Body) {
				b := wal.Block{Labels: []wal.Label{{Name: "job", Value: "t"}}, Entries: []wal.Entry{{Time: 1, Line: bytes.Clone(l)}}}
				recs = append(recs, sources.Record{Data: wal.EncodeBlock(nil, &b), Entries: 1, Bytes: len(l)})
			}
			return recs, nil
		}})
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		a := post(nil, "http://"+s.Addr().String()+"/push", []byte("first second third"))
		s.Close()
		lines := em.inner.Lines()
		switch {
		case slowFirst && (a.code != http.StatusTooManyRequests || len(lines) != 0):
			t.Errorf("first record slow: %d %q, taken %q; want 429 with nothing taken", a.code, a.body, lines)
		case !slowFirst && (a.code != http.StatusNoContent || !slices.Equal(lines, []string{"first", "second", "third"})):
			t.Errorf("later records slow: %d %q, taken %q; want 204 with all three", a.code, a.body, lines)
		}
	}
}

// TestRequestAfterClose: a request that reaches the handler once Close
// waits for the requests in progress (after srv.Close a connection's
// goroutine may still dispatch one) is answered 503 and emits nothing:
// it is not counted into the WaitGroup Close waits on, nor served after
// the metrics are gone. Found by a reviewer.
func TestRequestAfterClose(t *testing.T) {
	em := &autoEmitter{}
	s, err := New(nil, nil, Options{Name: "push", Type: "test", ListenAddress: "127.0.0.1:0", Emitter: em})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("POST /push", Endpoint{Decode: func(req *Request) ([]sources.Record, error) {
		b := wal.Block{Labels: []wal.Label{{Name: "job", Value: "t"}}, Entries: []wal.Entry{{Time: 1, Line: []byte("x")}}}
		return []sources.Record{{Data: wal.EncodeBlock(nil, &b), Entries: 1, Bytes: 1}}, nil
	}})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	w := httptest.NewRecorder()
	s.mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/push", strings.NewReader("x")))
	if w.Code != http.StatusServiceUnavailable || len(em.Lines()) != 0 {
		t.Errorf("after Close: %d %q, emitted %q; want 503 and nothing", w.Code, w.Body.String(), em.Lines())
	}
}
