package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/logcapturer/logcapturer/admin"
	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/kafka"
	"github.com/logcapturer/logcapturer/sinks/loki"
	"github.com/logcapturer/logcapturer/sinks/otlp"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/sources/journald"
	"github.com/logcapturer/logcapturer/sources/lokipush"
	otlpsource "github.com/logcapturer/logcapturer/sources/otlp"
	"github.com/logcapturer/logcapturer/sources/syslog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

func cmdCheck(args []string, stdout io.Writer) error {
	cf, err := configFlag("check", args, nil)
	if err != nil {
		return err
	}
	cfg, left, err := checkConfigFile(cf)
	if err != nil {
		return err
	}
	path := cf.path
	for _, p := range left {
		fmt.Fprintf(stdout, "left out: %s\n", p)
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	fmt.Fprintf(stdout, "%s: ok (%d sources, %d sinks, data_dir %s)\n", path, len(cfg.Sources), len(cfg.Sinks), cfg.DataDir)
	return nil
}

// checkConfig loads the config at path and checks all that run would
// refuse, without side effects: what check prints, and what a reload
// checks before it replaces the running config. Every problem comes back
// at once, each at its file:line (a *config.Error): the config's own
// rules, the source and sink types' rules, and every file the config
// names (admin.token_file, password and TLS files, a file sink's
// directory, data_dir).
func checkConfig(path string) (*config.Config, error) {
	cfg, _, err := checkConfigFile(configFile{path: path, format: formatNative})
	return cfg, err
}

// checkConfigFile is checkConfig for a file in either format; left lists
// what a Promtail config's --skip-unsupported left out.
func checkConfigFile(cf configFile) (*config.Config, []config.Problem, error) {
	opts := parseOptions()
	opts.CheckFiles = true
	cfg, left, _, err := cf.load(opts)
	return cfg, left, err
}

// parseOptions are the registries run and check load a config with.
func parseOptions() *config.ParseOptions {
	return &config.ParseOptions{SinkTypes: sinkTypes(), SourceTypes: sourceTypes()}
}

// configError renders config problems one a line.
func configError(path string, err error) error {
	var ce *config.Error
	if errors.As(err, &ce) {
		return fmt.Errorf("config %s has %d problem(s):\n%w", path, len(ce.Problems), err)
	}
	return err
}

func cmdRun(args []string, stderr io.Writer) error {
	var level, format string
	cf, err := configFlag("run", args, func(fs *flag.FlagSet) {
		fs.StringVar(&level, "log-level", "info", "debug, info, warn or error")
		fs.StringVar(&format, "log-format", "text", "text or json")
	})
	if err != nil {
		return err
	}
	logger, err := newLogger(stderr, level, format)
	if err != nil {
		return usageError{err}
	}
	opts := parseOptions()
	opts.CheckTokenFile = true // read at start: a bad one is refused now, at its line
	cfg, left, notes, err := cf.load(opts)
	if err != nil {
		return err
	}
	for _, p := range left {
		logger.Warn("promtail config: left out: " + p.String())
	}
	for _, p := range notes {
		logger.Info("promtail config: " + p.String())
	}
	for _, w := range cfg.Warnings {
		logger.Warn("config warning: " + w.String())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reloads := make(chan struct{}, 1)
	go func() { // forwards SIGHUP until ctx is done
		for {
			select {
			case <-hup:
				select {
				case reloads <- struct{}{}:
				default: // one is pending already
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return serveFile(ctx, logger, cf, cfg, reloads)
}

// setMemoryLimit applies the config's soft memory limit unless GOMEMLIMIT
// is set: the heap's live size is set by configuration (the WAL's tail
// segment, batch limits); the limit keeps garbage from doubling it.
func setMemoryLimit(cfg *config.Config) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(cfg.EffectiveMemoryLimit()))
	}
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

// run runs the config once, with process-wide metrics: see runOnce.
func run(ctx context.Context, logger *slog.Logger, cfg *config.Config) error {
	return runOnce(ctx, logger, cfg, runHooks{outer: processMetrics()}, nil)
}

// processMetrics is the registry that outlives reloads: Go and process
// collectors and build info.
func processMetrics() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfo())
	return reg
}

// runOnce wires everything for cfg, hands started its pipeline once it
// runs, runs until ctx is done, and shuts down in the reverse order of
// construction.
// Its components register on a registry of their own, served with
// hooks.outer's metrics.
func runOnce(ctx context.Context, logger *slog.Logger, cfg *config.Config, hooks runHooks, started chan<- *pipeline.Pipeline) (err error) {
	setMemoryLimit(cfg)
	reg := prometheus.NewRegistry()
	gatherer := prometheus.Gatherers{hooks.outer, reg}

	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			if cerr := closers[i](); cerr != nil {
				logger.Error("shutdown", "err", cerr)
				err = errors.Join(err, cerr)
			}
		}
	}()

	routes := make(map[string][]string) // sink -> sources
	for _, src := range cfg.Sources {
		for _, s := range src.Sinks {
			routes[s] = append(routes[s], src.Name)
		}
	}
	var (
		sinkOpts []pipeline.SinkOptions
		p        *pipeline.Pipeline
	)
	for _, sc := range cfg.Sinks {
		s, err := newSink(logger, reg, sc)
		if err != nil {
			return err
		}
		closers = append(closers, func() error {
			if p != nil && slices.Contains(p.AbandonedSinks(), sc.Name) {
				// A send that ignored cancellation may still hold the
				// sink (a file sink's Close would wait for the hung
				// write): leave it to the process's exit.
				logger.Warn("sink not closed: a send is still hung in it", "sink", sc.Name)
				return nil
			}
			return s.Close()
		})
		var timeout time.Duration
		if o, ok := sc.Options.(sendTimeouter); ok {
			timeout = o.SendTimeout()
		}
		sinkOpts = append(sinkOpts, pipeline.SinkOptions{
			Sink:        s,
			Type:        string(sc.Type),
			Sources:     append([]string{}, routes[sc.Name]...),
			MaxEntries:  sc.Batch.MaxEntries,
			MaxBytes:    int(sc.Batch.MaxBytes),
			MaxWait:     time.Duration(sc.Batch.MaxWait),
			Workers:     sc.Workers,
			MaxAttempts: sc.Retry.MaxAttempts,
			MinBackoff:  time.Duration(sc.Retry.MinBackoff),
			MaxBackoff:  time.Duration(sc.Retry.MaxBackoff),
			Timeout:     timeout,
		})
	}

	popts := pipeline.Options{
		DataDir:         cfg.DataDir,
		SegmentSize:     int64(cfg.WAL.SegmentSize),
		MaxBytes:        int64(cfg.WAL.MaxBytes),
		Compress:        cfg.WAL.Compression == config.CompressionS2,
		SyncInterval:    time.Duration(cfg.WAL.SyncInterval),
		DLQMaxBytes:     int64(cfg.DLQ.MaxBytes),
		DLQMaxAge:       time.Duration(cfg.DLQ.MaxAge),
		UnreadyAfter:    time.Duration(cfg.Admin.UnreadyAfter),
		ShutdownTimeout: time.Duration(cfg.ShutdownTimeout),
		Sinks:           sinkOpts,
	}
	if cfg.WAL.FullPolicy == config.FullDropOldest {
		popts.FullPolicy = pipeline.FullDropOldest
	}
	switch cfg.WAL.Sync {
	case config.SyncInterval:
		popts.Sync = pipeline.SyncInterval
	case config.SyncNone:
		popts.Sync = pipeline.SyncNone
	}
	p, err = pipeline.Open(logger, reg, popts)
	if err != nil {
		return err
	}
	closers = append(closers, p.Close)
	if err := takeover(logger, cfg, hooks.configPath, p); err != nil {
		return err
	}

	var reload func(context.Context) (admin.ReloadResult, error)
	if hooks.reload != nil {
		reload = func(ctx context.Context) (admin.ReloadResult, error) { return hooks.reload(ctx, p) }
	}
	adminSrv, err := newAdmin(logger, gatherer, cfg, p, reload)
	if err != nil {
		return err
	}
	if adminSrv != nil {
		// Closed last of all: metrics stay up while the rest shuts down.
		closers = append([]func() error{adminSrv.Close}, closers...)
	}

	var srcs []sources.Source
	for _, sc := range cfg.Sources {
		src, err := openSource(sc, sources.Deps{
			Logger: logger, Registerer: reg,
			Name: sc.Name, Labels: sc.Labels, PipelineStages: sc.PipelineStages, MaxStreams: sc.MaxStreams,
			Relabel: sources.Relabel(sc.RelabelConfigs), RelabelConfigs: sc.RelabelConfigs,
			Positions: p.SourcePositions(sc.Name), Emitter: p, Conditions: p, DataDir: cfg.DataDir,
		})
		if err != nil {
			return err
		}
		srcs = append(srcs, src)
		if r, ok := src.(pipeline.SourceReporter); ok {
			p.ReportSources(r) // the file tailer's files, in the status
		}
		closers = append(closers, src.Close)
	}

	p.Start(ctx)
	for _, src := range srcs {
		if err := src.Start(ctx); err != nil {
			return fmt.Errorf("start source %s: %w", src.Name(), err)
		}
	}
	if adminSrv != nil {
		adminSrv.Start()
	}
	names := make([]string, 0, len(cfg.Sinks))
	for _, s := range cfg.Sinks {
		names = append(names, s.Name)
	}
	if started != nil {
		started <- p
	}
	logger.Info("logcapturer running", "version", version, "data_dir", cfg.DataDir, "memory_limit", debug.SetMemoryLimit(-1),
		"sources", len(srcs), "sinks", strings.Join(names, ","), "admin", cfg.Admin.Listen)
	<-ctx.Done()
	if errors.Is(context.Cause(ctx), errReload) {
		logger.Debug("stopping the running config for a reload")
	} else {
		logger.Info("shutting down")
	}
	return nil
}

