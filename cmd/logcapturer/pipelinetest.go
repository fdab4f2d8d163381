package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/sources/stages"
)

const pipelineUsage = "pipeline test --config FILE --source NAME [flags] [FILE|-]\n\n" +
	"Run sample lines (FILE, or stdin when FILE is - or left out; one a line) through the\n" +
	"pipeline_stages of a source, as the source would, and print for each line and each\n" +
	"stage what changed: extracted values, labels, structured metadata, timestamp, line,\n" +
	"and why an entry was dropped. Entries a stage holds (multiline) are flushed at the\n" +
	"end of the input. The config is loaded and checked as check does. -o json prints one\n" +
	"JSON object a line per entry."

// cmdPipeline runs pipeline test.
func cmdPipeline(args []string, con console, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "test" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return helpShown{helpText(newFlags("pipeline"), pipelineUsage)}
		}
		return usageError{errors.New("pipeline: want test")}
	}
	fs := newFlags("pipeline test")
	cfgPath := fs.String("config", "", "config file (YAML)")
	source := fs.String("source", "", "the source whose pipeline_stages run (required)")
	output := fs.String("o", "table", "output: table (a trace per line) or json (one object a line per entry)")
	nowFlag := fs.String("now", "", "RFC 3339 time the lines are read at: their time unless a record or stage sets one (default: the current time)")
	filename := fs.String("filename", "", "path of the file the lines stand for: the labels the source takes from it (filename; docker's or cri's) are added")
	pos, err := parseFlags(fs, args[1:], pipelineUsage)
	if err != nil {
		return err
	}
	switch {
	case *cfgPath == "":
		return usageError{errors.New("pipeline test: --config FILE is required")}
	case *source == "":
		return usageError{errors.New("pipeline test: --source NAME is required")}
	case *output != "table" && *output != "json":
		return usageError{fmt.Errorf("pipeline test: -o %q: want table or json", *output)}
	case len(pos) > 1:
		return usageError{fmt.Errorf("pipeline test: unexpected arguments %q: give one sample FILE, or - for stdin", pos[1:])}
	}
	now := time.Now
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339Nano, *nowFlag)
		if err != nil {
			return usageError{fmt.Errorf("pipeline test: --now %q: want RFC 3339 with a zone, such as 2026-12-01T10:00:00Z", *nowFlag)}
		}
		now = func() time.Time { return t }
	}

	cfg, err := checkConfig(*cfgPath)
	if err != nil {
		return err
	}
	idx := slices.IndexFunc(cfg.Sources, func(s config.Source) bool { return s.Name == *source })
	if idx < 0 {
		names := make([]string, len(cfg.Sources))
		for i, s := range cfg.Sources {
			names[i] = s.Name
		}
		return fmt.Errorf("pipeline test: %s has no source %q; its sources: %s", *cfgPath, *source, strings.Join(names, ", "))
	}
	src := cfg.Sources[idx]
	typ := string(src.Type)

	in := con.in
	if len(pos) == 1 && pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return fmt.Errorf("pipeline test: open sample lines: %w", err)
		}
		defer f.Close()
		in = f
	}
	if in == nil {
		in = strings.NewReader("")
	}

	start := maps.Clone(src.Labels)
	if start == nil {
		start = map[string]string{}
	}
	if *filename != "" {
		maps.Copy(start, sources.FileLabels(typ, *filename))
	}
	out := newTraceWriter(stdout, *output == "json")
	tr := newTracer(typ, start, now, out)
	env := stages.Env{
		Source:  src.Name,
		Now:     now,
		Logger:  slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Dropped: tr.dropped,
		Failed:  tr.failed,
	}
	pl, problems := stages.Parse(src.PipelineStages, env)
	if len(problems) > 0 {
		ce := &config.Error{}
		for _, p := range problems {
			ce.Problems = append(ce.Problems, config.Problem{File: *cfgPath, Line: p.Line,
				Key: fmt.Sprintf("sources[%d].pipeline_stages%s", idx, p.Key), Msg: p.Msg})
		}
		return configError(*cfgPath, ce)
	}
	defer pl.Close()
	if fc, ok := src.Options.(*sources.FileConfig); ok && (fc.Multiline.Enabled() || fc.Timestamp.Enabled()) {
		fmt.Fprintf(stderr, "note: source %q's own multiline and timestamp options are not applied here, only its pipeline_stages\n", src.Name)
	}
	tr.run(pl, stages.StageNames(src.PipelineStages))

	r := bufio.NewReader(in)
	for {
		line, err := r.ReadString('\n')
		if len(line) > 0 || err == nil {
			tr.line(strings.TrimSuffix(line, "\n"))
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return fmt.Errorf("pipeline test: read sample lines: %w", err)
		}
		if out.err != nil {
			return fmt.Errorf("pipeline test: write: %w", out.err)
		}
	}
	tr.end()
	if out.err != nil {
		return fmt.Errorf("pipeline test: write: %w", out.err)
	}
	return nil
}
