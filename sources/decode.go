package sources

import (
	"time"

	"github.com/logcapturer/logcapturer/wal"
)

// Decoded is one line of a log file as the tailer decodes it, for
// logcapturer pipeline test, which runs sample lines through a source's
// stages as the source would.
type Decoded struct {
	// Line is the text: the record's message (Docker's "log" without its
	// final '\n', CRI's message), or the whole line.
	Line string
	// Time is the record's time (UTC); zero when it carries none (a
	// plain file's line: the tailer uses the read time).
	Time time.Time
	// Stream is the record's stream (stdout, stderr); "" for none.
	Stream string
	// Partial: the record is a piece of a line that the next record of
	// the same stream continues (Docker's 16 KiB pieces, CRI's P tag); the
	// tailer joins the pieces into one entry with the first one's time.
	Partial bool
	// ParseError: the line is not a record of the type; it is shipped
	// raw, alone, with the label parse_error="true".
	ParseError bool
}

// DecodeLine decodes one line (without its '\n') of a file of a source of
// type typ (TypeDocker, TypeCRI; any other type: the line as it is) with
// the tailer's own decoders. Safe for concurrent use.
func DecodeLine(typ string, line []byte) Decoded {
	var r record
	switch typ {
	case TypeDocker:
		var scratch []byte
		r = decodeDocker(line, &scratch)
	case TypeCRI:
		r = decodeCRI(line)
	default:
		r = record{content: line}
	}
	d := Decoded{Line: string(r.content), Stream: r.stream, Partial: r.partial, ParseError: r.parseErr}
	if r.time != 0 {
		d.Time = time.Unix(0, r.time).UTC()
	}
	return d
}

// Labels are the labels the tailer gives the entry of d besides the
// file's: stream, or parse_error="true".
func (d Decoded) Labels() map[string]string {
	m := map[string]string{}
	if d.Stream != "" {
		m[streamLabel] = d.Stream
	}
	if d.ParseError {
		m[parseErrorLabel] = "true"
	}
	return m
}

// FileLabels returns the labels a source of type typ gives the entries of
// the file at path besides its configured ones: filename, and for docker
// the container's (container_id, and container_name and image when the
// container's config.v2.json can be read), for cri those of the path
// (namespace, pod, container).
func FileLabels(typ, path string) map[string]string {
	m := map[string]string{filenameLabel: path}
	var extra []wal.Label
	switch typ {
	case TypeDocker:
		extra = dockerLabels(path)
	case TypeCRI:
		extra = criLabels(path)
	}
	for _, l := range extra {
		m[l.Name] = l.Value
	}
	return m
}
