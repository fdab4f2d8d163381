package sinks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/wal"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testBatch() *Batch {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano()
	return &Batch{From: 1, To: 2, Blocks: []wal.Block{
		{Labels: []wal.Label{{Name: "filename", Value: "/a.log"}, {Name: "job", Value: "a\"b"}},
			Entries: []wal.Entry{{Time: ts, Line: []byte("one")}, {Time: ts + 1, Line: []byte("tw\x00o \xff\"\\\t")}}},
		{Entries: []wal.Entry{{Time: ts, Line: []byte("")}}},
	}}
}

func TestFileRaw(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "out.log")
	s, err := NewFile(nil, nil, FileOptions{Name: "f", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := s.Send(context.Background(), testBatch()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	got, _ := os.ReadFile(path)
	one := "one\ntw\x00o \xff\"\\\t\n\n"
	if string(got) != one+one {
		t.Fatalf("file holds %q", got)
	}
	// Reopening appends.
	s, err = NewFile(nil, nil, FileOptions{Name: "f", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Send(context.Background(), testBatch()); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(path)
	if string(got) != one+one+one {
		t.Fatalf("after reopen file holds %q", got)
	}
}

func TestJSONFormat(t *testing.T) {
	var buf bytes.Buffer
	s := NewStdout(StdoutOptions{Name: "s", Format: FormatJSON, Writer: &buf})
	if err := s.Send(context.Background(), testBatch()); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
	if len(lines) != 3 {
		t.Fatalf("%d lines: %q", len(lines), buf.Bytes())
	}
	var got struct {
		TS     string            `json:"ts"`
		Labels map[string]string `json:"labels"`
		Line   string            `json:"line"`
	}
	if err := json.Unmarshal(lines[1], &got); err != nil {
		t.Fatalf("line %q: %v", lines[1], err)
	}
	if got.TS != "2026-01-02T03:04:05.000000007Z" || got.Labels["job"] != "a\"b" || got.Line != "tw\x00o \ufffd\"\\\t" {
		t.Fatalf("decoded %+v", got)
	}
}

type failWriter struct{ err error }

func (w failWriter) Write(p []byte) (int, error) { return 0, w.err }

func TestStdoutWriteErrorIsRetryable(t *testing.T) {
	s := NewStdout(StdoutOptions{Name: "s", Writer: failWriter{errors.New("broken pipe")}})
	err := s.Send(context.Background(), testBatch())
	if c, _ := Classify(err); err == nil || c != ClassRetryable {
		t.Fatalf("err %v class %v", err, c)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err    error
		class  Class
		after  time.Duration
		reason string
	}{
		{errors.New("x"), ClassRetryable, 0, "error"},
		{fmt.Errorf("wrap: %w", context.DeadlineExceeded), ClassRetryable, 0, "timeout"},
		{fmt.Errorf("wrap: %w", &Retryable{Err: errors.New("429"), After: time.Second, Reason: "rate_limited"}), ClassRetryable, time.Second, "rate_limited"},
		{fmt.Errorf("wrap: %w", &Permanent{Reason: "too_old", Err: errors.New("400")}), ClassPermanent, 0, "too_old"},
		{fmt.Errorf("wrap: %w", &Unauthorized{Err: errors.New("401")}), ClassUnauthorized, 0, "unauthorized"},
		{classifyHTTP(401, "", nil, time.Now()), ClassUnauthorized, 0, "unauthorized"},
		{classifyHTTP(403, "", nil, time.Now()), ClassUnauthorized, 0, "unauthorized"},
		{classifyHTTP(503, "", nil, time.Now()), ClassRetryable, 0, "server_error"},
		{classifyHTTP(400, "", nil, time.Now()), ClassPermanent, 0, "http_400"},
	} {
		c, after := Classify(tc.err)
		if c != tc.class || after != tc.after || Reason(tc.err) != tc.reason {
			t.Errorf("Classify(%v) = %v, %v, reason %q; want %v, %v, %q", tc.err, c, after, Reason(tc.err), tc.class, tc.after, tc.reason)
		}
	}
}
