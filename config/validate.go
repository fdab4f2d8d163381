package config

import (
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/logcapturer/logcapturer/internal/glob"
)

// validator checks a decoded Config. pos and failed come from the decoder
// (both empty for a Config built in code): pos gives the line of each key,
// failed the paths whose values were already reported as malformed.
type validator struct {
	ps     *problems
	pos    map[string]int
	failed map[string]bool
	// types are the registered sink types; nil for a Config built in code.
	types sinkTypes
	// sourceTypes are the registered source types; nil for a Config built
	// in code, or when Load was given none.
	sourceTypes sourceTypes
	checkFiles  bool
	checkToken  bool // read admin.token_file
}

// parent returns the path of the mapping or list holding path, "" at the top.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// line returns the line of path or, for a key left out, of the nearest
// enclosing mapping present in the file.
func (v *validator) line(path string) int {
	for {
		if l, ok := v.pos[path]; ok {
			return l
		}
		if path == "" {
			return 0
		}
		path = parent(path)
	}
}

func (v *validator) has(path string) bool {
	_, ok := v.pos[path]
	return ok
}

func (v *validator) add(path, format string, args ...any) {
	v.addAt(0, path, format, args...)
}

// addAt is add at line, or at path's line when line is 0.
func (v *validator) addAt(line int, path, format string, args ...any) {
	for p := path; ; p = parent(p) {
		if v.failed[p] {
			return
		}
		if p == "" {
			break
		}
	}
	if line <= 0 {
		line = v.line(path)
	}
	v.ps.add(line, path, format, args...)
}

// required reports a required string that is missing or empty.
func (v *validator) required(path, val string) bool {
	switch {
	case val != "":
		return true
	case v.has(path):
		v.add(path, "must not be empty")
	default:
		v.add(path, "is required")
	}
	return false
}

func oneOf[T ~string](v *validator, path string, val T, allowed ...T) {
	if slices.Contains(allowed, val) {
		return
	}
	if val == "" && !v.has(path) {
		v.add(path, "is required")
		return
	}
	v.add(path, "must be %s, got %q", orList(allowed), string(val))
}

// orList formats "a", "a or b", "a, b or c".
func orList[T ~string](items []T) string { return joinList(items, " or ") }

// andList formats "a", "a and b", "a, b and c".
func andList[T ~string](items []T) string { return joinList(items, " and ") }

func joinList[T ~string](items []T, last string) string {
	var b strings.Builder
	for i, it := range items {
		switch {
		case i == 0:
		case i == len(items)-1:
			b.WriteString(last)
		default:
			b.WriteString(", ")
		}
		b.WriteString(string(it))
	}
	return b.String()
}

func (v *validator) positive(path string, d Duration) {
	if d <= 0 {
		v.add(path, "must be greater than 0, got %s", d)
	}
}

func (v *validator) sizeBetween(path string, s, lo, hi ByteSize) {
	if s < lo || s > hi {
		v.add(path, "must be between %s and %s, got %s", lo, hi, s)
	}
}

// validName reports whether s is a valid source or sink name.
func validName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '_' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// validLabelName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]*.
func validLabelName(s string) bool {
	return validEnvName(s)
}

// name checks a source or sink name and its uniqueness among seen (name to
// path of its first use).
func (v *validator) name(path, kind, name string, seen map[string]string) {
	if !v.required(path, name) {
		return
	}
	if !validName(name) {
		v.add(path, "must be 1 to %d letters, digits, '_' or '-', got %q", MaxNameLen, name)
		return
	}
	if first, dup := seen[name]; dup {
		v.add(path, "duplicate %s name %q (first defined at line %d)", kind, name, v.line(first))
		return
	}
	seen[name] = path
}

// glob checks a path glob (see package internal/glob).
func (v *validator) glob(path, pattern string) {
	if err := glob.Check(pattern); err != nil {
		v.add(path, "%s", err.Error())
	}
}

