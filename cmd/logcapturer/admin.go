package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/logcapturer/logcapturer/admin"
	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/prometheus/client_golang/prometheus"
)

// newAdmin builds the admin server of the config (nil when admin.listen
// is ""), reading admin.token_file.
func newAdmin(logger *slog.Logger, g prometheus.Gatherer, cfg *config.Config, p *pipeline.Pipeline, reload func(context.Context) (admin.ReloadResult, error)) (*admin.Server, error) {
	if cfg.Admin.Listen == "" {
		return nil, nil
	}
	token := ""
	if cfg.Admin.TokenFile != "" {
		var err error
		if token, err = readTokenFile(cfg.Admin.TokenFile); err != nil {
			return nil, fmt.Errorf("admin.token_file: %w", err)
		}
	}
	return admin.New(logger, admin.Options{Listen: cfg.Admin.Listen, Pipeline: p, Gatherer: g, Token: token,
		PProf: cfg.Admin.PProf, Version: fullVersion(), Reload: reload})
}

// readTokenFile reads a bearer token: the file's content without
// surrounding whitespace, which must not be empty.
func readTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", errors.New("token file " + path + " is empty")
	}
	return tok, nil
}
