package sources

import (
	"fmt"
	"net/url"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources/kubepods"
)

// FileSourceType registers type: file with config.
func FileSourceType() config.SourceType { return fileSourceType(TypeFile) }

// DockerSourceType registers type: docker with config.
func DockerSourceType() config.SourceType { return fileSourceType(TypeDocker) }

// CRISourceType registers type: cri with config.
func CRISourceType() config.SourceType { return fileSourceType(TypeCRI) }

func fileSourceType(typ string) config.SourceType {
	return config.SourceType{Name: config.SourceKind(typ), New: func() config.SourceConfig { return NewFileConfig(typ) }}
}

// Limits of FileConfig.MaxLineBytes that Check enforces.
const (
	MinMaxLineBytes = 1 * config.KiB
	MaxMaxLineBytes = 64 * config.MiB
)

// FileConfig is the options of the file, docker and cri source types: the
// keys of a sources entry besides the common ones (name, type, labels,
// sinks, pipeline_stages). It is decoded by config from the yaml tags, and
// checked by Check; Open opens the File source it describes. Zero values of
// max_open_files, close_inactive, fingerprint_bytes and the multiline
// limits mean FileOptions' defaults.
type FileConfig struct {
	// Paths are globs (filepath.Match syntax, plus "**" and {a,b}: package
	// internal/glob). Required for type file;
	// docker and cri default to DefaultDockerPath and DefaultCRIPath.
	Paths []string `yaml:"paths"`
	// Exclude are globs matched against the base name and the full path.
	Exclude []string `yaml:"exclude"`
	// StartAt is beginning (default) or end.
	StartAt          string           `yaml:"start_at"`
	MaxLineBytes     config.ByteSize  `yaml:"max_line_bytes"`
	PollInterval     config.Duration  `yaml:"poll_interval"`
	MaxOpenFiles     int              `yaml:"max_open_files"`
	CloseInactive    config.Duration  `yaml:"close_inactive"`
	FingerprintBytes config.ByteSize  `yaml:"fingerprint_bytes"`
	Multiline        MultilineOptions `yaml:"multiline"`
	Timestamp        TimestampOptions `yaml:"timestamp"`
	// Encoding is the IANA name of the files' character set
	// (FileOptions.Encoding): their lines are converted to UTF-8.
	Encoding string `yaml:"encoding"`
	// PromtailLabels (docker only) labels entries as Promtail's
	// docker_sd_configs does (FileOptions.PromtailLabels), for a converted
	// Promtail config's relabel_configs.
	PromtailLabels bool `yaml:"promtail_labels"`
	// Kubernetes (type kubernetes only) says where the pods come from: the
	// API server (default: the cluster's, from inside a pod), the node
	// and the namespaces.
	Kubernetes kubepods.Options `yaml:"kubernetes"`
	// Format (type kubernetes only) is how the files' lines are read:
	// FormatCRI (default) or FormatRaw.
	Format string `yaml:"format"`

	// typ is TypeFile, TypeDocker or TypeCRI: the registration that made
	// it ("" is TypeFile).
	typ string
}

var _ config.SourceConfig = (*FileConfig)(nil)
var _ Opener = (*FileConfig)(nil)

// NewFileConfig returns the options of a source of type typ (TypeFile,
// TypeDocker or TypeCRI) with their defaults: what config decodes a
// sources entry of that type into.
func NewFileConfig(typ string) *FileConfig {
	c := &FileConfig{
		StartAt:      StartAtBeginning,
		MaxLineBytes: DefaultMaxLineBytes,
		PollInterval: config.Duration(DefaultPollInterval),
		typ:          typ,
	}
	switch typ {
	case TypeDocker:
		c.Paths = []string{DefaultDockerPath}
	case TypeCRI:
		c.Paths = []string{DefaultCRIPath}
	case TypeKubernetes:
		c.Paths = []string{DefaultCRIPath, DefaultCRIPath + ".*"}
		c.Exclude = []string{"*.gz", "*.tmp"}
		c.Format = FormatCRI
	}
	return c
}

// Type is TypeFile, TypeDocker, TypeCRI or TypeKubernetes.
func (c *FileConfig) Type() string {
	if c.typ == "" {
		return TypeFile
	}
	return c.typ
}

