package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
)

// failingReopener is a sink whose output cannot be reopened.
type failingReopener struct{ memSink }

func (*failingReopener) Reopen(context.Context) error { return errors.New("injected reopen failure") }

// TestReopenOutputs: ReopenOutputs reopens the output of every sink that
// has one (a file sink, not a sink without a file), while the sink loops
// deliver: after the output was renamed, the path holds a new file at
// once and later lines go there. A sink whose reopen fails is named in
// the error and left out of the names.
func TestReopenOutputs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out", "raw.log")
	file, err := sinks.NewFile(nil, nil, sinks.FileOptions{Name: "out", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	mem := &memSink{name: "mem"}
	p, err := Open(nil, nil, Options{DataDir: filepath.Join(dir, "data"), CommitInterval: 5 * time.Millisecond, Sinks: []SinkOptions{
		{Sink: file, MaxWait: 5 * time.Millisecond}, {Sink: mem, MaxWait: 5 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Start(context.Background())
	defer p.Close()
	read := func() string { b, _ := os.ReadFile(path); return string(b) }

	emit(t, p, "app", "f1", 4, "one")
	waitFor(t, "one in the file", func() bool { return read() == "one\n" })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	names, err := p.ReopenOutputs(context.Background())
	if err != nil || !slices.Equal(names, []string{"out"}) {
		t.Fatalf("ReopenOutputs = %v, %v; want [out], nil", names, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Fatalf("after ReopenOutputs the path is %v, %v; want a new empty file", fi, err)
	}
	emit(t, p, "app", "f1", 8, "two")
	waitFor(t, "two in the new file", func() bool { return read() == "two\n" })
	if b, _ := os.ReadFile(path + ".1"); string(b) != "one\n" {
		t.Errorf("the renamed file holds %q", b)
	}

	// A sink with a Reopen that fails: named in the error.
	p2dir := t.TempDir()
	bad := &failingReopener{memSink{name: "bad"}}
	p2, err := Open(nil, nil, Options{DataDir: p2dir, Sinks: []SinkOptions{{Sink: bad}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	names, err = p2.ReopenOutputs(context.Background())
	if len(names) != 0 || err == nil || !strings.Contains(err.Error(), "injected") {
		t.Errorf("a failing reopen: %v, %v; want no names and its error", names, err)
	}
}
