package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logcapturer/logcapturer/pipeline"
)

// hostileLine holds what a log line can carry to attack a terminal: SGR
// colour, an OSC title, an OSC 8 hyperlink ended by ST, a carriage return,
// NUL, DEL, bytes that are not UTF-8, a C1 CSI, a right-to-left override;
// and what must stay: text, UTF-8 letters, a U+FFFD.
const hostileLine = "\x1b[31mred\x1b[0m \x1b]0;pwned\x07 \x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\ " +
	"over\rwrite nul\x00 del\x7f bad\xff\xfe utf8 c1\u009b2J rlo\u202eabc ok: ü 日本 \ufffd tab\tnl\n"

// hostileWant is hostileLine as the tables print it.
const hostileWant = `\x1b[31mred\x1b[0m \x1b]0;pwned\x07 \x1b]8;;http://evil.example/\x1b\link\x1b]8;;\x1b\ ` +
	`over\rwrite nul\x00 del\x7f bad\xff\xfe utf8 c1\u009b2J rlo\u202eabc ok: ü 日本 ` + "\ufffd" + ` tab\tnl\n`

// checkTerminalSafe fails when out holds a byte a terminal acts on: a C0
// control other than newline, DEL, a C1 control, a bidi override, or
// bytes that are not UTF-8.
func checkTerminalSafe(t *testing.T, what string, out []byte) {
	t.Helper()
	if !utf8.Valid(out) {
		t.Errorf("%s: output is not UTF-8:\n%q", what, out)
	}
	for _, r := range string(out) {
		if (r < 0x20 && r != '\n') || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			t.Errorf("%s: output holds %U:\n%q", what, r, out)
			return
		}
	}
}

func TestTerminalSafe(t *testing.T) {
	if got := terminalSafe(hostileLine); got != hostileWant {
		t.Fatalf("terminalSafe:\n got %s\nwant %s", got, hostileWant)
	}
	for in, want := range map[string]string{
		"":                     "",
		"plain GET /x 200":     "plain GET /x 200",
		"\x1b":                 `\x1b`,
		"\xc2":                 `\xc2`,            // a cut UTF-8 sequence
		"\xc2\x9b":             `\u009b`,          // C1 CSI, valid UTF-8
		"\xe2\x80":             `\xe2\x80`,        // a cut three-byte rune
		"\xed\xa0\x80":         `\xed\xa0\x80`,    // a UTF-16 surrogate is not UTF-8
		"a\u2066b\u2069c":      `a\u2066b\u2069c`, // bidi isolates
		`C:\logs \x1b`:         `C:\logs \x1b`,    // a backslash is printed as it is
		"\u00a0nbsp \u200dzwj": "\u00a0nbsp \u200dzwj",
	} {
		if got := terminalSafe(in); got != want {
			t.Errorf("terminalSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHostileLineGolden: wal cat's and dlq show's tables print a hostile
// line (and a dead letter's hostile error) escaped, byte for byte as in
// the golden files; nothing a terminal acts on reaches the output.
func TestHostileLineGolden(t *testing.T) {
	f := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	es := []pipeline.Entry{
		{Index: 7, Time: f, Source: "app", Labels: map[string]string{"job": "app\x1b[2J", "x\x1b]0;t\x07": "v"}, Line: hostileLine},
		{Index: 8, Time: f, Source: "app", Labels: map[string]string{"job": "app"}, Line: "next line"},
	}
	var b bytes.Buffer
	if err := renderEntries(&b, es); err != nil {
		t.Fatal(err)
	}
	golden(t, "wal_cat_control.golden", b.Bytes())
	checkTerminalSafe(t, "wal cat", b.Bytes())
	if !strings.Contains(b.String(), hostileWant+"\n") {
		t.Errorf("wal cat lacks the escaped line:\n%s", b.String())
	}

	ds := []pipeline.DeadLetter{{Sink: "loki", From: 7, To: 7, Entries: 1, Reason: "rejected", Attempts: 1, FirstFailure: f, LastFailure: f,
		LastError: "loki answered 400: bad line " + hostileLine}}
	b.Reset()
	if err := renderDLQ(&b, ds, true); err != nil {
		t.Fatal(err)
	}
	if err := renderEntries(&b, es[:1]); err != nil {
		t.Fatal(err)
	}
	golden(t, "dlq_show_control.golden", b.Bytes())
	checkTerminalSafe(t, "dlq show", b.Bytes())
	if !strings.Contains(b.String(), "bad line "+hostileWant+"\n") {
		t.Errorf("dlq show lacks the escaped error:\n%s", b.String())
	}
	b.Reset()
	if err := renderDLQ(&b, ds, false); err != nil {
		t.Fatal(err)
	}
	checkTerminalSafe(t, "dlq list", b.Bytes())
}

// TestHostileLineCommands: the real commands, wal cat and dlq show (with
// and without --from), on a stopped logcapturer's data dir holding a
// hostile line a sink refused, print it escaped.
func TestHostileLineCommands(t *testing.T) {
	dataDir := t.TempDir()
	s := &refusingSink{refuse: func(l string) bool { return strings.HasPrefix(l, "\x1b[31m") }}
	runPipeline(t, dataDir, s, [][]string{{hostileLine, "fine"}}, func(p *pipeline.Pipeline) bool {
		return len(p.DeadLetters("loki")) == 1
	})
	for _, args := range [][]string{
		{"wal", "cat", "--from", "1", "--data-dir", dataDir},
		{"dlq", "show", "--data-dir", dataDir},
		{"dlq", "show", "--from", "1", "--data-dir", dataDir},
	} {
		var out, errb bytes.Buffer
		if code := runMain(args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d %s", args, code, errb.String())
		}
		checkTerminalSafe(t, strings.Join(args[:2], " "), out.Bytes())
		if !strings.Contains(out.String(), "  "+hostileWant+"\n") {
			t.Errorf("%v lacks the escaped line:\n%s", args, out.String())
		}
	}
}

// FuzzTerminalSafe: whatever the input, the output is UTF-8 with nothing a
// terminal acts on, and input without anything to escape is unchanged.
func FuzzTerminalSafe(f *testing.F) {
	f.Add(hostileLine)
	f.Add("plain")
	f.Fuzz(func(t *testing.T, s string) {
		got := terminalSafe(s)
		checkTerminalSafe(t, "terminalSafe", []byte(strings.ReplaceAll(got, "\n", "")))
		if strings.ContainsRune(got, '\n') {
			t.Fatalf("terminalSafe(%q) = %q holds a newline", s, got)
		}
		if !strings.ContainsAny(s, "\\") && !strings.Contains(got, `\`) && got != s {
			t.Fatalf("terminalSafe(%q) = %q changed input with nothing to escape", s, got)
		}
	})
}
