package spam

import (
	"strings"
	"unicode/utf8"
)

// QuoteAddr renders an envelope address as amavis does for the header
// fields it gives spam scanners (qquote_rfc2821_local): in angle brackets,
// the local part quoted when it is not a dot-atom (UTF-8 allowed), "<>" for
// the null sender.
func QuoteAddr(addr string) string {
	if addr == "" {
		return "<>"
	}
	local, domain := addr, ""
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		local, domain = addr[:i], addr[i:]
	}
	if !isDotAtom(local) {
		local = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(local) + `"`
	}
	if domain == "@" && strings.Contains(local, "@") {
		domain = ""
	}
	return "<" + local + domain + ">"
}

// isDotAtom: RFC 5321 dot-atom of atext, extended with UTF-8 (RFC 6531).
func isDotAtom(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for part := range strings.SplitSeq(s, ".") {
		if part == "" {
			return false
		}
		for _, r := range part {
			if r >= 0x80 {
				if r < 0xa0 { // C1 controls
					return false
				}
				continue
			}
			if !isAtext(byte(r)) {
				return false
			}
		}
	}
	return true
}

func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*/=?^_`{|}~+-", c) >= 0
}
