package config

import (
	"errors"
	"slices"
	"testing"
)

// TestProblemsAndWarningsSorted: problems and warnings are reported the
// same way, ordered by line (stable within a line) with duplicates (a
// problem found again through an alias or merge) removed.
func TestProblemsAndWarningsSorted(t *testing.T) {
	ps := &problems{file: "c.yaml"}
	for _, add := range []func(line int, key, format string, args ...any){ps.add, ps.warn} {
		add(9, "b", "second on 9")
		add(3, "a", "on 3")
		add(9, "a", "first on 9?")
		add(3, "a", "on 3") // again, through an alias
		add(1, "z", "on 1")
	}
	want := []Problem{
		{File: "c.yaml", Line: 1, Key: "z", Msg: "on 1"},
		{File: "c.yaml", Line: 3, Key: "a", Msg: "on 3"},
		{File: "c.yaml", Line: 9, Key: "b", Msg: "second on 9"},
		{File: "c.yaml", Line: 9, Key: "a", Msg: "first on 9?"},
	}
	var ce *Error
	if err := ps.err(); !errors.As(err, &ce) || !slices.Equal(ce.Problems, want) {
		t.Errorf("problems %v, want %v", err, want)
	}
	if got := ps.sortedWarnings(); !slices.Equal(got, want) {
		t.Errorf("warnings %v, want %v", got, want)
	}
	if err := (&problems{}).err(); err != nil {
		t.Errorf("no problems: %v", err)
	}
	if got := (&problems{}).sortedWarnings(); got != nil {
		t.Errorf("no warnings: %v", got)
	}
}