func (v *validator) config(c *Config) {
	v.required("data_dir", c.DataDir)
	v.wal("wal", &c.WAL)
	if c.DLQ.MaxBytes <= 0 {
		v.add("dlq.max_bytes", "must be more than 0, got %s", c.DLQ.MaxBytes)
	}
	if c.DLQ.MaxAge <= 0 {
		v.add("dlq.max_age", "must be more than 0, got %s", c.DLQ.MaxAge)
	}
	if c.ShutdownTimeout <= 0 {
		v.add("shutdown_timeout", "must be more than 0, got %s", c.ShutdownTimeout)
	}
	if c.Admin.UnreadyAfter <= 0 {
		v.add("admin.unready_after", "must be more than 0, got %s", c.Admin.UnreadyAfter)
	}
	if c.MemoryLimit != 0 && c.MemoryLimit < MinMemoryLimit(c.WAL.SegmentSize) {
		v.add("memory_limit", "must be at least %s (2 * wal.segment_size + 16MiB), got %s; leave it out for the automatic %s",
			MinMemoryLimit(c.WAL.SegmentSize), c.MemoryLimit, c.AutoMemoryLimit())
	}

	v.takeover(&c.Takeover)
	if len(c.Sources) == 0 {
		v.add("sources", "at least one source is required")
	}
	sourceNames, sourceClaims := map[string]string{}, map[string]string{}
	for i := range c.Sources {
		v.source("sources["+strconv.Itoa(i)+"]", &c.Sources[i], sourceNames, sourceClaims, c.Sinks)
	}

	if len(c.Sinks) == 0 {
		v.add("sinks", "at least one sink is required")
	}
	sinkNames := map[string]string{}
	claims := map[string]string{}
	for i := range c.Sinks {
		v.sink("sinks["+strconv.Itoa(i)+"]", &c.Sinks[i], sinkNames, claims)
	}

	if c.Admin.Listen != "" {
		v.listen("admin.listen", c.Admin.Listen)
		if c.Admin.TokenFile == "" && !loopbackListen(c.Admin.Listen) {
			v.add("admin.token_file", "is required when admin.listen (%s) is not a loopback address: the admin API can reveal log contents; "+
				"set a file holding a bearer token, or listen on 127.0.0.1", c.Admin.Listen)
		}
		if v.checkToken && c.Admin.TokenFile != "" {
			v.tokenFile("admin.token_file", c.Admin.TokenFile)
		}
	}
}

// tokenFile reports a bearer token file that run would refuse at start:
// one that cannot be read, or holds nothing but whitespace.
func (v *validator) tokenFile(path, file string) {
	tok, err := readSecret(file)
	switch {
	case err != nil:
		v.add(path, "cannot be read: %v", err)
	case tok == "":
		v.add(path, "%s is empty; it must hold the bearer token", file)
	}
}

// loopbackListen reports whether host:port accepts only local connections
// (localhost or a loopback IP; an empty host is every interface).
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return true // reported by listen
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (v *validator) wal(path string, w *WAL) {
	v.sizeBetween(path+".segment_size", w.SegmentSize, MinSegmentSize, MaxSegmentSize)
	if w.MaxBytes < 2*w.SegmentSize {
		v.add(path+".max_bytes", "must be at least twice wal.segment_size (%s), got %s", 2*w.SegmentSize, w.MaxBytes)
	}
	oneOf(v, path+".sync", w.Sync, SyncBatch, SyncInterval, SyncNone)
	v.positive(path+".sync_interval", w.SyncInterval)
	oneOf(v, path+".full_policy", w.FullPolicy, FullBlock, FullDropOldest)
	oneOf(v, path+".compression", w.Compression, CompressionS2, CompressionNone)
}

func (v *validator) source(path string, s *Source, seen, claims map[string]string, sinks []Sink) {
	v.name(path+".name", "source", s.Name, seen)
	if v.sourceTypes != nil {
		oneOf(v, path+".type", s.Type, v.sourceTypes.names()...)
	} else {
		v.required(path+".type", string(s.Type))
	}

	names := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		kp := path + ".labels." + k
		switch {
		case strings.HasPrefix(k, "__"):
			v.add(kp, "label names starting with \"__\" are reserved")
		case !validLabelName(k):
			v.add(kp, "invalid label name %q: must match [a-zA-Z_][a-zA-Z0-9_]*", k)
		case s.Labels[k] == "":
			// Loki and Promtail treat an empty value as no label; a
			// ${VAR} that is not set (HOSTNAME under systemd) makes one.
			v.ps.warn(v.line(kp), kp, "is empty: the label is left out (Loki treats an empty value as absent; a ${VAR} that is not set expands to nothing)")
			delete(s.Labels, k)
		}
	}

	if s.MaxStreams < 0 {
		v.add(path+".max_streams", "must not be negative, got %d (leave it out for the default, 1000)", s.MaxStreams)
	}
	if s.Sinks != nil && len(s.Sinks) == 0 {
		v.add(path+".sinks", "must not be empty; leave the key out to send to all sinks")
	}
	listed := map[string]bool{}
	for i, name := range s.Sinks {
		ip := path + ".sinks[" + strconv.Itoa(i) + "]"
		switch {
		case listed[name]:
			v.add(ip, "sink %q is listed twice", name)
		case !slices.ContainsFunc(sinks, func(k Sink) bool { return k.Name == name }):
			v.add(ip, "no sink named %q; %s", name, definedSinks(sinks))
		}
		listed[name] = true
	}
	if s.Options != nil {
		c := &Check{v: v, path: path, kind: "source", name: s.Name, claims: claims, source: s}
		s.Options.Check(c)
		if fc, ok := s.Options.(FileChecker); ok && v.checkFiles {
			fc.CheckFiles(c)
		}
	}
}

