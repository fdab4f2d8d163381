// Package promset registers a component's Prometheus collectors as one
// set, and unregisters them as one.
//
// Every component of logcapturer (wal, pipeline, retry, each source, each
// sink) makes its collectors when it opens and calls Register with them.
// The registerer is usually wrapped with a label that names the component:
// source=<name> or sink=<name>.
//
// # Invariants
//
//   - All or none: when one collector fails to register (a second source
//     of the same name, say), the ones already registered are unregistered
//     again, and the error names the component.
//   - A nil registerer registers nothing and returns an empty Set, so code
//     that counts never checks for nil.
//
// # Lifecycle
//
// Register while the component opens; Unregister once, when it closes (a
// second call, or one on a nil Set, does nothing). The collectors keep
// their values after Unregister. A config reload closes the running
// components and opens new ones on the same registry, and their names are
// free again for them.
package promset
