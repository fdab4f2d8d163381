package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	collogs "go.opentelemetry.io/proto/slim/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/slim/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/slim/otlp/logs/v1"
	respb "go.opentelemetry.io/proto/slim/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/logcapturer/logcapturer/sinks/otlp/otlptest"
)

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitListening waits until addr accepts connections.
func waitListening(t *testing.T, addr string, stderr *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never listened:\n%s", addr, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func anyStr(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}

// TestOTLPRoundTrip: OTLP records sent to the real binary's otlp source
// come out of its otlp sink, at a decoding receiver with the official
// types, identical: resource, time, observed time, severity, body (text
// and bytes that are not UTF-8), attributes (bytes too) and trace ids.
func TestOTLPRoundTrip(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	rcv := otlptest.NewReceiver()
	defer rcv.Close()
	addr := freeAddr(t)
	cfg := writeFile(t, filepath.Join(dir, "config.yaml"), fmt.Sprintf(`data_dir: %s
sources:
  - name: otel
    type: otlp
    listen_address: %s
    resource_attributes: {service.name: service_name, host.name: host}
sinks:
  - name: out
    type: otlp
    url: %s
    batch: {max_entries: 100, max_wait: 20ms}
admin:
  listen: ""
`, filepath.Join(dir, "data"), addr, rcv.URL()))
	var stderr bytes.Buffer
	cmd := startChild(t, bin, cfg, &stderr)
	waitListening(t, addr, &stderr)

	// Two resources; records with every field the round trip keeps.
	sent := map[string]*logspb.LogRecord{} // by body
	resOf := map[string]map[string]string{}
	req := &collogs.ExportLogsServiceRequest{}
	sevs := []struct {
		text string
		num  logspb.SeverityNumber
	}{{"", 0}, {"INFO", 9}, {"warn", 13}, {"Error", 17}, {"DEBUG", 5}}
	for r := 0; r < 2; r++ {
		res := map[string]string{"service.name": fmt.Sprint("svc-", r), "host.name": "edge-1"}
		sl := &logspb.ScopeLogs{}
		for i := 0; i < 300; i++ {
			ts := uint64(1_700_000_000_000_000_000 + r*1_000_000 + i)
			lr := &logspb.LogRecord{TimeUnixNano: ts, ObservedTimeUnixNano: ts,
				SeverityText: sevs[i%len(sevs)].text, SeverityNumber: sevs[i%len(sevs)].num,
				Attributes: []*commonpb.KeyValue{
					{Key: "k8s.pod.name", Value: anyStr(fmt.Sprint("pod-", i%7))},
					{Key: "user.id", Value: anyStr(fmt.Sprint(i))},
				}}
			body := fmt.Sprintf("svc-%d record %d ünïcode", r, i)
			if i%10 == 3 {
				body = fmt.Sprintf("svc-%d record %d \xff\xfe bytes", r, i)
				lr.Body = &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte(body)}}
				lr.Attributes = append(lr.Attributes, &commonpb.KeyValue{Key: "raw", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0xff, 0}}}})
			} else {
				lr.Body = anyStr(body)
			}
			if i%4 == 0 {
				lr.TraceId = []byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, byte(i)}
				lr.SpanId = []byte{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, byte(i + 1)}
			}
			sl.LogRecords = append(sl.LogRecords, lr)
			sent[body] = lr
			resOf[body] = res
		}
		req.ResourceLogs = append(req.ResourceLogs, &logspb.ResourceLogs{
			Resource: &respb.Resource{Attributes: []*commonpb.KeyValue{
				{Key: "host.name", Value: anyStr(res["host.name"])}, {Key: "service.name", Value: anyStr(res["service.name"])}}},
			ScopeLogs: []*logspb.ScopeLogs{sl},
		})
	}
	pb, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+addr+"/v1/logs", "application/x-protobuf", bytes.NewReader(pb))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("export: %s", resp.Status)
	}
	if err := rcv.WaitRecords(len(sent), 30*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("shutdown: %v\n%s", err, stderr.String())
	}
	if p := rcv.Problems(); len(p) > 0 {
		t.Fatalf("receiver problems: %v", p)
	}

	got := rcv.Records()
	if len(got) != len(sent) {
		t.Fatalf("%d records arrived, %d sent", len(got), len(sent))
	}
	byKey := func(kvs []*commonpb.KeyValue) []*commonpb.KeyValue {
		return slices.SortedFunc(slices.Values(kvs), func(a, b *commonpb.KeyValue) int { return strings.Compare(a.Key, b.Key) })
	}
	for _, r := range got {
		body, _ := r.Body()
		want, ok := sent[body]
		if !ok {
			t.Fatalf("record %q was not sent (or arrived twice)", body)
		}
		delete(sent, body)
		if !maps.Equal(r.Resource, resOf[body]) {
			t.Errorf("%q: resource %v, want %v", body, r.Resource, resOf[body])
		}
		gotRec := proto.Clone(r.LogRecord).(*logspb.LogRecord)
		wantRec := proto.Clone(want).(*logspb.LogRecord)
		gotRec.Attributes, wantRec.Attributes = byKey(gotRec.Attributes), byKey(wantRec.Attributes)
		if !proto.Equal(gotRec, wantRec) {
			t.Errorf("record changed on the way:\n got %v\nwant %v", gotRec, wantRec)
		}
	}
}

