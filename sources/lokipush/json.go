package lokipush

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/logcapturer/logcapturer/wal"
)

// jsonPush is Loki's JSON push body:
// {"streams":[{"stream":{"k":"v"},"values":[["<unix ns>","line"{,{"meta":"v"}}]]}]}.
type jsonPush struct {
	Streams []struct {
		Stream map[string]string `json:"stream"`
		Values []json.RawMessage `json:"values"`
	} `json:"streams"`
}

// decodeJSON decodes a JSON push into b. A body that is not such JSON is
// an error (b's content then dropped); a stream with bad labels is noted
// with b.refuse and skipped.
func decodeJSON(body []byte, b *builder) error {
	var p jsonPush
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(&p); err != nil {
		return fmt.Errorf("malformed JSON push request: %v", err)
	}
	for _, s := range p.Streams {
		pushed := make([]wal.Label, 0, len(s.Stream))
		var bad error
		for k, v := range s.Stream {
			if err := checkName(k); err != nil && bad == nil {
				bad = err
			}
			pushed = append(pushed, wal.Label{Name: k, Value: v})
		}
		if bad == nil {
			bad = checkSet(pushed)
		}
		if bad != nil {
			b.refuse(bad)
			continue
		}
		if len(s.Values) == 0 {
			continue
		}
		ls, err := b.stream(pushed)
		if err != nil {
			b.refuse(err)
			continue
		}
		for i, raw := range s.Values {
			ts, line, meta, err := decodeValue(raw)
			if err != nil {
				return fmt.Errorf("malformed JSON push request: stream %s, value %d: %v", formatLabels(pushed), i, err)
			}
			b.add(ls, ts, line, meta)
		}
	}
	return nil
}

// decodeValue reads ["<unix ns>", "line"] or ["<unix ns>", "line", {meta}].
func decodeValue(raw json.RawMessage) (int64, []byte, []wal.Label, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil {
		return 0, nil, nil, err
	}
	if len(parts) != 2 && len(parts) != 3 {
		return 0, nil, nil, fmt.Errorf("want [timestamp, line] or [timestamp, line, metadata], got %d elements", len(parts))
	}
	var tss, line string
	if err := json.Unmarshal(parts[0], &tss); err != nil {
		return 0, nil, nil, fmt.Errorf("timestamp must be a string of Unix nanoseconds: %v", err)
	}
	ts, err := strconv.ParseInt(tss, 10, 64)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("timestamp %q: not Unix nanoseconds", short(tss))
	}
	if err := json.Unmarshal(parts[1], &line); err != nil {
		return 0, nil, nil, fmt.Errorf("line must be a string: %v", err)
	}
	var meta []wal.Label
	if len(parts) == 3 {
		var m map[string]string
		if err := json.Unmarshal(parts[2], &m); err != nil {
			return 0, nil, nil, fmt.Errorf("structured metadata must be an object of strings: %v", err)
		}
		for k, v := range m {
			meta = append(meta, wal.Label{Name: k, Value: v})
		}
		meta = sortMeta(meta)
	}
	return ts, []byte(line), meta, nil
}
