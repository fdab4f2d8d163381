package admin

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkStatusAPI: GET /api/v1/status over real HTTP from a pipeline
// tailing 1,000 real files into 4 sinks, one of them down with retry
// ranges waiting.
func BenchmarkStatusAPI(b *testing.B) {
	e := newBenchEnv(b)
	client := &http.Client{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := client.Get(e.url("/api/v1/status"))
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n < 100000 {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
	}
}

func newBenchEnv(b *testing.B) *env {
	b.Helper()
	e := newEnv(b, envOptions{token: testToken, sinks: []string{"s1", "s2", "s3", "s4"}})
	e.sinks["s4"].down.Store(true)
	for i := 0; i < 1000; i++ {
		os.WriteFile(filepath.Join(e.logs, fmt.Sprintf("f%04d.log", i)), []byte(fmt.Sprintf("%s line-%d\n", lineTime(i).Format("2006-01-02T15:04:05Z07:00"), i)), 0o644)
	}
	waitFor(b, "1,000 files tailed and delivered", func() bool {
		st := e.p.Status()
		return len(st.Sources) == 1 && len(st.Sources[0].Files) == 1000 && st.Sinks[0].Cursor == st.WAL.DurableIndex && st.Sinks[3].RetryRanges > 0
	})
	return e
}
