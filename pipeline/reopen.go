package pipeline

import (
	"context"
	"errors"

	"github.com/logcapturer/logcapturer/sinks"
)

// ReopenOutputs asks every sink that writes to a file (sinks.Reopener) to
// close it and open its path again, as logrotate's postrotate expects of
// a SIGHUP, and returns the names of those it reopened, in configuration
// order. Each waits for its write in progress, or until ctx is done; one
// that fails (or gives up) is left out of the names and its error joined
// into the returned one. Safe for concurrent use with the sink loops
// (the sink serialises Reopen with its Send) and with itself; it does not
// need Start and does nothing harmful after Close (a closed sink reopens
// nothing).
func (p *Pipeline) ReopenOutputs(ctx context.Context) ([]string, error) {
	var names []string
	var errs []error
	for _, sl := range p.loops {
		r, ok := sl.opts.Sink.(sinks.Reopener)
		if !ok {
			continue
		}
		if err := r.Reopen(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		names = append(names, sl.name)
	}
	return names, errors.Join(errs...)
}
