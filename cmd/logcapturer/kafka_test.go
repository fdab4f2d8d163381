package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logcapturer/logcapturer/sinks/kafka/kafkatest"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The kafka tests run kfake in this process, so it lives on while the
// shipper is kill -9ed, and read back with a franz-go consumer.

func startKfake(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(3)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func writeKafkaConfig(t *testing.T, dir, brokers, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`data_dir: %s
wal:
  segment_size: 64MiB
sources:
  - name: app
    type: file
    paths: ["%s/*.log"]
sinks:
  - name: kafka
    type: kafka
    brokers: [%s]
    topic: logs
    format: raw
    timeout: 2s
    batch: {max_entries: 500, max_wait: 20ms}
    retry: {min_backoff: 50ms, max_backoff: 1s}
%s`, filepath.Join(dir, "data"), filepath.Join(dir, "logs"), brokers, extra)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// kafkaCounts counts each line in the records read.
func kafkaCounts(recs []*kgo.Record) map[string]int {
	counts := make(map[string]int, len(recs))
	for _, r := range recs {
		counts[string(r.Value)]++
	}
	return counts
}

// TestKafkaCrashKill9 runs the real binary against kfake, kill -9s it at
// random moments while lines are written, restarts it, and checks that
// every line reached Kafka at least once; it reports the duplicates (the
// batches in flight at each kill and what was acknowledged after the last
// cursor commit). LOGCAPTURER_CRASH_KILLS raises the number of kills.
func TestKafkaCrashKill9(t *testing.T) {
	bin := binary(t)
	kills := envInt(t, "LOGCAPTURER_CRASH_KILLS", 5)
	c := startKfake(t)
	brokers := c.ListenAddrs()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	cfg := writeKafkaConfig(t, dir, brokers[0], "admin: {listen: \"\"}\n")
	cons := kafkatest.NewConsumer(t, brokers, "logs")
	const nfiles, rate = 4, 4000
	w := startWriter(t, filepath.Join(dir, "logs"), nfiles, rate)
	var stderr bytes.Buffer
	for i := 0; i < kills; i++ {
		cmd := startChild(t, bin, cfg, &stderr)
		// Kill it once it is delivering: some records beyond what is
		// there already, then a random moment.
		n := len(cons.Records())
		cons.Wait(t, 30*time.Second, func(r []*kgo.Record) (bool, string) {
			return len(r) > n+500, fmt.Sprintf("no delivery after kill %d", i)
		})
		time.Sleep(time.Duration(rand.IntN(500)) * time.Millisecond) // the random moment of the crash
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
	}
	written := w.finish()
	total := 0
	for _, n := range written {
		total += n
	}
	// The last start tells systemd READY=1 once its signal handlers are
	// in place: a SIGTERM before that would kill it without a shutdown.
	ready := listenNotify(t, filepath.Join(dir, "notify.sock"))
	cmd := startChild(t, bin, cfg, &stderr)
	recs := cons.Wait(t, 60*time.Second, func(r []*kgo.Record) (bool, string) {
		n := len(kafkaCounts(r))
		return n >= total, fmt.Sprintf("%d of %d lines arrived", n, total)
	})
	// Every line may have been in Kafka before this start: wait until the
	// child handles SIGTERM before sending it.
	ready.wait(t, "READY=1")
	stopChild(t, cmd, &stderr)
	counts := kafkaCounts(recs)
	missing, dups := 0, 0
	for f, n := range written {
		for i := 0; i < n; i++ {
			switch c := counts[lineKey(f, i)]; {
			case c == 0:
				missing++
			case c > 1:
				dups += c - 1
			}
		}
	}
	t.Logf("kills=%d lines written=%d records=%d missing=%d duplicates=%d", kills, total, len(recs), missing, dups)
	if missing > 0 || len(counts) != total {
		t.Errorf("%d lines missing; %d distinct lines in Kafka, %d written\n%s", missing, len(counts), total, stderr.String())
	}
}

type readyz struct {
	Status  string `json:"status"`
	Reasons []struct {
		Component, Reason, Detail string
	} `json:"reasons"`
}

func getReadyz(admin string) (readyz, error) {
	var rz readyz
	resp, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		return rz, err
	}
	defer resp.Body.Close()
	return rz, json.NewDecoder(resp.Body).Decode(&rz)
}

