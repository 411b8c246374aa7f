// Package badheader implements amavis's bad-header checks
// (%allowed_header_tests): invalid field syntax, whitespace-only folded
// lines, over-long lines, control characters, non-encoded 8-bit data,
// missing Date/From, duplicated singleton fields, and MIME errors found by
// the decoder. The result is CC_BADH with amavis's minor code (the highest
// found) and amavis's problem texts (the %X macro, X-Amavis-Alert).
package badheader

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mavis-filter/mavis/internal/mail"
)

// Minor codes of CC_BADH.
const (
	MinorOther    = 0
	MinorMIME     = 1
	Minor8bit     = 2
	MinorControl  = 3
	MinorEmpty    = 4
	MinorLong     = 5
	MinorSyntax   = 6
	MinorMissing  = 7
	MinorMultiple = 8
)

// Tests says which checks are enabled (amavis %allowed_header_tests); the
// zero value enables none, DefaultTests enables amavis's defaults.
type Tests struct {
	Other, MIME, Syntax, Empty, Long, Control, EightBit, UTF8, Missing, Multiple bool
}

// DefaultTests are amavis's defaults: all but utf8.
func DefaultTests() Tests {
	return Tests{Other: true, MIME: true, Syntax: true, Empty: true, Long: true, Control: true, EightBit: true, Missing: true, Multiple: true}
}

// Result of the check. Bad is nil when the header section is fine.
type Result struct {
	Minor int      // the highest minor code found
	Bad   []string // problem descriptions, at most 100
}

// Found reports whether any problem was found.
func (r Result) Found() bool { return len(r.Bad) > 0 }

// singletons are the fields that must occur at most once (RFC 5322, RFC
// 2045, RFC 2183); Date and From are also required.
var singletons = []string{"Date", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Subject", "Message-ID",
	"References", "In-Reply-To", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
	"Content-ID", "Content-Description", "Content-Disposition", "Auto-Submitted"}

const maxProblems = 100

// Check examines the header section h. smtputf8 tells that the message was
// received with SMTPUTF8 (valid UTF-8 in header bodies is then fine).
// mimeErrors are the decoder's complaints about the MIME structure.
func Check(h *mail.Header, smtputf8 bool, mimeErrors []string, t Tests) Result {
	var r Result
	bump := func(m int) {
		if m > r.Minor {
			r.Minor = m
		}
	}
	counts := map[string]int{}
	for _, f := range h.Fields {
		if len(r.Bad) >= maxProblems {
			break
		}
		raw := bytes.TrimRight(f.Raw, "\n")
		raw = bytes.TrimSuffix(raw, []byte("\r"))
		// Work on the field with LF line ends, as amavis does.
		text := string(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")))
		name := fieldName(text)
		if name != "" {
			counts[strings.ToLower(name)]++
		}
		var msg string
		switch {
		case name == "" || strings.HasPrefix(name, "--"):
			if t.Syntax {
				msg = "Invalid header field syntax: " + excerpt(text, 0, 0)
				bump(MinorSyntax)
			}
		case t.Syntax && hasNonASCII(name):
			i := firstNonASCII(text)
			msg = "Invalid header field name, contains non-ASCII char" + hexHint(text[i:i+1]) + ": " + excerpt(text, i, 1)
			bump(MinorSyntax)
		case t.Empty && emptyContinuation(text) >= 0:
			i := emptyContinuation(text)
			msg = "Improper folded header field made up entirely of whitespace: " + excerpt(text, i, 0)
			bump(MinorEmpty)
		case t.Long && longLine(text) != "":
			l := longLine(text)
			if len(l) > 55 {
				l = l[:50] + "[...]"
			}
			msg = "Header line longer than 998 characters: " + l
			bump(MinorLong)
		case t.Control && strings.ContainsAny(text, "\x00\r"):
			i := strings.IndexAny(text, "\x00\r")
			msg = "Improper use of control character" + hexHint(text[i:i+1]) + ": " + excerpt(text, i, 1)
			bump(MinorControl)
		case t.EightBit && firstNonASCII(text) >= 0:
			i := firstNonASCII(text)
			what := ""
			switch {
			case !utf8.ValidString(text):
				what = "Non-encoded non-ASCII data (and not UTF-8)"
			case hasC0(text):
				what = "UTF-8 string contains C0 Controls"
			case hasC1(text):
				what = "UTF-8 string contains C1 Controls"
			case smtputf8:
			case t.UTF8:
				what = "Non-encoded UTF-8 string in non-EAI mail"
			}
			if what != "" {
				_, n := utf8.DecodeRuneInString(text[i:])
				msg = what + hexHint(text[i:i+n]) + ": " + excerpt(text, i, n)
				bump(Minor8bit)
			}
		}
		if msg != "" {
			r.Bad = append(r.Bad, sanitize(msg))
		}
	}
	for _, n := range singletons {
		c := counts[strings.ToLower(n)]
		switch {
		case c == 0 && t.Missing && (n == "Date" || n == "From"):
			r.Bad = append(r.Bad, fmt.Sprintf("Missing required header field: %q", n))
			bump(MinorMissing)
		case c == 2 && t.Multiple:
			r.Bad = append(r.Bad, fmt.Sprintf("Duplicate header field: %q", n))
			bump(MinorMultiple)
		case c > 2 && t.Multiple:
			r.Bad = append(r.Bad, fmt.Sprintf("Header field occurs more than once: %q occurs %d times", n, c))
			bump(MinorMultiple)
		}
	}
	if t.MIME {
		for _, e := range mimeErrors {
			if len(r.Bad) >= maxProblems {
				break
			}
			r.Bad = append(r.Bad, sanitize("MIME error: "+e))
			bump(MinorMIME)
		}
	}
	return r
}

// fieldName returns the field name before the colon (blanks before the
// colon allowed, as in RFC 822), or "" when the line is not a field.
func fieldName(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= '!' && c <= '9' || c >= ';' && c <= '~' || c >= 0x80 {
			i++
			continue
		}
		break
	}
	if i == 0 {
		return ""
	}
	j := i
	for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
		j++
	}
	if j >= len(s) || s[j] != ':' {
		return ""
	}
	return s[:i]
}

