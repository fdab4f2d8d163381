package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/logcapturer/logcapturer/admin"
	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sources"
)

// The tables people read; -o json prints the API's JSON instead. Every
// renderer is deterministic for its input (golden files in testdata).

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func renderStatus(w io.Writer, st pipeline.Status) error {
	if st.Offline {
		fmt.Fprintf(w, "offline: read from %s (logcapturer is not running)\n", st.DataDir)
	} else {
		v := st.Version
		if v == "" {
			v = "unknown version"
		}
		fmt.Fprintf(w, "logcapturer %s, up %s, %s\n", v, admin.HumanAge(st.UptimeSeconds), st.Ready.Status)
	}
	fmt.Fprintf(w, "wal: indexes %d..%d (durable %d), %d segments, %s", st.WAL.FirstIndex, st.WAL.LastIndex,
		st.WAL.DurableIndex, st.WAL.Segments, admin.HumanBytes(st.WAL.Bytes))
	if st.WAL.MaxBytes > 0 {
		fmt.Fprintf(w, " of %s", admin.HumanBytes(st.WAL.MaxBytes))
	}
	fmt.Fprintln(w)
	if !st.Offline && len(st.Ready.Reasons) > 0 {
		fmt.Fprintln(w)
		tw := table(w)
		fmt.Fprintln(tw, "COMPONENT\tREASON\tSINCE\tDETAIL")
		for _, c := range st.Ready.Reasons {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Component, c.Reason, c.Since.UTC().Format(time.RFC3339), dash(short(c.Detail, 80)))
		}
		tw.Flush()
	}
	if !st.Offline && len(st.Warnings) > 0 {
		fmt.Fprintln(w)
		tw := table(w)
		fmt.Fprintln(tw, "COMPONENT\tWARNING\tSINCE\tDETAIL")
		for _, c := range st.Warnings {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Component, c.Reason, c.Since.UTC().Format(time.RFC3339), dash(short(c.Detail, 80)))
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	if err := renderSinks(w, st.Sinks); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw := table(w)
	fmt.Fprintln(tw, "SOURCE\tTYPE\tFILES\tOPEN\tIDLE\tDRAINING\tUNREADABLE\tLAG BYTES")
	for _, s := range st.Sources {
		var lag int64
		n := map[string]int{}
		for _, f := range s.Files {
			lag += f.LagBytes
			n[f.State]++
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", s.Name, dash(s.Type), len(s.Files), n[sources.FileOpen], n[sources.FileIdle],
			n[sources.FileDraining], n[sources.FileUnreadable], admin.HumanBytes(lag))
	}
	return tw.Flush()
}

func renderSinks(w io.Writer, ss []pipeline.SinkStatus) error {
	tw := table(w)
	fmt.Fprintln(tw, "SINK\tTYPE\tDESTINATION\tSTATE\tCURSOR\tLAG ENTRIES\tLAG BYTES\tOLDEST UNACKED\tIN FLIGHT\tRETRY RANGES/ENTRIES\tDLQ RANGES/ENTRIES\tLAST SUCCESS\tLAST ERROR")
	for _, s := range ss {
		lag := strconv.FormatInt(s.LagEntries, 10)
		if !s.LagExact {
			lag = "~" + lag
		}
		last := "-"
		if s.LastSuccessTime != nil {
			last = s.LastSuccessTime.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%d/%d\t%d/%d\t%s\t%s\n", s.Name, dash(s.Type),
			dash(short(s.Destination, 60)), s.State, s.Cursor, lag,
			admin.HumanBytes(s.LagBytes), admin.HumanAge(s.OldestUnackedAgeSeconds), s.InFlight, s.RetryRanges, s.RetryEntries,
			s.DLQRanges, s.DLQEntries, last, dash(short(s.LastError, 60)))
	}
	return tw.Flush()
}

