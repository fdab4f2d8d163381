// Package sinktest provides a real HTTP receiver for tests of sinks and of
// the pipeline's retry logic: it can be healthy, fail with 500, throttle
// with 429 and Retry-After, refuse connections, hang until the client gives
// up, or reject chosen lines with 400 for good. A held (Hang) or refused
// request is never answered: its connection is closed, as a dead peer's
// would be, so a client never sees a 2xx for lines the Target did not
// record.
//
// Proxy is a plain HTTP forward proxy that counts what it passes on, for
// the sinks' proxy_url.
//
// A Target owns one server goroutine per listener; Close (also registered
// with t.Cleanup by NewTarget) stops it and waits. Its methods are safe for
// concurrent use.
package sinktest
