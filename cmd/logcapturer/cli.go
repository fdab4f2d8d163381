package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/logcapturer/logcapturer/admin"
	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/pipeline"
)

// helpShown is returned when a command printed its help for --help: the
// text goes to stdout and the exit code is 0.
type helpShown struct{ text string }

func (h helpShown) Error() string { return "help requested" }

// newFlags returns a flag set for a command; usage is its first help line
// and what follows it.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses args, allowing flags after positional arguments
// ("sinks loki -o json"). --help makes a helpShown with usage and the
// flags; other errors are usage errors.
func parseFlags(fs *flag.FlagSet, args []string, usage string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, helpShown{helpText(fs, usage)}
			}
			return nil, usageError{fmt.Errorf("%s: %w", fs.Name(), err)}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func helpText(fs *flag.FlagSet, usage string) string {
	var b strings.Builder
	b.WriteString("usage: logcapturer " + usage + "\n")
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		b.WriteString("\nflags:\n")
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return b.String()
}

// clientFlags are the flags of the inspection commands: where the admin
// API is, or the data directory of a stopped logcapturer.
type clientFlags struct {
	addr, configPath, tokenFile, output, dataDir string
	timeout                                      time.Duration
}

func (c *clientFlags) register(fs *flag.FlagSet, offline bool) {
	fs.StringVar(&c.addr, "addr", "", "admin API address host:port (default: admin.listen of --config, else "+config.DefaultAdminListen+")")
	fs.StringVar(&c.configPath, "config", "", "config file: its admin.listen and admin.token_file are used")
	fs.StringVar(&c.tokenFile, "token-file", "", "file holding the admin bearer token (default: admin.token_file of --config)")
	fs.StringVar(&c.output, "o", "table", "output: table or json")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "bound on one API request")
	if offline {
		fs.StringVar(&c.dataDir, "data-dir", "", "read this data_dir of a stopped logcapturer instead of asking the API")
	}
}

func (c *clientFlags) check(name string) error {
	if c.output != "table" && c.output != "json" {
		return usageError{fmt.Errorf("%s: -o %q: want table or json", name, c.output)}
	}
	if c.dataDir != "" && c.addr != "" {
		return usageError{fmt.Errorf("%s: give --addr (running) or --data-dir (stopped), not both", name)}
	}
	return nil
}

// client resolves the address and token and returns an API client.
func (c *clientFlags) client() (*admin.Client, error) {
	addr, tokenFile, tokenKey := c.addr, c.tokenFile, "--token-file"
	if c.configPath != "" {
		data, err := os.ReadFile(c.configPath)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		cfg, err := config.ParseWith(c.configPath, data, &config.ParseOptions{SinkTypes: sinkTypes(), SourceTypes: sourceTypes(), SkipDirCheck: true})
		if err != nil {
			return nil, configError(c.configPath, err)
		}
		if addr == "" {
			if cfg.Admin.Listen == "" {
				return nil, fmt.Errorf("%s disables the admin server (admin.listen is empty): use --data-dir with logcapturer stopped", c.configPath)
			}
			addr = dialAddr(cfg.Admin.Listen)
		}
		if tokenFile == "" {
			tokenFile, tokenKey = cfg.Admin.TokenFile, "admin.token_file"
		}
	}
	if addr == "" {
		addr = config.DefaultAdminListen
	}
	token := ""
	if tokenFile != "" {
		var err error
		if token, err = readTokenFile(tokenKey, tokenFile); err != nil {
			return nil, err
		}
	}
	return admin.NewClient(addr, token, c.timeout), nil
}

// dialAddr turns a listen address into one to connect to: every interface
// (":8401", "0.0.0.0:8401") is reached on loopback.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

func (c *clientFlags) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.timeout)
}

// offline opens the data dir of a stopped logcapturer and says so on
// stderr... on the table's first line (JSON carries "offline": true).
func (c *clientFlags) offline() (*pipeline.Offline, error) {
	return pipeline.OpenOffline(c.dataDir)
}

// read is where a read-only command chooses between a stopped
// logcapturer's data dir (--data-dir: offline runs on it, then note, a
// format with the data dir for %s, heads a table) and the admin API of the
// running one (online runs with the client; its errors become the API's
// message).
func (c *clientFlags) read(stdout io.Writer, note string, offline func(*pipeline.Offline) error, online func(context.Context, *admin.Client) error) error {
	if c.dataDir != "" {
		o, err := c.offline()
		if err != nil {
			return err
		}
		defer o.Close()
		if err := offline(o); err != nil {
			return err
		}
		if note != "" && c.output == "table" {
			fmt.Fprintf(stdout, note, c.dataDir)
		}
		return nil
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := c.ctx()
	defer cancel()
	if err := online(ctx, cl); err != nil {
		return apiError(err)
	}
	return nil
}

// writeJSON prints v indented, for scripts.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// apiError turns an API error into the CLI's message.
func apiError(err error) error {
	var ae *admin.APIError
	if errors.As(err, &ae) {
		if ae.StatusCode == http.StatusUnauthorized {
			return errors.New(ae.Message + "; give it with --token-file FILE, or --config FILE to use its admin.token_file")
		}
		return errors.New(ae.Message)
	}
	return err
}
