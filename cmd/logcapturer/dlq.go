package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/retry"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// cmdDLQ works on the dead-letter queue in state.db directly, so the
// shipper must be stopped (state.db is locked while it runs).
func cmdDLQ(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("dlq: want list, show, replay or purge")}
	}
	verb := args[0]
	fs := flag.NewFlagSet("dlq "+verb, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dataDir := fs.String("data-dir", "", "the data_dir of the stopped logcapturer")
	sink := fs.String("sink", "", "sink name (default: every sink)")
	from := fs.Uint64("from", 0, "first WAL index of one dead letter (default: all)")
	maxEntries := fs.Int("entries", 20, "show: entries listed per dead letter (0: none, -1: all)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{fmt.Errorf("dlq %s: %w", verb, err)}
	}
	if *dataDir == "" {
		return usageError{fmt.Errorf("dlq %s: --data-dir DIR is required", verb)}
	}
	switch verb {
	case "list", "show", "replay", "purge":
	default:
		return usageError{fmt.Errorf("dlq: unknown action %q: want list, show, replay or purge", verb)}
	}
	path := filepath.Join(*dataDir, "state.db")
	db, err := bolt.Open(path, 0o640, &bolt.Options{Timeout: 200 * time.Millisecond})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return fmt.Errorf("data dir %s is in use by a running logcapturer (state.db locked): stop it first", *dataDir)
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	store := retry.NewStore(db)
	sinks := []string{*sink}
	if *sink == "" {
		if sinks, err = store.Sinks(); err != nil {
			return fmt.Errorf("list sinks in %s: %w", path, err)
		}
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	defer w.Flush()
	if verb == "list" || verb == "show" {
		fmt.Fprintln(w, "SINK\tFROM\tTO\tENTRIES\tREASON\tATTEMPTS\tFIRST FAILURE\tLAST FAILURE\tLAST ERROR")
	}
	total := 0
	var shown []shownDead
	for _, s := range sinks {
		_, dead, err := store.Load(s)
		if err != nil {
			return err
		}
		var picked []retry.DeadLetter
		for _, d := range dead {
			if *from == 0 || d.From == *from {
				picked = append(picked, d)
			}
		}
		switch verb {
		case "list", "show":
			for _, d := range picked {
				msg := d.LastError
				if verb == "list" && len(msg) > 60 {
					msg = msg[:60] + "…"
				}
				fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%s\t%d\t%s\t%s\t%s\n", s, d.From, d.To, d.Entries, d.Reason, d.Attempts,
					d.FirstFailure.Format(time.RFC3339), d.LastFailure.Format(time.RFC3339), msg)
				shown = append(shown, shownDead{s, d})
			}
		case "replay", "purge":
			if len(picked) == 0 {
				continue
			}
			if _, err := store.RemoveDead(s, picked, verb == "replay", time.Now().UTC()); err != nil {
				return err
			}
		}
		total += len(picked)
	}
	if verb == "show" && *maxEntries != 0 {
		w.Flush()
		if err := showEntries(stdout, *dataDir, shown, *maxEntries); err != nil {
			return err
		}
	}
	switch verb {
	case "replay":
		fmt.Fprintf(w, "%d dead letter(s) queued for retry; they are sent when logcapturer next runs\n", total)
	case "purge":
		fmt.Fprintf(w, "%d dead letter(s) purged\n", total)
	}
	if *from != 0 && total == 0 {
		return fmt.Errorf("no dead letter starts at index %d", *from)
	}
	return nil
}

type shownDead struct {
	sink string
	d    retry.DeadLetter
}

// showEntries lists the entries each dead letter holds, read from the WAL:
// only the refused ones of a partial rejection (a dead letter with a
// selection), up to max per dead letter (-1: all).
func showEntries(out io.Writer, dataDir string, shown []shownDead, max int) error {
	if len(shown) == 0 {
		return nil
	}
	ds := make([]retry.DeadLetter, len(shown))
	for i, sd := range shown {
		ds[i] = sd.d
	}
	var (
		cur  = -1 // index in shown of the dead letter being listed
		n    int  // its entries so far
		werr error
	)
	more := func() {
		if cur >= 0 && max >= 0 && n > max {
			fmt.Fprintf(out, "  … and %d more (--entries -1 lists all)\n", n-max)
		}
	}
	header := func(i int) {
		more()
		cur, n = i, 0
		sd := shown[i]
		what := "every entry of its blocks"
		if !sd.d.Picks.IsZero() {
			what = fmt.Sprintf("only the %d refused entries (WAL index:entry+count: %s)", sd.d.Picks.Entries(), sd.d.Picks)
		}
		fmt.Fprintf(out, "\n%s %d-%d: %s\n", sd.sink, sd.d.From, sd.d.To, what)
	}
	next := 0
	err := pipeline.ReadDeadLetterEntries(dataDir, ds, func(i int, e pipeline.DeadLetterEntry) error {
		for next <= i { // and any before it without entries (blocks gone)
			header(next)
			next++
		}
		n++
		if max >= 0 && n > max {
			return nil // counted, not shown
		}
		line := e.Line
		if len(line) > 200 {
			line = line[:200]
		}
		_, werr = fmt.Fprintf(out, "  %d:%d\t%s\t%s\t%q\n", e.Index, e.Entry, e.Time.Format(time.RFC3339Nano), e.Source, line)
		return werr
	})
	if err != nil {
		return fmt.Errorf("read dead letters from the wal: %w", err)
	}
	for next < len(shown) { // dead letters whose blocks are gone
		header(next)
		next++
	}
	more()
	return nil
}
