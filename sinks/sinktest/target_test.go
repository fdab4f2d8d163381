package sinktest

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHangNeverAnswers: a request the Target holds in Hang mode never gets
// an answer, not even when the Target is closed under it. Returning from
// the handler made net/http answer 200 OK, which a client takes for
// "stored" although the Target recorded nothing. Whether that answer left
// before Close closed the connection was a race (about 1 run in 12 here),
// hence the repeats.
func TestHangNeverAnswers(t *testing.T) {
	for i := 0; i < 100; i++ {
		hangOnce(t)
	}
}

func hangOnce(t *testing.T) {
	t.Helper()
	tg := NewTarget(t)
	tg.SetMode(t, Hang)
	status := make(chan string, 1)
	go func() {
		resp, err := http.Post(tg.URL(), "text/plain", strings.NewReader("held line\n"))
		if err != nil {
			status <- ""
			return
		}
		resp.Body.Close()
		status <- resp.Status
	}()
	deadline := time.Now().Add(10 * time.Second)
	for all, _ := tg.Requests(); all < 1; all, _ = tg.Requests() {
		if time.Now().After(deadline) {
			t.Fatal("the request did not arrive")
		}
		time.Sleep(time.Millisecond)
	}
	tg.Close()
	if s := <-status; s != "" {
		t.Fatalf("a held request was answered %q; lines recorded: %d", s, tg.Count("held line"))
	}
}
