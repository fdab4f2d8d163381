package journald

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

const (
	// blockBytes is the line bytes at which a block is handed over without
	// waiting for the read to pause.
	blockBytes = 64 << 10
	// readBuffer is the size of the buffer journalctl's output is read
	// through.
	readBuffer = 64 << 10
	// stderrTail is how much of journalctl's stderr is kept for the log.
	stderrTail = 2 << 10
	// seekFailed is what journalctl (systemd 252) prints, exiting 1, when
	// --after-cursor is given a cursor it cannot parse. Its stderr is the
	// only way to tell this from other failures.
	seekFailed = "Failed to seek to cursor"
)

// runner is the source's one goroutine: it runs journalctl, reads its
// output, hands blocks to the Emitter, and starts journalctl again when it
// exits. Everything here is owned by that goroutine.
type runner struct {
	s   *Source
	br  *bufio.Reader
	x   exportReader
	e   entry
	blk block
	// cursor is the cursor of the last entry handed over (in a block
	// Emit took); "" while none was.
	cursor string
	// since is the --since argument used while there is no cursor; fixed
	// at the first start, so a restart before the first entry does not
	// skip what was logged meanwhile.
	since string
	// down says whether ConditionStalled is raised.
	down bool
	// badCursorLogged: the refusal of a cursor is logged once.
	badCursorLogged bool

	// With pipeline_stages (stages.go): the journal's one stream, and
	// scratch for a line and labels. cursor is then the cursor of the
	// last entry read (handed to the stages or skipped).
	st     *sources.StageStream
	line   []byte
	labels []wal.Label
}

// block is the block being filled: the entries' lines live in lines, at
// the offsets in ends, so the entries are made at flush time.
type block struct {
	entries []wal.Entry
	ends    []int
	lines   []byte
	// cursor and at are the cursor and time (ns) of the last entry read,
	// shipped or skipped; advanced says whether cursor moved since the
	// last block was handed over.
	cursor   []byte
	at       int64
	advanced bool
}

func newRunner(s *Source) *runner {
	r := &runner{s: s, cursor: s.p.Cursor}
	if s.p.Stages != nil {
		r.st = s.p.Stages.NewStream(s.fmt.labels, wal.Position{FileID: FileID, Path: s.where, Cursor: s.p.Cursor}, nil)
	}
	r.x.maxEntry = int(s.opts.MaxEntryBytes)
	r.br = bufio.NewReaderSize(nil, readBuffer)
	r.x.br = r.br
	switch since, _ := parseSince(s.opts.Since); {
	case s.opts.MaxAge > 0:
		r.since = sinceArg(s.p.Now().Add(-time.Duration(s.opts.MaxAge)))
	case s.opts.Since == SinceBeginning:
	case !since.IsZero():
		r.since = sinceArg(since)
	default:
		r.since = sinceArg(s.p.Now())
	}
	return r
}

// sinceArg formats t for --since: @ and Unix seconds with microseconds.
func sinceArg(t time.Time) string {
	us := t.UnixMicro()
	return fmt.Sprintf("@%d.%06d", us/1e6, us%1e6)
}

// args returns journalctl's arguments for a start after cursor (none:
// from since).
func (r *runner) args(cursor string) []string {
	o := &r.s.opts
	a := []string{"--output=export", "--follow", "--no-tail", "--no-pager", "--quiet"}
	switch {
	case o.Path != "":
		a = append(a, "--directory="+o.Path)
	case len(o.Files) > 0:
		for _, f := range o.Files {
			a = append(a, "--file="+f)
		}
	case o.Root != "":
		a = append(a, "--root="+o.Root)
	}
	if o.Merge {
		a = append(a, "--merge")
	}
	if o.Priority != "" {
		a = append(a, "--priority="+o.Priority)
	}
	switch {
	case cursor != "":
		a = append(a, "--after-cursor="+cursor)
	case r.since != "":
		a = append(a, "--since="+r.since)
	}
	if len(r.s.matches) > 0 {
		a = append(append(a, "--"), r.s.matches...)
	}
	return a
}

