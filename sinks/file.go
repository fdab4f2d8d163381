package sinks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/logcapturer/logcapturer/internal/promset"
	"github.com/logcapturer/logcapturer/wal"
	"github.com/prometheus/client_golang/prometheus"
)

// FileOptions configures a File sink.
type FileOptions struct {
	Name   string
	Path   string
	Format Format
}

// Reopener is a sink with an output file that it can close and open again
// at its path, as a daemon does on logrotate's postrotate SIGHUP. The
// pipeline calls it on every reload, the config changed or not.
type Reopener interface {
	// Reopen closes the output and opens its path again, creating it when
	// it is gone. It waits for a Send in progress to finish, or until ctx
	// is done (then it returns ctx's error and reopens nothing). Safe for
	// concurrent use with Send; after Close it does nothing.
	Reopen(ctx context.Context) error
}

// File appends entries to a local file and fsyncs it before it acknowledges
// a batch. A failed write is cut back off the file, so a retried batch is not
// left in it twice.
//
// Before each batch it checks that its path still names the open file
// (os.SameFile of the path's stat and the open file's fstat): when the file
// was renamed or removed (logrotate's rename, an operator's mv or rm), it
// opens the path again, creating it, and fsyncs the directory of a file it
// created before it acknowledges anything written to it.
type File struct {
	opts    FileOptions
	logger  *slog.Logger
	reopens prometheus.Counter
	set     *promset.Set
	// syncDir fsyncs a directory: wal.SyncDir, replaced by tests.
	syncDirFn func(dir string) error
	// awaiting, when set (tests), is called when a Send starts waiting for
	// a missing path to reappear.
	awaiting func()

	// sem serialises Send, Reopen and Close and guards the fields below.
	// It is a 1-buffered channel rather than a mutex so that a waiter can
	// give up when its context is done: a write stuck on a hung disk must
	// not wedge a reload.
	sem        chan struct{}
	f          *os.File
	size       int64
	buf        []byte
	dirPending bool // f was created and its directory is not synced yet
	closed     bool
}

var (
	_ Sink     = (*File)(nil)
	_ Reopener = (*File)(nil)
)

// NewFile opens (creating if needed, with its directory) the sink's file for
// appending. A nil logger discards; reg, when not nil, gets
// logcapturer_sink_file_reopens_total with a sink=<Name> label.
func NewFile(logger *slog.Logger, reg prometheus.Registerer, opts FileOptions) (*File, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Path == "" {
		return nil, fmt.Errorf("file sink %s: path is empty", opts.Name)
	}
	s := &File{opts: opts, logger: logger, sem: make(chan struct{}, 1), syncDirFn: wal.SyncDir,
		reopens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logcapturer_sink_file_reopens_total",
			Help: "Times the file sink opened its path again: the file was renamed or removed, or a reload (SIGHUP, POST /-/reload) asked for it."}),
	}
	cut, err := cutTornLine(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("file sink %s: %w", opts.Name, err)
	}
	if cut > 0 {
		logger.Warn("file sink cut a torn last line off its output (a write cut short by a crash; its batch is sent again)",
			"sink", opts.Name, "path", opts.Path, "bytes", cut)
	}
	f, created, err := openOutput(opts.Path, s.syncDirFn)
	if err != nil {
		return nil, fmt.Errorf("file sink %s: %w", opts.Name, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("file sink %s: stat %s: %w", opts.Name, opts.Path, err)
	}
	s.f, s.size, s.dirPending = f, st.Size(), created
	if err := s.syncDir(); err != nil {
		f.Close()
		return nil, fmt.Errorf("file sink %s: %w", opts.Name, err)
	}
	if reg != nil {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"sink": opts.Name}, reg)
	}
	if s.set, err = promset.Register(reg, "sink "+strconv.Quote(opts.Name), s.reopens); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// cutTornLine truncates the file at path after its last newline, fsyncing
// it, and returns how many bytes it cut. Every batch the sink writes ends
// with a newline, so a file that does not is the tail of a write a crash
// (kill -9, power cut) cut short; that batch was not acknowledged and is
// sent again, and a torn line left in place would merge with its first
// line. A missing or empty file is left alone.
func cutTornLine(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open %s to check its last line: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return 0, err
	}
	size := st.Size()
	buf := make([]byte, 64<<10)
	end := size
	for end > 0 {
		start := max(0, end-int64(len(buf)))
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil {
			return 0, fmt.Errorf("read the end of %s: %w", path, err)
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			end = start + int64(i) + 1
			break
		}
		end = start
	}
	if end == size {
		return 0, nil
	}
	if err := f.Truncate(end); err != nil {
		return 0, fmt.Errorf("cut the torn last line of %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("fsync %s after cutting its torn last line: %w", path, err)
	}
	return size - end, nil
}

// openOutput opens path for appending, creating it and its directory when
// they are missing, and says whether it created the file. The caller
// syncs the directory of a created file; syncDir syncs the parents of
// created directories.
func openOutput(path string, syncDir func(string) error) (*os.File, bool, error) {
	dir := filepath.Dir(path)
	if err := mkdirDurable(dir, syncDir); err != nil {
		return nil, false, err
	}
	// Open, else create exclusively: created is then exact even when
	// another process creates or removes the path meanwhile.
	for range 3 {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err == nil {
			return f, false, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, false, fmt.Errorf("open %s: %w", path, err)
		}
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o640)
		if err == nil {
			return f, true, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, false, fmt.Errorf("create %s: %w", path, err)
		}
	}
	return nil, false, fmt.Errorf("open %s: it keeps being created and removed by another process", path)
}

