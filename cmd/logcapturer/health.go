package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sinks"
)

// cmdHealth asks a running logcapturer's /healthz (or /readyz with
// --ready) and returns nil for a 200: the container HEALTHCHECK, for images
// with no shell or curl.
func cmdHealth(args []string, stdout io.Writer) error {
	fs := newFlags("health")
	addr := fs.String("addr", "", "admin address host:port (default: admin.listen of --config, else "+config.DefaultAdminListen+")")
	cfgPath := fs.String("config", "", "config file to take admin.listen from")
	ready := fs.Bool("ready", false, "ask /readyz instead of /healthz")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	pos, err := parseFlags(fs, args, "health [--addr HOST:PORT | --config FILE] [--ready] [--timeout 3s]\n\n"+
		"Exit 0 when the running logcapturer answers 200 on /healthz (or /readyz), 1 otherwise:\n"+
		"the container HEALTHCHECK, for images with no shell or curl.")
	if err != nil {
		return err
	}
	if err := noArgs("health", pos); err != nil {
		return err
	}
	if *addr == "" {
		*addr = config.DefaultAdminListen
		if *cfgPath != "" {
			data, err := os.ReadFile(*cfgPath)
			if err != nil {
				return fmt.Errorf("health: read config: %w", err)
			}
			// Only admin.listen matters here: the data directory and the
			// files the config names are the running process's business.
			cfg, err := config.ParseWith(*cfgPath, data, &config.ParseOptions{SinkTypes: sinkTypes(), SourceTypes: sourceTypes(), SkipDirCheck: true})
			if err != nil {
				return configError(*cfgPath, err)
			}
			if cfg.Admin.Listen == "" {
				return fmt.Errorf("health: %s disables the admin server (admin.listen is empty): nothing to ask", *cfgPath)
			}
			*addr = dialAddr(cfg.Admin.Listen)
		}
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+*addr+path, nil)
	if err != nil {
		return usageError{fmt.Errorf("health: --addr %q: %w", *addr, err)}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: get %s: %w", req.URL, sinks.URLCause(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %s: %s", path, resp.Status, body)
	}
	fmt.Fprintf(stdout, "%s", body)
	return nil
}
