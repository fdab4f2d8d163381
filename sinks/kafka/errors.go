package kafka

import (
	"context"
	"errors"
	"log/slog"
	"net"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// classify maps a record's failure to the pipeline's classes. The reason is
// the Kafka error name where there is one.
//
//   - authorization (TOPIC_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED,
//     SASL_AUTHENTICATION_FAILED, ...): *sinks.Unauthorized, held like
//     Loki's 401/403, never dead-lettered;
//   - a record or topic the brokers will never take (MESSAGE_TOO_LARGE,
//     RECORD_LIST_TOO_LARGE, INVALID_TOPIC_EXCEPTION, INVALID_RECORD,
//     INVALID_TIMESTAMP, UNSUPPORTED_FOR_MESSAGE_FORMAT, ...):
//     *sinks.Permanent;
//   - anything else (NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS,
//     REQUEST_TIMED_OUT, UNKNOWN_TOPIC_OR_PARTITION, network errors, the
//     deadline): *sinks.Retryable.
func classify(err error) error {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed, kerr.SaslAuthenticationFailed,
			kerr.TransactionalIDAuthorizationFailed, kerr.DelegationTokenAuthorizationFailed,
			kerr.IllegalSaslState, kerr.UnsupportedSaslMechanism:
			return &sinks.Unauthorized{Err: err}
		case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidTopicException, kerr.InvalidRecord,
			kerr.InvalidTimestamp, kerr.UnsupportedForMessageFormat, kerr.UnsupportedCompressionType,
			kerr.InvalidRequiredAcks, kerr.TopicDeletionDisabled:
			return &sinks.Permanent{Reason: ke.Message, Err: err}
		}
		return &sinks.Retryable{Reason: ke.Message, Err: err}
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &sinks.Retryable{Reason: "timeout", Err: err}
	case errors.Is(err, kgo.ErrClientClosed), errors.Is(err, context.Canceled):
		return &sinks.Retryable{Reason: "closed", Err: err}
	case errors.As(err, &ne):
		return &sinks.Retryable{Reason: "connection", Err: err}
	}
	return &sinks.Retryable{Reason: "error", Err: err}
}

// kgoLogger passes the client's errors to the sink's logger. Lower levels
// are dropped: the client logs every failed dial and retry, and an outage
// must not write a line per retry.
type kgoLogger struct{ l *slog.Logger }

func (kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelError }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	if level == kgo.LogLevelError {
		k.l.Warn("kafka client: "+msg, keyvals...)
	}
}
