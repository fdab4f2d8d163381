package otlp

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
)

// otlpJSON marshals the request as OTLP/JSON with the official types:
// protojson, with the ids turned from base64 into hex as OTLP/JSON wants.
func otlpJSON(t *testing.T, protoNames bool) []byte {
	t.Helper()
	req := mappingRequest()
	b, err := protojson.MarshalOptions{UseProtoNames: protoNames}.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	lr := req.ResourceLogs[0].ScopeLogs[0].LogRecords
	for _, id := range [][]byte{lr[0].TraceId, lr[0].SpanId, lr[4].TraceId} {
		s = strings.ReplaceAll(s, `"`+base64.StdEncoding.EncodeToString(id)+`"`, `"`+hex.EncodeToString(id)+`"`)
	}
	return []byte(s)
}

// TestDecodeJSON: the mapping request in OTLP/JSON, with lowerCamelCase
// and with the original field names, maps exactly as its protobuf.
func TestDecodeJSON(t *testing.T) {
	for _, protoNames := range []bool{false, true} {
		body := otlpJSON(t, protoNames)
		pb, err := jsonToProto(body)
		if err != nil {
			t.Fatalf("protoNames %v: %v\n%s", protoNames, err, body)
		}
		d := testDecoder(map[string]string{"app": "shop"}, nil, DefaultSeverityLabel)
		blocks, err := d.decode(pb, now)
		if err != nil {
			t.Fatal(err)
		}
		checkFlat(t, flatten(t, blocks, "otel"), mappingWant)
	}
}

// TestDecodeJSONByHand: what a program writing OTLP/JSON itself sends:
// numbers for 64-bit integers, enum numbers, nulls.
func TestDecodeJSONByHand(t *testing.T) {
	body := `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
	  "scopeLogs":[{"scope":null,"logRecords":[
	    {"timeUnixNano":1700000000000000123,"severityNumber":9,"severityText":"Info","body":{"stringValue":"hello"},
	     "attributes":[{"key":"n","value":{"intValue":7}},{"key":"d","value":{"doubleValue":"NaN"}},{"key":"b","value":{"bytesValue":"aGk="}}],
	     "traceId":"","spanId":"EEE19B7EC3C1B174","flags":1,"unknownField":{"x":[1]}},
	    {"observedTimeUnixNano":"5","body":{"kvlistValue":{"values":[{"key":"a","value":{"arrayValue":{"values":[{"intValue":"1"}]}}}]}}}
	  ]}]}]}`
	pb, err := jsonToProto([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	d := testDecoder(nil, nil, DefaultSeverityLabel)
	blocks, err := d.decode(pb, now)
	if err != nil {
		t.Fatal(err)
	}
	checkFlat(t, flatten(t, blocks, "otel"), []flat{
		{`{level="Info", service_name="api"}`, 1700000000000000123, "hello", `{b="hi", d="NaN", n="7", span_id="eee19b7ec3c1b174"}`},
		{`{service_name="api"}`, 5, `{"a":[1]}`, `{}`},
	})
}

func TestDecodeJSONMalformed(t *testing.T) {
	cases := map[string]string{
		"not json":          `{"resourceLogs":`,
		"not an object":     `[1]`,
		"trailing data":     `{} {}`,
		"array expected":    `{"resourceLogs":{}}`,
		"bad time":          `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"-1"}]}]}]}`,
		"bad trace id":      `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"xyz"}]}]}]}`,
		"bad body":          `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":"text"}]}]}]}`,
		"bad int":           `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"intValue":1.5}}]}]}]}`,
		"bad bytes":         `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"bytesValue":"!!"}}]}]}]}`,
		"bad severity":      `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"LOUD"}]}]}]}`,
		"bad attribute key": `{"resourceLogs":[{"resource":{"attributes":[{"key":1}]}}]}`,
		"too deep":          `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":` + strings.Repeat(`{"arrayValue":{"values":[`, maxDepth+1) + `{}` + strings.Repeat(`]}}`, maxDepth+1) + `}]}]}]}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := jsonToProto([]byte(body))
			if !errors.Is(err, errMalformed) {
				t.Fatalf("err %v, want errMalformed", err)
			}
		})
	}
	_, err := jsonToProto([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{},{"timeUnixNano":true}]}]}]}`))
	if want := "resourceLogs[0].scopeLogs[0].logRecords[1].timeUnixNano: want an integer, got a boolean"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err %v, want the path %q", err, want)
	}
}