// collect is a processor that keeps the records, for Export.
type collect struct{ recs *[]sdklog.Record }

func (c collect) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (c collect) OnEmit(_ context.Context, r *sdklog.Record) error {
	*c.recs = append(*c.recs, r.Clone())
	return nil
}
func (c collect) Shutdown(context.Context) error   { return nil }
func (c collect) ForceFlush(context.Context) error { return nil }

// TestOTLPKill9ExactlyOnce: the official exporter exports batches to the
// real binary, which is kill -9ed at random moments and restarted while
// the exporter sends each batch again until it gets a 200. Every record
// of an acknowledged batch is in the WAL; a batch acknowledged at its
// first attempt is there exactly once; only a batch whose earlier attempt
// went unanswered (durable, killed before the answer) can be there twice.
func TestOTLPKill9ExactlyOnce(t *testing.T) {
	bin := binary(t)
	kills := envInt(t, "LOGCAPTURER_OTLP_KILLS", 6)
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := writeFile(t, filepath.Join(dir, "config.yaml"), fmt.Sprintf(`data_dir: %s
wal:
  segment_size: 64MiB
  sync: batch
sources:
  - name: otel
    type: otlp
    listen_address: %s
sinks:
  - name: archive
    type: file
    path: %s
admin:
  listen: ""
`, filepath.Join(dir, "data"), addr, filepath.Join(dir, "out", "archive.log")))

	exp, err := otlploghttp.New(context.Background(), otlploghttp.WithEndpointURL("http://"+addr+"/v1/logs"),
		otlploghttp.WithTimeout(5*time.Second),
		otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: true, InitialInterval: 20 * time.Millisecond, MaxInterval: 100 * time.Millisecond, MaxElapsedTime: 2 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	var batch []sdklog.Record
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", "crashy"))),
		sdklog.WithProcessor(collect{&batch}))
	defer lp.Shutdown(context.Background())
	logger := lp.Logger("kill9")

	var stderr bytes.Buffer
	child := startChild(t, bin, cfg, &stderr)
	waitListening(t, addr, &stderr)

	// The client: batches of 200 records, each sent until acknowledged.
	type result struct {
		acked    int // batches acknowledged
		attempts []int
	}
	stop := make(chan struct{})
	done := make(chan result, 1)
	go func() {
		var res result
		for b := 0; ; b++ {
			select {
			case <-stop:
				done <- res
				return
			default:
			}
			batch = batch[:0]
			for i := 0; i < 200; i++ {
				var r otellog.Record
				r.SetTimestamp(time.Unix(1_700_000_000, int64(b*1000+i)))
				r.SetBody(attribute.StringValue(fmt.Sprintf("batch-%05d record-%03d", b, i)))
				logger.Emit(context.Background(), r)
			}
			attempts := 0
			for {
				attempts++
				if err := exp.Export(context.Background(), batch); err == nil {
					break
				}
				time.Sleep(10 * time.Millisecond) // the child is down: wait for the restart
			}
			res.acked++
			res.attempts = append(res.attempts, attempts)
		}
	}()

	for i := 0; i < kills; i++ {
		time.Sleep(time.Duration(200+rand.IntN(500)) * time.Millisecond)
		if err := child.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = child.Wait()
		child = startChild(t, bin, cfg, &stderr)
		waitListening(t, addr, &stderr)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	res := <-done
	stopChild(t, child, &stderr)

	counts, blocks := walLines(t, filepath.Join(dir, "data", "wal"))
	missing, dups, retried := 0, 0, 0
	for b := 0; b < res.acked; b++ {
		if res.attempts[b] > 1 {
			retried++
		}
		for i := 0; i < 200; i++ {
			n := counts[fmt.Sprintf("batch-%05d record-%03d", b, i)]
			switch {
			case n == 0:
				missing++
			case n > 1 && res.attempts[b] == 1:
				t.Errorf("batch %d, acknowledged at its first attempt, is %d times in the WAL", b, n)
			case n > 1:
				dups += n - 1
			}
		}
	}
	t.Logf("kills=%d batches acknowledged=%d (%d after a retry) wal blocks=%d missing=%d duplicates of retried batches=%d",
		kills, res.acked, retried, blocks, missing, dups)
	if missing > 0 {
		t.Errorf("%d records of acknowledged batches are not in the WAL", missing)
	}
	if res.acked < kills {
		t.Errorf("only %d batches acknowledged", res.acked)
	}
	// A retried batch is at most twice per unanswered attempt.
	if dups > 200*kills {
		t.Errorf("%d duplicates for %d kills", dups, kills)
	}
	if t.Failed() {
		t.Logf("child stderr:\n%s", stderr.String())
	}
}
