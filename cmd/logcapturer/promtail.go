package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/config/promtail"
	"github.com/logcapturer/logcapturer/internal/atomicfile"
)

// Values of --config-format.
const (
	formatNative   = "native"
	formatPromtail = "promtail"
)

// configFile is a config file and how to read it: natively, or as a
// Promtail configuration converted on the fly (config/promtail).
type configFile struct {
	path   string
	format string
	// skipUnsupported converts a Promtail config's covered parts and
	// leaves the rest out (said at start), instead of refusing it.
	skipUnsupported bool
	// dataDir is the data_dir of a Promtail config (which has none).
	dataDir string
	// dockerDataRoot is dockerd's data-root, where a Promtail config's
	// docker_sd_configs are read from (Promtail asks the Docker API).
	dockerDataRoot string
	// noExpandEnv reads a Promtail config as Promtail does without
	// -config.expand-env: a "$" is a "$".
	noExpandEnv bool
	// dockerProxyLocal reads a tcp:// docker_sd_configs host as a proxy
	// of this host's Docker socket.
	dockerProxyLocal bool
	// podLogDir is where a kubernetes_sd_configs reads pod logs.
	podLogDir string
}

func (cf *configFile) register(fs *flag.FlagSet) {
	fs.StringVar(&cf.format, "config-format", formatNative, "format of --config: native or promtail (a Promtail config, run as it is)")
	fs.BoolVar(&cf.skipUnsupported, "skip-unsupported", false, "with --config-format promtail: leave out what logcapturer does not cover (listed) instead of refusing")
	fs.StringVar(&cf.dataDir, "data-dir", "", "with --config-format promtail: the data directory (default "+config.DefaultDataDir+")")
	fs.StringVar(&cf.dockerDataRoot, "docker-data-root", "", "with --config-format promtail: dockerd's data-root, whose containers' json-file logs docker_sd_configs reads (default "+promtail.DefaultDockerDataRoot+")")
	fs.BoolVar(&cf.noExpandEnv, "no-expand-env", false, noExpandEnvUsage)
	fs.BoolVar(&cf.dockerProxyLocal, "docker-proxy-local", false, dockerProxyLocalUsage)
	fs.StringVar(&cf.podLogDir, "pod-log-dir", "", "with --config-format promtail: "+podLogDirUsage)
}

// podLogDirUsage is the --pod-log-dir flag's help.
const podLogDirUsage = "the kubelet's pod log directory, whose <namespace>_<pod>_<uid>/<container>/*.log kubernetes_sd_configs reads (default " +
	promtail.DefaultPodLogDir + ")"

// dockerProxyLocalUsage is the --docker-proxy-local flag's help.
const dockerProxyLocalUsage = "with a Promtail config: a docker_sd_configs host that is not a unix socket (tcp://socket-proxy:2375) is a proxy of this host's Docker: read its containers' json-file logs under --docker-data-root"

// noExpandEnvUsage is the --no-expand-env flag's help.
const noExpandEnvUsage = "with a Promtail config: read it as Promtail does without -config.expand-env, a $ being a $ (default: ${VAR} expanded, as with -config.expand-env=true)"

func (cf *configFile) check(name string) error {
	switch cf.format {
	case formatNative:
		if cf.skipUnsupported || cf.dataDir != "" || cf.dockerDataRoot != "" || cf.noExpandEnv || cf.dockerProxyLocal || cf.podLogDir != "" {
			return usageError{fmt.Errorf("%s: --skip-unsupported, --data-dir, --docker-data-root, --docker-proxy-local, --pod-log-dir and --no-expand-env go with --config-format promtail (a native config sets data_dir and paths)", name)}
		}
	case formatPromtail:
	default:
		return usageError{fmt.Errorf("%s: --config-format %q: want native or promtail", name, cf.format)}
	}
	return nil
}

