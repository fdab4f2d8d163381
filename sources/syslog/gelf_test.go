package syslog

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	dockergelf "github.com/Graylog2/go-gelf/gelf" // the writer Docker's gelf logging driver uses
)

// startGELF starts a gelf source on a free UDP port.
func startGELF(t *testing.T, c GELFConfig, labels map[string]string, now func() time.Time, internal bool) (*Source, *fakeEmitter) {
	t.Helper()
	c.ListenAddress = "127.0.0.1:0"
	em := newFakeEmitter()
	s, err := New(nil, nil, Options{Name: "gelf", Labels: labels, Config: c.syslog(), Emitter: em, Now: now, InternalLabels: internal})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Release(); s.Close() })
	return s, em
}

// dockerMessage is a message as Docker's gelf driver makes one
// (daemon/logger/gelf: version 1.1, the host, the line as short_message,
// level 6 for stdout, the container's fields as additional ones).
func dockerMessage(line string) *dockergelf.Message {
	return &dockergelf.Message{Version: "1.1", Host: "edge-1", Short: line, TimeUnix: 1765000000.5, Level: 6,
		RawExtra: []byte(`{"_container_name":"web","_image_name":"nginx:1.27","_tag":"web/abc"}`)}
}

// TestGELFDockerDriver: messages from the writer Docker's gelf driver
// uses, gzip (its default), zlib and uncompressed, small and chunked,
// arrive whole; the line is the message as Promtail's gelf target writes
// it, the labels host and level, the time the message's with
// use_incoming_timestamp.
func TestGELFDockerDriver(t *testing.T) {
	s, em := startGELF(t, GELFConfig{UseIncomingTimestamp: true}, map[string]string{"job": "docker"}, nil, false)
	w, err := dockergelf.NewUDPWriter(s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 6000) // hex: about 3,000 bytes gzipped, 3 chunks of 1420
	for i := range big {
		big[i] = "0123456789abcdef"[rng.IntN(16)]
	}
	sends := []struct {
		compress dockergelf.CompressType
		line     string
	}{
		{dockergelf.CompressGzip, "GET / 200"},
		{dockergelf.CompressZlib, "GET /zlib 200"},
		{dockergelf.CompressNone, "GET /plain <200> & done"},
		{dockergelf.CompressGzip, string(big)},
	}
	for _, sd := range sends {
		w.CompressionType = sd.compress
		if err := w.WriteMessage(dockerMessage(sd.line)); err != nil {
			t.Fatal(err)
		}
		em.waitEntries(t, 1, 5*time.Second) // one at a time: UDP may reorder
		e := em.Entries()[len(em.Entries())-1]
		// encoding/json of the known fields (HTML characters escaped, as
		// json.Marshal does), then the additional ones by name.
		want := `{"version":"1.1","host":"edge-1","short_message":"` + strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`).Replace(sd.line) +
			`","timestamp":1765000000.5,"level":6,"_container_name":"web","_image_name":"nginx:1.27","_tag":"web/abc"}`
		if e.Line != want {
			t.Errorf("line\n got %.200s\nwant %.200s", e.Line, want)
		}
		if e.Labels["host"] != "edge-1" || e.Labels["level"] != "informational" || e.Labels["job"] != "docker" || len(e.Labels) != 3 {
			t.Errorf("labels %v", e.Labels)
		}
		if e.Time != time.Unix(1765000000, 500_000_000).UnixNano() {
			t.Errorf("time %v", time.Unix(0, e.Time).UTC())
		}
		em.mu.Lock()
		em.entries = em.entries[:0]
		em.mu.Unlock()
	}
}

// gelfChunks splits msg into GELF chunks of id with at most size data bytes.
func gelfChunks(id uint64, msg []byte, size int) [][]byte {
	n := (len(msg) + size - 1) / size
	var out [][]byte
	for i := range n {
		c := []byte{0x1e, 0x0f}
		c = binary.BigEndian.AppendUint64(c, id)
		c = append(c, byte(i), byte(n))
		out = append(out, append(c, msg[i*size:min(len(msg), (i+1)*size)]...))
	}
	return out
}

