package sinks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
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

// stagedBatch is a block whose entries have labels and metadata of their
// own, as processing stages make them.
func stagedBatch() *Batch {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano()
	return &Batch{From: 1, To: 1, Blocks: []wal.Block{{
		Labels: []wal.Label{{Name: "filename", Value: "/a.log"}, {Name: "job", Value: "a"}},
		Entries: []wal.Entry{
			{Time: ts, Line: []byte("block's")},
			{Time: ts, Line: []byte("own"), Labels: []wal.Label{{Name: wal.TenantLabel, Value: "t1"}, {Name: "job", Value: "b"}, {Name: "level", Value: "warn"}},
				Metadata: []wal.Label{{Name: "trace_id", Value: "abc"}}},
			{Time: ts, Line: []byte("metadata only"), Metadata: []wal.Label{{Name: "user", Value: "\xff"}}},
		},
	}}}
}

// TestFormatsEntryLabelsAndMetadata: json writes each entry's whole label
// set and its structured metadata (file, stdout and http sinks share the
// format); raw writes the line only.
func TestFormatsEntryLabelsAndMetadata(t *testing.T) {
	type obj struct {
		Labels   map[string]string `json:"labels"`
		Line     string            `json:"line"`
		Metadata map[string]string `json:"metadata"`
	}
	want := []obj{
		{Labels: map[string]string{"filename": "/a.log", "job": "a"}, Line: "block's"},
		{Labels: map[string]string{wal.TenantLabel: "t1", "job": "b", "level": "warn"}, Line: "own", Metadata: map[string]string{"trace_id": "abc"}},
		{Labels: map[string]string{"filename": "/a.log", "job": "a"}, Line: "metadata only", Metadata: map[string]string{"user": "\ufffd"}},
	}
	check := func(t *testing.T, out []byte) {
		t.Helper()
		lines := bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
		if len(lines) != len(want) {
			t.Fatalf("%d lines: %q", len(lines), out)
		}
		for i, l := range lines {
			var got obj
			if err := json.Unmarshal(l, &got); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			if !reflect.DeepEqual(got, want[i]) {
				t.Fatalf("line %d: %+v, want %+v", i, got, want[i])
			}
		}
		if bytes.Contains(lines[0], []byte(`"metadata"`)) {
			t.Fatalf("an entry without metadata has a metadata key: %s", lines[0])
		}
	}
	t.Run("stdout", func(t *testing.T) {
		var buf bytes.Buffer
		s := NewStdout(StdoutOptions{Name: "s", Format: FormatJSON, Writer: &buf})
		if err := s.Send(context.Background(), stagedBatch()); err != nil {
			t.Fatal(err)
		}
		check(t, buf.Bytes())
	})
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "out.log")
		for _, f := range []Format{FormatJSON, FormatRaw} {
			os.Remove(path)
			s, err := NewFile(nil, nil, FileOptions{Name: "f", Path: path, Format: f})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(context.Background(), stagedBatch()); err != nil {
				t.Fatal(err)
			}
			s.Close()
			got, _ := os.ReadFile(path)
			if f == FormatRaw {
				if string(got) != "block's\nown\nmetadata only\n" {
					t.Fatalf("raw file holds %q", got)
				}
				continue
			}
			check(t, got)
		}
	})
	t.Run("http", func(t *testing.T) {
		bodies := make(chan []byte, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			bodies <- b
		}))
		defer srv.Close()
		s, err := NewHTTP(nil, HTTPOptions{Name: "h", URL: srv.URL, Format: FormatJSON})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Send(context.Background(), stagedBatch()); err != nil {
			t.Fatal(err)
		}
		check(t, <-bodies)
	})
}
