package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/logcapturer/logcapturer/sinks/loki/lokitest"
)

// startReceiver runs this program again as the loki receiver (-receiver),
// in its own process so its CPU is counted apart, and returns its push URL.
// The receiver writes the entries it accepted to countFile.
func startReceiver(countFile string) (*exec.Cmd, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(self, "-receiver", countFile)
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
		return nil, "", fmt.Errorf("loki receiver: %w", err)
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
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	last := -1
	for {
		select {
		case <-t.C:
			if n := r.Count(); n != last {
				last = n
				tmp := countFile + ".tmp"
				os.WriteFile(tmp, []byte(strconv.Itoa(n)+"\n"), 0o644)
				os.Rename(tmp, countFile)
			}
		case <-stop:
			return
		}
	}
}
