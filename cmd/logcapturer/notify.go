package main

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// sdNotify sends state (e.g. "READY=1") to systemd over $NOTIFY_SOCKET, as
// sd_notify(3) does, for a unit with Type=notify. Without the variable it
// does nothing and returns nil. An abstract socket is named with a leading
// '@'.
func sdNotify(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if !strings.HasPrefix(addr, "/") && !strings.HasPrefix(addr, "@") {
		return fmt.Errorf("sd_notify: NOTIFY_SOCKET %q is not a unix socket path", addr)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: dial %s: %w", addr, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", addr, err)
	}
	return nil
}
