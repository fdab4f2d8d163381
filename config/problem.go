package config

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// A Problem is one thing wrong with a configuration: where it is and what is
// wrong. File is the name given to Load or Parse; Line is 1-based, or 0 when
// the problem has no line of its own (an empty file, a Config built in code).
// Key is the dotted path of the offending setting, with list indexes, such as
// "sources[0].start_at"; it is empty for problems with the file as a whole.
type Problem struct {
	File string
	Line int
	Key  string
	Msg  string
}

// String formats the problem as "file:line: key: message", leaving out the
// parts that are empty or zero, for example
//
//	quickstart.yaml:12: sources[0].start_at: must be beginning or end, got "middle"
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	} else if p.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteString(": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error is returned by Load and Parse when a configuration has problems. It
// lists all of them, ordered by line.
type Error struct {
	Problems []Problem
}

// Error returns the problems one a line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects Problems for one file.
type problems struct {
	file string
	list []Problem
	// warnings are things that may be wrong but do not stop the config
	// from loading (a mapping that names nothing); see Config.Warnings.
	warnings []Problem
}

func (ps *problems) warn(line int, key, format string, args ...any) {
	ps.warnings = append(ps.warnings, Problem{File: ps.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// sortedWarnings returns the warnings ordered by line, duplicates removed.
func (ps *problems) sortedWarnings() []Problem {
	return sortedUnique(ps.warnings)
}

// sortedUnique returns list ordered by line (stable, so problems on one
// line keep their order), duplicates removed: a problem inside a mapping
// merged or aliased in several places can be found more than once.
func sortedUnique(list []Problem) []Problem {
	seen := map[Problem]bool{}
	var out []Problem
	for _, p := range list {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	return out
}

func (ps *problems) add(line int, key, format string, args ...any) {
	ps.list = append(ps.list, Problem{File: ps.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// err returns nil when there are no problems, else an *Error with the
// problems sorted by line (stable, so problems on one line keep their order)
// and duplicates removed.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return &Error{Problems: sortedUnique(ps.list)}
}
