package config

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestParseByteSize(t *testing.T) {
	good := []struct {
		in   string
		want ByteSize
	}{
		{"0", 0},
		{"1024", 1024},
		{"1024B", 1024},
		{"64KiB", 64 << 10},
		{"16MiB", 16 << 20},
		{"16 MiB", 16 << 20},
		{"2GiB", 2 << 30},
		{"1TiB", 1 << 40},
		{"1.5MiB", 1536 << 10},
		{"0.5KiB", 512},
		{"10KB", 10_000},
		{"10MB", 10_000_000},
		{"3GB", 3_000_000_000},
		{"2TB", 2_000_000_000_000},
		{"0.1KiB", 102}, // 102.4 rounds to 102
	}
	for _, tt := range good {
		got, err := ParseByteSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	bad := []struct{ in, msg string }{
		{"", "must be a size like 64KiB"},
		{"MiB", "must be a size"},
		{"16mib", "must be a size"},
		{"16M", "must be a size"},
		{"8EB", "must be a size"},
		{"16 megs", "must be a size"},
		{"1e6", "must be a size"},
		{"0x10", "must be a size"},
		{"1_000", "must be a size"},
		{"NaN", "must be a size"},
		{"Inf", "must be a size"},
		{"1.2.3KiB", "must be a size"},
		{"-1", "must not be negative"},
		{"-1MiB", "must not be negative"},
		{"+1MiB", "must be a size"},
		{"9223372036854775808", "is too large"},
		{"9000000TiB", "is too large"},
		{"9000000000.5TiB", "is too large"},
	}
	for _, tt := range bad {
		_, err := ParseByteSize(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseByteSize(%q) error = %v, want %q", tt.in, err, tt.msg)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	for _, tt := range []struct {
		in   ByteSize
		want string
	}{
		{0, "0B"}, {1000, "1000B"}, {1024, "1KiB"}, {1536 << 10, "1536KiB"},
		{16 << 20, "16MiB"}, {2 << 30, "2GiB"}, {3 << 40, "3TiB"}, {-2048, "-2KiB"},
	} {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("%d.String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		if tt.in >= 0 {
			if back, err := ParseByteSize(tt.want); err != nil || back != tt.in {
				t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.want, back, err, tt.in)
			}
		}
	}
}

func TestByteSizeYAML(t *testing.T) {
	var v struct {
		A ByteSize `yaml:"a"`
		B ByteSize `yaml:"b"`
	}
	if err := yaml.Unmarshal([]byte("a: 16MiB\nb: 100\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != 16*MiB || v.B != 100 {
		t.Errorf("got %d %d", v.A, v.B)
	}
	err := yaml.Unmarshal([]byte("a: 1\nb: lots\n"), &v)
	if err == nil || !strings.Contains(err.Error(), `line 2: must be a size like 64KiB or 16MiB, got "lots"`) {
		t.Errorf("error = %v", err)
	}
	if err := yaml.Unmarshal([]byte("a: [1]\n"), &v); err == nil {
		t.Error("a list decoded as a size")
	}
	out, err := yaml.Marshal(struct{ A ByteSize }{4 * MiB})
	if err != nil || string(out) != "a: 4MiB\n" {
		t.Errorf("Marshal = %q, %v", out, err)
	}
}
