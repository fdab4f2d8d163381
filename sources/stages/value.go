package stages

import (
	"math"
	"strconv"
	"time"
)

// extractedString converts an extracted value to text as Promtail does:
// strings as they are, numbers in their shortest form without exponent
// (300, 1562708916.414123), booleans as true/false. Anything else (nil,
// maps, slices) does not convert.
func extractedString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case uint:
		return strconv.FormatUint(uint64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// extractedFloat converts an extracted value to a number as Promtail's
// metrics stage does: numbers as they are, true/false as 1/0, and text
// holding a number ("0.804") or a Go duration ("250us", "2m"), which
// counts in seconds.
func extractedFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case string:
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			return f, true
		}
		if d, err := time.ParseDuration(x); err == nil {
			return d.Seconds(), true
		}
	}
	return math.NaN(), false
}

// optionError is a problem with one option key of a stage.
type optionError struct {
	Key string
	Msg string
}

func (e *optionError) Error() string { return e.Key + ": " + e.Msg }

func optErr(key, msg string) error { return &optionError{Key: key, Msg: msg} }
