package syslog

import (
	"context"
	"net"
	"slices"
	"strings"
	"time"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/auto"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"
	"github.com/logcapturer/logcapturer/wal"
)

// Labels a syslog source sets on each entry (when the message has the
// field).
const (
	LabelFacility   = "facility"    // keyword: kern, user, daemon, local0...
	LabelSeverity   = "severity"    // emergency, alert, critical, error, warning, notice, informational, debug
	LabelHostname   = "hostname"    // HOSTNAME
	LabelAppName    = "app_name"    // APP-NAME (RFC 5424) or TAG (RFC 3164)
	LabelParseError = "parse_error" // "true" on a message that did not parse, shipped raw
	// SDPrefix starts the name of a structured data parameter:
	// sd_<SD-ID>_<PARAM-NAME>, every byte other than [A-Za-z0-9_] made '_'.
	SDPrefix = "sd_"
)

// ownLabels are the label names the source sets itself; configured labels
// may not use them.
var ownLabels = []string{LabelFacility, LabelSeverity, LabelHostname, LabelAppName, LabelParseError}

const utf8BOM = "\xEF\xBB\xBF"

// converter turns messages into entries. One per connection (the parsing
// machines are not safe for concurrent use). It keeps the label set of the
// last message and hands the same slice to the next message with the same
// labels, so a stream of messages from one program allocates no labels.
type converter struct {
	cfg     *Config
	machine gosyslog.Machine
	loc     *time.Location
	base    []wal.Label // configured labels, sorted
	own     []wal.Label // scratch: the message's own labels, sorted
	scratch []wal.Label // scratch: the entry's label set
	last    []wal.Label
	// internal adds Promtail's __syslog_* labels (a relabel hook is set);
	// conn are the connection's (__syslog_connection_*), sorted.
	internal bool
	conn     []wal.Label
}

func newConverter(cfg *Config, loc *time.Location, base []wal.Label) *converter {
	opts3164 := []gosyslog.MachineOption{rfc3164.WithRFC3339(), rfc3164.WithLocaleTimezone(loc),
		rfc3164.WithSecondFractions(), rfc3164.WithEmbeddedNewlines()}
	c := &converter{cfg: cfg, loc: loc, base: base}
	switch cfg.SyslogFormat {
	case FormatRFC3164:
		c.machine = rfc3164.NewMachine(opts3164...)
	case FormatAuto:
		c.machine = auto.NewMachine(auto.WithRFC3164Options(opts3164...))
	default:
		c.machine = rfc5424.NewMachine()
	}
	return c
}

// convert parses msg (one message, without framing) received at recv and
// appends its entry to ck. It reports whether msg failed to parse (it is
// then shipped raw, labelled parse_error="true").
func (c *converter) convert(msg []byte, recv time.Time, ck *chunk) (parseError bool) {
	m, err := c.parse(msg)
	if err != nil || m == nil {
		c.own = append(c.own[:0], wal.Label{Name: LabelParseError, Value: "true"})
		c.scratch = mergeLabels(c.scratch[:0], c.base, c.own)
		ck.addBytes(recv.UnixNano(), msg, c.labels(), nil)
		return true
	}
	base := baseOf(m)
	ts := recv
	if c.cfg.UseIncomingTimestamp && base.Timestamp != nil {
		ts = c.incoming(*base.Timestamp, recv)
	}
	// The source's own labels, in name order: app_name, facility,
	// hostname, severity.
	own := c.own[:0]
	if c.cfg.PromtailLabels {
		// As Promtail: none of the message's own labels nor structured
		// data; a relabel hook makes them from __syslog_message_*.
	} else if base.Appname != nil {
		own = append(own, wal.Label{Name: LabelAppName, Value: *base.Appname})
	}
	if l := base.FacilityLevel(); l != nil && !c.cfg.PromtailLabels {
		own = append(own, wal.Label{Name: LabelFacility, Value: *l})
	}
	if base.Hostname != nil && !c.cfg.PromtailLabels {
		own = append(own, wal.Label{Name: LabelHostname, Value: *base.Hostname})
	}
	if l := base.SeverityLevel(); l != nil && !c.cfg.PromtailLabels {
		own = append(own, wal.Label{Name: LabelSeverity, Value: *l})
	}
	c.own = own
	c.scratch = mergeLabels(c.scratch[:0], c.base, own)
	sorted := true
	var meta []wal.Label
	if m5, ok := m.(*rfc5424.SyslogMessage); ok && m5.StructuredData != nil && !c.cfg.PromtailLabels {
		for id, params := range *m5.StructuredData {
			for name, value := range params {
				l := wal.Label{Name: sdName(id, name), Value: value}
				if c.cfg.LabelStructuredData {
					c.scratch = append(c.scratch, l)
					sorted = false
				} else {
					meta = append(meta, l)
				}
			}
		}
		slices.SortFunc(meta, func(a, b wal.Label) int { return strings.Compare(a.Name, b.Name) })
	}
	if c.internal {
		c.scratch = c.internalLabels(c.scratch, base, m)
		sorted = false
	}
	if !sorted {
		c.sortScratch()
	}
	labels := c.labels()
	switch {
	case c.cfg.UseRFC5424Message:
		ck.addBytes(ts.UnixNano(), msg, labels, meta)
	case base.Message != nil:
		ck.add(ts.UnixNano(), strings.TrimPrefix(*base.Message, utf8BOM), labels, meta)
	default:
		ck.add(ts.UnixNano(), "", labels, meta)
	}
	return false
}

