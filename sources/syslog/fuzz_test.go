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
