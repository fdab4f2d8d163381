package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = `usage: logcapturer <command> [flags]

commands:
  run --config FILE     tail the configured sources and ship them to the sinks
  check --config FILE   validate a config file; exit 1 listing every problem
  convert --from promtail FILE [-o OUT]
                        write the native equivalent of a Promtail config
  pipeline test --config FILE --source NAME [FILE|-]
                        run sample lines through a source's pipeline_stages and
                        print what each stage changed (-o json: one object a line)
  status                where each sink is, how far behind, what it waits for
  sinks [NAME]          sinks: cursor, lag, state, retries, dead letters
  sinks rewind NAME --to-time T | --to-index N | --to-oldest | --to-newest
                        move a sink's cursor (re-ship, or skip ahead); with
                        --data-dir a stopped one's, taking effect at its next start
  sources               tailed files: identity, offset, size, state
  dlq list|show|replay|purge [--sink NAME | --all] [--from INDEX] [--limit N]
                        inspect or act on the dead-letter queue; show also lists
                        up to N entries of each dead letter; purge of every
                        sink asks on a terminal, else wants --all
  wal cat --from N | --time T [--limit K]
                        print WAL entries
  health [--addr HOST:PORT] [--ready]
                        exit 0 if a running logcapturer answers /healthz (or /readyz)
  version [-o json]     print the version; -o json adds the Go version and build info

The inspection commands ask the running logcapturer's admin API (--addr,
or admin.listen of --config, default 127.0.0.1:8401); with --data-dir they
read a stopped one's data_dir. -o json prints JSON. Every command takes
--help.
`

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// console is where a command may ask its user: stdin, and whether it is a
// terminal (a question is asked only then; elsewhere a flag must say it).
type console struct {
	in       io.Reader
	terminal bool
}

// runMain runs one command with the process's stdin and returns the
// process exit code.
func runMain(args []string, stdout, stderr io.Writer) int {
	return runMainWith(args, console{in: os.Stdin, terminal: isTerminal(os.Stdin)}, stdout, stderr)
}

// runMainWith runs one command and returns the process exit code.
func runMainWith(args []string, con console, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(args[1:], stderr)
	case "check":
		err = cmdCheck(args[1:], stdout)
	case "convert":
		err = cmdConvert(args[1:], stdout, stderr)
	case "dlq":
		err = cmdDLQ(args[1:], con, stdout, stderr)
	case "pipeline":
		err = cmdPipeline(args[1:], con, stdout, stderr)
	case "health":
		err = cmdHealth(args[1:], stdout)
	case "status":
		err = cmdStatus(args[1:], stdout)
	case "sinks":
		err = cmdSinks(args[1:], stdout)
	case "sources":
		err = cmdSources(args[1:], stdout)
	case "wal":
		err = cmdWAL(args[1:], stdout)
	case "version", "--version", "-version":
		err = cmdVersion(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "logcapturer: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err == nil {
		return 0
	}
	var help helpShown
	if errors.As(err, &help) {
		fmt.Fprint(stdout, help.text)
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "logcapturer: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "logcapturer: %v\n", err)
	return 1
}

type usageError struct{ error }

// configUsage is the help of the commands that take --config.
var configUsage = map[string]string{
	"run": "run --config FILE [flags]\n\nTail the configured sources and ship them to the sinks until SIGINT or SIGTERM.\n" +
		"With --config-format promtail FILE is a Promtail configuration, run as it is (see logcapturer convert).",
	"check": "check --config FILE [--config-format promtail]\n\nValidate a config file; exit 1 listing every problem as file:line: key: message.",
}

// configFlag parses "--config FILE" (required) from args, with the
// flags that say how to read it (--config-format, --skip-unsupported,
// --data-dir).
func configFlag(name string, args []string, extra func(*flag.FlagSet)) (configFile, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cf configFile
	fs.StringVar(&cf.path, "config", "", "config file (YAML)")
	cf.register(fs)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return configFile{}, helpShown{helpText(fs, configUsage[name])}
		}
		return configFile{}, usageError{fmt.Errorf("%s: %w", name, err)}
	}
	if cf.path == "" {
		return configFile{}, usageError{fmt.Errorf("%s: --config FILE is required", name)}
	}
	if fs.NArg() > 0 {
		return configFile{}, usageError{fmt.Errorf("%s: unexpected arguments %q", name, fs.Args())}
	}
	if err := cf.check(name); err != nil {
		return configFile{}, err
	}
	return cf, nil
}
