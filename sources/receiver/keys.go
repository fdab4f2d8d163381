package receiver

import (
	"fmt"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sources"
)

// Keys are the keys every push type's Config has: listen_address,
// max_request_bytes, max_inflight_bytes, tls, basic_auth, bearer_token
// and bearer_token_file, with the type's default address. config has no
// inline structs, so each Config keeps the keys itself and hands them
// over as Keys; the checks and the Server they give are then the same
// for every push type.
type Keys struct {
	// ListenAddress is host:port; DefaultAddress is the type's default
	// (loki_push: 127.0.0.1:3500), named in the problem of an empty one.
	ListenAddress, DefaultAddress     string
	MaxRequestBytes, MaxInflightBytes config.ByteSize
	TLS                               TLSConfig
	Auth                              Auth
}

// Check reports at their keys' lines the problems of the keys and of the
// entry's pipeline_stages, and a listen_address that another source of
// the configuration listens on too.
func (k Keys) Check(ck *config.Check) {
	if k.ListenAddress == "" {
		ck.Problem("listen_address", "must not be empty (default %s)", k.DefaultAddress)
	}
	CheckListenAddress(ck, "listen_address", k.ListenAddress)
	CheckSizes(ck, k.MaxRequestBytes, k.MaxInflightBytes)
	k.TLS.Check(ck, "tls")
	k.Auth.Check(ck)
	sources.CheckStages(ck)
	if owner, taken := ck.Claim("listen:tcp:" + k.ListenAddress); taken {
		ck.Problem("listen_address", "is also the listen_address of %s", owner)
	}
}

// CheckFiles reports secret and TLS files that cannot be read.
func (k Keys) CheckFiles(ck *config.Check) {
	k.Auth.CheckFiles(ck)
	k.TLS.CheckFiles(ck, "tls")
}

// NewServer returns the Server of the push source deps describes, of type
// typ, not listening yet: the keys' address, TLS, authentication and
// sizes; deps' logger, registerer, name and Emitter; a StageRunner of
// deps' pipeline_stages and relabel hook when it has any (the Server owns
// it). Its errors start with typ. The caller adds its endpoints.
func (k Keys) NewServer(deps sources.Deps, typ string) (*Server, error) {
	var stages *sources.StageRunner
	if deps.Staged() {
		var err error
		if stages, err = sources.NewStageRunner(deps, sources.StageOptions{MaxStreams: deps.MaxStreams, Relabel: deps.Relabel}); err != nil {
			return nil, fmt.Errorf("%s: %w", typ, err)
		}
	}
	srv, err := New(deps.Logger, deps.Registerer, Options{
		Stages: stages, // flushed at the end of each request: see Server.stage
		Name:   deps.Name, Type: typ,
		ListenAddress: k.ListenAddress, DefaultAddress: k.DefaultAddress,
		TLS: k.TLS, Auth: k.Auth,
		MaxRequestBytes: int64(k.MaxRequestBytes), MaxInflightBytes: int64(k.MaxInflightBytes),
		Emitter: deps.Emitter,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", typ, err)
	}
	return srv, nil
}
