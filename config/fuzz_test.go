package config_test

import (
	"errors"
	. "github.com/logcapturer/logcapturer/config"
	"os"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that every failure is an
// *Error with at least one problem, and that what Parse accepts validates.
// Seeds: testdata/*.yaml and testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/valid.yaml", "testdata/invalid.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(minimal))
	opts := &ParseOptions{SinkTypes: sinkTypes, SourceTypes: sourceTypes,
		SkipDirCheck: true, // never create directories named by fuzz input
		LookupEnv: func(name string) (string, bool) {
			if name == "SET" {
				return "16MiB", true
			}
			return "", false
		},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseWith("fuzz.yaml", data, opts)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("error %v (%T) is not an *Error with problems", err, err)
			}
			_ = e.Error()
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects: %v", err)
		}
	})
}
