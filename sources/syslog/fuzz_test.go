package syslog

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"time"
)

// FuzzStream runs arbitrary bytes through the framer, read in pieces of
// every size, and every frame through the three parsers: nothing panics,
// no frame is longer than max, the stream ends (io.EOF or a framing
// error), and at the end of the stream every byte was read.
func FuzzStream(f *testing.F) {
	for _, s := range []string{
		octet(msg5424), msg5424 + "\n", "12a x", "0 ", "1234567890 x", "100 <13>1 short",
		"<13>Dec  2 16:31:03 host app: hi\r\n", "\n\n\r" + octet("<13>1 - - - - - - x") + "\n",
		"<13>1 - - - - [a@1 b=\"\\]\"][c d=\"\"] x", "<191>999 9999-99-99T99:99:99Z - - - - -",
		string(bytes.Repeat([]byte("y"), 200)) + "\n" + octet(string(bytes.Repeat([]byte("z"), 100))),
	} {
		f.Add([]byte(s), uint8(7), uint8(64), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, piece, maxLen uint8, drop bool) {
		mx := int(maxLen)%128 + 1
		var r io.Reader = bytes.NewReader(in)
		if piece%4 == 0 {
			r = iotest.OneByteReader(r)
		} else if piece%4 == 1 {
			r = iotest.HalfReader(r)
		}
		fr := newFramer(r, mx, 16, drop)
		cvs := []*converter{}
		for _, format := range []string{FormatRFC5424, FormatRFC3164, FormatAuto} {
			cfg := &Config{SyslogFormat: format, UseIncomingTimestamp: true, LabelStructuredData: piece%2 == 0}
			cvs = append(cvs, newConverter(cfg, time.UTC, nil))
		}
		var ck chunk
		eof := false
		for i := 0; ; i++ {
			if i > len(in)+2 {
				t.Fatalf("%d frames from %d bytes", i, len(in))
			}
			msg, st, err := fr.next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, ErrFraming) {
					t.Fatalf("error %v", err)
				}
				eof = errors.Is(err, io.EOF)
				break
			}
			if len(msg) > mx {
				t.Fatalf("frame of %d bytes, max %d", len(msg), mx)
			}
			if st == frameDropped && msg != nil {
				t.Fatal("a dropped frame has bytes")
			}
			for _, cv := range cvs {
				cv.convert(msg, time.Unix(0, 0), &ck)
			}
		}
		if eof && fr.received != int64(len(in)) {
			t.Fatalf("read %d of %d bytes", fr.received, len(in))
		}
		ck.seal()
	})
}

// FuzzGELF runs arbitrary datagrams, split into arbitrary GELF chunks or
// not, through the GELF converter: nothing panics, a line is never longer
// than the limit allows, and the chunks held stay within their bound.
func FuzzGELF(f *testing.F) {
	for _, s := range []string{
		`{"version":"1.1","host":"h","short_message":"x","level":3,"_a":{"b":[1,2]}}`, `{"":1}`, `null`, `[1]`,
		`{"level":1e300,"timestamp":-1e300}`, "\x1f\x8b\x08\x00", "\x78\x9c\x01", "\x1e\x0f12345678\x00\x02{",
	} {
		f.Add([]byte(s), uint8(0), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, split, count uint8) {
		cfg := &Config{UseIncomingTimestamp: true, MaxMessageLength: 4096, gelf: true}
		gc := newGELFConverter(cfg, nil)
		gc.internal = split%2 == 0
		var ck chunk
		now := time.Unix(0, 0)
		pkts := [][]byte{in}
		if split > 0 {
			pkts = gelfChunks(uint64(count), in, int(split))
		}
		for _, p := range pkts {
			gc.convert(p, now, &ck)
			now = now.Add(time.Duration(count) * 100 * time.Millisecond)
		}
		ck.seal()
		for _, e := range ck.entries {
			if len(e.Line) > 6*4096+64 { // encoding/json writes "<" as \u003c
				t.Fatalf("line of %d bytes", len(e.Line))
			}
		}
		if gc.asm.bytes > gelfMaxPendingBytes || gc.asm.bytes < 0 {
			t.Fatalf("%d bytes of chunks held", gc.asm.bytes)
		}
	})
}
