// Package glob matches the file sources' path globs. A pattern is a
// filepath.Match pattern (* and ? within one path element, [classes]),
// matched by the standard library as before, unless it uses Promtail's
// extensions (its __path__ is matched by github.com/bmatcuk/doublestar/v4):
// "**" as a whole path element matches any number of directories, zero
// included, and {a,b} matches either alternative. Such a pattern is
// matched and expanded by doublestar. Its walk follows symbolic links to
// directories, as Promtail's does, but reads each directory under the
// first name it met (in name order): a link back up the tree ends there,
// where doublestar alone would walk it again until the kernel's ELOOP
// (2^40 steps with two such links), and a directory with two names gives
// its files under one.
//
// Check refuses what does not compile, and "**" inside a path element
// (/var/log/**.log), which doublestar would read as "*".
package glob