// clock is a test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestGELFChunks: chunks out of order and repeated make one message; a
// message whose chunks do not all come within 5s is given up, counted;
// chunks of two messages may interleave.
func TestGELFChunks(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)}
	s, em := startGELF(t, GELFConfig{}, nil, clk.now, false)
	c := dial(t, s)
	a := gelfChunks(1, []byte(`{"version":"1.1","host":"h","short_message":"first, in three chunks","level":3}`), 30)
	b := gelfChunks(2, []byte(`{"version":"1.1","host":"h","short_message":"second"}`), 25)
	lost := gelfChunks(3, []byte(`{"version":"1.1","host":"h","short_message":"never whole"}`), 30)
	for _, pkt := range [][]byte{a[2], b[0], lost[0], a[0], a[0], b[1], b[2], a[1]} {
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	es := em.waitEntries(t, 2, 5*time.Second)
	lines := []string{es[0].Line, es[1].Line}
	if !strings.Contains(lines[0], `"short_message":"second"`) || !strings.Contains(lines[1], `"first, in three chunks"`) || es[1].Labels["level"] != "error" {
		t.Fatalf("entries %+v", es)
	}
	if _, ok := es[0].Labels["level"]; ok {
		t.Errorf("a message without level has the label level: %v", es[0].Labels)
	}
	clk.add(6 * time.Second)
	waitFor(t, "the incomplete message given up", 5*time.Second, func() bool { return droppedOf(s, dropIncomplete) == 1 })
	if _, err := c.Write(lost[1]); err != nil { // its last chunk, too late: held, never whole
		t.Fatal(err)
	}
	if _, err := c.Write(b[0][:12]); err != nil { // a chunk without data
		t.Fatal(err)
	}
	waitFor(t, "the empty chunk counted", 5*time.Second, func() bool { return errorsOf(s, reasonParse) == 1 })
	if n := em.Len(); n != 2 {
		t.Errorf("%d entries, want 2", n)
	}
}

