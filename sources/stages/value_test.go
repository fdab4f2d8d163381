package stages

import "testing"

// TestExtractedNotAString: the stages that take extracted values by name
// (labels, structured_metadata, pack) skip an absent value silently and
// count a value that is not a string (a JSON null) as their
// source_not_a_string failure, keeping the others.
func TestExtractedNotAString(t *testing.T) {
	const line = `{"obj":null,"user":"alexis"}`
	const extract = "- json: {expressions: {obj: obj, user: user}}\n"
	base := map[string]string{"job": "app"}
	for _, tc := range []struct {
		name, doc  string
		labels     map[string]string
		meta       map[string]string
		line, fail string
	}{
		{"labels", extract + "- labels: {obj: , user: , missing: }\n",
			map[string]string{"job": "app", "user": "alexis"}, nil, line, "labels/source_not_a_string"},
		{"structured_metadata", extract + "- structured_metadata: {obj: , user: , missing: }\n",
			base, map[string]string{"user": "alexis"}, line, "structured_metadata/source_not_a_string"},
		{"pack", extract + "- pack: {labels: [obj, user, missing], ingest_timestamp: false}\n",
			base, nil, `{"user":"alexis","_entry":` + `"{\"obj\":null,\"user\":\"alexis\"}"}`, "pack/source_not_a_string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, c := runOne(t, tc.doc, line, base)
			checkLabels(t, r.Labels, tc.labels)
			if len(r.Metadata) != len(tc.meta) || r.Metadata["user"] != tc.meta["user"] {
				t.Errorf("metadata = %v, want %v", r.Metadata, tc.meta)
			}
			if r.Line != tc.line {
				t.Errorf("line = %s, want %s", r.Line, tc.line)
			}
			if len(c.failed) != 1 || c.failed[tc.fail] != 1 {
				t.Errorf("failed = %v, want only %s once", c.failed, tc.fail)
			}
		})
	}
}