// Check reports, at their keys' lines, what is wrong with the options: the
// globs, start_at, sizes and durations, labels the source sets itself
// (c.Labels), and the multiline and timestamp options (regexes that do not
// compile, a timestamp regex without a ts group, an unknown zone). It does
// not touch the file system.
func (c *FileConfig) Check(ck *config.Check) {
	if c.MaxOpenFiles < 0 {
		ck.Problem("max_open_files", "must not be negative, got %d", c.MaxOpenFiles)
	}
	if c.CloseInactive < 0 {
		ck.Problem("close_inactive", "must not be negative, got %s", c.CloseInactive)
	}
	if c.FingerprintBytes < 0 {
		ck.Problem("fingerprint_bytes", "must not be negative, got %s", c.FingerprintBytes)
	}
	if c.Type() == TypeFile {
		switch {
		case len(c.Paths) > 0:
		case ck.Has("paths"):
			ck.Problem("paths", "must not be empty")
		default:
			ck.Problem("paths", "is required for a file source")
		}
	}
	for i, p := range c.Paths {
		ck.Glob(fmt.Sprintf("paths[%d]", i), p)
	}
	for i, p := range c.Exclude {
		ck.Glob(fmt.Sprintf("exclude[%d]", i), p)
	}
	ck.OneOf("start_at", c.StartAt, StartAtBeginning, StartAtEnd)
	if c.MaxLineBytes < MinMaxLineBytes || c.MaxLineBytes > MaxMaxLineBytes {
		ck.Problem("max_line_bytes", "must be between %s and %s, got %s", MinMaxLineBytes, MaxMaxLineBytes, c.MaxLineBytes)
	}
	ck.Positive("poll_interval", time.Duration(c.PollInterval))
	c.checkKubernetes(ck)
	o := c.options(ck.Name(), ck.Labels())
	o.typeRules(func(key, msg string) { ck.Problem(key, "%s", msg) })
	CheckStages(ck)
	// The multiline and timestamp options and the stages of the same name
	// would both work on each entry: one of them is a mistake.
	for _, opt := range []struct {
		name, hint string
		set        bool
	}{
		{"multiline", "the multiline option joins lines as they are read, before the stages", c.Multiline.Enabled()},
		{"timestamp", "the timestamp option sets the time as lines are read, before the stages", c.Timestamp.Enabled()},
	} {
		if !opt.set {
			continue
		}
		for _, at := range findStages(ck.PipelineStages(), "pipeline_stages", opt.name, 0) {
			ck.ProblemAt(at.line, at.key, "the source sets the %s option too (%s): keep one of them, the %s stage or the %s option",
				opt.name, opt.hint, opt.name, opt.name)
		}
	}
}

// checkKubernetes reports the kubernetes and format keys: set on another
// type, or not valid.
func (c *FileConfig) checkKubernetes(ck *config.Check) {
	if c.Type() != TypeKubernetes {
		for _, k := range []string{"kubernetes", "format"} {
			if ck.Has(k) {
				ck.Problem(k, "is for a kubernetes source only (type: kubernetes)")
			}
		}
		return
	}
	ck.OneOf("format", c.Format, FormatCRI, FormatRaw)
	k := c.Kubernetes
	if k.APIServer != "" {
		if u, err := url.Parse(k.APIServer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ck.Problem("kubernetes.api_server", "%q is not an http or https URL (https://host:6443)", k.APIServer)
		}
	}
	if k.KubeconfigFile != "" && (k.APIServer != "" || k.BearerTokenFile != "" || k.TLS != (kubepods.TLS{})) {
		// Prometheus refuses the same.
		ck.Problem("kubernetes.kubeconfig_file", "goes without api_server, bearer_token_file and tls: the kubeconfig says where and how")
	}
	if (k.TLS.CertFile == "") != (k.TLS.KeyFile == "") {
		ck.Problem("kubernetes.tls", "cert_file and key_file must be given together")
	}
	if k.RefreshInterval < 0 {
		ck.Problem("kubernetes.refresh_interval", "must not be negative, got %s", k.RefreshInterval)
	}
	for i, ns := range k.Namespaces {
		if ns == "" {
			ck.Problem(fmt.Sprintf("kubernetes.namespaces[%d]", i), "must not be empty")
		}
	}
}

// options maps the config onto the tailer's options; Positions, Emitter
// and Conditions are left for the caller.
func (c *FileConfig) options(name string, labels map[string]string) FileOptions {
	typ := c.Type()
	var kube *KubernetesOptions
	if typ == TypeKubernetes {
		kube = &KubernetesOptions{Discovery: c.Kubernetes}
		typ = TypeCRI
		if c.Format == FormatRaw {
			typ = TypeFile
		}
	}
	return FileOptions{
		Kubernetes:       kube,
		Name:             name,
		Type:             typ,
		Paths:            c.Paths,
		Exclude:          c.Exclude,
		StartAt:          c.StartAt,
		Labels:           labels,
		MaxLineBytes:     int(c.MaxLineBytes),
		PollInterval:     time.Duration(c.PollInterval),
		MaxOpenFiles:     c.MaxOpenFiles,
		CloseInactive:    time.Duration(c.CloseInactive),
		FingerprintBytes: int(c.FingerprintBytes),
		Multiline:        c.Multiline,
		Timestamp:        c.Timestamp,
		PromtailLabels:   c.PromtailLabels,
		Encoding:         c.Encoding,
	}
}

// Open returns the File source these options describe, not started: its
// stored positions are the offsets (and cursors) of deps.Positions.
func (c *FileConfig) Open(deps Deps) (Source, error) {
	o := c.options(deps.Name, deps.Labels)
	o.Positions = make(map[string]int64, len(deps.Positions))
	for id, p := range deps.Positions {
		o.Positions[id] = p.Offset
		if p.Cursor != "" {
			if o.Cursors == nil {
				o.Cursors = make(map[string]string)
			}
			o.Cursors[id] = p.Cursor
		}
	}
	o.Emitter, o.Conditions = deps.Emitter, deps.Conditions
	o.Stages, o.MaxStreams, o.Relabel = deps.PipelineStages, deps.MaxStreams, deps.Relabel
	if o.Kubernetes != nil {
		// The rules run once per file, on its pod's labels.
		o.Kubernetes.Rules, o.Relabel = deps.RelabelConfigs, nil
		if deps.DataDir != "" {
			o.Kubernetes.Discovery.CacheFile = KubernetesCacheFile(deps.DataDir, deps.Name)
		}
	}
	return NewFile(deps.Logger, deps.Registerer, o)
}
