package sources

import (
	"bytes"
	"math"
	"regexp"
	"strconv"
	"time"
)

// stamper takes an entry's time from its text (TimestampOptions).
type stamper struct {
	re     *regexp.Regexp
	group  int
	field  []byte // `"name"`, the JSON key with its quotes, for a quick check
	name   string
	layout string
	loc    *time.Location
}

// newStamper compiles o; nil when timestamps are off. The location is
// resolved now: "Local" is time.Local as it is when the source is built.
func newStamper(o TimestampOptions) (*stamper, error) {
	if !o.Enabled() {
		return nil, nil
	}
	loc, err := loadLocation(o.Location)
	if err != nil {
		return nil, err
	}
	s := &stamper{layout: o.Layout, loc: loc, name: o.JSONField}
	if s.layout == "" {
		s.layout = time.RFC3339Nano
	}
	if o.Regex != "" {
		s.re = regexp.MustCompile(o.Regex) // validated
		s.group = s.re.SubexpIndex("ts")
	} else {
		s.field = strconv.AppendQuote(nil, o.JSONField)
	}
	return s, nil
}

// parse returns the time in line as UTC Unix nanoseconds; ok is false when
// there is none or it does not parse.
func (s *stamper) parse(line []byte) (ns int64, ok bool) {
	var text []byte
	numeric := false
	if s.re != nil {
		// Only the first line of a multiline entry is searched.
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		m := s.re.FindSubmatchIndex(line)
		if m == nil || m[2*s.group] < 0 {
			return 0, false
		}
		text = line[m[2*s.group]:m[2*s.group+1]]
	} else {
		if !bytes.Contains(line, s.field[1:len(s.field)-1]) {
			return 0, false
		}
		v, isString, found := jsonField(line, s.name)
		if !found {
			return 0, false
		}
		text, numeric = v, !isString
	}
	return s.parseText(text, numeric)
}

func (s *stamper) parseText(text []byte, numeric bool) (int64, bool) {
	unit := 0.0
	switch s.layout {
	case LayoutUnix:
		unit = 1e9
	case LayoutUnixMs:
		unit = 1e6
	case LayoutUnixUs:
		unit = 1e3
	case LayoutUnixNs:
		unit = 1
	default:
		if numeric {
			unit = 1e9
		}
	}
	if unit != 0 {
		if i, err := strconv.ParseInt(string(text), 10, 64); err == nil {
			if unit == 1 {
				return i, true
			}
			if f := float64(i) * unit; math.Abs(f) < math.MaxInt64 {
				return i * int64(unit), true
			}
			return 0, false
		}
		f, err := strconv.ParseFloat(string(text), 64)
		if err != nil || math.IsNaN(f) || math.Abs(f*unit) >= math.MaxInt64 {
			return 0, false
		}
		return int64(math.Round(f * unit)), true
	}
	t, err := time.ParseInLocation(s.layout, string(text), s.loc)
	if err != nil {
		return 0, false
	}
	return t.UTC().UnixNano(), true
}
