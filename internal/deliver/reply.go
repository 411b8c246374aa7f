package deliver

import (
	"bufio"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/mavis-filter/mavis/internal/mail"
)

// Limits on what a next hop may send us in one reply.
const (
	maxReplyLineLen = 2048 // longer lines are truncated (RFC 5321 allows 512)
	maxReplyLines   = 256  // more lines than this is a runaway server
)

// reply is one reply read from the next hop.
type reply struct {
	code  int
	enh   string   // RFC 3463 code of the first line, "" when absent
	lines []string // text of each line without code, separator and enh code
}

// errBadReply is returned for a reply that does not start with three digits.
var errBadReply = errors.New("malformed reply")

// readReply reads one (possibly multi-line) reply.
func readReply(r *bufio.Reader) (reply, error) {
	var rep reply
	for n := 0; ; n++ {
		line, err := readLine(r)
		if err != nil {
			return reply{}, err
		}
		if n >= maxReplyLines {
			return reply{}, fmt.Errorf("%w: more than %d lines", errBadReply, maxReplyLines)
		}
		if len(line) < 3 || !isDigit(line[0]) || !isDigit(line[1]) || !isDigit(line[2]) {
			return reply{}, fmt.Errorf("%w: %q", errBadReply, truncate(line, 80))
		}
		code := int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
		more := false
		rest := line[3:]
		switch {
		case rest == "":
		case rest[0] == '-':
			more, rest = true, rest[1:]
		case rest[0] == ' ':
			rest = rest[1:]
		default:
			return reply{}, fmt.Errorf("%w: %q", errBadReply, truncate(line, 80))
		}
		if n == 0 {
			rep.code = code
		} else if code != rep.code {
			return reply{}, fmt.Errorf("%w: code changed within a multi-line reply", errBadReply)
		}
		enh, text := splitEnh(rest)
		if n == 0 {
			rep.enh = enh
		}
		rep.lines = append(rep.lines, text)
		if !more {
			return rep, nil
		}
	}
}

// readLine reads a line up to LF, strips CRLF, and truncates overlong lines
// (consuming the rest).
func readLine(r *bufio.Reader) (string, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(buf) < maxReplyLineLen {
			room := maxReplyLineLen - len(buf)
			if len(chunk) > room {
				buf = append(buf, chunk[:room]...)
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		break
	}
	s := string(buf)
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	return s, nil
}

var enhRe = regexp.MustCompile(`^([245]\.[0-9]{1,3}\.[0-9]{1,3})(?: |$)`)

// splitEnh separates an RFC 3463 enhanced status code from the text.
func splitEnh(s string) (enh, text string) {
	m := enhRe.FindStringSubmatch(s)
	if m == nil {
		return "", s
	}
	return m[1], strings.TrimPrefix(s[len(m[1]):], " ")
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// class is the first digit of the code.
func (r reply) class() int { return r.code / 100 }

// text joins the lines of a multi-line reply with a space.
func (r reply) text() string { return strings.Join(r.lines, " ") }

// mail converts to the model's Reply (the next hop's own reply).
func (r reply) mail() mail.Reply {
	return mail.Reply{Code: r.code, Enh: r.enh, Text: r.text()}
}

// String renders the reply as one line, "250 2.0.0 Ok: queued as X".
func (r reply) String() string { return r.mail().String() }

// enhance wraps a next hop's reply the way amavis does
// (enhance_smtp_response): "<code> <enh> from MTA(<mtaID>): <reply>", with an
// enhanced code fabricated from the reply's class and dflt (".1.0", ".6.0",
// ...) when the next hop gave none. A missing reply (nil) or one whose code
// is not 2xx/4xx/5xx becomes a 451 4.5.0.
func enhance(r *reply, mtaID, dflt, cmd string) mail.Reply {
	prefix := "from MTA(" + mtaID + "): "
	switch {
	case r == nil:
		return mail.Reply{Code: 451, Enh: "4.5.0", Text: prefix + "No resp. to " + cmd}
	case r.class() != 2 && r.class() != 4 && r.class() != 5:
		return mail.Reply{Code: 451, Enh: "4.5.0", Text: prefix + "Bad resp. to " + cmd + ": " + r.String()}
	}
	enh := r.enh
	if enh == "" {
		enh = fmt.Sprintf("%d%s", r.class(), dflt)
	}
	return mail.Reply{Code: r.code, Enh: enh, Text: prefix + r.String()}
}

var queuedAsRe = regexp.MustCompile(`\bqueued as ([0-9A-Za-z]+)$`)

// queuedAs extracts the queue id from "250 2.0.0 Ok: queued as 4XyZ" (amavis
// matches the same pattern).
func queuedAs(r reply) string {
	m := queuedAsRe.FindStringSubmatch(r.text())
	if m == nil {
		return ""
	}
	return m[1]
}
