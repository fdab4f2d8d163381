// Package stages runs Promtail's pipeline_stages on the entries a source
// reads, before they are written to the WAL. The syntax, key names,
// defaults and behaviour are Promtail 3.6's (Loki's documentation "Promtail
// pipeline stages" and each stage's page are the reference); where this
// package departs from Promtail, config/doc.go says so.
//
// # Shape
//
// A Pipeline is built once per source from the raw pipeline_stages YAML
// (Parse) and run by the source's own goroutine: the source hands it each
// entry it reads (Process), calls Tick from time to time, and appends what
// comes out to its next WAL block. A stage is an ordinary value; each stage
// type is one file (its options, parse function, Process, and tests) and
// one line in the stage list (list.go). The package imports neither
// pipeline nor sinks; it reads YAML nodes with config's helpers
// (config.ResolveAlias, IsNull, NodeKind, Suggest), so aliases, nulls and
// "did you mean" work as in the rest of the file. A Pipeline is not safe
// for concurrent use.
//
// # Parsing
//
// Parse takes the pipeline_stages sequence node: each item a one-key
// mapping {stage: options}. It reports every Problem it finds, each with a
// key relative to the list ("[3].regex.expression",
// "[0].match.stages[1].json.expressions.level") and the YAML line, and
// never panics: unknown stages (with the closest name), a key that belongs
// to another stage (the stages it belongs to are named), a stage where a
// list of stages is expected, options of the wrong shape, expressions that
// do not compile (RE2 regexes, JMESPath, Go templates, LogQL selectors).
// eventlogmessage is refused by name. geoip opens its MaxMind database
// when it is parsed, unless Env.NoFiles (then only its options are
// checked), looks once a minute (in Process) whether the file was replaced
// and then opens the new one, and Pipeline.Close unmaps it. A stage's options are a
// struct with yaml tags decoded strictly (parser.decode), but for the
// stages Promtail decodes with mapstructure.WeakDecode (cri, drop, limit,
// multiline, pack, sampling): there a quoted number or boolean, "" for a
// number (0), a single string for a list, and a number or boolean for a
// string (true is "1", 1.0 is "1": a drop value compares so; yes, no, on,
// off are booleans, as Promtail's YAML 1.1 reads them) are taken as
// Promtail takes them (weakNode); label maps and name lists have their own decoders.
//
// # Extracted map
//
// Before the first stage, Process clears Entry.Extracted and copies the
// labels into it (Promtail does this at the start of every pipeline). A
// nested match pipeline copies the labels again, over the values earlier
// stages extracted, without clearing them (as Promtail's nested pipelines
// do). Values are strings, float64 numbers, booleans or nil (json); stages
// convert them to strings as Promtail's getString does (toString). A json
// expression that fails on an entry (join(',', tags) without tags) leaves
// the value as it was, as Promtail's does. A json
// expression that finds nothing sets its name to nil, which later stages
// treat as present but not a string.
//
// # Failures, drops and labels
//
// A stage that cannot do its work on an entry (a line that is not JSON, a
// regex that does not match, a missing source) passes the entry on
// unchanged and counts it through Env.Failed(stage, reason); nothing is
// logged per entry. A stage that drops an entry counts it through
// Env.Dropped(reason), with Promtail's drop_counter_reason values
// ("drop_stage", "match_stage", or the configured one). A label value that
// is not UTF-8 or is over 2,048 bytes (Loki's default limit) is not set,
// and counted (Failed("labels", "label_value_too_long")). Label names are
// checked when the pipeline is parsed (Loki's rule: [a-zA-Z_][a-zA-Z0-9_]*).
//
// # Order and positions
//
// Every entry carries Seq, the source's sequence number of its first line.
// Entries leave a Pipeline in the order of their Seq: an entry that a stage
// holds (a multiline block under way) holds back the entries after it, so
// the source can record as its position the first line it has not yet
// handed on (Held), and a restart from that position reads again exactly
// the lines whose entries are not in the WAL. A dropped entry is simply
// not handed on: the block's position covers it.
//
// How: the end of the chain compares each entry's Seq with the smallest
// Seq any Holder stage reports (Held). An entry with a greater Seq is
// copied into a buffer kept sorted by Seq; after each Process, Tick and
// Flush the buffer hands on, in order, the entries no held entry precedes.
// Pipeline.Held is the smaller of the holders' and the buffer's first Seq.
// The buffer is bounded (maxReordered entries): past it, the holders are
// flushed early (a multiline block is cut short; logged once). A match
// stage with a holder in its nested stages is itself a holder, so this
// works at any depth.
//
// The holding stages (multiline, and cri with partial lines) also hand on
// in Seq order themselves, so a stage after them sees entries in order;
// each bounds what it holds (hold.go: a joined entry ends at 1 MiB, a
// stage holds at most 8 MiB and 10,000 streams, the oldest block is
// handed on first). A cri partial line is handed on after 3 s without a
// line on its stream (Promtail waits for the full line for ever).
//
// # Closing
//
// Pipeline.Close releases what stages hold outside it: the metrics stage
// removes its series and unregisters from Env.Registerer, and a limit
// stage without drop, which sleeps in Process until its next token (at
// most 1/rate seconds, as Promtail blocks), stops waiting. The source
// calls Close when it stops (Flush first to hand on what is held); Close
// may be called from another goroutine to end a wait, and twice.
//
// # Inspecting
//
// Pipeline.Inspect (inspect.go) makes a Pipeline report each entry as it
// enters each top-level stage (and the end), and each stage call's
// return, for logcapturer pipeline test (Promtail's --inspect); a drop or
// failure reported meanwhile belongs to the stage call under way.
// StageNames names the stages by index. A Pipeline never inspected runs
// its plain chain: nothing is paid for it.
//
// # Cost
//
// Process reuses the Entry and its maps; a stage allocates for the values
// it extracts, not for the entry (labels copied into Extracted reuse their
// last boxing). A stage that keeps an entry past the call (multiline)
// copies what it keeps. The json stage scans the line once without
// decoding it when every expression is a plain field path (a, a.b,
// "a-b".c), and falls back to decoding the object and go-jmespath
// otherwise; FuzzJSON checks the two agree.
package stages