// run starts journalctl until ctx is done, waiting between starts.
func (r *runner) run(ctx context.Context) {
	backoff := time.Duration(0)
	s := r.s
	first := true
	for {
		if first {
			s.log.Info("reading the journal", "journalctl", s.opts.JournalctlPath, "args", strings.Join(r.args(r.cursor), " "))
		}
		res := r.runChild(ctx)
		s.setUp(false, "", time.Time{})
		if ctx.Err() != nil {
			return
		}
		first = false
		s.metrics.restarts.Inc()
		if res.healthy {
			backoff = 0
		}
		wait := min(max(backoff*2, s.p.MinBackoff), s.p.MaxBackoff)
		backoff = wait
		why := res.err.Error()
		if res.stderr != "" {
			why += ": " + res.stderr
		}
		if res.badCursor {
			s.metrics.errors.WithLabelValues(reasonCursor).Inc()
			if !r.badCursorLogged {
				r.badCursorLogged = true
				s.log.Warn("journalctl refused the stored cursor; reading from since (or max_age) instead",
					"cursor", r.cursor, "since", r.since, "err", why)
			}
			r.cursor = ""
			wait = 0
		} else {
			s.metrics.errors.WithLabelValues(res.reason).Inc()
			s.log.Warn("journalctl stopped; starting it again", "err", why, "in", wait.String())
		}
		detail := fmt.Sprintf("journalctl is down (%s); starting it again in %s", why, wait)
		r.setDown(true, detail)
		s.setUp(false, detail, s.p.Now())
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// setDown raises or clears ConditionStalled.
func (r *runner) setDown(on bool, detail string) {
	if on == r.down && !on {
		return
	}
	r.down = on
	if c := r.s.p.Conditions; c != nil {
		c.SetSourceCondition(r.s.p.Name, sources.ConditionStalled, on, detail)
	}
}

// setUp records for the status whether journalctl runs and, while it does
// not, why and since when (the first failure of a run of them).
func (s *Source) setUp(up bool, why string, at time.Time) {
	s.status.Lock()
	defer s.status.Unlock()
	if !up && why == "" {
		return // journalctl ended; the reason comes next
	}
	if !up && s.status.up || s.status.since.IsZero() {
		s.status.since = at
	}
	s.status.up, s.status.err = up, why
	if up {
		s.status.since = time.Time{}
	}
	if up {
		s.metrics.up.Set(1)
	} else {
		s.metrics.up.Set(0)
	}
}

// childResult is how one run of journalctl ended.
type childResult struct {
	err       error
	reason    string // errors_total reason
	stderr    string // the end of its stderr
	healthy   bool   // it delivered an entry or ran HealthyAfter
	badCursor bool   // it refused --after-cursor
}

// runChild runs journalctl once, reads its output until it ends, ctx is
// done, or the output is not the export format, and returns why it ended.
func (r *runner) runChild(ctx context.Context) childResult {
	s := r.s
	if r.st != nil {
		r.restartStaged(ctx)
	}
	cursor := r.cursor
	r.blk.reset() // what the last run read and could not hand over is read again
	pr, pw, err := os.Pipe()
	if err != nil {
		return childResult{err: fmt.Errorf("make a pipe for journalctl: %w", err), reason: reasonJournalctl}
	}
	var tail tailBuffer
	cmd := exec.Command(s.opts.JournalctlPath, r.args(cursor)...)
	cmd.Stdout, cmd.Stderr = pw, &tail
	// Its own process group, so that what it starts dies with it (a
	// wrapper script's children); killed if we die.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 2 * time.Second
	err = cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		return childResult{err: fmt.Errorf("start journalctl: %w", err), reason: reasonJournalctl}
	}
	started := s.p.Now()
	s.setUp(true, "", time.Time{})
	stop := context.AfterFunc(ctx, func() { _ = pr.SetReadDeadline(time.Unix(1, 0)) })
	r.br.Reset(&countingReader{r: pr, m: s.metrics})
	res := r.read(ctx, pr, started)
	stop()
	if !res.healthy && s.p.Now().Sub(started) >= s.p.HealthyAfter {
		res.healthy = true
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group: gone already when it exited alone
	pr.Close()
	werr := cmd.Wait()
	res.stderr = tail.String()
	if res.err == nil {
		switch {
		case werr != nil:
			res.err = fmt.Errorf("journalctl exited: %w", werr)
		default:
			res.err = errors.New("journalctl exited: exit status 0")
		}
		res.reason = reasonJournalctl
		var ee *exec.ExitError
		if cursor != "" && errors.As(werr, &ee) && ee.ExitCode() == 1 && strings.Contains(res.stderr, seekFailed) {
			res.badCursor = true
		}
	}
	return res
}

// read reads entries until the output ends (res.err nil: journalctl
// exited), ctx is done, Emit fails, or the output is garbage.
func (r *runner) read(ctx context.Context, pr *os.File, started time.Time) childResult {
	s := r.s
	var res childResult
	deadline := false
	for {
		if r.br.Buffered() == 0 {
			// The read pauses: hand over what was read before waiting.
			if err := r.flush(ctx); err != nil {
				return r.emitFailed(ctx, err, res)
			}
			var dl time.Time
			if r.down {
				dl = started.Add(s.p.HealthyAfter)
			}
			tick := false
			if r.st != nil && s.p.Stages.Holding() {
				if t := time.Now().Add(stageTick); dl.IsZero() || t.Before(dl) {
					dl, tick = t, true
				}
			}
			if !dl.IsZero() {
				_ = pr.SetReadDeadline(dl)
				deadline = true
			}
			if ctx.Err() != nil {
				return res
			}
			if _, err := r.br.Peek(1); err != nil {
				if tick && errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
					// Quiet while the stages hold entries: let them
					// release what waited long enough; emitted above.
					s.p.Stages.Tick(time.Now())
					_ = pr.SetReadDeadline(time.Time{})
					deadline = false
					if ctx.Err() != nil {
						return res
					}
					continue
				}
				if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
					// Up long enough without output: healthy.
					res.healthy = true
					r.setDown(false, "")
					_ = pr.SetReadDeadline(time.Time{})
					deadline = false
					if ctx.Err() != nil { // the deadline cleared may have been ctx's
						return res
					}
					continue
				}
				if ctx.Err() != nil {
					return res
				}
				if err != io.EOF {
					res.err, res.reason = fmt.Errorf("read journalctl's output: %w", err), reasonJournalctl
				}
				return res
			}
			if deadline {
				_ = pr.SetReadDeadline(time.Time{})
				deadline = false
				if ctx.Err() != nil {
					return res
				}
			}
		}
		err := r.x.next(&r.e)
		switch {
		case err == nil:
		case errors.Is(err, errTooLarge):
			s.metrics.skipped.WithLabelValues(skipTooLarge).Inc()
			continue
		case err == io.EOF:
			return res
		default:
			if ctx.Err() != nil {
				return res
			}
			_ = r.flush(ctx) // the entries before the garbage
			var fe *formatError
			if errors.As(err, &fe) {
				res.err, res.reason = fmt.Errorf("read journalctl's output: %w", err), reasonFormat
			} else if err != io.ErrUnexpectedEOF {
				res.err, res.reason = fmt.Errorf("read journalctl's output: %w", err), reasonJournalctl
			}
			return res
		}
		if !res.healthy {
			res.healthy = true
			r.setDown(false, "")
		}
		if err := r.add(ctx); err != nil {
			return r.emitFailed(ctx, err, res)
		}
	}
}

