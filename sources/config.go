package sources

import (
	"time"

	"github.com/logcapturer/logcapturer/config"
)

// FileSourceType registers type: file with config.
func FileSourceType() config.SourceType { return sourceType(config.SourceFile) }

// DockerSourceType registers type: docker with config.
func DockerSourceType() config.SourceType { return sourceType(config.SourceDocker) }

// CRISourceType registers type: cri with config.
func CRISourceType() config.SourceType { return sourceType(config.SourceCRI) }

// sourceType is the registration of one of the tailer's types: its Check
// reports, at their keys' lines, what config's own rules do not cover
// (FileOptions.typeRules).
func sourceType(kind config.SourceKind) config.SourceType {
	return config.SourceType{Name: kind, Check: func(s *config.Source, c *config.Check) {
		o := OptionsFromConfig(s)
		o.typeRules(func(key, msg string) { c.Problem(key, "%s", msg) })
	}}
}

// OptionsFromConfig maps a source entry of the config onto the tailer's
// options; Positions, Emitter and Now are left for the caller.
func OptionsFromConfig(s *config.Source) FileOptions {
	return FileOptions{
		Name:             s.Name,
		Type:             string(s.Type),
		Paths:            s.Paths,
		Exclude:          s.Exclude,
		StartAt:          string(s.StartAt),
		Labels:           s.Labels,
		MaxLineBytes:     int(s.MaxLineBytes),
		PollInterval:     time.Duration(s.PollInterval),
		MaxOpenFiles:     s.MaxOpenFiles,
		CloseInactive:    time.Duration(s.CloseInactive),
		FingerprintBytes: int(s.FingerprintBytes),
		Multiline: MultilineOptions{Start: s.Multiline.Start, MaxLines: s.Multiline.MaxLines,
			MaxWait: time.Duration(s.Multiline.MaxWait)},
		Timestamp: TimestampOptions{Regex: s.Timestamp.Regex, JSONField: s.Timestamp.JSONField,
			Layout: s.Timestamp.Layout, Location: s.Timestamp.Location},
	}
}
