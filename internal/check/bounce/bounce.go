// Package bounce recognises delivery status notifications for amavis's
// bounce killer: a standard DSN (multipart/report, RFC 3462/3464) or a few
// common nonstandard bounce formats, and finds the Message-ID in the
// attached header section of the returned message. The bounce killer then
// asks pen pals whether that message was really sent from here; if not,
// the DSN is backscatter and gets bounce_killer_score spam points.
//
// amavis does this with its MIME parser; mavis scans the raw message
// (bounded to MaxScan bytes) with its own small parser, since only the
// header section of an attached message is needed.
package bounce

import (
	"bufio"
	"bytes"
	"io"
	"regexp"
	"strings"

	"github.com/mavis-filter/mavis/internal/mail"
)

// MaxScan bounds how much of a message is examined.
const MaxScan = 512 << 10

// Report is what was learnt about a message.
type Report struct {
	// IsBounce: a DSN (or common nonstandard bounce) whose attached header
	// section was found.
	IsBounce bool
	// Unverifiable: looks like a bounce (null sender, from a mailer
	// daemon) but no attached header section was found.
	Unverifiable bool
	// MessageID is the Message-ID of the returned message ("" if none).
	MessageID string
	// From is the From: of the returned message.
	From string
	// Format names what was recognised: "rfc3464", "attached-message", or
	// the nonstandard marker that was found.
	Format string
}

var (
	attachedType = regexp.MustCompile(`(?i)^content-type:\s*(message/rfc822|text/rfc822-headers|message/rfc822-headers|message/global|message/global-headers)\b`)
	// Markers of nonstandard bounces that quote the original header
	// section in the body (qmail, Exim, MS Exchange, sendmail variants).
	markers = []*regexp.Regexp{
		regexp.MustCompile(`(?i)^-+ ?below this line is a copy of the message\.?`),
		regexp.MustCompile(`(?i)^-+ ?this is a copy of the message, including all the headers\.? ?-*`),
		regexp.MustCompile(`(?i)^-+ ?original message follows\.? ?-*`),
		regexp.MustCompile(`(?i)^-+ ?original message headers? ?-*`),
		regexp.MustCompile(`(?i)^-+ ?returned message ?-*`),
		regexp.MustCompile(`(?i)^-+ ?the header of the original message is following\.? ?-*`),
	}
)

// Parse examines a message (sender = envelope sender, h = its parsed
// header, body = the whole message).
func Parse(sender string, h *mail.Header, body io.Reader) Report {
	var rep Report
	ct := strings.ToLower(h.Get("Content-Type"))
	isReport := strings.HasPrefix(ct, "multipart/report") && strings.Contains(ct, "delivery-status")
	looksLike := isReport || sender == "" || daemonAddr(sender) || daemonAddr(mail.AddrSpec(h.Get("From")))
	if !looksLike {
		// A multipart/mixed with an attached message from a normal sender
		// is a forward, not a bounce (amavis avoids that false positive).
		return rep
	}
	raw, _ := io.ReadAll(io.LimitReader(body, MaxScan))
	if h.Len > 0 && int64(len(raw)) > h.Len {
		raw = raw[h.Len:]
	}
	lines := splitLines(raw)
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		format := ""
		start := -1
		switch {
		case attachedType.MatchString(line):
			format = "attached-message"
			if isReport {
				format = "rfc3464"
			}
			// Skip the rest of the part header, up to its empty line.
			for j := i + 1; j < len(lines); j++ {
				if strings.TrimSpace(lines[j]) == "" {
					start = j + 1
					break
				}
			}
		default:
			for _, m := range markers {
				if m.MatchString(strings.TrimSpace(line)) {
					format = strings.TrimSpace(line)
					start = i + 1
					break
				}
			}
		}
		if start < 0 || start >= len(lines) {
			continue
		}
		for start < len(lines) && strings.TrimSpace(lines[start]) == "" {
			start++ // some formats leave blank lines before the quoted header
		}
		block := strings.Join(lines[start:min(len(lines), start+400)], "\n") + "\n\n"
		qh, err := mail.ParseHeader(strings.NewReader(block))
		if err != nil || len(qh.Fields) == 0 {
			continue
		}
		if id := qh.Get("Message-ID"); id != "" {
			rep.IsBounce, rep.MessageID, rep.From, rep.Format = true, firstMsgID(id), qh.Get("From"), format
			return rep
		}
	}
	rep.Unverifiable = true
	return rep
}

func splitLines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		out = append(out, strings.TrimRight(sc.Text(), "\r"))
	}
	return out
}

func daemonAddr(a string) bool {
	local, _, _ := strings.Cut(strings.ToLower(a), "@")
	switch local {
	case "mailer-daemon", "postmaster", "double-bounce", "mail-daemon":
		return true
	}
	return false
}

func firstMsgID(s string) string {
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			return s[i : i+j+1]
		}
	}
	return strings.TrimSpace(s)
}
