package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/logcapturer/logcapturer/sinks/kafka/kafkatest"
	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// startReceiver runs this program again as the receiver of sinkType (loki
// or kafka, -receiver), in its own process so its CPU is counted apart, and
// returns its address (the push URL, the broker). The receiver writes the
// entries it accepted to countFile.
func startReceiver(sinkType, countFile string) (*exec.Cmd, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(self, "-receiver", countFile, "-sink", sinkType)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, "", fmt.Errorf("%s receiver: %w", sinkType, err)
	}
	return cmd, strings.TrimSpace(line), nil
}

// serveLoki is the receiver process: lokitest's receiver (decodes every
// push with Loki's own types) keeping only a count, written to countFile
// every 10 ms, until SIGTERM.
func serveLoki(countFile string) {
	r := lokitest.NewReceiver()
	defer r.Close()
	r.SetDiscard(true)
	fmt.Println(r.URL())
	writeCount(countFile, func() int64 { return int64(r.Count()) })
}

// serveKafka is the kafka receiver process: a one-broker kfake cluster
// with topic bench (3 partitions), the records it holds (end offsets,
// asked for every 10 ms) written to countFile, until SIGTERM.
func serveKafka(countFile string) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "bench"))
	if err != nil {
		fail(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		fail(err)
	}
	defer cl.Close()
	fmt.Println(c.ListenAddrs()[0])
	writeCount(countFile, func() int64 {
		n, _ := kafkatest.Records(context.Background(), cl, "bench", 3)
		return n
	})
}

// writeCount writes count() to countFile every 10 ms when it changed, until
// SIGTERM.
func writeCount(countFile string, count func() int64) {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	last := int64(-1)
	for {
		select {
		case <-t.C:
			if n := count(); n != last {
				last = n
				tmp := countFile + ".tmp"
				os.WriteFile(tmp, []byte(strconv.FormatInt(n, 10)+"\n"), 0o644)
				os.Rename(tmp, countFile)
			}
		case <-stop:
			return
		}
	}
}
