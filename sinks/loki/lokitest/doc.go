// Package lokitest is an in-process Loki push endpoint for tests of the
// loki sink and of pipelines that end in one.
//
// A Receiver is an httptest.Server that decodes what a real Loki decodes:
// protobuf bodies (snappy block format, Content-Type application/x-protobuf)
// with Loki's own push types from github.com/grafana/loki/pkg/push (the
// Apache-2.0 module, not AGPL Loki) and github.com/golang/snappy (Loki's
// decoder), and JSON bodies in Loki's JSON push format. It parses every
// stream selector strictly (ParseLabels) and checks that entries of a
// stream are in time order within a push. A request that fails a check is
// answered 400 and listed by Problems, so a test asserts len(Problems()) ==
// 0.
//
// Every Entry records its push's tenant (X-Scope-OrgID). Answers are
// scripted: SetTenantReply answers every push of one tenant, Reply queues
// one Reply per request, SetDefault sets the rest (initially 204). messages.go has Loki's real bodies for 400
// (too far behind with "total ignored: N out of M", too new, too old, line
// too long, grouped as Loki groups them; RealPartialTooOld as measured from
// a real Loki), 429 with Retry-After and 500. A Reply may also be delayed or
// drop the connection.
//
// SetLimits makes the receiver answer as Loki's distributor does instead of
// the default: every entry is checked against reject_old_samples_max_age,
// creation_grace_period and max_line_size, the valid ones are stored, and
// if any was refused the push is answered 400 with Loki's grouped messages
// ("N errors like: ..."); Refused lists the refused entries.
//
// Entries are stored on 2xx (and on a Reply with Store set). The receiver
// keeps duplicates; Loki itself drops an entry equal to one it holds (same
// stream, timestamp and line), so tests of at-least-once delivery count
// distinct entries.
//
// This package must only be imported by tests: it pulls in Loki's push
// module and gRPC.
package lokitest
