package promset

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func counter(name string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: "h"})
}

// TestAllOrNone: a clash on the third collector leaves none of the set
// registered, and the error names the owner; Unregister frees the names
// for the next Register.
func TestAllOrNone(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(counter("c"))
	_, err := Register(reg, `source "app"`, counter("a"), counter("b"), counter("c"))
	if err == nil || !strings.Contains(err.Error(), `register metrics of source "app": one of this name is registered already`) {
		t.Fatalf("clash: %v", err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 1 {
		t.Fatalf("after a failed Register %d series are registered (%v), want only c", n, err)
	}
	s, err := Register(reg, "x", counter("a"), counter("b"))
	if err != nil {
		t.Fatal(err)
	}
	s.Unregister()
	s.Unregister()
	if _, err := Register(reg, "x", counter("a"), counter("b")); err != nil {
		t.Fatalf("register again after Unregister: %v", err)
	}
	var none *Set
	none.Unregister()
	if s, err := Register(nil, "x", counter("a")); err != nil || s == nil {
		t.Fatalf("nil registerer: %v %v", s, err)
	}
}
