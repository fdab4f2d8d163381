package sinkbench

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"
)

// childEnv marks the test binary run as the receiver child.
const childEnv = "SINKBENCH_RECEIVER"

// ProfileEnv, when set in the benchmark's environment, names the file the
// receiver child writes its CPU profile to.
const ProfileEnv = "SINKBENCH_RECEIVER_CPUPROFILE"

// waitTimeout bounds how long the child waits for the entries of one run.
const waitTimeout = 5 * time.Minute

// Receiver is a decoding test receiver, as the child runs it. Its funcs
// must be safe for concurrent use.
type Receiver struct {
	// URL is where the sink sends.
	URL string
	// Wait blocks until at least n entries were decoded, or timeout.
	Wait func(n int, timeout time.Duration) error
	// Count is the number of entries decoded so far.
	Count func() int
	// Problems lists the requests that did not decode.
	Problems func() []string
	Close    func()
}

// ServeReceiver is the body of the package's TestDrainReceiver: in the
// child Drain starts, it runs the receiver newReceiver makes and its
// control endpoint until standard input closes, then exits the process.
// Anywhere else (a normal test run) it skips t.
func ServeReceiver(t *testing.T, newReceiver func() Receiver) {
	if os.Getenv(childEnv) == "" {
		t.Skip("the receiver of a sink drain benchmark (sinkbench), run only as its child process")
	}
	stopProfile := func() {}
	if path := os.Getenv(ProfileEnv); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "sinkbench receiver: cpu profile:", err)
			os.Exit(1)
		}
		stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
	}
	r := newReceiver()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sinkbench receiver:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n, err := strconv.Atoi(req.URL.Query().Get("n"))
		if err == nil {
			err = r.Wait(n, waitTimeout)
		}
		if p := r.Problems(); len(p) > 0 {
			err = fmt.Errorf("receiver problems: %q", p[:min(len(p), 5)])
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%d %d\n", r.Count(), selfCPU())
	})}
	go srv.Serve(ln) //nolint:errcheck // ends with the process
	fmt.Printf("%s http://%s/wait\n", r.URL, ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it or dies
	r.Close()
	stopProfile()
	os.Exit(0)
}

// child is the parent's handle on the receiver child.
type child struct {
	url, control string
	client       *http.Client
}

// startReceiver starts the test binary as the receiver child (running
// test), reads its URLs, and stops it when b ends.
func startReceiver(b *testing.B, test string) *child {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", "GOGC=", "GOMEMLIMIT=")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &child{client: &http.Client{Transport: &http.Transport{}, Timeout: waitTimeout + time.Minute}}
	b.Cleanup(func() {
		c.client.CloseIdleConnections()
		stdin.Close() // the child exits
		cmd.Wait()    //nolint:errcheck // its exit status tells nothing more
	})
	first, err := bufio.NewReader(stdout).ReadString('\n')
	f := strings.Fields(first)
	if err != nil || len(f) != 2 {
		b.Fatalf("sinkbench receiver child: no URLs on its first line (%q, %v): does %s call sinkbench.ServeReceiver?", first, err, test)
	}
	c.url, c.control = f[0], f[1]
	return c
}

// wait blocks until the child decoded n entries and returns its count and
// CPU time.
func (c *child) wait(n int) (count int, cpu time.Duration, err error) {
	resp, err := c.client.Get(c.control + "?n=" + strconv.Itoa(n))
	if err != nil {
		return 0, 0, fmt.Errorf("ask the receiver child: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, fmt.Errorf("read the receiver child's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("receiver child: %s", strings.TrimSpace(string(body)))
	}
	var ns int64
	if _, err := fmt.Sscan(string(body), &count, &ns); err != nil {
		return 0, 0, fmt.Errorf("receiver child's answer %q: %w", body, err)
	}
	return count, time.Duration(ns), nil
}