// renderSources lists every file of every source, the open connections
// of a listening source (syslog) and the clients of a push receiver
// (loki_push). An unreadable file
// says since when and why; one that never opened has no file ID, offset
// or lag. A source read by cursor (journald) shows, as its offset, the
// time of the entry its cursor points after ("@2025-01-02T15:04:05Z").
func renderSources(w io.Writer, srcs []pipeline.SourceStatus) error {
	tw := table(w)
	fmt.Fprintln(tw, "SOURCE\tPATH\tFILE ID\tOFFSET\tSIZE\tLAG BYTES\tSTATE\tSINCE\tERROR")
	for _, s := range srcs {
		for _, f := range s.Files {
			offset, lag := strconv.FormatInt(f.Offset, 10), strconv.FormatInt(f.LagBytes, 10)
			switch {
			case f.FileID == "":
				offset, lag = "-", "-"
			case f.CursorTime != nil: // a journald source: where its cursor stands
				offset, lag = "@"+f.CursorTime.UTC().Format(time.RFC3339), "-"
			case f.Cursor != "":
				offset, lag = "@cursor", "-"
			}
			since := "-"
			if f.Since != nil {
				since = f.Since.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", s.Name, terminalSafe(f.Path), dash(f.FileID), offset, f.Size, lag,
				f.State, since, dash(short(f.Error, 120)))
		}
		if s.Push != nil { // a push receiver: PATH is a client, SIZE its entries, SINCE its last answer
			for _, c := range s.Push.Clients {
				fmt.Fprintf(tw, "%s\t%s\t-\t-\t%d\t-\tlast answer %d\t%s\t-\n", s.Name, terminalSafe(c.Remote), c.Entries,
					c.LastCode, c.Last.UTC().Format(time.RFC3339))
			}
			if len(s.Push.Clients) == 0 {
				fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\tno pushes yet\t-\t-\n", s.Name, terminalSafe(s.Push.Listen))
			}
			continue
		}
		for _, c := range s.Connections { // a listening source: PATH is the peer, SIZE the bytes read
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t%d\t-\tconnected\t%s\t-\n", s.Name, terminalSafe(c.Remote), c.Bytes,
				c.Since.UTC().Format(time.RFC3339))
		}
		switch {
		case len(s.Files) > 0 || len(s.Connections) > 0:
		case s.Type == "file" || s.Type == "docker" || s.Type == "cri" || s.Type == "kubernetes" || s.Type == "":
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\tno files\t-\t-\n", s.Name)
		default:
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\tno connections\t-\t-\n", s.Name)
		}
	}
	return tw.Flush()
}

// renderDLQ lists dead letters; full keeps whole error messages.
func renderDLQ(w io.Writer, ds []pipeline.DeadLetter, full bool) error {
	tw := table(w)
	fmt.Fprintln(tw, "SINK\tFROM\tTO\tENTRIES\tREASON\tATTEMPTS\tFIRST FAILURE\tLAST FAILURE\tLAST ERROR")
	for _, d := range ds {
		msg := terminalSafe(d.LastError)
		if !full {
			msg = short(d.LastError, 60)
		}
		reason := d.Reason
		if d.Expired {
			reason += " (expired: blocks deleted)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%d\t%s\t%s\t%s\n", d.Sink, d.From, d.To, d.Entries, reason, d.Attempts,
			d.FirstFailure.UTC().Format(time.RFC3339), d.LastFailure.UTC().Format(time.RFC3339), dash(msg))
	}
	return tw.Flush()
}

func renderEntries(w io.Writer, es []pipeline.Entry) error {
	tw := table(w)
	fmt.Fprintln(tw, "INDEX\tTIME\tSOURCE\tLABELS\tLINE")
	for _, e := range es {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.Index, e.Time.UTC().Format(time.RFC3339Nano), terminalSafe(e.Source),
			labelString(e.Labels), terminalSafe(e.Line))
	}
	return tw.Flush()
}

func labelString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, terminalSafe(k)+"="+strconv.Quote(m[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// short cuts s to n runes, on one line, its whitespace runs made one
// space and what remains escaped (terminalSafe).
func short(s string, n int) string {
	s = terminalSafe(strings.Join(strings.Fields(s), " "))
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// bytesHuman is n in B, KiB, MiB, GiB or TiB, one decimal.
