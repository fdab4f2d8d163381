package lokipush

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/sources/receiver"
)

// Paths served.
const (
	PushPath  = "/loki/api/v1/push"
	ReadyPath = "/ready"
)

// Source is a loki_push source: a receiver.Server with Loki's push
// endpoint and /ready.
type Source struct {
	name string
	opts *options
	srv  *receiver.Server
	// ignoreTenant: X-Scope-OrgID is not the entries' tenant
	// (Config.IgnoreTenantHeader).
	ignoreTenant bool
}

var _ sources.Source = (*Source)(nil)

// New returns the source c describes, not listening yet (Start binds the
// address). deps.Emitter is required.
func New(deps sources.Deps, c *Config) (*Source, error) {
	s := &Source{name: deps.Name, opts: newOptions(deps.Name, deps.Labels, c.UseIncomingTimestamp), ignoreTenant: c.IgnoreTenantHeader}
	s.opts.keepInternal = deps.Relabel != nil
	srv, err := c.keys().NewServer(deps, Type)
	if err != nil {
		return nil, err
	}
	srv.Handle("POST "+PushPath, receiver.Endpoint{Decode: s.decode})
	srv.HandleFunc("GET "+ReadyPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ready\n"))
	})
	s.srv = srv
	return s, nil
}

// Name is the source's name.
func (s *Source) Name() string { return s.name }

// Type is "loki_push".
func (s *Source) Type() string { return Type }

// Files is nil: a push receiver reads no file (the status shows Push).
func (s *Source) Files() []sources.FileStatus { return nil }

// Push is the receiver's status: address, bytes in flight, last push,
// recent clients. Safe for concurrent use.
func (s *Source) Push() sources.PushStatus { return s.srv.Status() }

// Addr is the address listened on; nil before Start.
func (s *Source) Addr() net.Addr { return s.srv.Addr() }

// Start listens and serves until ctx ends or Close; an address that
// cannot be bound is an error.
func (s *Source) Start(ctx context.Context) error { return s.srv.Start(ctx) }

// Close stops the listener (see receiver.Server.Close); idempotent.
func (s *Source) Close() error { return s.srv.Close() }

// decode turns one push into blocks: protobuf (snappy-compressed, as
// Loki takes it) unless the Content-Type is JSON.
func (s *Source) decode(req *receiver.Request) ([]sources.Record, error) {
	var tenant string
	if !s.ignoreTenant {
		tenant = strings.TrimSpace(req.HTTP.Header.Get("X-Scope-OrgID"))
		if err := checkTenant(tenant); err != nil {
			return nil, receiver.BadRequest("%v", err)
		}
	}
	b := &builder{opts: s.opts, tenant: tenant, received: req.Received.UTC().UnixNano()}
	var err error
	ct := req.HTTP.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); strings.EqualFold(strings.TrimSpace(mt), "application/json") {
		err = decodeJSON(req.Body, b)
	} else {
		var body []byte
		if body, err = req.Snappy(req.Body); err != nil {
			return nil, err
		}
		err = decodeProtobuf(body, b)
	}
	if err != nil {
		var re *receiver.Error
		if errors.As(err, &re) {
			return nil, re
		}
		return nil, receiver.BadRequest("%v", err)
	}
	recs := b.records()
	if b.invalid != nil {
		return recs, receiver.BadRequest("%v", b.invalid)
	}
	return recs, nil
}

// checkTenant refuses an X-Scope-OrgID Loki would refuse: longer than
// 150 bytes, several tenants ('|'), "." or "..", or a character outside
// [a-zA-Z0-9!-_.*'()].
func checkTenant(t string) error {
	if t == "" {
		return nil
	}
	if len(t) > 150 {
		return fmt.Errorf("X-Scope-OrgID is longer than 150 characters")
	}
	if t == "." || t == ".." {
		return fmt.Errorf("X-Scope-OrgID %q is not a valid tenant", t)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strings.IndexByte("!-_.*'()", c) >= 0 {
			continue
		}
		if c == '|' {
			return fmt.Errorf("X-Scope-OrgID %q names several tenants: one is allowed", short(t))
		}
		return fmt.Errorf("X-Scope-OrgID %q: character %q is not allowed in a tenant", short(t), c)
	}
	return nil
}
