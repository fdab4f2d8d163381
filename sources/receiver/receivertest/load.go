//go:build unix

package receivertest

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Load posts body to url b.N times in all, from 2 x GOMAXPROCS concurrent
// clients (b.RunParallel), each with Content-Type contentType, as a
// client that waits for its answer before it sends again. A 429 (the
// receiver's in-flight bound) is waited on for 10 ms and sent again; any
// answer but ok is a benchmark error. size is the bytes one request
// stands for (b.SetBytes). Load resets the timer before the first request
// and stops it after the last, then reports MB/cpu-s (size per second of
// the process's CPU time: the machine may be shared) and the p50 and p99
// of the times from a request sent to its answer (p50-ms, p99-ms).
func Load(b *testing.B, url, contentType string, body []byte, ok int, size int64) {
	b.Helper()
	b.SetBytes(size)
	var mu sync.Mutex
	var lat []time.Duration
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	b.SetParallelism(2) // 2 x GOMAXPROCS clients
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			for {
				start := time.Now()
				r, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				r.Header.Set("Content-Type", contentType)
				resp, err := client.Do(r)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusTooManyRequests {
					time.Sleep(10 * time.Millisecond) // inflight bound: as a client, wait and send again
					continue
				}
				if resp.StatusCode != ok {
					b.Errorf("post: %d, want %d", resp.StatusCode, ok)
					return
				}
				mine = append(mine, time.Since(start))
				break
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
		// MB/s of the process's own CPU time (receiver, pipeline and the
		// in-process clients together).
		b.ReportMetric(float64(size)*float64(b.N)/1e6/cpu, "MB/cpu-s")
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