// TestKafkaUnreachableAtStart starts the real binary with no broker
// listening: it runs, ingests into the WAL, /readyz names the sink; once a
// broker comes up on the configured port, every line is delivered and it
// is ready again.
func TestKafkaUnreachableAtStart(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	broker, admin := freePort(t), freePort(t)
	_, portText, _ := net.SplitHostPort(broker)
	port, _ := strconv.Atoi(portText)
	cfg := writeKafkaConfig(t, dir, broker,
		"admin: {listen: \""+admin+"\", unready_after: 1s}\n")
	const n = 2000
	var lines strings.Builder
	for i := 0; i < n; i++ {
		lines.WriteString(lineKey(0, i) + "\n")
	}
	os.WriteFile(filepath.Join(dir, "logs", "app-0.log"), []byte(lines.String()), 0o644)
	var stderr bytes.Buffer
	cmd := startChild(t, bin, cfg, &stderr)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rz, err := getReadyz(admin)
		named := false
		for _, r := range rz.Reasons {
			named = named || (r.Component == "sink/kafka" && r.Reason == "sink_failing")
		}
		if err == nil && rz.Status == "not_ready" && named {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never named sink/kafka: %+v %v\n%s", rz, err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for m := metric(t, admin, "logcapturer_ingest_entries_total"); m != n; m = metric(t, admin, "logcapturer_ingest_entries_total") {
		if time.Now().After(deadline) {
			t.Fatalf("ingested %v entries into the WAL, want %d", m, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := startKfake(t, kfake.Ports(port))
	kafkatest.NewConsumer(t, c.ListenAddrs(), "logs").Wait(t, 60*time.Second, func(r []*kgo.Record) (bool, string) {
		got := len(kafkaCounts(r))
		return got == n, fmt.Sprintf("%d of %d lines arrived", got, n)
	})
	for {
		rz, err := getReadyz(admin)
		if err == nil && rz.Status == "ready" {
			break
		}
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Fatalf("not ready after delivery: %+v %v", rz, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metric reads an unlabelled metric from the admin server's /metrics.
func metric(t *testing.T, admin, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	for _, l := range strings.Split(b.String(), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == name {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestCheckKafka: logcapturer check names a kafka sink's problems at their
// file:line, the missing SASL password file among them.
func TestCheckKafka(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k.yaml")
	os.WriteFile(path, []byte("data_dir: "+filepath.Join(dir, "data")+`
sources: [{name: app, type: file, paths: ["/var/log/*.log"]}]
sinks:
  - name: k
    type: kafka
    brokers: [localhost]
    topic: "logs-{{ .job "
    sasl: {mechanism: SCRAM-SHA-512, username: u, password_file: /nonexistent/kafka.pass}
`), 0o644)
	var out, errb bytes.Buffer
	if code := runMain([]string{"check", "--config", path}, &out, &errb); code != 1 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	for _, want := range []string{
		`k.yaml:6: sinks[0].brokers[0]: must be host:port such as 10.0.0.5:9092, got "localhost"`,
		`k.yaml:7: sinks[0].topic: is not a valid template: 1: unclosed action`,
		`k.yaml:8: sinks[0].sasl.password_file: cannot be read: open /nonexistent/kafka.pass: no such file or directory`,
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, errb.String())
		}
	}
}

// notifySocket is a $NOTIFY_SOCKET for children started after
// listenNotify: what they tell systemd arrives here.
type notifySocket struct{ conn *net.UnixConn }

func listenNotify(t *testing.T, path string) *notifySocket {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return &notifySocket{conn: conn}
}

// wait waits until a child sent want.
func (n *notifySocket) wait(t *testing.T, want string) {
	t.Helper()
	buf := make([]byte, 4096)
	deadline := time.Now().Add(30 * time.Second)
	for {
		n.conn.SetReadDeadline(deadline)
		k, err := n.conn.Read(buf)
		if err != nil {
			t.Fatalf("waiting for %s from the child: %v", want, err)
		}
		if strings.Contains(string(buf[:k]), want) {
			return
		}
	}
}