// mkdirDurable creates dir and its missing parents, and fsyncs the parent
// of each directory it created, so that the new names survive a power cut.
func mkdirDurable(dir string, syncDir func(string) error) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := syncDir(filepath.Dir(missing[i])); err != nil {
			return err
		}
	}
	return nil
}

// Name returns the sink's name.
func (s *File) Name() string { return s.opts.Name }

// Destination returns the output file's path.
func (s *File) Destination() string { return s.opts.Path }

// lock takes sem, or gives up when ctx is done.
func (s *File) lock(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the write in progress to %s: %w", s.opts.Path, context.Cause(ctx))
	}
}

func (s *File) unlock() { <-s.sem }

// Send writes the batch and fsyncs the file, after opening the path again
// when it no longer names the open file. Safe for concurrent use; calls are
// serialised. Errors are *Retryable (a full or failing disk, a path that
// cannot be created, may recover).
func (s *File) Send(ctx context.Context, b *Batch) error {
	if err := s.lock(ctx); err != nil {
		return &Retryable{Err: err, Reason: "timeout"}
	}
	defer s.unlock()
	if s.closed {
		return &Retryable{Err: fmt.Errorf("file sink %s is closed", s.opts.Name)}
	}
	if err := s.follow(ctx); err != nil {
		return &Retryable{Err: err}
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

// Waiting for a rotator's new file (see follow).
const (
	// awaitCreate is how long a path found missing is given to reappear
	// before the sink creates it: logrotate's create follows its rename
	// within a millisecond.
	awaitCreate = 500 * time.Millisecond
	// awaitPoll is the period of the path's stat meanwhile.
	awaitPoll = 2 * time.Millisecond
)

// follow makes the open file the one the path names: when the path names
// another file or none, it opens the path again. It also takes the open
// file's size afresh (a copytruncate may have cut it) and syncs the
// directory of a file it created. Called with sem held.
//
// A path found missing is given awaitCreate to reappear before the sink
// creates it: between logrotate's rename and its create (mode create), a
// file the sink created at the path makes logrotate move it aside to
// <path>-<YYYYMMDDHH>.backup (exit 0), taking the batches in it out of the
// rotated sequence, or fail ("File exists") if that name is taken.
func (s *File) follow(ctx context.Context) error {
	open, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("stat the open %s: %w", s.opts.Path, err)
	}
	at, err := os.Stat(s.opts.Path)
	if errors.Is(err, fs.ErrNotExist) {
		at, err = s.awaitPath(ctx)
	}
	switch {
	case err == nil && os.SameFile(open, at):
		s.size = open.Size()
	case err == nil:
		err = s.reopen("the path names another file")
	case errors.Is(err, fs.ErrNotExist):
		err = s.reopen("the file was renamed or removed")
	default:
		err = fmt.Errorf("stat %s: %w", s.opts.Path, err)
	}
	if err != nil {
		return err
	}
	return s.syncDir()
}

// awaitPath stats the missing path until it names a file again, or until
// awaitCreate has passed or ctx is done (then its last error, not found).
func (s *File) awaitPath(ctx context.Context) (fs.FileInfo, error) {
	if s.awaiting != nil {
		s.awaiting()
	}
	deadline := time.Now().Add(awaitCreate)
	tick := time.NewTicker(awaitPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fs.ErrNotExist
		case <-tick.C:
		}
		at, err := os.Stat(s.opts.Path)
		if !errors.Is(err, fs.ErrNotExist) || time.Now().After(deadline) {
			return at, err
		}
	}
}

// reopen opens the path (creating it) in place of the open file. On an
// error the open file stays, and the next batch tries again. Called with
// sem held.
func (s *File) reopen(reason string) error {
	f, created, err := openOutput(s.opts.Path, s.syncDirFn)
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("reopen: stat %s: %w", s.opts.Path, err)
	}
	old := s.f
	s.f, s.size = f, st.Size()
	s.dirPending = s.dirPending || created
	if err := old.Close(); err != nil {
		s.logger.Warn("close the previous output file", "sink", s.opts.Name, "path", s.opts.Path, "err", err)
	}
	s.reopens.Inc()
	s.logger.Info("file sink reopened its output", "sink", s.opts.Name, "path", s.opts.Path, "reason", reason, "created", created)
	return nil
}

// syncDir fsyncs the directory of a file the sink created, once. Called
// with sem held.
func (s *File) syncDir() error {
	if !s.dirPending {
		return nil
	}
	if err := s.syncDirFn(filepath.Dir(s.opts.Path)); err != nil {
		return err
	}
	s.dirPending = false
	return nil
}

// Reopen closes the file and opens the path again (creating it, with its
// directory): see Reopener.
func (s *File) Reopen(ctx context.Context) error {
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("file sink %s: reopen: %w", s.opts.Name, err)
	}
	defer s.unlock()
	if s.closed {
		return nil
	}
	err := s.reopen("reload")
	if err == nil {
		err = s.syncDir()
	}
	if err != nil {
		return fmt.Errorf("file sink %s: %w", s.opts.Name, err)
	}
	return nil
}

// cutBack truncates the file to its size before the failed write.
func (s *File) cutBack() {
	if err := s.f.Truncate(s.size); err != nil {
		s.logger.Warn("cut back a failed write", "path", s.opts.Path, "size", s.size, "err", err)
	}
}

// Close closes the file and unregisters the metric. It waits for a Send
// in progress. Safe to call twice.
func (s *File) Close() error {
	s.sem <- struct{}{}
	defer s.unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.set.Unregister()
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", s.opts.Path, err)
	}
	return nil
}
