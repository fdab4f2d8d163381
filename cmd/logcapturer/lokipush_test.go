package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"

	"github.com/logcapturer/logcapturer/pipeline"
)

// pushClient pushes numbered batches as the Promtail client does
// (protobuf + snappy), resending a batch until it is answered 204, and
// records which batches were acknowledged and which needed a resend.
type pushClient struct {
	id   int
	url  string
	http *http.Client

	mu      sync.Mutex
	acked   []int       // batches answered 204
	retried map[int]int // batch -> attempts, for batches that needed more than one
	codes   map[int]int // answers other than 204, by code (0: no answer)
}

const pushBatch = 50

func pushLine(client, batch, i int) string { return fmt.Sprintf("c%d-b%06d-e%02d", client, batch, i) }

func (c *pushClient) run(stop <-chan struct{}, done *sync.WaitGroup) {
	defer done.Done()
	for batch := 0; ; batch++ {
		select {
		case <-stop:
			return
		default:
		}
		var req push.PushRequest
		st := push.Stream{Labels: fmt.Sprintf(`{job="pusher", client="%d"}`, c.id)}
		for i := 0; i < pushBatch; i++ {
			st.Entries = append(st.Entries, push.Entry{Timestamp: time.Now(), Line: pushLine(c.id, batch, i)})
		}
		req.Streams = []push.Stream{st}
		raw, _ := req.Marshal()
		body := snappy.Encode(nil, raw)
		for attempt := 1; ; attempt++ {
			r, _ := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/x-protobuf")
			code := 0
			if resp, err := c.http.Do(r); err == nil {
				code = resp.StatusCode
				resp.Body.Close()
			}
			c.mu.Lock()
			if code == http.StatusNoContent {
				c.acked = append(c.acked, batch)
				if attempt > 1 {
					c.retried[batch] = attempt
				}
				c.mu.Unlock()
				break
			}
			c.codes[code]++
			c.mu.Unlock()
			time.Sleep(20 * time.Millisecond) // the client's backoff; the batch is sent again
		}
	}
}

// TestLokiPushKill9 runs the real binary with a loki_push source and a
// file sink, kill -9s it at random moments while two clients push and
// resend, and checks that every entry acknowledged with 204 reaches the
// file, that in the WAL a batch acknowledged at its first attempt is
// there exactly once (only resent batches may be there more often, at
// most once per attempt), and that the sources view shows the clients.
func TestLokiPushKill9(t *testing.T) {
	bin := binary(t)
	kills := envInt(t, "LOGCAPTURER_PUSH_KILLS", 5)
	dir := t.TempDir()
	listen, admin := freePort(t), freePort(t)
	out := filepath.Join(dir, "out", "archive.log")
	cfg := filepath.Join(dir, "config.yaml")
	mustOK(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
wal:
  segment_size: 64MiB
sources:
  - name: pushed
    type: loki_push
    listen_address: "%s"
    use_incoming_timestamp: true
sinks:
  - name: archive
    type: file
    path: %s
    batch: {max_entries: 500, max_wait: 20ms}
admin:
  listen: "%s"
`, filepath.Join(dir, "data"), listen, out, admin)), 0o644))

	url := "http://" + listen + "/loki/api/v1/push"
	var stop = make(chan struct{})
	var wg sync.WaitGroup
	clients := make([]*pushClient, 2)
	for i := range clients {
		clients[i] = &pushClient{id: i, url: url, http: &http.Client{Timeout: 5 * time.Second}, retried: map[int]int{}, codes: map[int]int{}}
	}
	var stderr syncWriter
	defer func() {
		if t.Failed() {
			t.Logf("log:\n%s", stderr.String())
		}
	}()
	ready := func() bool {
		resp, err := http.Get("http://" + listen + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	cmd := startChild(t, bin, cfg, &stderr)
	waitFor(t, ready)
	for _, c := range clients {
		wg.Add(1)
		go c.run(stop, &wg)
	}
	for i := 0; i < kills; i++ {
		time.Sleep(time.Duration(200+rand.IntN(600)) * time.Millisecond) // the random moment of the crash
		mustOK(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		cmd = startChild(t, bin, cfg, &stderr)
		waitFor(t, ready)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait() // every batch begun is acknowledged: the last process is up

	// The sources view shows the push receiver and its client.
	resp, err := http.Get("http://" + admin + "/api/v1/sources")
	mustOK(t, err)
	var view struct{ Sources []pipeline.SourceStatus }
	mustOK(t, json.NewDecoder(resp.Body).Decode(&view))
	resp.Body.Close()
	if len(view.Sources) != 1 || view.Sources[0].Type != "loki_push" || view.Sources[0].Push == nil ||
		len(view.Sources[0].Push.Clients) != 1 || view.Sources[0].Push.Clients[0].Remote != "127.0.0.1" {
		t.Fatalf("sources view: %+v", view.Sources)
	}
	if b, err := exec.Command(bin, "sources", "--addr", admin).CombinedOutput(); err != nil || !strings.Contains(string(b), "127.0.0.1") {
		t.Fatalf("logcapturer sources: %v\n%s", err, b)
	}

	var want []string
	var resent int
	for _, c := range clients {
		for _, b := range c.acked {
			for i := 0; i < pushBatch; i++ {
				want = append(want, pushLine(c.id, b, i))
			}
		}
		resent += len(c.retried)
		t.Logf("client %d: %d batches acknowledged, %d resent, answers other than 204: %v", c.id, len(c.acked), len(c.retried), c.codes)
	}
	waitFor(t, func() bool {
		got := countLines(t, out)
		for _, l := range want {
			if got[l] == 0 {
				return false
			}
		}
		return true
	})
	mustOK(t, cmd.Process.Signal(syscall.SIGTERM))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	inWAL, _ := walLines(t, filepath.Join(dir, "data", "wal"))
	for _, c := range clients {
		for _, b := range c.acked {
			attempts := max(c.retried[b], 1)
			for i := 0; i < pushBatch; i++ {
				n := inWAL[pushLine(c.id, b, i)]
				if n < 1 || n > attempts {
					t.Fatalf("%s is in the wal %d times after %d attempt(s)", pushLine(c.id, b, i), n, attempts)
				}
			}
		}
	}
	if len(want) == 0 || resent == 0 {
		t.Fatalf("the test proved little: %d entries acknowledged, %d batches resent", len(want), resent)
	}
	t.Logf("%d entries acknowledged and delivered across %d kills", len(want), kills)
}
