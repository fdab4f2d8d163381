package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dockergelf "github.com/Graylog2/go-gelf/gelf" // the writer Docker's gelf logging driver uses

	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
)

// freeUDPPort returns a UDP address on loopback that was free.
func freeUDPPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().String()
}

// TestPromtailGELF converts a gelf scrape config (Docker's gelf logging
// driver sending to Promtail) and runs it: messages from the writer that
// driver uses reach Loki with the configured labels, what relabel_configs
// make of __gelf_message_*, a label a json stage takes from an additional
// field, the message's time, and the line Promtail's gelf target writes.
func TestPromtailGELF(t *testing.T) {
	rcv := lokitest.NewReceiver()
	defer rcv.Close()
	dir := t.TempDir()
	addr := freeUDPPort(t)
	convertCheckRun(t, rcv, dir, promtailHead(filepath.Join(dir, "positions.yaml"))+`  - job_name: docker-gelf
    gelf:
      listen_address: `+addr+`
      use_incoming_timestamp: true
      labels:
        job: gelf
    relabel_configs:
      - source_labels: [__gelf_message_host]
        target_label: host
      - source_labels: [__gelf_message_level]
        target_label: level
    pipeline_stages:
      - json:
          expressions:
            container_name: _container_name
      - labels:
          container_name:
`)
	w, err := dockergelf.NewUDPWriter(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	msg := func(short string, level int32) *dockergelf.Message {
		return &dockergelf.Message{Version: "1.1", Host: "edge-1", Short: short, TimeUnix: 1765000000.25, Level: level,
			RawExtra: []byte(`{"_container_name":"web","_image_name":"nginx:1.27"}`)}
	}
	// UDP says nothing of a listener not up yet: send until one arrives.
	deadline := time.Now().Add(15 * time.Second)
	for rcv.WaitEntries(1, 50*time.Millisecond) != nil {
		if time.Now().After(deadline) {
			t.Fatal("no GELF message arrived")
		}
		if err := w.WriteMessage(msg("warm-up", 7)); err != nil {
			t.Fatal(err)
		}
	}
	// Warm-ups sent before the first one arrived may still come: the
	// message is told by its line.
	if err := w.WriteMessage(msg("GET / 200", 6)); err != nil {
		t.Fatal(err)
	}
	found := -1
	deadline = time.Now().Add(15 * time.Second)
	for found < 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the message never arrived; got %q", streams(rcv))
		}
		for i, s := range streams(rcv) {
			if strings.Contains(s, `"short_message":"GET / 200"`) {
				found = i
			}
		}
		if found < 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	got := streams(rcv)
	for i, s := range got {
		if i != found && !strings.Contains(s, `"short_message":"warm-up"`) {
			t.Errorf("unexpected entry %s", s)
		}
	}
	want := `{container_name="web", host="edge-1", job="gelf", level="informational"} ` +
		`{"version":"1.1","host":"edge-1","short_message":"GET / 200","timestamp":1765000000.25,"level":6,"_container_name":"web","_image_name":"nginx:1.27"}`
	if g := got[found]; g != want {
		t.Errorf("stream\n got %s\nwant %s", g, want)
	}
	if e := rcv.Entries()[found]; e.Time != time.Unix(1765000000, 250_000_000).UnixNano() {
		t.Errorf("time %v, want the message's", time.Unix(0, e.Time).UTC())
	}
}
