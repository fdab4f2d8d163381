package main

import (
	"context"
	"fmt"
	"log/slog"

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
		if token, err = readTokenFile("admin.token_file", cfg.Admin.TokenFile); err != nil {
			return nil, err
		}
	}
	return admin.New(logger, admin.Options{Listen: cfg.Admin.Listen, Pipeline: p, Gatherer: g, Token: token,
		PProf: cfg.Admin.PProf, Version: fullVersion(), Reload: reload})
}

// readTokenFile reads the bearer token in the file at path, named by key
// (the config key or the flag): config.ReadSecret's trimming, and it must
// not be empty.
func readTokenFile(key, path string) (string, error) {
	tok, err := config.ReadSecret(key, path)
	if err != nil {
		return "", err
	}
	if tok == "" {
		return "", fmt.Errorf("%s: %s is empty", key, path)
	}
	return tok, nil
}
