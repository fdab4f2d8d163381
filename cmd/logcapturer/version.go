package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// versionInfo is `version -o json`: the version set at build time, the Go
// version, and what the Go toolchain recorded of the checkout it was built
// from (absent when built without VCS information, -buildvcs=false).
type versionInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	Revision  string `json:"vcs_revision,omitempty"`
	Time      string `json:"vcs_time,omitempty"`
	Modified  *bool  `json:"vcs_modified,omitempty"`
}

// buildVersion reads info (ok false: the binary has no build info).
func buildVersion(info *debug.BuildInfo, ok bool) versionInfo {
	v := versionInfo{Version: version}
	if !ok {
		return v
	}
	v.GoVersion = info.GoVersion
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			m := s.Value == "true"
			v.Modified = &m
		}
	}
	return v
}

// String is the one line `version` prints: version, short revision (with
// "+modified" for a dirty checkout), Go version.
func (v versionInfo) String() string {
	s := v.Version
	if len(v.Revision) >= 12 {
		s += " (" + v.Revision[:12]
		if v.Modified != nil && *v.Modified {
			s += "+modified"
		}
		s += ")"
	}
	if v.GoVersion != "" {
		s += " " + v.GoVersion
	}
	return s
}

// fullVersion is the version line of this binary, as /api/v1/status
// shows it.
func fullVersion() string { return buildVersion(debug.ReadBuildInfo()).String() }

// cmdVersion prints the version, or with -o json the version and build
// info.
func cmdVersion(args []string, stdout io.Writer) error {
	fs := newFlags("version")
	output := fs.String("o", "table", "output: table (one line) or json (with the Go version and build info)")
	pos, err := parseFlags(fs, args, "version [-o table|json]\n\nPrint the version, the commit and the Go version.")
	if err != nil {
		return err
	}
	if err := noArgs("version", pos); err != nil {
		return err
	}
	v := buildVersion(debug.ReadBuildInfo())
	switch *output {
	case "table":
		fmt.Fprintf(stdout, "logcapturer %s\n", v)
		return nil
	case "json":
		return writeJSON(stdout, v)
	}
	return usageError{fmt.Errorf("version: -o %q: want table or json", *output)}
}
