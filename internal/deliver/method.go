package deliver

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Method is a parsed amavis delivery method such as smtp:[127.0.0.1]:10025,
// lmtp:[::1]:24 or lmtp:/var/run/dovecot/lmtp.
type Method struct {
	Proto   string // "smtp" or "lmtp"
	Network string // "tcp" or "unix"
	Address string // host:port (IPv6 in brackets) for tcp, a path for unix
	Spec    string // the method as configured, used in failure texts
}

// ParseMethod parses an amavis forward_method / notify_method value:
// "smtp:[127.0.0.1]:10025", "smtp:127.0.0.1:10025", "lmtp:[::1]:24",
// "smtp:[mx.example]:25" or "lmtp:/var/run/x.sock". The protocol name is
// case-insensitive. amavis's '*' wildcards (client address, listening
// port+1) and other methods (local:, bsmtp:, pipe:, sql:) are not
// supported here.
func ParseMethod(s string) (Method, error) {
	spec := strings.TrimSpace(s)
	if spec == "" {
		return Method{}, fmt.Errorf("delivery method: empty")
	}
	proto, rest, ok := strings.Cut(spec, ":")
	if !ok {
		return Method{}, fmt.Errorf("delivery method %q: missing protocol, want smtp:[host]:port, lmtp:[host]:port or lmtp:/path", spec)
	}
	proto = strings.ToLower(proto)
	if proto != "smtp" && proto != "lmtp" {
		return Method{}, fmt.Errorf("delivery method %q: protocol %q is not supported here, want smtp or lmtp", spec, proto)
	}
	m := Method{Proto: proto, Spec: spec}
	if strings.HasPrefix(rest, "/") {
		if strings.ContainsAny(rest, "\x00") {
			return Method{}, fmt.Errorf("delivery method %q: bad socket path", spec)
		}
		m.Network, m.Address = "unix", rest
		return m, nil
	}
	var host, port string
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return Method{}, fmt.Errorf("delivery method %q: missing ']'", spec)
		}
		host = rest[1:end]
		after := rest[end+1:]
		if !strings.HasPrefix(after, ":") {
			return Method{}, fmt.Errorf("delivery method %q: missing :port after [%s]", spec, host)
		}
		port = after[1:]
	} else {
		var found bool
		host, port, found = strings.Cut(rest, ":")
		if !found {
			return Method{}, fmt.Errorf("delivery method %q: missing :port", spec)
		}
		if strings.Contains(port, ":") {
			return Method{}, fmt.Errorf("delivery method %q: too many ':' (write an IPv6 address in brackets, e.g. %s:[::1]:10025)", spec, proto)
		}
	}
	switch {
	case host == "":
		return Method{}, fmt.Errorf("delivery method %q: empty host", spec)
	case host == "*" || port == "*":
		return Method{}, fmt.Errorf("delivery method %q: '*' wildcards are not supported", spec)
	case strings.ContainsAny(host, " \t\r\n\x00[]/"):
		return Method{}, fmt.Errorf("delivery method %q: bad host %q", spec, host)
	}
	if strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return Method{}, fmt.Errorf("delivery method %q: bad IPv6 address %q", spec, host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || len(port) > 5 {
		return Method{}, fmt.Errorf("delivery method %q: bad port %q", spec, port)
	}
	m.Network = "tcp"
	m.Address = net.JoinHostPort(host, strconv.Itoa(n))
	return m, nil
}

// String returns the method as configured.
func (m Method) String() string { return m.Spec }

// MTAID is the name amavis gives the next hop in its reply texts, e.g.
// "smtp:[127.0.0.1]:10025" in "from MTA(smtp:[127.0.0.1]:10025): ..." or
// "lmtp:/var/run/x.sock".
func (m Method) MTAID() string {
	if m.Network == "unix" {
		return m.Proto + ":" + m.Address
	}
	host, port, err := net.SplitHostPort(m.Address)
	if err != nil {
		return m.Proto + ":" + m.Address
	}
	return m.Proto + ":[" + host + "]:" + port
}

// key identifies the connection cache bucket of a method.
func (m Method) key() string { return m.Proto + "|" + m.Network + "|" + m.Address }

// Timeouts are the per-phase limits of an outgoing session. Each is also
// bounded by the deadline of the context given to Client.Send.
type Timeouts struct {
	Connect   time.Duration // TCP/Unix connect
	Greeting  time.Duration // waiting for the 220 greeting
	EHLO      time.Duration // EHLO/LHLO/HELO reply
	Mail      time.Duration // MAIL FROM reply (and XFORWARD)
	Rcpt      time.Duration // each RCPT TO reply
	DataInit  time.Duration // the reply to DATA
	DataBlock time.Duration // writing each block of the message
	DataDone  time.Duration // the reply(ies) to the final dot
	RSET      time.Duration // RSET reply
	Quit      time.Duration // QUIT reply
}

// DefaultTimeouts returns amavis's values (Amavis::Out::SMTP, RFC 5321
// section 4.5.3.2): connect 35 s, greeting 35 s, EHLO 300 s, MAIL and RCPT
// 300 s, DATA 120 s, data block 180 s, end of data 600 s, RSET 20 s,
// QUIT 10 s.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		Connect:   35 * time.Second,
		Greeting:  35 * time.Second,
		EHLO:      300 * time.Second,
		Mail:      300 * time.Second,
		Rcpt:      300 * time.Second,
		DataInit:  120 * time.Second,
		DataBlock: 180 * time.Second,
		DataDone:  600 * time.Second,
		RSET:      20 * time.Second,
		Quit:      10 * time.Second,
	}
}

// withDefaults fills zero fields from DefaultTimeouts.
func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts()
	fill := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	fill(&t.Connect, d.Connect)
	fill(&t.Greeting, d.Greeting)
	fill(&t.EHLO, d.EHLO)
	fill(&t.Mail, d.Mail)
	fill(&t.Rcpt, d.Rcpt)
	fill(&t.DataInit, d.DataInit)
	fill(&t.DataBlock, d.DataBlock)
	fill(&t.DataDone, d.DataDone)
	fill(&t.RSET, d.RSET)
	fill(&t.Quit, d.Quit)
	return t
}
