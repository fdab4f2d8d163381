package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/logcapturer/logcapturer/admin"
	"github.com/logcapturer/logcapturer/pipeline"
)

// dlqSource is where the dead letters are: the running logcapturer's API
// or a stopped one's data directory.
type dlqSource interface {
	list(sink string) ([]pipeline.DeadLetter, error)
	entries(sink string, from uint64, limit int) (pipeline.DeadLetter, []pipeline.Entry, error)
	replay(sink string, from uint64) (int, error)
	purge(sink string, from uint64) (int, error)
}

type dlqAPI struct {
	c  *admin.Client
	cf *clientFlags
}

func (d dlqAPI) list(sink string) ([]pipeline.DeadLetter, error) {
	ctx, cancel := d.cf.ctx()
	defer cancel()
	ds, err := d.c.DLQ(ctx, sink)
	return ds, apiError(err)
}

func (d dlqAPI) entries(sink string, from uint64, limit int) (pipeline.DeadLetter, []pipeline.Entry, error) {
	ctx, cancel := d.cf.ctx()
	defer cancel()
	dl, es, err := d.c.DLQEntries(ctx, sink, from, limit)
	return dl, es, apiError(err)
}

func (d dlqAPI) replay(sink string, from uint64) (int, error) {
	ctx, cancel := d.cf.ctx()
	defer cancel()
	n, err := d.c.ReplayDLQ(ctx, sink, from)
	return n, apiError(err)
}

func (d dlqAPI) purge(sink string, from uint64) (int, error) {
	ctx, cancel := d.cf.ctx()
	defer cancel()
	n, err := d.c.PurgeDLQ(ctx, sink, from)
	return n, apiError(err)
}

type dlqOffline struct{ o *pipeline.Offline }

func (d dlqOffline) list(sink string) ([]pipeline.DeadLetter, error) { return d.o.DLQ(sink) }
func (d dlqOffline) entries(sink string, from uint64, limit int) (pipeline.DeadLetter, []pipeline.Entry, error) {
	return d.o.DLQEntries(sink, from, limit)
}
func (d dlqOffline) replay(sink string, from uint64) (int, error) { return d.o.ReplayDLQ(sink, from) }
func (d dlqOffline) purge(sink string, from uint64) (int, error)  { return d.o.PurgeDLQ(sink, from) }

const dlqUsage = "dlq list|show|replay|purge [--sink NAME | --all] [--from INDEX] [--limit K]\n" +
	"                   [--addr HOST:PORT | --config FILE | --data-dir DIR] [-o table|json]\n\n" +
	"The dead-letter queue: ranges a sink rejected for good or ran out of attempts on.\n" +
	"  list    the dead letters\n" +
	"  show    with --from: one dead letter and its first --limit entries; else the list with whole errors\n" +
	"  replay  queue them for another try (once the cause is fixed); needs the admin token\n" +
	"  purge   delete them; needs the admin token. Every sink's (no --sink, no --from): asks for\n" +
	"          a yes on a terminal, and wants --all elsewhere\n" +
	"Against the running logcapturer's admin API, or with --data-dir on a stopped one's data_dir\n" +
	"(replay and purge then take effect at its next start)."

