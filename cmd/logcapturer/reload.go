package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/logcapturer/logcapturer/admin"
	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/prometheus/client_golang/prometheus"
)

// reloadMetrics are named as Prometheus names its own.
type reloadMetrics struct {
	reloads     *prometheus.CounterVec
	lastOK      prometheus.Gauge
	lastSuccess prometheus.Gauge
}

func newReloadMetrics(reg prometheus.Registerer) *reloadMetrics {
	m := &reloadMetrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logcapturer_config_reloads_total", Help: "Config reloads (SIGHUP, POST /-/reload) by result (success, failure)."}, []string{"result"}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logcapturer_config_last_reload_successful", Help: "1 if the last config reload succeeded (or none was tried), 0 if it was refused."}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logcapturer_config_last_reload_success_timestamp_seconds", Help: "When the running config was loaded (Unix seconds)."}),
	}
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	m.lastOK.Set(1)
	m.lastSuccess.SetToCurrentTime()
	reg.MustRegister(m.reloads, m.lastOK, m.lastSuccess)
	return m
}

func (m *reloadMetrics) result(ok bool) {
	if ok {
		m.reloads.WithLabelValues("success").Inc()
		m.lastOK.Set(1)
		m.lastSuccess.SetToCurrentTime()
		return
	}
	m.reloads.WithLabelValues("failure").Inc()
	m.lastOK.Set(0)
}

// instance is one running config.
type instance struct {
	cancel context.CancelCauseFunc
	done   chan error
	p      *pipeline.Pipeline // set once it runs
}

// errReload is the cause of the cancellation of a config stopped for a
// reload: runOnce then does not say it shuts down.
var errReload = errors.New("config reload")

// stop stops the running config for good (the process stops).
func (in *instance) stop() error {
	in.cancel(nil)
	return <-in.done
}

// stopForReload stops the running config to start another.
func (in *instance) stopForReload() error {
	in.cancel(errReload)
	return <-in.done
}

// runHooks is what serve hands each running config: the registry that
// outlives reloads, and what POST /-/reload calls (with the pipeline of
// the config that serves the request).
type runHooks struct {
	outer  *prometheus.Registry
	reload func(ctx context.Context, p *pipeline.Pipeline) (admin.ReloadResult, error)
}

// start runs cfg in a goroutine owned by serve and waits until it runs or
// failed to start.
func start(ctx context.Context, logger *slog.Logger, cfg *config.Config, hooks runHooks) (*instance, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	in := &instance{cancel: cancel, done: make(chan error, 1)}
	started := make(chan *pipeline.Pipeline, 1)
	go func() { in.done <- runOnce(ctx, logger, cfg, hooks, started) }()
	select {
	case in.p = <-started:
		return in, nil
	case err := <-in.done:
		cancel(nil)
		if err == nil {
			err = ctx.Err()
		}
		return nil, err
	}
}

// reloader checks a config file against the running config, for SIGHUP
// and POST /-/reload alike.
type reloader struct {
	logger *slog.Logger
	path   string
	m      *reloadMetrics

	mu      sync.Mutex
	running *config.Config

	// requests holds one reload that POST /-/reload asked for.
	requests chan struct{}
}

// check loads the file and says what a reload would change. A config
// that check refuses is counted and logged here.
func (r *reloader) check() (*config.Config, []string, error) {
	next, err := checkConfig(r.path)
	if err != nil {
		r.m.result(false)
		r.refused(err)
		return nil, nil, err
	}
	r.mu.Lock()
	running := r.running
	changes := describeChanges(running, next)
	r.mu.Unlock()
	if err := sameDataDir(r.path, running, next); err != nil {
		r.m.result(false)
		r.refused(err)
		return nil, nil, err
	}
	return next, changes, nil
}

// refused logs a refused reload in one line with one field per problem,
// problem.1, problem.2, ... (a group: nested keys in JSON), so that no
// field holds a newline.
func (r *reloader) refused(err error) {
	ps := problemsOf(err)
	attrs := make([]any, len(ps))
	for i, p := range ps {
		attrs[i] = slog.String(strconv.Itoa(i+1), p)
	}
	r.logger.Error("config reload refused; the running config stays", "config", r.path, "problems", len(ps),
		slog.Group("problem", attrs...))
}

