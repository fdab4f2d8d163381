package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/logcapturer/logcapturer/admin"
	"github.com/logcapturer/logcapturer/pipeline"
)

// cmdStatus prints where every sink stands, the WAL and the sources.
func cmdStatus(args []string, stdout io.Writer) error {
	var cf clientFlags
	fs := newFlags("status")
	cf.register(fs, true)
	pos, err := parseFlags(fs, args, "status [--addr HOST:PORT | --config FILE | --data-dir DIR] [-o table|json]\n\n"+
		"Where each sink is, how far behind, and what it waits for; the WAL; the sources.")
	if err != nil {
		return err
	}
	if err := noArgs("status", pos); err != nil {
		return err
	}
	if err := cf.check("status"); err != nil {
		return err
	}
	var st pipeline.Status
	if err := cf.read(stdout, "", func(o *pipeline.Offline) (err error) {
		st, err = o.Status()
		return err
	}, func(ctx context.Context, c *admin.Client) (err error) {
		st, err = c.Status(ctx)
		return err
	}); err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSON(stdout, st)
	}
	return renderStatus(stdout, st)
}

func noArgs(name string, pos []string) error {
	if len(pos) > 0 {
		return usageError{fmt.Errorf("%s: unexpected arguments %q", name, pos)}
	}
	return nil
}

// cmdSinks lists the sinks, shows one, or rewinds one (sinks rewind).
func cmdSinks(args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "rewind" {
		return cmdRewind(args[1:], stdout)
	}
	var cf clientFlags
	fs := newFlags("sinks")
	cf.register(fs, true)
	pos, err := parseFlags(fs, args, "sinks [NAME] [--addr HOST:PORT | --config FILE | --data-dir DIR] [-o table|json]\n"+
		"       logcapturer sinks rewind NAME --to-time T | --to-index N | --to-oldest | --to-newest\n\n"+
		"Every sink's cursor, lag, state, retries and dead letters, or one sink's.")
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError{fmt.Errorf("sinks: want at most one sink name, got %q", pos)}
	}
	if err := cf.check("sinks"); err != nil {
		return err
	}
	var ss []pipeline.SinkStatus
	if err := cf.read(stdout, "offline: read from %s (logcapturer is not running)\n", func(o *pipeline.Offline) error {
		if len(pos) == 1 {
			if err := o.CheckSink(pos[0]); err != nil {
				return err
			}
		}
		st, err := o.Status()
		for _, s := range st.Sinks {
			if len(pos) == 0 || s.Name == pos[0] {
				ss = append(ss, s)
			}
		}
		return err
	}, func(ctx context.Context, c *admin.Client) error {
		if len(pos) == 0 {
			var err error
			ss, err = c.Sinks(ctx)
			return err
		}
		s, err := c.Sink(ctx, pos[0])
		ss = []pipeline.SinkStatus{s}
		return err
	}); err != nil {
		return err
	}
	if cf.output == "json" {
		if len(pos) == 1 {
			return writeJSON(stdout, ss[0])
		}
		return writeJSON(stdout, map[string]any{"sinks": ss})
	}
	return renderSinks(stdout, ss)
}

const rewindUsage = "sinks rewind NAME --to-time T | --to-index N | --to-oldest | --to-newest\n" +
	"                   [--addr HOST:PORT | --config FILE | --data-dir DIR] [--token-file FILE] [-o table|json]\n\n" +
	"Move a sink's cursor: back to re-ship (backfill a new sink, re-send an hour a sink lost),\n" +
	"or forward to skip (counted as dropped, reason skipped). A running sink is moved through\n" +
	"the admin API (needs the admin token); with --data-dir a stopped one's cursor is written to\n" +
	"its state.db and takes effect at the next start (a --to-time target's block is then sent\n" +
	"whole). Either way the target must be within the WAL: from its oldest block to its end."

