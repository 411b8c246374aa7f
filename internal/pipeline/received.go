package pipeline

import (
	"strings"
	"time"

	"github.com/mavis-filter/mavis/internal/mail"
)

// ReceivedHeader forms mavis's own trace field as amavis's
// make_received_header_field does (folded, CRLF line ends):
//
//	Received: from client.example ([127.0.0.1])
//	 by localhost (mx.example [127.0.0.1]) (mavis, port 10024) with ESMTP
//	 id 0wdtrcj0XDN7 for <user@example.org>; Sat, 21 Nov 2026 07:09:46 +0000 (UTC)
//
// The "for" clause is given only for a single recipient.
func ReceivedHeader(m *mail.Message, product, myHostname, localhostName string, now time.Time) []byte {
	helo := m.Conn.Helo
	if helo == "" {
		helo = "unknown"
	}
	if localhostName == "" {
		localhostName = "localhost"
	}
	// amavis marks the places where the field may be folded and then wraps
	// it at 78 columns; segs are those pieces.
	from := "Received: from " + sanitize(helo)
	if ip := m.Conn.RemoteIP; ip != "" {
		from += " ([" + v6Prefix(ip) + "])"
	}
	by := " by " + localhostName
	if ip := m.Conn.LocalIP; ip != "" {
		by += " (" + myHostname + " [" + v6Prefix(ip) + "])"
	}
	port := "unix socket"
	if m.Conn.LocalPort != "" {
		port = "port " + m.Conn.LocalPort
	}
	by += " (" + product + ", " + port + ")"
	segs := []string{from, by}
	if p := m.Conn.Protocol; validProto(p) {
		segs = append(segs, " with "+p)
	}
	if m.MailID != "" {
		segs = append(segs, " id "+m.MailID)
	}
	if len(m.Envelope.Rcpts) == 1 {
		segs = append(segs, " for <"+sanitize(m.Envelope.Rcpts[0].Addr)+">")
	}
	segs[len(segs)-1] += ";"
	segs = append(segs, " "+now.Format("Mon, _2 Jan 2006 15:04:05 -0700 (MST)"))
	var b strings.Builder
	line := 0
	for i, seg := range segs {
		if i > 0 && line+len(seg) > 78 {
			b.WriteString("\r\n")
			line = 0
		}
		b.WriteString(seg)
		line += len(seg)
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

func v6Prefix(ip string) string {
	if strings.Contains(ip, ":") && !strings.HasPrefix(strings.ToUpper(ip), "IPV6:") {
		return "IPv6:" + ip
	}
	return ip
}

func validProto(p string) bool {
	switch strings.ToUpper(p) {
	case "SMTP", "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA", "LMTP", "LMTPS", "LMTPA", "LMTPSA",
		"UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", "UTF8SMTPSA", "UTF8LMTP", "UTF8LMTPS", "UTF8LMTPA", "UTF8LMTPSA":
		return true
	}
	return false
}

// sanitize keeps a client-supplied token from breaking the header: control
// characters (CR, LF …) are replaced.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
