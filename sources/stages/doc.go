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
// type is one file (its options, Parse function, Process, and tests) and
// one line in the stage list (list.go). The package imports neither
// pipeline nor sinks.
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
// # Cost
//
// Process reuses the Entry and its maps; a stage allocates for the values
// it extracts, not for the entry. A stage that keeps an entry past the
// call (multiline) copies what it keeps.
package stages