// cmdRewind moves a sink's cursor by time or index, or to the WAL's
// oldest block or its end: a running sink's through the API, a stopped
// one's in its data dir.
func cmdRewind(args []string, stdout io.Writer) error {
	var cf clientFlags
	fs := newFlags("sinks rewind")
	cf.register(fs, true)
	toTime := fs.String("to-time", "", "RFC 3339 time with a zone: the first entry at or after it is delivered next")
	toIndex := fs.String("to-index", "", "WAL index: the block delivered next")
	toOldest := fs.Bool("to-oldest", false, "the oldest block the WAL holds: re-ship everything there is")
	toNewest := fs.Bool("to-newest", false, "the WAL's end: skip everything there is, deliver only what comes next")
	pos, err := parseFlags(fs, args, rewindUsage)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{fmt.Errorf("sinks rewind: want one sink name, got %q", pos)}
	}
	var given []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"--to-time", *toTime != ""}, {"--to-index", *toIndex != ""}, {"--to-oldest", *toOldest}, {"--to-newest", *toNewest}} {
		if f.set {
			given = append(given, f.name)
		}
	}
	switch len(given) {
	case 0:
		return usageError{errors.New("sinks rewind: give where to: --to-time T, --to-index N, --to-oldest or --to-newest")}
	case 1:
	default:
		list := strings.Join(given[:len(given)-1], ", ") + " and " + given[len(given)-1]
		return usageError{fmt.Errorf("sinks rewind: %s exclude each other: give one", list)}
	}
	if err := cf.check("sinks rewind"); err != nil {
		return err
	}
	var (
		t     time.Time
		index uint64
	)
	if *toTime != "" {
		if t, err = time.Parse(time.RFC3339Nano, *toTime); err != nil {
			return usageError{fmt.Errorf("sinks rewind: --to-time %q: want RFC 3339 with a zone, such as 2026-12-01T10:00:00Z", *toTime)}
		}
	}
	if *toIndex != "" {
		if index, err = strconv.ParseUint(*toIndex, 10, 64); err != nil {
			return usageError{fmt.Errorf("sinks rewind: --to-index %q: want a non-negative integer", *toIndex)}
		}
	}
	name := pos[0]
	var res pipeline.RewindResult
	hint := func(err error) error {
		return rangeHint(err, func(first uint64) string { return fmt.Sprintf("--to-oldest (or --to-index %d)", first) },
			func(uint64) string { return "--to-newest" })
	}
	err = cf.read(stdout, "", func(o *pipeline.Offline) (err error) {
		switch {
		case *toTime != "":
			res, err = o.RewindToTime(name, t)
		case *toIndex != "":
			res, err = o.RewindToIndex(name, index)
		case *toOldest:
			res, err = o.RewindToOldest(name)
		default:
			res, err = o.RewindToNewest(name)
		}
		return hint(err)
	}, func(ctx context.Context, c *admin.Client) (err error) {
		switch {
		case *toTime != "":
			res, err = c.RewindToTime(ctx, name, t)
		case *toIndex != "":
			res, err = c.RewindToIndex(ctx, name, index)
		case *toOldest:
			res, err = c.RewindToOldest(ctx, name)
		default:
			res, err = c.RewindToNewest(ctx, name)
		}
		return hint(err)
	})
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSON(stdout, res)
	}
	first := "the end of the wal"
	if res.FirstTime != nil {
		first = res.FirstTime.UTC().Format(time.RFC3339Nano)
	}
	fmt.Fprintf(stdout, "sink %s: cursor %d -> %d; next entry: index %d entry %d at %s", name, res.Previous, res.Cursor, res.Index, res.Skip, first)
	if res.Skipped > 0 {
		fmt.Fprintf(stdout, "; %d entries skipped", res.Skipped)
	}
	fmt.Fprintln(stdout)
	if cf.dataDir != "" {
		fmt.Fprintf(stdout, "offline: written to %s; it takes effect when logcapturer next runs\n", cf.dataDir)
	}
	return nil
}

// rangeHint adds to a WAL range error (the API's 409 or the offline
// view's *pipeline.RangeError) the flags that ask for the oldest entry
// instead (before, given the oldest index) or the newest (after, given the
// newest index). Other errors are returned as they are.
func rangeHint(err error, before, after func(uint64) string) error {
	var (
		re  *pipeline.RangeError
		ae  *admin.APIError
		msg string
	)
	switch {
	case errors.As(err, &re):
		msg = err.Error()
	case errors.As(err, &ae) && ae.Range != nil:
		re, msg = ae.Range, ae.Message
	default:
		return err
	}
	if re.LastIndex < re.FirstIndex {
		return err
	}
	if re.After {
		return fmt.Errorf("%s; use %s", msg, after(re.LastIndex))
	}
	return fmt.Errorf("%s; use %s", msg, before(re.FirstIndex))
}

// cmdSources lists every source's files with offsets.
func cmdSources(args []string, stdout io.Writer) error {
	var cf clientFlags
	fs := newFlags("sources")
	cf.register(fs, true)
	pos, err := parseFlags(fs, args, "sources [--addr HOST:PORT | --config FILE | --data-dir DIR] [-o table|json]\n\n"+
		"Every tailed file: its identity, offset, size and state.")
	if err != nil {
		return err
	}
	if err := noArgs("sources", pos); err != nil {
		return err
	}
	if err := cf.check("sources"); err != nil {
		return err
	}
	var srcs []pipeline.SourceStatus
	if err := cf.read(stdout, "offline: read from %s (logcapturer is not running): stored positions\n", func(o *pipeline.Offline) error {
		st, err := o.Status()
		srcs = st.Sources
		return err
	}, func(ctx context.Context, c *admin.Client) (err error) {
		srcs, err = c.Sources(ctx)
		return err
	}); err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSON(stdout, map[string]any{"sources": srcs})
	}
	return renderSources(stdout, srcs)
}