func (r *runner) emitFailed(ctx context.Context, err error, res childResult) childResult {
	if ctx.Err() != nil {
		return res
	}
	res.err, res.reason = fmt.Errorf("hand a block to the WAL: %w", err), reasonEmit
	return res
}

// add adds the entry just read to the block, or skips it; a full block is
// handed over.
func (r *runner) add(ctx context.Context) error {
	if r.st != nil {
		return r.addStaged(ctx)
	}
	s, e, b := r.s, &r.e, &r.blk
	b.cursor = append(b.cursor[:0], e.cursor...)
	b.at = e.realtime * 1000
	b.advanced = true
	if ma := s.opts.MaxAge; ma > 0 && b.at < s.p.Now().Add(-time.Duration(ma)).UnixNano() {
		s.metrics.skipped.WithLabelValues(skipMaxAge).Inc()
		return nil
	}
	var ok bool
	if b.lines, ok = s.fmt.line(b.lines, e); !ok {
		s.metrics.skipped.WithLabelValues(skipNoMessage).Inc()
		return nil
	}
	b.ends = append(b.ends, len(b.lines))
	b.entries = append(b.entries, wal.Entry{Time: b.at, Labels: s.fmt.entryLabels(e), Metadata: s.fmt.metadata(e)})
	if len(b.lines) >= blockBytes {
		return r.flush(ctx)
	}
	return nil
}

// flush hands the block over, if the cursor moved since the last one: a
// block of entries, or of none when every entry read was skipped (it then
// records the cursor only). Emit blocks while the WAL is behind, so
// journalctl's output is read only as fast as the WAL takes it.
func (r *runner) flush(ctx context.Context) error {
	if r.st != nil {
		return r.flushStaged(ctx)
	}
	b, s := &r.blk, r.s
	if !b.advanced {
		return nil
	}
	start := 0
	for i, end := range b.ends {
		b.entries[i].Line = b.lines[start:end]
		start = end
	}
	cursor := string(b.cursor)
	blk := wal.Block{
		Source:   s.p.Name,
		Labels:   s.fmt.labels,
		Position: wal.Position{FileID: FileID, Path: s.where, Cursor: cursor},
		Entries:  b.entries,
	}
	rec := sources.Record{
		Source:   s.p.Name,
		Position: blk.Position,
		Entries:  len(b.entries),
		Bytes:    len(b.lines),
		Data:     wal.EncodeBlock(nil, &blk),
	}
	if err := s.p.Emitter.Emit(ctx, rec); err != nil {
		return err
	}
	s.metrics.blocks.Inc()
	s.metrics.entries.Add(float64(len(b.entries)))
	r.cursor = cursor
	s.status.Lock()
	s.status.cursor, s.status.cursorTime = cursor, time.Unix(0, b.at).UTC()
	s.status.Unlock()
	b.reset()
	return nil
}

func (b *block) reset() {
	clear(b.entries) // drop the label slices
	b.entries, b.ends, b.lines, b.advanced = b.entries[:0], b.ends[:0], b.lines[:0], false
}

// countingReader counts the bytes read from journalctl.
type countingReader struct {
	r io.Reader
	m *metrics
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.m.readBytes.Add(float64(n))
	}
	return n, err
}

// tailBuffer keeps the last stderrTail bytes written to it. It is written
// by exec's copying goroutine and read after Wait.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > stderrTail {
		t.b = append(t.b[:0], t.b[len(t.b)-stderrTail:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	return strings.ToValidUTF8(string(bytes.TrimSpace(t.b)), "\uFFFD")
}
