package wal

// SegmentCount returns the number of segment files, tail included. Unlike
// Segments it never blocks: it reads a counter kept under the log's lock.
func (l *Log) SegmentCount() int { return int(l.nsegs.Load()) }
