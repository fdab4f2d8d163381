// Package atomicfile writes a whole file so that its path never names a
// half-written one, even across a power cut: the bytes go to a new
// temporary file in the same directory, which is fsynced, renamed over
// the path, and the directory fsynced. A failed write or fsync leaves the
// old file as it was and removes the temporary one: the next write starts
// a new file, never retrying an fsync on the same one.
package atomicfile
