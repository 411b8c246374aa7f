package smtpd

import (
	"strings"

	"github.com/mavis-filter/mavis/internal/mail"
)

// maxReplyLine is the longest reply line without CRLF (RFC 5321 4.5.3.1.5).
const maxReplyLine = 512 - 2

// sanitizeReply escapes what must not reach the wire in a reply, as amavis's
// sanitize_str with keep_eol: control characters other than LF, DEL and the
// backslash. LF is kept: it separates the lines of a multi-line reply.
func sanitizeReply(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\n') || c == 0x7f || c == '\\' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\\':
			b.WriteString(`\\`)
		case (c < 0x20 && c != '\n') || c == 0x7f:
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// splitReply parses "ddd[ |-][x.y.z ]text" into its code (with the
// separator dropped), the enhanced code including its trailing blank (or
// ""), and the text. ok is false when s does not start with a reply code.
func splitReply(s string) (code, enh, text string, ok bool) {
	if len(s) < 3 || s[0] < '1' || s[0] > '5' || !isDigit(s[1]) || !isDigit(s[2]) {
		return "", "", "", false
	}
	code, s = s[:3], s[3:]
	if s != "" {
		if s[0] != ' ' && s[0] != '-' {
			return "", "", "", false
		}
		s = s[1:]
	}
	if n := enhancedLen(s); n > 0 {
		if n == len(s) {
			return code, s, "", true
		}
		if s[n] == ' ' {
			return code, s[:n+1], s[n+1:], true
		}
	}
	return code, "", s, true
}

// enhancedLen returns the length of an RFC 3463 code [245].d{1,3}.d{1,3} at
// the start of s, or 0.
func enhancedLen(s string) int {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return 0
	}
	i := 2
	for part := 0; part < 2; part++ {
		j := i
		for j < len(s) && j-i < 4 && isDigit(s[j]) {
			j++
		}
		if j == i || j-i > 3 {
			return 0
		}
		i = j
		if part == 0 {
			if i >= len(s) || s[i] != '.' {
				return 0
			}
			i++
		}
	}
	if i < len(s) && isDigit(s[i]) {
		return 0
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// appendReply appends the wire form of one reply (CRLF-terminated lines) to
// dst: sanitized, split at each LF and wrapped at 510 octets, every line
// repeating the code and the enhanced code (RFC 2034), as amavis's
// wrap_smtp_resp.
func appendReply(dst []byte, resp string) []byte {
	code, enh, tail, ok := splitReply(sanitizeReply(resp))
	if !ok { // our own replies are always well formed; never send garbage
		code, enh, tail = "451", "4.5.0 ", "Error in processing: bad reply"
	}
	room := maxReplyLine - len(code) - 1 - len(enh)
	for len(tail) > room || strings.IndexByte(tail, '\n') >= 0 {
		head := tail
		if len(head) > room {
			head = head[:room]
		}
		if i := strings.IndexByte(head, '\n'); i >= 0 {
			head = head[:i+1]
		}
		tail = tail[len(head):]
		head = strings.TrimSuffix(head, "\n")
		dst = append(dst, code...)
		dst = append(dst, '-')
		dst = append(dst, enh...)
		dst = append(dst, head...)
		dst = append(dst, '\r', '\n')
	}
	dst = append(dst, code...)
	dst = append(dst, ' ')
	dst = append(dst, enh...)
	dst = append(dst, tail...)
	return append(dst, '\r', '\n')
}

// validReply reports whether a handler's reply can be sent: a 2xx, 4xx or
// 5xx code and, if present, a well-formed enhanced code.
func validReply(r mail.Reply) bool {
	if r.Code < 200 || r.Code > 599 || r.Code/100 == 3 {
		return false
	}
	return r.Enh == "" || enhancedLen(r.Enh) == len(r.Enh)
}
