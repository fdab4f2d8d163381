package loki_test

import (
	"testing"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/sinks/loki"
)

// TestAutoMemoryLimit: the automatic memory limit counts the request
// bodies a loki sink's workers build (config.RequestBytes), besides its
// batches: below it, the collector and the scavenger take most of the CPU
// (README, Performance).
func TestAutoMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		sink string
		want config.ByteSize
	}{
		// 2 segments + 22MiB, 2 batches of 1MiB twice, 1 request × 4MiB.
		{"{name: l, type: loki, url: 'http://h/loki/api/v1/push'}", 32 * config.MiB},
		// 3 batches twice, 2 requests.
		{"{name: l, type: loki, url: 'http://h/loki/api/v1/push', workers: 2}", 38 * config.MiB},
		{"{name: l, type: loki, url: 'http://h/loki/api/v1/push', batch: {max_bytes: 4MiB}}", 24*config.MiB + 16*config.MiB + 16*config.MiB},
	} {
		c, err := config.ParseWith("l.yaml", []byte("sources: [{name: app, type: file, paths: [/a.log]}]\nsinks: ["+tc.sink+"]\n"),
			&config.ParseOptions{SkipDirCheck: true, SinkTypes: []config.SinkType{loki.SinkType()}})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.EffectiveMemoryLimit(); got != tc.want {
			t.Errorf("%s: auto memory limit %s, want %s", tc.sink, got, tc.want)
		}
	}
}
