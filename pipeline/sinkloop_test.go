package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestUnauthorizedNeverUsesUpAttempts: a sink that refuses our credentials
// more often than max_attempts, then (credentials fixed) fails once as any
// receiver may, or succeeds, dead-letters nothing: refusals are not
// attempts.
func TestUnauthorizedNeverUsesUpAttempts(t *testing.T) {
	const maxAttempts, refusals = 2, 5
	for _, tc := range []struct {
		name string
		then []error // outcomes after the refusals; then success
	}{
		{"then succeeds", nil},
		{"then fails retryably once", []error{&sinks.Retryable{Err: errors.New("http 503: busy"), Reason: "server_error"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &memSink{name: "s", fail: func(n int, _ *sinks.Batch) error {
				switch {
				case n <= refusals:
					return &sinks.Unauthorized{Err: errors.New("http 401: bad token")}
				case n <= refusals+len(tc.then):
					return tc.then[n-refusals-1]
				}
				return nil
			}}
			p, err := Open(nil, nil, Options{DataDir: t.TempDir(), CommitInterval: 5 * time.Millisecond,
				Sinks: []SinkOptions{{Sink: s, MaxWait: time.Millisecond, MaxAttempts: maxAttempts,
					MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, ProbeInterval: 10 * time.Millisecond}}})
			if err != nil {
				t.Fatal(err)
			}
			p.Start(t.Context())
			defer p.Close()
			emit(t, p, "app", "f", 1, "held while unauthorized")
			waitFor(t, "the line delivered", func() bool { return len(s.lines()) == 1 })
			if dead := p.sched.DeadLetters("s"); len(dead) != 0 {
				t.Fatalf("dead-lettered %+v after %d refusals of credentials (max_attempts %d)", dead, refusals, maxAttempts)
			}
			if got := failures(p, "s", "unauthorized"); got != refusals {
				t.Errorf("%v unauthorized failures counted, want %d", got, refusals)
			}
		})
	}
}

// TestCorruptBlockLoggedOncePerRange: a range holding a block that fails
// its checksum is retried several times; the skip is logged, and counted,
// once, not at every attempt.
func TestCorruptBlockLoggedOncePerRange(t *testing.T) {
	dir := t.TempDir()
	var logs syncBuffer
	const failuresBeforeSuccess = 4
	s := &memSink{name: "s"}
	s.fail = func(n int, _ *sinks.Batch) error {
		if n == 1 {
			// The range [1, 2] failed once; its second block rots on disk
			// before the retries read it again.
			if err := flipByte(filepath.Join(dir, "wal"), []byte("rots-on-disk")); err != nil {
				t.Error(err)
			}
		}
		if n <= failuresBeforeSuccess {
			return &sinks.Retryable{Err: errors.New("http 503"), Reason: "server_error"}
		}
		return nil
	}
	p, err := Open(slog.New(slog.NewTextHandler(&logs, nil)), nil, Options{DataDir: dir, CommitInterval: 5 * time.Millisecond,
		Sinks: []SinkOptions{{Sink: s, MaxEntries: 2, MaxWait: time.Minute, MinBackoff: time.Millisecond,
			MaxBackoff: 5 * time.Millisecond, BreakerFailures: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(t.Context())
	defer p.Close()
	emit(t, p, "app", "f", 1, "good")
	emit(t, p, "app", "f", 2, "rots-on-disk")
	waitFor(t, "the good line delivered", func() bool { return slices.Equal(s.lines(), []string{"good"}) })
	s.mu.Lock()
	calls := s.call
	s.mu.Unlock()
	if calls != failuresBeforeSuccess+1 {
		t.Fatalf("%d sends, want %d", calls, failuresBeforeSuccess+1)
	}
	if n := strings.Count(logs.String(), "skipping a wal block that fails its checksum"); n != 1 {
		t.Errorf("the corrupt block was logged %d times over %d attempts, want once:\n%s", n, failuresBeforeSuccess, logs.String())
	}
	if n := testutil.ToFloat64(p.m.corruptRecords.WithLabelValues("s")); n != 1 {
		t.Errorf("logcapturer_sink_corrupt_blocks_total = %v, want 1", n)
	}
}

// flipByte flips a byte of the first occurrence of marker in the WAL
// segments under walDir.
func flipByte(walDir string, marker []byte) error {
	names, err := filepath.Glob(filepath.Join(walDir, "*"))
	if err != nil {
		return err
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		if i := bytes.Index(b, marker); i >= 0 {
			f, err := os.OpenFile(name, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt([]byte{b[i] ^ 0xff}, int64(i))
			return err
		}
	}
	return fmt.Errorf("%q is in no wal segment under %s", marker, walDir)
}
