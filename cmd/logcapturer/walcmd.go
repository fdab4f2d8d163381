package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/logcapturer/logcapturer/admin"
	"github.com/logcapturer/logcapturer/pipeline"
)

const walUsage = "wal cat --from INDEX | --time T [--limit K] [--addr HOST:PORT | --config FILE | --data-dir DIR] [-o table|json]\n\n" +
	"Print WAL entries from a block index, or from the first entry at or after an RFC 3339 time."

// cmdWAL prints WAL entries (wal cat).
func cmdWAL(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "cat" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return helpShown{helpText(newFlags("wal"), walUsage)}
		}
		return usageError{fmt.Errorf("wal: want cat")}
	}
	var cf clientFlags
	fs := newFlags("wal cat")
	cf.register(fs, true)
	from := fs.String("from", "", "first block index")
	at := fs.String("time", "", "RFC 3339 time with a zone: start at the first entry at or after it")
	limit := fs.Int("limit", 100, fmt.Sprintf("entries to print (at most %d)", pipeline.MaxEntriesLimit))
	pos, err := parseFlags(fs, args[1:], walUsage)
	if err != nil {
		return err
	}
	if err := noArgs("wal cat", pos); err != nil {
		return err
	}
	if err := cf.check("wal cat"); err != nil {
		return err
	}
	if (*from == "") == (*at == "") {
		return usageError{fmt.Errorf("wal cat: give --from INDEX or --time T")}
	}
	if *limit < 1 || *limit > pipeline.MaxEntriesLimit {
		return usageError{fmt.Errorf("wal cat: --limit %d: want 1 to %d", *limit, pipeline.MaxEntriesLimit)}
	}
	var (
		index uint64
		t     time.Time
	)
	if *from != "" {
		if _, err := fmt.Sscan(*from, &index); err != nil || fmt.Sprint(index) != *from {
			return usageError{fmt.Errorf("wal cat: --from %q: want a non-negative integer", *from)}
		}
	} else if t, err = time.Parse(time.RFC3339Nano, *at); err != nil {
		return usageError{fmt.Errorf("wal cat: --time %q: want RFC 3339 with a zone, such as 2026-12-01T10:00:00Z", *at)}
	}
	// Outside the WAL: say where it starts (or ends) and how to ask for that.
	hint := func(err error) error {
		return rangeHint(err, func(first uint64) string { return fmt.Sprintf("--from %d for the oldest entry", first) },
			func(last uint64) string { return fmt.Sprintf("--from %d for the newest block", last) })
	}
	var es []pipeline.Entry
	if err := cf.read(stdout, "offline: %s (logcapturer is not running)\n", func(o *pipeline.Offline) (err error) {
		if *from != "" {
			es, err = o.WALEntries(index, *limit)
		} else {
			es, err = o.WALEntriesAt(t, *limit)
		}
		return hint(err)
	}, func(ctx context.Context, c *admin.Client) (err error) {
		if *from != "" {
			es, err = c.WALEntries(ctx, index, *limit)
		} else {
			es, err = c.WALEntriesAt(ctx, t, *limit)
		}
		return hint(err)
	}); err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSON(stdout, map[string]any{"entries": es})
	}
	return renderEntries(stdout, es)
}