func definedSinks(sinks []Sink) string {
	var names []string
	for _, s := range sinks {
		if s.Name != "" {
			names = append(names, strconv.Quote(s.Name))
		}
	}
	if len(names) == 0 {
		return "no sinks are defined"
	}
	return "defined sinks: " + strings.Join(names, ", ")
}

func (v *validator) sink(path string, s *Sink, seen, claims map[string]string) {
	v.name(path+".name", "sink", s.Name, seen)
	if v.types != nil || s.Options == nil {
		oneOf(v, path+".type", s.Type, v.types.names()...)
	}
	if s.Batch.MaxEntries <= 0 {
		v.add(path+".batch.max_entries", "must be greater than 0, got %d", s.Batch.MaxEntries)
	}
	if s.Batch.MaxBytes <= 0 {
		v.add(path+".batch.max_bytes", "must be greater than 0, got %s", s.Batch.MaxBytes)
	}
	v.positive(path+".batch.max_wait", s.Batch.MaxWait)
	if s.Workers < 1 || s.Workers > MaxWorkers {
		v.add(path+".workers", "must be between 1 and %d, got %d", MaxWorkers, s.Workers)
	}
	if s.Retry.MaxAttempts < 0 {
		v.add(path+".retry.max_attempts", "must be 0 (retry forever) or more, got %d", s.Retry.MaxAttempts)
	}
	minOK, maxOK := s.Retry.MinBackoff > 0, s.Retry.MaxBackoff > 0
	v.positive(path+".retry.min_backoff", s.Retry.MinBackoff)
	v.positive(path+".retry.max_backoff", s.Retry.MaxBackoff)
	if minOK && maxOK && s.Retry.MinBackoff > s.Retry.MaxBackoff {
		if v.has(path + ".retry.max_backoff") {
			v.add(path+".retry.max_backoff", "must be at least retry.min_backoff (%s), got %s", s.Retry.MinBackoff, s.Retry.MaxBackoff)
		} else {
			v.add(path+".retry.min_backoff", "must be at most retry.max_backoff (%s), got %s", s.Retry.MaxBackoff, s.Retry.MinBackoff)
		}
	}
	if s.Options != nil {
		c := &Check{v: v, path: path, kind: "sink", name: s.Name, claims: claims}
		s.Options.Check(c)
		if fc, ok := s.Options.(FileChecker); ok && v.checkFiles {
			fc.CheckFiles(c)
		}
	}
}

func (v *validator) listen(path, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(path, "must be host:port such as 127.0.0.1:8401, or \"\" to disable the admin server, got %q", addr)
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil || strings.HasPrefix(port, "+") {
		v.add(path, "port must be a number from 0 to 65535, got %q", port)
	}
}

// routeDefaults gives every source without a sinks key all the sinks.
func (c *Config) routeDefaults() {
	for i := range c.Sources {
		if c.Sources[i].Sinks == nil {
			for _, s := range c.Sinks {
				c.Sources[i].Sinks = append(c.Sources[i].Sinks, s.Name)
			}
		}
	}
}

// Validate checks c against the rules Load and Parse apply after decoding,
// for a Config built or changed in code. A nil Source.Sinks means every
// sink. Problems carry no file or line. It does not touch the file system
// (no data_dir check). It returns nil or an *Error.
func (c *Config) Validate() error {
	ps := &problems{}
	v := &validator{ps: ps}
	v.config(c)
	return ps.err()
}