// TestGELFBadInput: what is not a GELF message is shipped as received when
// it is text (parse_error="true"), dropped and counted when it cannot be
// decompressed or is longer than max_message_length uncompressed (a
// compression bomb), and never stops the source.
func TestGELFBadInput(t *testing.T) {
	s, em := startGELF(t, GELFConfig{MaxMessageLength: 64 << 10}, nil, nil, false)
	c := dial(t, s)
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(make([]byte, 10<<20))
	zw.Close()
	for _, pkt := range [][]byte{
		[]byte("plain text, not JSON\n"),
		{0x1f, 0x8b, 0x08, 0, 1, 2, 3}, // a gzip header, then garbage
		bomb.Bytes(),                   // 10MiB of zeros, 10KiB compressed
		[]byte(`{"version":"1.1","timestamp":"2026-12-06T01:00:00Z","short_message":"a string time"}`), // a known field of the wrong type
		[]byte(`{"":1,"_":2,"short_message":"odd names"}`),
		{0x1e, 0x0f, 1, 2, 3, 4, 5, 6, 7, 8, 5, 5, 'x'}, // sequence number past the count
		[]byte(`{"version":"1.1","host":"h","short_message":"last"}`),
	} {
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	es := em.waitEntries(t, 4, 5*time.Second)
	want := []struct{ line, parseError string }{
		{"plain text, not JSON", "true"},
		{`{"version":"1.1","timestamp":"2026-12-06T01:00:00Z","short_message":"a string time"}`, "true"},
		{`{"version":"","host":"","short_message":"odd names","timestamp":0,"_":2}`, ""},
		{`{"version":"1.1","host":"h","short_message":"last","timestamp":0}`, ""},
	}
	for i, w := range want {
		if es[i].Line != w.line || es[i].Labels["parse_error"] != w.parseError {
			t.Errorf("entry %d: %q %v, want %q parse_error=%q", i, es[i].Line, es[i].Labels, w.line, w.parseError)
		}
	}
	if got := errorsOf(s, reasonParse); got != 4 {
		t.Errorf("errors{parse} = %v, want 4 (text, bad gzip, wrong type, bad chunk)", got)
	}
	if got := droppedOf(s, dropTooLong); got != 1 {
		t.Errorf("dropped{too_long} = %v, want 1", got)
	}
}

// TestGELFPromtailLabels: with promtail_labels the source sets no label of
// its own; a relabel hook sees Promtail's __gelf_message_* labels, a
// message without level being "emergency" as in Promtail.
func TestGELFPromtailLabels(t *testing.T) {
	s, em := startGELF(t, GELFConfig{PromtailLabels: true}, map[string]string{"host": "configured"}, nil, true)
	c := dial(t, s)
	fmt.Fprint(c, `{"version":"1.1","host":"edge-1","short_message":"x","facility":"app"}`)
	es := em.waitEntries(t, 1, 5*time.Second)
	want := map[string]string{"host": "configured", "__gelf_message_host": "edge-1", "__gelf_message_level": "emergency",
		"__gelf_message_version": "1.1", "__gelf_message_facility": "app"}
	if fmt.Sprint(es[0].Labels) != fmt.Sprint(want) {
		t.Errorf("labels %v, want %v", es[0].Labels, want)
	}
}

// TestGELFConfiguredOwnLabel: a configured label the source sets itself is
// refused, unless promtail_labels leaves the names free.
func TestGELFConfiguredOwnLabel(t *testing.T) {
	em := newFakeEmitter()
	c := GELFConfig{ListenAddress: "127.0.0.1:0"}
	if _, err := New(nil, nil, Options{Name: "g", Labels: map[string]string{"level": "x"}, Config: c.syslog(), Emitter: em}); err == nil ||
		!strings.Contains(err.Error(), "set by the gelf source itself") {
		t.Fatalf("err %v", err)
	}
}

// BenchmarkGELFConvert measures the reader goroutine's work per message
// of Docker's gelf driver (a 200-byte line with its container fields,
// gzip, the driver's default): inflate, decode, write the line back.
//
//	go test -run '^$' -bench GELFConvert -count 5 ./sources/syslog
func BenchmarkGELFConvert(b *testing.B) {
	line := strings.Repeat("x", 200)
	js := []byte(`{"version":"1.1","host":"edge-1","short_message":"` + line + `","timestamp":1765000000.123,"level":6,` +
		`"_command":"nginx -g daemon off;","_container_id":"4b1d8f0c2a","_container_name":"web","_created":"2026-12-06T01:00:00Z",` +
		`"_image_id":"sha256:9f3c","_image_name":"nginx:1.27","_tag":"web/4b1d8f0c2a"}`)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(js)
	zw.Close()
	cfg := GELFConfig{}
	sc := cfg.syslog()
	gc := newGELFConverter(&sc, nil)
	var ck chunk
	now := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(js)))
	for b.Loop() {
		if r := gc.convert(gz.Bytes(), now, &ck); !r.entry || r.parse {
			b.Fatalf("%+v", r)
		}
		if len(ck.entries) >= 512 {
			ck = chunk{entries: ck.entries[:0], spans: ck.spans[:0], arena: ck.arena[:0]}
		}
	}
}

