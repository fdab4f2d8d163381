// Package waltest holds test helpers for code built on package wal: a
// fault-injecting fsync for wal.Options.Fsync (and pipeline.Options.Fsync)
// and a size-limited tmpfs for full-disk tests.
package waltest
