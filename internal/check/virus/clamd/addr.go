package clamd

import (
	"fmt"
	"net"
	"strings"
)

// ParseAddress turns a socket specification into a network ("unix" or "tcp")
// and an address. It reads the forms amavis's @av_scanners entries use:
//
//	/var/run/clamav/clamd.ctl        Unix socket
//	unix:/path, clamd:/path          Unix socket
//	127.0.0.1:3310, [::1]:3310       TCP
//	clamd:[127.0.0.1]:3310, tcp:host:port, clamd:127.0.0.1:3310
func ParseAddress(spec string) (network, address string, err error) {
	s := strings.TrimSpace(spec)
	for _, p := range []string{"clamd:", "unix:", "tcp:", "inet:"} {
		if len(s) > len(p) && strings.EqualFold(s[:len(p)], p) {
			s = s[len(p):]
			if p == "unix:" {
				return checkUnix(spec, s)
			}
			break
		}
	}
	if s == "" {
		return "", "", fmt.Errorf("clamd address %q: empty", spec)
	}
	if strings.HasPrefix(s, "/") {
		return checkUnix(spec, s)
	}
	host, port, splitErr := net.SplitHostPort(s)
	if splitErr != nil {
		return "", "", fmt.Errorf("clamd address %q: want a socket path or host:port: %w", spec, splitErr)
	}
	if host == "" || port == "" {
		return "", "", fmt.Errorf("clamd address %q: want host:port", spec)
	}
	return "tcp", net.JoinHostPort(host, port), nil
}

func checkUnix(spec, path string) (string, string, error) {
	if !strings.HasPrefix(path, "/") {
		return "", "", fmt.Errorf("clamd address %q: Unix socket path must be absolute", spec)
	}
	return "unix", path, nil
}