// TestGELFAssemblerBounds: chunks of ever new messages that never
// complete (a hostile or broken sender) hold at most gelfMaxPartial
// messages and gelfMaxPendingBytes, however many arrive; the order list
// stays bounded by the pending messages.
func TestGELFAssemblerBounds(t *testing.T) {
	a := newGELFAssembler()
	now := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	dropped := 0
	for i := range 200_000 {
		pkt := gelfChunks(uint64(i), bytes.Repeat([]byte{'x'}, 128), 1)[0] // chunk 0 of 128, 1 data byte
		_, n, err := a.add(pkt, now)
		if !errors.Is(err, errGELFIncomplete) {
			t.Fatalf("chunk %d: %v", i, err)
		}
		dropped += n
		if len(a.partial) > gelfMaxPartial || a.bytes > gelfMaxPendingBytes || len(a.order) > 2*len(a.partial)+65 {
			t.Fatalf("after %d chunks: %d messages, %d bytes, %d order entries held", i+1, len(a.partial), a.bytes, len(a.order))
		}
	}
	if dropped != 200_000-len(a.partial) {
		t.Errorf("%d given up, want %d", dropped, 200_000-len(a.partial))
	}
	// A big chunk each: the byte bound gives the oldest up.
	for i := range 40 {
		pkt := gelfChunks(uint64(1e6+i), bytes.Repeat([]byte{'y'}, 2<<20), 1<<20)[0] // 1MiB of data, 1 of 2 chunks
		a.add(pkt, now)
		if a.bytes > gelfMaxPendingBytes {
			t.Fatalf("%d bytes held", a.bytes)
		}
	}
}

// TestGELFExpiryWithReusedID: a message ID used again after its message
// completed does not hold back the expiry of the messages begun between
// (the order list tells the two uses apart).
func TestGELFExpiryWithReusedID(t *testing.T) {
	a := newGELFAssembler()
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	first := gelfChunks(6, []byte(`{"short_message":"never whole either"}`), 12)
	a.add(first[0], t0) // pending, ahead of X in the order list
	x := gelfChunks(7, []byte(`{"short_message":"x"}`), 12)
	for _, c := range x {
		a.add(c, t0)
	}
	b := gelfChunks(8, []byte(`{"short_message":"never whole"}`), 12)
	a.add(b[0], t0.Add(100*time.Millisecond))
	a.add(x[0], t0.Add(4900*time.Millisecond)) // X again
	if n := a.expire(t0.Add(5500 * time.Millisecond)); n != 2 || a.partial[[8]byte{0, 0, 0, 0, 0, 0, 0, 8}] != nil {
		t.Fatalf("expired %d, want 2; B still held: %v", n, a.partial[[8]byte{0, 0, 0, 0, 0, 0, 0, 8}] != nil)
	}
	if !a.pending() {
		t.Error("the second X, 1.1s old, was given up too")
	}
}

// TestGELFLikeGoGELF: what go-gelf (Promtail's decoder) accepts is
// accepted: a JSON value followed by other bytes, a gzip stream with a bad
// checksum; a JSON null is no message (counted, not shipped).
func TestGELFLikeGoGELF(t *testing.T) {
	s, em := startGELF(t, GELFConfig{}, nil, nil, false)
	c := dial(t, s)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"version":"1.1","host":"h","short_message":"bad crc"}`))
	zw.Close()
	badCRC := gz.Bytes()
	badCRC[len(badCRC)-8] ^= 0xff // the CRC-32 of the trailer
	for _, pkt := range [][]byte{
		[]byte("{\"version\":\"1.1\",\"host\":\"h\",\"short_message\":\"nul\"}\x00"),
		[]byte("null"),
		badCRC,
		[]byte(`{"version":"1.1","host":"h","short_message":"last"}`),
	} {
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	es := em.waitEntries(t, 3, 5*time.Second)
	for i, want := range []string{"nul", "bad crc", "last"} {
		if !strings.Contains(es[i].Line, `"short_message":"`+want+`"`) || es[i].Labels["parse_error"] != "" {
			t.Errorf("entry %d: %q %v", i, es[i].Line, es[i].Labels)
		}
	}
	if n := errorsOf(s, reasonParse); n != 1 {
		t.Errorf("errors{parse} = %v, want 1 (the null)", n)
	}
}

// convert is assemble and entry, as the datagram reader runs them: the
// datagram's entry, if it completes a message, appended to ck.
func (c *gelfConverter) convert(pkt []byte, recv time.Time, ck *chunk) gelfResult {
	msg, r := c.assemble(pkt, recv)
	if msg == nil {
		return r
	}
	e := c.entry(msg, recv, ck)
	e.chunks, e.badChunk = r.chunks, r.badChunk
	return e
}
