package stages

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/internal/mmdbtest"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// threadCPU returns the calling thread's CPU time (the machine that runs
// the benchmarks is shared: wall time alone says little).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchLines returns 300-byte-ish JSON lines (varying values).
func benchJSONLines() []string {
	var out []string
	for i := range 64 {
		l := fmt.Sprintf(`{"ts":"2026-03-01T12:00:%02d.123456Z","level":"info","caller":"server/handler.go:%d","msg":"request served","method":"GET","path":"/api/v1/items/%d","status":200,"duration_ms":%d.5,"trace_id":"4bf92f3577b34da6a3ce929d0e0e%04d","user":{"id":%d,"name":"user%d"},"bytes":%d}`,
			i%60, 100+i, i, i*3, i, i, i, 1000+i)
		out = append(out, l)
	}
	return out
}

// BenchmarkJSON: the json stage extracting 3 fields from ~300-byte lines.
func BenchmarkJSON(b *testing.B) {
	lines := benchJSONLines()
	env, _ := testEnv(testNow)
	pl := mustParse(b, `
- json:
    expressions:
      level: level
      status: status
      trace: trace_id
`, env)
	benchPipeline(b, pl, lines)
}

// BenchmarkRegex: a regex with 3 named groups.
func BenchmarkRegex(b *testing.B) {
	var lines []string
	for i := range 64 {
		lines = append(lines, fmt.Sprintf(`2026-03-01T12:00:%02d.123456Z level=info caller=server/handler.go:%d msg="request served" method=GET path=/api/v1/items/%d status=200 duration=%dms`, i%60, 100+i, i, i))
	}
	env, _ := testEnv(testNow)
	pl := mustParse(b, `
- regex:
    expression: '^(?P<time>\S+) level=(?P<level>\w+) \S+ msg="(?P<msg>[^"]*)"'
`, env)
	benchPipeline(b, pl, lines)
}

func benchPipeline(b *testing.B, pl *Pipeline, lines []string) {
	e := &Entry{Labels: map[string]string{"job": "bench", "filename": "/var/log/app.log"}, Extracted: map[string]any{}}
	n := 0
	next := func(*Entry) { n++ }
	var bytes int64
	for _, l := range lines {
		bytes += int64(len(l))
	}
	b.SetBytes(bytes / int64(len(lines)))
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		e.Seq = uint64(i)
		e.Line = lines[i%len(lines)]
		pl.Process(e, next)
	}
	cpu := threadCPU() - cpu0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "lines/cpu-s")
	}
	if n == 0 {
		b.Fatal("nothing out")
	}
}

// BenchmarkGeoIP: the regex stage extracting the client address of an
// access log line, and geoip looking it up in a City database (the
// network of every other line is in it, with MaxMind's record shape: a
// real GeoLite2-City record has more languages, so decodes slower).
func BenchmarkGeoIP(b *testing.B) {
	db := mmdbtest.Write(b, "GeoLite2-City", map[string]mmdbtype.Map{"81.2.69.0/24": mmdbtest.London()})
	var lines []string
	for i := range 64 {
		ip := fmt.Sprintf("81.2.69.%d", i)
		if i%2 == 1 {
			ip = fmt.Sprintf("8.8.%d.8", i)
		}
		lines = append(lines, ip+` - - [01/Mar/2026:12:00:00 +0000] "GET /api/v1/items HTTP/1.1" 200 512 "-" "curl/8.5.0"`)
	}
	env, _ := testEnv(testNow)
	pl := mustParse(b, `
- regex: {expression: '^(?P<ip>\S+) '}
- geoip: {db: `+db+`, source: ip, db_type: city}
`, env)
	defer pl.Close()
	benchPipeline(b, pl, lines)
}