// load reads and checks the file with opts; left lists what a Promtail
// config's --skip-unsupported left out, notes where logcapturer behaves
// differently. Problems come back as configError renders them.
func (cf configFile) load(opts *config.ParseOptions) (cfg *config.Config, left, notes []config.Problem, err error) {
	if cf.format != formatPromtail {
		cfg, err = config.Load(cf.path, opts)
		if err != nil {
			return nil, nil, nil, configError(cf.path, err)
		}
		return cfg, nil, nil, nil
	}
	r, err := promtail.Load(cf.path, &promtail.Options{LookupEnv: opts.LookupEnv, SkipUnsupported: cf.skipUnsupported, DataDir: cf.dataDir,
		DockerDataRoot: cf.dockerDataRoot, NoExpandEnv: cf.noExpandEnv, DockerProxyLocal: cf.dockerProxyLocal, PodLogDir: cf.podLogDir})
	if err == nil {
		cfg, err = r.Parse(opts)
	}
	if err != nil {
		return nil, nil, nil, configError(cf.path, err)
	}
	cfg.Takeover.Line = r.PromtailLine(cfg.Takeover.Line)
	return cfg, r.Left, r.Notes, nil
}

func cmdConvert(args []string, stdout, stderr io.Writer) error {
	const usage = "convert --from promtail FILE [-o OUT] [--skip-unsupported] [--data-dir DIR] [--docker-data-root DIR] [--docker-proxy-local] [--pod-log-dir DIR] [--no-expand-env]\n\n" +
		"Write the native equivalent of a Promtail configuration (to OUT, else to stdout), commented\n" +
		"where logcapturer behaves differently. ${VAR} references are kept (with --no-expand-env a $ is\n" +
		"a $, as in Promtail without -config.expand-env). Exit 1 listing every problem, and every part\n" +
		"logcapturer does not cover, as file:line: key: message."
	fs := newFlags("convert")
	from := fs.String("from", "", "format of FILE: promtail")
	out := fs.String("o", "", "write the converted config to this file (default stdout)")
	skip := fs.Bool("skip-unsupported", false, "convert what is covered; list what is left out")
	dataDir := fs.String("data-dir", "", "data_dir of the converted config (default: left out, "+config.DefaultDataDir+")")
	dockerRoot := fs.String("docker-data-root", "", "dockerd's data-root, whose containers' json-file logs docker_sd_configs reads (default "+promtail.DefaultDockerDataRoot+")")
	noExpand := fs.Bool("no-expand-env", false, noExpandEnvUsage)
	proxyLocal := fs.Bool("docker-proxy-local", false, dockerProxyLocalUsage)
	podDir := fs.String("pod-log-dir", "", podLogDirUsage)
	pos, err := parseFlags(fs, args, usage)
	if err != nil {
		return err
	}
	switch {
	case *from != formatPromtail:
		return usageError{fmt.Errorf("convert: --from %q: want promtail", *from)}
	case len(pos) != 1:
		return usageError{errors.New("convert: give one Promtail config file")}
	}
	path := pos[0]
	r, err := promtail.Load(path, &promtail.Options{KeepEnv: true, SkipUnsupported: *skip, DataDir: *dataDir, DockerDataRoot: *dockerRoot,
		NoExpandEnv: *noExpand, DockerProxyLocal: *proxyLocal, PodLogDir: *podDir})
	if err != nil {
		return configError(path, err)
	}
	// What check would say of the result, without reading the files it
	// names (they may be on another host): the converter's own checks
	// cover the Promtail side; this is the native side's.
	opts := parseOptions()
	opts.SkipDirCheck = true
	if _, err := r.Parse(opts); err != nil {
		return configError(path, err)
	}
	for _, p := range r.Left {
		fmt.Fprintf(stderr, "left out: %s\n", p)
	}
	for _, p := range r.Notes {
		fmt.Fprintf(stderr, "note: %s\n", p)
	}
	if *out == "" {
		_, err := stdout.Write(r.YAML)
		return err
	}
	if err := atomicfile.Write(*out, r.YAML, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s: check it with logcapturer check --config %s\n", *out, *out)
	return nil
}