// cmdDLQ lists, shows, replays or purges dead letters. A purge of every
// sink's dead letters asks on con's terminal (the question on stderr), and
// wants --all when stdin is not one.
func cmdDLQ(args []string, con console, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) == 0 {
			return usageError{errors.New("dlq: want list, show, replay or purge")}
		}
		return helpShown{helpText(newFlags("dlq"), dlqUsage)}
	}
	verb := args[0]
	switch verb {
	case "list", "show", "replay", "purge":
	default:
		return usageError{fmt.Errorf("dlq: unknown action %q: want list, show, replay or purge", verb)}
	}
	var cf clientFlags
	fs := newFlags("dlq " + verb)
	cf.register(fs, true)
	sink := fs.String("sink", "", "sink name (default: every sink)")
	from := fs.Uint64("from", 0, "first WAL index of one dead letter (default: all)")
	limit := fs.Int("limit", 20, "show: entries to print")
	var allFlag *bool
	if verb == "purge" {
		allFlag = fs.Bool("all", false, "purge every sink's dead letters without asking")
	}
	pos, err := parseFlags(fs, args[1:], dlqUsage)
	if err != nil {
		return err
	}
	if err := noArgs("dlq "+verb, pos); err != nil {
		return err
	}
	if err := cf.check("dlq " + verb); err != nil {
		return err
	}
	everySink := verb == "purge" && *sink == "" && *from == 0
	if allFlag != nil && *allFlag {
		if *sink != "" || *from != 0 {
			return usageError{errors.New("dlq purge: --all purges every dead letter of every sink: give it without --sink and --from")}
		}
	} else if everySink && !con.terminal {
		return usageError{errors.New("dlq purge: give --sink NAME, or --all to purge every sink's dead letters (stdin is not a terminal to ask on)")}
	}
	var src dlqSource
	if cf.dataDir != "" {
		o, err := cf.offline()
		if err != nil {
			return err
		}
		defer o.Close()
		src = dlqOffline{o}
		if cf.output == "table" {
			fmt.Fprintf(stdout, "offline: %s (logcapturer is not running)\n", cf.dataDir)
		}
	} else {
		c, err := cf.client()
		if err != nil {
			return err
		}
		src = dlqAPI{c, &cf}
	}
	all, err := src.list(*sink)
	if err != nil {
		return err
	}
	picked := []pipeline.DeadLetter{}
	for _, d := range all {
		if *from == 0 || d.From == *from {
			picked = append(picked, d)
		}
	}
	if *from != 0 && len(picked) == 0 {
		return fmt.Errorf("no dead letter starts at index %d%s", *from, knownFroms(all))
	}
	switch verb {
	case "list", "show":
		if verb == "show" && *from != 0 {
			if i := otherSink(picked); i > 0 {
				return usageError{fmt.Errorf("dlq show: sinks %s and %s both have a dead letter at %d: give --sink", picked[0].Sink, picked[i].Sink, *from)}
			}
			d, es, err := src.entries(picked[0].Sink, *from, max(1, *limit))
			if err != nil {
				return err
			}
			if cf.output == "json" {
				return writeJSON(stdout, map[string]any{"dead_letter": d, "entries": es})
			}
			if err := renderDLQ(stdout, []pipeline.DeadLetter{d}, true); err != nil {
				return err
			}
			what := "entries"
			if d.Selection != "" {
				what = "refused entries (the rest were delivered: " + d.Selection + ")"
			}
			fmt.Fprintf(stdout, "\nfirst %d of %d %s:\n", len(es), d.Entries, what)
			return renderEntries(stdout, es)
		}
		if cf.output == "json" {
			return writeJSON(stdout, map[string]any{"dead_letters": picked})
		}
		if err := renderDLQ(stdout, picked, verb == "show"); err != nil || verb == "list" {
			return err
		}
		// show: the first --limit entries of each, only the refused ones of
		// a partial rejection. Dead letters of one sink that start at the
		// same index (a batch refused again after a restart) show the
		// entries of the first.
		for i, d := range picked {
			if i > 0 && picked[i-1].Sink == d.Sink && picked[i-1].From == d.From {
				continue
			}
			_, es, err := src.entries(d.Sink, d.From, max(1, *limit))
			if err != nil {
				return err
			}
			what := "every entry of its blocks"
			if d.Selection != "" {
				what = fmt.Sprintf("only the %d refused entries (WAL index:entry+count: %s)", d.Entries, d.Selection)
			}
			fmt.Fprintf(stdout, "\n%s %d-%d: %s; first %d:\n", d.Sink, d.From, d.To, what, len(es))
			if err := renderEntries(stdout, es); err != nil {
				return err
			}
		}
		return nil
	}
	if i := otherSink(picked); verb == "purge" && *sink == "" && *from != 0 && i > 0 {
		return usageError{fmt.Errorf("dlq purge: sinks %s and %s both have a dead letter at %d: give --sink", picked[0].Sink, picked[i].Sink, *from)}
	}
	if everySink && (allFlag == nil || !*allFlag) && len(picked) > 0 {
		if err := confirmPurge(con, stderr, picked); err != nil {
			return err
		}
	}
	total := 0
	type at struct {
		sink string
		from uint64 // 0: every dead letter of the sink
	}
	// One call per sink and index: a replay or purge at an index takes
	// every dead letter there, and a replay without --from every one of
	// the sink.
	seen := map[at]bool{}
	for _, d := range picked {
		key := at{d.Sink, d.From}
		if verb == "replay" && *from == 0 {
			key.from = 0
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		var n int
		if verb == "replay" {
			n, err = src.replay(key.sink, key.from)
		} else {
			n, err = src.purge(key.sink, key.from)
		}
		if err != nil {
			return err
		}
		total += n
	}
	if cf.output == "json" {
		key := map[string]string{"replay": "replayed", "purge": "purged"}[verb]
		return writeJSON(stdout, map[string]int{key: total})
	}
	switch {
	case verb == "replay" && cf.dataDir != "":
		fmt.Fprintf(stdout, "%d dead letter(s) queued for retry; they are sent when logcapturer next runs\n", total)
	case verb == "replay":
		fmt.Fprintf(stdout, "%d dead letter(s) queued for retry\n", total)
	default:
		fmt.Fprintf(stdout, "%d dead letter(s) purged\n", total)
	}
	return nil
}

func knownFroms(ds []pipeline.DeadLetter) string {
	if len(ds) == 0 {
		return ": there are no dead letters"
	}
	s := "; dead letters start at"
	for i, d := range ds {
		if i == 20 {
			return s + " …"
		}
		s += fmt.Sprintf(" %d (%s)", d.From, d.Sink)
	}
	return s
}

// confirmPurge asks on the terminal whether to purge ds, every sink's dead
// letters; anything but y or yes is a no.
func confirmPurge(con console, stderr io.Writer, ds []pipeline.DeadLetter) error {
	var sinks []string
	entries := 0
	for _, d := range ds {
		if !slices.Contains(sinks, d.Sink) {
			sinks = append(sinks, d.Sink)
		}
		entries += d.Entries
	}
	fmt.Fprintf(stderr, "purge every dead letter of every sink: %d dead letter(s), %d entries, of %s? They are deleted for good. [y/N] ",
		len(ds), entries, strings.Join(sinks, ", "))
	answer, err := bufio.NewReader(con.in).ReadString('\n')
	if err != nil && answer == "" {
		fmt.Fprintln(stderr)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return errors.New("dlq purge: not confirmed: nothing was purged")
}

// otherSink returns the index of the first dead letter in ds of another
// sink than ds[0]'s, or 0 when they are all of one sink (several dead
// letters of one sink may start at the same index).
func otherSink(ds []pipeline.DeadLetter) int {
	for i, d := range ds {
		if d.Sink != ds[0].Sink {
			return i
		}
	}
	return 0
}
