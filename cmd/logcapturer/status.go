package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
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
		"       logcapturer sinks rewind NAME --to-time T | --to-index N\n\n"+
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

// cmdRewind moves a running sink's cursor by time or index.
func cmdRewind(args []string, stdout io.Writer) error {
	var cf clientFlags
	fs := newFlags("sinks rewind")
	cf.register(fs, false)
	toTime := fs.String("to-time", "", "RFC 3339 time with a zone: the first entry at or after it is delivered next")
	toIndex := fs.String("to-index", "", "WAL index: the block delivered next")
	pos, err := parseFlags(fs, args, "sinks rewind NAME --to-time T | --to-index N [--addr HOST:PORT | --config FILE] [--token-file FILE]\n\n"+
		"Move a running sink's cursor: back to re-ship (backfill a new sink, re-send an hour a sink lost),\n"+
		"or forward to skip (counted as dropped, reason skipped). Needs the admin token.")
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{fmt.Errorf("sinks rewind: want one sink name, got %q", pos)}
	}
	if (*toTime == "") == (*toIndex == "") {
		return usageError{fmt.Errorf("sinks rewind: give --to-time T or --to-index N")}
	}
	if err := cf.check("sinks rewind"); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	ctx, cancel := cf.ctx()
	defer cancel()
	var res pipeline.RewindResult
	if *toTime != "" {
		t, perr := time.Parse(time.RFC3339Nano, *toTime)
		if perr != nil {
			return usageError{fmt.Errorf("sinks rewind: --to-time %q: want RFC 3339 with a zone, such as 2026-12-01T10:00:00Z", *toTime)}
		}
		res, err = c.RewindToTime(ctx, pos[0], t)
	} else {
		i, perr := strconv.ParseUint(*toIndex, 10, 64)
		if perr != nil {
			return usageError{fmt.Errorf("sinks rewind: --to-index %q: want a non-negative integer", *toIndex)}
		}
		res, err = c.RewindToIndex(ctx, pos[0], i)
	}
	if err != nil {
		return apiError(err)
	}
	if cf.output == "json" {
		return writeJSON(stdout, res)
	}
	first := "the end of the wal"
	if res.FirstTime != nil {
		first = res.FirstTime.UTC().Format(time.RFC3339Nano)
	}
	fmt.Fprintf(stdout, "sink %s: cursor %d -> %d; next entry: index %d entry %d at %s", pos[0], res.Previous, res.Cursor, res.Index, res.Skip, first)
	if res.Skipped > 0 {
		fmt.Fprintf(stdout, "; %d entries skipped", res.Skipped)
	}
	fmt.Fprintln(stdout)
	return nil
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