// sinkTypes is the registry of sink types: a new sink is its package and
// one line here.
func sinkTypes() []config.SinkType {
	return []config.SinkType{
		sinks.FileSinkType(),
		sinks.StdoutSinkType(),
		sinks.HTTPSinkType(),
		loki.SinkType(),
		kafka.SinkType(),
		otlp.SinkType(),
	}
}

// sourceTypes is the registry of source types: a new source is its
// package and one line here (sources/doc.go).
func sourceTypes() []config.SourceType {
	return []config.SourceType{
		sources.FileSourceType(),
		sources.DockerSourceType(),
		sources.CRISourceType(),
		sources.KubernetesSourceType(),
		journald.SourceType(),
		syslog.SourceType(),
		syslog.GELFSourceType(),
		lokipush.SourceType(),
		otlpsource.SourceType(),
	}
}

// sinkOpener is what every sink type's options do: open the sink.
type sinkOpener interface {
	Open(logger *slog.Logger, reg prometheus.Registerer, name string) (sinks.Sink, error)
}

// sendTimeouter is what the options of a sink type whose Send has a
// timeout of its own say: a send in flight for twice it (at least a
// minute) is hung (sink_send_hung).
type sendTimeouter interface {
	SendTimeout() time.Duration
}

func newSink(logger *slog.Logger, reg prometheus.Registerer, sc config.Sink) (sinks.Sink, error) {
	o, ok := sc.Options.(sinkOpener)
	if !ok {
		return nil, fmt.Errorf("sink %s: type %q cannot be opened", sc.Name, sc.Type)
	}
	s, err := o.Open(logger, reg, sc.Name)
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", sc.Name, err)
	}
	return s, nil
}

// openSource opens a configured source through its options.
func openSource(sc config.Source, deps sources.Deps) (sources.Source, error) {
	o, ok := sc.Options.(sources.Opener)
	if !ok {
		return nil, fmt.Errorf("source %s: type %q cannot be opened", sc.Name, sc.Type)
	}
	src, err := o.Open(deps)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", sc.Name, err)
	}
	return src, nil
}

// buildInfo is logcapturer_build_info{version,revision,goversion} = 1.
func buildInfo() prometheus.Collector {
	revision, goVersion := "unknown", runtime.Version()
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "logcapturer_build_info", Help: "1, labelled with the version, VCS revision and Go version of the binary.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": goVersion}})
	g.Set(1)
	return g
}