// internalLabels appends Promtail's syslog target labels to dst: the
// connection's, __syslog_message_{severity,facility,hostname,app_name,
// proc_id,msg_id} and, with label_structured_data,
// __syslog_message_sd_<id>_<param> (an "@" in the id as "_").
func (c *converter) internalLabels(dst []wal.Label, base *gosyslog.Base, m gosyslog.Message) []wal.Label {
	dst = append(dst, c.conn...)
	for _, f := range []struct {
		name string
		v    *string
	}{
		{"__syslog_message_severity", base.SeverityLevel()}, {"__syslog_message_facility", base.FacilityLevel()},
		{"__syslog_message_hostname", base.Hostname}, {"__syslog_message_app_name", base.Appname},
		{"__syslog_message_proc_id", base.ProcID}, {"__syslog_message_msg_id", base.MsgID},
	} {
		if f.v != nil {
			dst = append(dst, wal.Label{Name: f.name, Value: *f.v})
		}
	}
	if m5, ok := m.(*rfc5424.SyslogMessage); ok && c.cfg.LabelStructuredData && m5.StructuredData != nil {
		for id, params := range *m5.StructuredData {
			id = strings.ReplaceAll(id, "@", "_")
			for name, value := range params {
				dst = append(dst, wal.Label{Name: "__syslog_message_sd_" + id + "_" + name, Value: value})
			}
		}
	}
	return dst
}

// connLabels are Promtail's connection labels of a peer: its IP address
// and the name a reverse lookup gives (bounded by a second; "" when
// there is none).
func connLabels(ctx context.Context, addr net.Addr) []wal.Label {
	var ip string
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip = a.IP.String()
	case *net.UDPAddr:
		ip = a.IP.String()
	default:
		return nil
	}
	ls := []wal.Label{{Name: "__syslog_connection_hostname"}, {Name: "__syslog_connection_ip_address", Value: ip}}
	if ctx != nil {
		lctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if names, err := net.DefaultResolver.LookupAddr(lctx, ip); err == nil {
			ls[0].Value = strings.Join(names, ",") // as Promtail's lookupAddr
		}
	}
	return ls
}

// parse runs the machine without letting a panic in it take the process
// down: a message that panics the parser is a parse error.
func (c *converter) parse(msg []byte) (m gosyslog.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, errParserPanic
		}
	}()
	return c.machine.Parse(msg)
}

type parserPanic struct{}

func (parserPanic) Error() string { return "syslog parser panicked" }

var errParserPanic error = parserPanic{}

func baseOf(m gosyslog.Message) *gosyslog.Base {
	switch m := m.(type) {
	case *rfc5424.SyslogMessage:
		return &m.Base
	case *rfc3164.SyslogMessage:
		return &m.Base
	}
	return &gosyslog.Base{}
}

// mergeLabels appends the union of the sorted sets a and b (no name in
// both: configured labels may not use the source's names) to dst, sorted.
func mergeLabels(dst, a, b []wal.Label) []wal.Label {
	for len(a) > 0 && len(b) > 0 {
		if a[0].Name < b[0].Name {
			dst, a = append(dst, a[0]), a[1:]
		} else {
			dst, b = append(dst, b[0]), b[1:]
		}
	}
	return append(append(dst, a...), b...)
}

// sortScratch sorts a label set with structured data labels added; of a
// parameter repeated in the message, the first is kept.
func (c *converter) sortScratch() { c.scratch = sortLabels(c.scratch) }

// sortLabels sorts ls by name, keeping the first of a repeated name.
func sortLabels(ls []wal.Label) []wal.Label {
	slices.SortStableFunc(ls, func(a, b wal.Label) int { return strings.Compare(a.Name, b.Name) })
	return slices.CompactFunc(ls, func(a, b wal.Label) bool { return a.Name == b.Name })
}

// labels returns the scratch label set (sorted): the previous message's
// slice when it is the same, else a copy. The entry's label set is never
// modified after: entries share it.
func (c *converter) labels() []wal.Label { return sharedLabels(c.scratch, &c.last) }

// sharedLabels returns *last when it equals scratch, else a copy of
// scratch, which becomes *last.
func sharedLabels(scratch []wal.Label, last *[]wal.Label) []wal.Label {
	if !slices.Equal(scratch, *last) {
		*last = slices.Clone(scratch)
	}
	return *last
}

// incoming is the message's own time in UTC. An RFC 3164 timestamp has no
// year (it parses as year 0): it gets the receive year in the configured
// location, or the one before if that puts it more than a week after the
// receive time (a December message received in January).
func (c *converter) incoming(t, recv time.Time) time.Time {
	if t.Year() == 0 {
		loc := t.Location()
		y := recv.In(loc).Year()
		cand := time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
		if cand.Sub(recv) > 7*24*time.Hour {
			cand = time.Date(y-1, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
		}
		t = cand
	}
	return t.UTC()
}

// sdName is the label name of a structured data parameter.
func sdName(id, param string) string {
	b := make([]byte, 0, len(SDPrefix)+len(id)+1+len(param))
	b = append(b, SDPrefix...)
	b = appendSanitized(b, id)
	b = append(b, '_')
	b = appendSanitized(b, param)
	return string(b)
}

func appendSanitized(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') {
			b = append(b, ch)
		} else {
			b = append(b, '_')
		}
	}
	return b
}
