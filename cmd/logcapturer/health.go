package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/logcapturer/logcapturer/config"
)

// cmdHealth asks a running logcapturer's /healthz (or /readyz with
// --ready) and returns nil for a 200: the container HEALTHCHECK, for images
// with no shell or curl.
func cmdHealth(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "", "admin address host:port (default: admin.listen of --config, else "+config.DefaultAdminListen+")")
	cfgPath := fs.String("config", "", "config file to take admin.listen from")
	ready := fs.Bool("ready", false, "ask /readyz instead of /healthz")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: logcapturer health [--addr HOST:PORT | --config FILE] [--ready] [--timeout 3s]\n\nexits 0 when the running logcapturer answers 200, 1 otherwise")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{fmt.Errorf("health: %w", err)}
	}
	if *addr == "" {
		*addr = config.DefaultAdminListen
		if *cfgPath != "" {
			cfg, err := config.Load(*cfgPath, &config.ParseOptions{SinkTypes: sinkTypes()})
			if err != nil {
				return configError(*cfgPath, err)
			}
			if cfg.Admin.Listen == "" {
				return fmt.Errorf("health: %s disables the admin server (admin.listen is empty): nothing to ask", *cfgPath)
			}
			*addr = cfg.Admin.Listen
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
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %s: %s", path, resp.Status, body)
	}
	fmt.Fprintf(stdout, "%s", body)
	return nil
}