// problemsOf splits a config error into its problems: those of a
// *config.Error, else the lines of its text without the "config F has N
// problem(s):" header.
func problemsOf(err error) []string {
	var ce *config.Error
	if errors.As(err, &ce) && len(ce.Problems) > 0 {
		out := make([]string, len(ce.Problems))
		for i, p := range ce.Problems {
			out[i] = p.String()
		}
		return out
	}
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	if len(lines) > 1 && strings.HasSuffix(lines[0], "problem(s):") {
		lines = lines[1:]
	}
	return lines
}

// unchanged completes a reload that changes nothing: it counts it and has
// p reopen its output files (what logrotate's postrotate expects of a
// SIGHUP), waiting for a write in progress up to shutdown_timeout. It logs
// one line either way.
func (r *reloader) unchanged(ctx context.Context, p *pipeline.Pipeline) ([]string, error) {
	r.m.result(true)
	r.mu.Lock()
	bound := time.Duration(r.running.ShutdownTimeout)
	r.mu.Unlock()
	if bound <= 0 {
		bound = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	reopened, err := p.ReopenOutputs(ctx)
	switch {
	case err != nil:
		r.logger.Error("config reloaded: nothing changed; reopening output files failed (each sink checks its path again before its next write)",
			"config", r.path, "reopened", strings.Join(reopened, ","), "err", err)
	case len(reopened) == 0:
		r.logger.Info("config reloaded: nothing changed; no output file to reopen", "config", r.path)
	default:
		r.logger.Info("config reloaded: nothing changed; output files reopened", "config", r.path, "sinks", strings.Join(reopened, ","))
	}
	return reopened, err
}

// request is POST /-/reload for the config whose pipeline is p. When the
// config changes it answers at once (the reload restarts the admin server
// that serves it) and leaves the reload to serve; when nothing changes it
// reopens the output files before it answers, so a postrotate script that
// calls it knows the rotated files are no longer written.
func (r *reloader) request(ctx context.Context, p *pipeline.Pipeline) (admin.ReloadResult, error) {
	_, changes, err := r.check()
	if err != nil {
		return admin.ReloadResult{}, err
	}
	if len(changes) == 0 {
		reopened, err := r.unchanged(ctx, p)
		return admin.ReloadResult{Reopened: reopened, ReopenError: err}, nil
	}
	select {
	case r.requests <- struct{}{}:
	default: // one is pending already
	}
	return admin.ReloadResult{Changes: changes}, nil
}

func (r *reloader) setRunning(cfg *config.Config) {
	r.mu.Lock()
	r.running = cfg
	r.mu.Unlock()
}

// serve runs cfg until ctx is done. Each value on reloads (SIGHUP), and
// each POST /-/reload, re-reads path: a config that check refuses is
// refused with its file:line problems and the running one stays; one that
// changes nothing reopens the file sinks' output files (logrotate's
// postrotate); a good one replaces the running one in process. The
// pipeline drains (in-flight batches get shutdown_timeout), stops, and
// starts again on the new config: cursors and positions live in state.db, so kept sinks and
// sources resume where they were, added ones start (a new sink from the
// oldest block the WAL still holds), and removed ones stop with their
// cursors kept for a later re-add; they no longer pin WAL blocks (see
// README: removing a sink releases its blocks). If the new config fails to start (a
// port in use), the old one is started again.
//
// It tells systemd READY=1, RELOADING=1 and STOPPING=1 (sd_notify).
func serve(ctx context.Context, logger *slog.Logger, path string, cfg *config.Config, reloads <-chan struct{}) error {
	outer := processMetrics()
	r := &reloader{logger: logger, path: path, m: newReloadMetrics(outer), running: cfg, requests: make(chan struct{}, 1)}
	hooks := runHooks{outer: outer, reload: r.request}
	in, err := start(ctx, logger, cfg, hooks)
	if err != nil {
		return err
	}
	notify(logger, "READY=1")
	defer notify(logger, "STOPPING=1")
	for {
		select {
		case err := <-in.done:
			return err
		case <-ctx.Done():
			return in.stop()
		case <-reloads:
		case <-r.requests:
		}
		next, changes, err := r.check()
		if err != nil {
			continue
		}
		if len(changes) == 0 {
			_, _ = r.unchanged(ctx, in.p) // logged there
			continue
		}
		notify(logger, "RELOADING=1")
		began := time.Now()
		if err := in.stopForReload(); err != nil {
			logger.Error("stop the running config for a reload", "err", err)
		}
		if in, err = start(ctx, logger, next, hooks); err != nil {
			r.m.result(false)
			logger.Error("the reloaded config failed to start; starting the previous one again", "config", path, "err", err)
			if in, err = start(ctx, logger, cfg, hooks); err != nil {
				return fmt.Errorf("restart the previous config after a failed reload: %w", err)
			}
		} else {
			r.m.result(true)
			cfg = next
			r.setRunning(cfg)
			logger.Info("config reloaded", "config", path, "changes", strings.Join(changes, "; "), "took", time.Since(began).Round(time.Millisecond).String())
		}
		notify(logger, "READY=1")
	}
}

// sameDataDir refuses a reload that moves data_dir: the pipeline would
// start on another (empty) data directory, re-read every file from the
// start and abandon what the old WAL held undelivered. Moving it takes a
// restart.
func sameDataDir(path string, running, next *config.Config) error {
	abs := func(dir string) string {
		if a, err := filepath.Abs(dir); err == nil {
			return a
		}
		return filepath.Clean(dir)
	}
	if abs(running.DataDir) == abs(next.DataDir) {
		return nil
	}
	return fmt.Errorf("config %s has 1 problem(s):\n%s: data_dir: changed from %s to %s, which a reload cannot do "+
		"(the running WAL and state.db stay in %s): restart logcapturer to move it, or set data_dir back to %s",
		path, path, running.DataDir, next.DataDir, running.DataDir, running.DataDir)
}

func notify(logger *slog.Logger, state string) {
	if err := sdNotify(state); err != nil {
		logger.Warn("tell systemd "+state, "err", err)
	}
}

// sameSource compares sources with config.Source.Equal (their options by
// value, pipeline_stages by content, not by line).
type sameSource struct{ s config.Source }

func equal(a, b any) bool {
	if x, ok := a.(sameSource); ok {
		y, ok := b.(sameSource)
		return ok && x.s.Equal(&y.s)
	}
	return reflect.DeepEqual(a, b)
}

// describeChanges lists what a reload changes: sources and sinks added,
// removed and changed, and the other top-level sections changed.
func describeChanges(old, next *config.Config) []string {
	var out []string
	diff := func(kind string, a, b map[string]any) {
		var added, removed, changed []string
		for name, v := range b {
			if w, ok := a[name]; !ok {
				added = append(added, name)
			} else if !equal(v, w) {
				changed = append(changed, name)
			}
		}
		for name := range a {
			if _, ok := b[name]; !ok {
				removed = append(removed, name)
			}
		}
		for _, l := range []struct {
			verb  string
			names []string
		}{{"added", added}, {"removed", removed}, {"changed", changed}} {
			if len(l.names) > 0 {
				slices.Sort(l.names)
				out = append(out, fmt.Sprintf("%s %s %s", kind, l.verb, strings.Join(l.names, ",")))
			}
		}
	}
	srcs := func(c *config.Config) map[string]any {
		m := map[string]any{}
		for _, s := range c.Sources {
			m[s.Name] = sameSource{s}
		}
		return m
	}
	snks := func(c *config.Config) map[string]any {
		m := map[string]any{}
		for _, s := range c.Sinks {
			m[s.Name] = s
		}
		return m
	}
	diff("sources", srcs(old), srcs(next))
	diff("sinks", snks(old), snks(next))
	for _, f := range []struct {
		name string
		a, b any
	}{{"data_dir", old.DataDir, next.DataDir}, {"wal", old.WAL, next.WAL}, {"dlq", old.DLQ, next.DLQ},
		{"admin", old.Admin, next.Admin}, {"memory_limit", old.MemoryLimit, next.MemoryLimit},
		{"shutdown_timeout", old.ShutdownTimeout, next.ShutdownTimeout}} {
		if !reflect.DeepEqual(f.a, f.b) {
			out = append(out, f.name+" changed")
		}
	}
	return out
}
