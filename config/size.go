package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ByteSize is a number of bytes. In YAML it is written as a plain integer
// (1024) or a number with a unit: B; KiB, MiB, GiB, TiB (powers of 1024); KB,
// MB, GB, TB (powers of 1000). The number may have a fraction ("1.5MiB");
// the result is rounded to the nearest byte. Units are case-sensitive, and a
// space between number and unit is allowed ("16 MiB").
type ByteSize int64

// Units of ByteSize.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
	TiB ByteSize = 1 << 40
)

var sizeUnits = []struct {
	name string
	mult int64
}{
	// Longest suffixes first, so "KiB" is not taken for "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// ParseByteSize parses s as described for ByteSize. Negative sizes are
// errors.
func ParseByteSize(s string) (ByteSize, error) {
	bad := fmt.Errorf("must be a size like 64KiB or 16MiB, got %q", s)
	num := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(num, u.name); ok {
			num, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	if num == "" || strings.ContainsAny(num, "+-eExX_pP") {
		if strings.HasPrefix(num, "-") {
			return 0, fmt.Errorf("must not be negative, got %q", s)
		}
		return 0, bad
	}
	tooBig := fmt.Errorf("is too large, got %q", s)
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return 0, tooBig
			}
			return 0, bad
		}
		if n > math.MaxInt64/mult {
			return 0, tooBig
		}
		return ByteSize(n * mult), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, bad
	}
	v := math.Round(f * float64(mult))
	if v >= math.MaxInt64 { // float64(MaxInt64) is 2^63, itself out of range
		return 0, tooBig
	}
	return ByteSize(v), nil
}

// String formats the size with the largest binary unit that divides it
// exactly ("16MiB", "1536KiB", "1000B"), so that ParseByteSize reads it back.
func (s ByteSize) String() string {
	if s != 0 {
		for _, u := range []struct {
			name string
			mult ByteSize
		}{{"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}} {
			if s%u.mult == 0 {
				return strconv.FormatInt(int64(s/u.mult), 10) + u.name
			}
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// UnmarshalYAML implements yaml.Unmarshaler, so that a ByteSize can be decoded
// with yaml.Unmarshal too.
func (s *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: must be a size like 64KiB or 16MiB", n.Line)
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = v
	return nil
}

// MarshalYAML implements yaml.Marshaler, writing the form String returns.
func (s ByteSize) MarshalYAML() (any, error) { return s.String(), nil }
