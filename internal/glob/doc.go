// Package glob matches the file sources' path globs. A pattern is a
// filepath.Match pattern (* and ? within one path element, [classes]),
// matched by the standard library as before, unless it uses Promtail's
// extensions (its __path__ is matched by github.com/bmatcuk/doublestar/v4):
// "**" as a whole path element matches any number of directories, zero
// included, and {a,b} matches either alternative. Such a pattern is
// matched and expanded by doublestar, which follows symbolic links to
// directories as Promtail does (a loop ends at the kernel's ELOOP; the
// sources tail a file reachable by several names once).
//
// Check refuses what does not compile, and "**" inside a path element
// (/var/log/**.log), which doublestar would read as "*".
package glob
