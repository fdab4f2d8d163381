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

// Destination returns "stdout".
func (s *Stdout) Destination() string { return "stdout" }

// Send writes the batch. Safe for concurrent use; calls are serialised.
func (s *Stdout) Send(_ context.Context, b *Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, buf, err := writeBatch(s.opts.Writer, s.buf, b, s.opts.Format)
	s.buf = buf
	if err != nil {
		return &Retryable{Err: fmt.Errorf("write stdout: %w", err)}
	}
	return nil
}

// Close does nothing: standard output belongs to the process.
func (s *Stdout) Close() error { return nil }
