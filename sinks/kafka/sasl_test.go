package kafka_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/sinks/kafka"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestSASL: while the broker refuses the credentials Send fails as
// unauthorized, not as a retryable timeout; the password file is read again
// at the next connection, so fixing it heals the sink without a restart.
//
// kfake drops the connection on a bad password; a real broker first
// answers SaslAuthenticate with SASL_AUTHENTICATION_FAILED (Kafka's
// SaslServerAuthenticator.handleSaslToken sends the
// AuthenticationException's error code and message before closing), so
// the control below answers as Kafka does while the file holds the wrong
// password.
func TestSASL(t *testing.T) {
	c := newCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "edge", "s3cret"))
	var refuse atomic.Bool
	refuse.Store(true)
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !refuse.Load() {
			return nil, nil, false
		}
		resp := kreq.(*kmsg.SASLAuthenticateRequest).ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr("Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512")
		return resp, nil, true
	})
	pw := filepath.Join(t.TempDir(), "kafka.pass")
	os.WriteFile(pw, []byte("wrong\n"), 0o600)
	s := newSink(t, c.ListenAddrs(), func(cfg *kafka.Config) {
		cfg.SASL = kafka.SASL{Mechanism: kafka.MechanismSCRAMSHA512, Username: "edge", PasswordFile: pw}
		cfg.Timeout = 3 * time.Second
	})
	err := s.Send(context.Background(), batch(1, block(0, 10, time.Now(), "job", "a")))
	var u *sinks.Unauthorized
	if !errors.As(err, &u) {
		t.Fatalf("wrong password: %v (%T), want *sinks.Unauthorized", err, err)
	}
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	refuse.Store(false)
	if err := s.Send(context.Background(), batch(2, block(10, 10, time.Now(), "job", "a"))); err != nil {
		t.Fatalf("right password: %v", err)
	}
}
