package sinks

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
)

// StdoutOptions configures a Stdout sink.
type StdoutOptions struct {
	Name   string
	Format Format
	// Writer defaults to os.Stdout.
	Writer io.Writer
}

// Stdout writes entries to standard output. A write that returned is
// acknowledged: standard output may be a pipe or a terminal, which cannot be
// fsynced.
type Stdout struct {
	opts StdoutOptions
	mu   sync.Mutex
	buf  []byte
}

var _ Sink = (*Stdout)(nil)

// NewStdout returns a Stdout sink.
func NewStdout(opts StdoutOptions) *Stdout {
	if opts.Writer == nil {
		opts.Writer = os.Stdout
	}
	return &Stdout{opts: opts}
}

// Name returns the sink's name.
func (s *Stdout) Name() string { return s.opts.Name }

// Send writes the batch. Safe for concurrent use; calls are serialised.
func (s *Stdout) Send(_ context.Context, b *Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = appendBatch(s.buf[:0], b, s.opts.Format)
	if len(s.buf) == 0 {
		return nil
	}
	if _, err := s.opts.Writer.Write(s.buf); err != nil {
		return &Retryable{Err: fmt.Errorf("write stdout: %w", err)}
	}
	if cap(s.buf) > 16<<20 {
		s.buf = nil
	}
	return nil
}

// Close does nothing: standard output belongs to the process.
func (s *Stdout) Close() error { return nil }
