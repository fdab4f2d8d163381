package sinks

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/logcapturer/logcapturer/wal"
	"github.com/prometheus/client_golang/prometheus"
)

// FileOptions configures a File sink.
type FileOptions struct {
	Name   string
	Path   string
	Format Format
}

// File appends entries to a local file and fsyncs it before it acknowledges
// a batch. A failed write is cut back off the file, so a retried batch is not
// left in it twice.
type File struct {
	opts   FileOptions
	logger *slog.Logger

	mu     sync.Mutex
	f      *os.File
	size   int64
	buf    []byte
	closed bool
}

var _ Sink = (*File)(nil)

// NewFile opens (creating if needed, with its directory) the sink's file for
// appending. A nil logger discards; the registerer is reserved for
// file-specific metrics (the pipeline counts sends for every sink).
func NewFile(logger *slog.Logger, _ prometheus.Registerer, opts FileOptions) (*File, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Path == "" {
		return nil, fmt.Errorf("file sink %s: path is empty", opts.Name)
	}
	dir := filepath.Dir(opts.Path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("file sink %s: create directory %s: %w", opts.Name, dir, err)
	}
	_, statErr := os.Stat(opts.Path)
	f, err := os.OpenFile(opts.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("file sink %s: open %s: %w", opts.Name, opts.Path, err)
	}
	if os.IsNotExist(statErr) {
		// A new file's name is durable only once its directory is synced.
		if err := wal.SyncDir(dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("file sink %s: %w", opts.Name, err)
		}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("file sink %s: stat %s: %w", opts.Name, opts.Path, err)
	}
	return &File{opts: opts, logger: logger, f: f, size: st.Size()}, nil
}

// Name returns the sink's name.
func (s *File) Name() string { return s.opts.Name }

// Send writes the batch and fsyncs the file. Safe for concurrent use; calls
// are serialised. Errors are *Retryable (a full or failing disk may recover).
func (s *File) Send(_ context.Context, b *Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return &Retryable{Err: fmt.Errorf("file sink %s is closed", s.opts.Name)}
	}
	n, buf, err := writeBatch(s.f, s.buf, b, s.opts.Format)
	s.buf = buf
	if err != nil {
		s.cutBack()
		return &Retryable{Err: fmt.Errorf("write %s: %w", s.opts.Path, err)}
	}
	if n == 0 {
		return nil
	}
	if err := s.f.Sync(); err != nil {
		s.cutBack()
		return &Retryable{Err: fmt.Errorf("fsync %s: %w", s.opts.Path, err)}
	}
	s.size += n
	return nil
}

// cutBack truncates the file to its size before the failed write.
func (s *File) cutBack() {
	if err := s.f.Truncate(s.size); err != nil {
		s.logger.Warn("cut back a failed write", "path", s.opts.Path, "size", s.size, "err", err)
	}
}

// Close closes the file. Safe to call twice.
func (s *File) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", s.opts.Path, err)
	}
	return nil
}
