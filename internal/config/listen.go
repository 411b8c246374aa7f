package config

import (
	"net"
	"strconv"
	"strings"
)

// Listener is a socket the daemon should listen on.
type Listener struct {
	Network string // "tcp" or "unix"
	Address string // host:port, or a socket path
}

// Listeners returns the sockets amavis would bind: @listen_sockets when
// set, else each inet_socket_port on each inet_socket_bind address ("*" or
// "" = all addresses), then unix_socketname when set.
func (s *Settings) Listeners() []Listener {
	var out []Listener
	binds := s.InetSocketBind
	if len(binds) == 0 {
		binds = []string{""}
	}
	tcp := func(port string) {
		for _, b := range binds {
			host := strings.Trim(b, "[]")
			if host == "*" {
				host = ""
			}
			out = append(out, Listener{Network: "tcp", Address: net.JoinHostPort(host, port)})
		}
	}
	if len(s.ListenSockets) > 0 {
		for _, spec := range s.ListenSockets {
			switch {
			case strings.HasPrefix(spec, "unix:"):
				out = append(out, Listener{Network: "unix", Address: spec[len("unix:"):]})
			case strings.HasPrefix(spec, "/"):
				out = append(out, Listener{Network: "unix", Address: spec})
			default:
				rest := strings.TrimPrefix(strings.TrimPrefix(spec, "inet6:"), "inet:")
				if _, err := strconv.Atoi(rest); err == nil {
					tcp(rest)
					continue
				}
				if host, port, err := splitHostPort(rest); err == nil {
					out = append(out, Listener{Network: "tcp", Address: net.JoinHostPort(host, port)})
				}
			}
		}
		return out
	}
	for _, p := range s.InetSocketPort {
		tcp(strconv.Itoa(p))
	}
	if sock := s.UnixSocketname.Value(); sock != "" {
		out = append(out, Listener{Network: "unix", Address: sock})
	}
	return out
}