func hasNonASCII(s string) bool { return firstNonASCII(s) >= 0 }

func firstNonASCII(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return i
		}
	}
	return -1
}

// emptyContinuation returns the offset of a line made of blanks only, or -1.
func emptyContinuation(s string) int {
	off := 0
	for _, l := range strings.Split(s, "\n") {
		if l != "" && strings.Trim(l, " \t") == "" {
			return off
		}
		off += len(l) + 1
	}
	return -1
}

func longLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if len(l) >= 999 {
			return l
		}
	}
	return ""
}

func hasC0(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x08 || c >= 0x0b && c <= 0x1f || c == 0x7f {
			return true
		}
	}
	return false
}

func hasC1(s string) bool {
	for _, r := range s {
		if r >= 0x80 && r <= 0x9f {
			return true
		}
	}
	return false
}

func hexHint(mid string) string {
	if mid == "" || len(mid) > 4 {
		return ""
	}
	var parts []string
	for i := 0; i < len(mid); i++ {
		parts = append(parts, fmt.Sprintf("%02X", mid[i]))
	}
	return " (char " + strings.Join(parts, " ") + " hex)"
}

// excerpt shows the field around offset i (n bytes of the offending
// character), shortened like amavis: at most ~50 characters of context.
func excerpt(s string, i, n int) string {
	if i < 0 || i > len(s) {
		i = 0
	}
	pre, mid, post := s[:i], s[i:min(len(s), i+n)], s[min(len(s), i+n):]
	if len(post) > 20 {
		post = truncUTF8(post, 15) + "[...]"
	}
	if len(pre) > 50-len(post) {
		name := fieldName(s)
		keep := max(0, 45-len(post))
		if keep < len(pre) {
			pre = name + ": ..." + pre[len(pre)-keep:]
		}
	}
	return strings.ReplaceAll(pre+mid+post, "\n", " ")
}

func truncUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// sanitize replaces C0 controls and non-ASCII bytes with \x{XX}, as amavis
// does before logging or writing the problems into a header field.
func sanitize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			fmt.Fprintf(&b, `\x{%02X}`, c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
