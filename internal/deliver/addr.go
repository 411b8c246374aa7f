package deliver

import (
	"fmt"
	"net"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/mavis-filter/mavis/internal/mail"
)

// smtpPath renders an address as an SMTP path, "<local@domain>", quoting the
// local part when it is not a dot-atom (amavis qquote_rfc2821_local). The
// null address is "<>". Addresses with control characters, or a domain that
// cannot be written in a path, are refused: they would otherwise smuggle
// commands into the session.
func smtpPath(addr string) (string, error) {
	if addr == "" {
		return "<>", nil
	}
	for i := 0; i < len(addr); i++ {
		if c := addr[i]; c < 0x20 || c == 0x7f {
			return "", fmt.Errorf("control character in address %q", addr)
		}
	}
	local, domain, hasAt := cutLast(addr, "@")
	if hasAt && !validDomain(domain) {
		return "", fmt.Errorf("bad domain in address %q", addr)
	}
	if !isDotAtom(local) {
		local = quoteLocal(local)
	}
	if !hasAt {
		return "<" + local + ">", nil
	}
	return "<" + local + "@" + domain + ">", nil
}

// validDomain accepts a domain name (UTF-8 allowed) or an address literal.
func validDomain(d string) bool {
	if len(d) >= 2 && d[0] == '[' && d[len(d)-1] == ']' {
		return !strings.ContainsAny(d[1:len(d)-1], " <>[]\\")
	}
	return d != "" && !strings.ContainsAny(d, " <>\"\\()[],;:@")
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// isDotAtom reports whether s is an RFC 5321 dot-string (UTF-8 allowed as
// RFC 6531 atext).
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80, c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func quoteLocal(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// idnToASCII converts the domain of an address with an all-ASCII local part
// and a non-ASCII domain to its ACE form (amavis mail_addr_idn_to_ascii). ok
// is false when nothing was converted.
func idnToASCII(addr string) (string, bool) {
	local, domain, hasAt := cutLast(addr, "@")
	if !hasAt || !isASCII(local) || isASCII(domain) {
		return addr, false
	}
	ace, err := idna.Lookup.ToASCII(domain)
	if err != nil || !isASCII(ace) {
		return addr, false
	}
	return local + "@" + ace, true
}

// xtext encodes s as RFC 3461 xtext: '+', '=' and octets outside
// '!'..'~' become "+XX".
func xtext(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '!' || c > '~' || c == '+' || c == '=' {
			fmt.Fprintf(&b, "+%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// utf8AddrXtext encodes a (non-ASCII) address as an RFC 6533
// utf-8-addr-xtext for ORCPT when the next hop does not offer SMTPUTF8:
// characters other than QCHAR become \x{HEX}.
func utf8AddrXtext(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0x21 && r <= 0x7e && r != '+' && r != '=' && r != '\\' {
			b.WriteRune(r)
			continue
		}
		fmt.Fprintf(&b, `\x{%02X}`, r)
	}
	return b.String()
}

// validParamValue reports whether v may be sent as an ESMTP parameter value
// (esmtp-value: printable, no '=' or space; UTF-8 allowed when utf8).
func validParamValue(v string, allowUTF8 bool) bool {
	if v == "" {
		return false
	}
	if allowUTF8 && !utf8.ValidString(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 0x80 && allowUTF8 {
			continue
		}
		if c < '!' || c > '~' || c == '=' {
			return false
		}
	}
	return true
}

// validORcpt checks an ORCPT value "addr-type;xtext" as received.
func validORcpt(v string, allowUTF8 bool) bool {
	typ, addr, ok := strings.Cut(v, ";")
	if !ok || typ == "" || addr == "" {
		return false
	}
	for i := 0; i < len(typ); i++ {
		c := typ[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return validParamValue(addr, allowUTF8)
}

// neuterXforward prepares an XFORWARD attribute value as amavis does:
// non-printable octets and characters special in header fields (Postfix
// NEUTER_CHARACTERS) become '?', the result is xtext-encoded and cut to
// 255 octets.
func neuterXforward(v string) string {
	b := []byte(v)
	for i, c := range b {
		if c < 0x21 || c > 0x7e || strings.IndexByte(`<>()\";@`, c) >= 0 {
			b[i] = '?'
		}
	}
	x := xtext(string(b))
	if len(x) > 255 {
		x = x[:255]
		// do not leave a broken "+X" escape at the end
		if i := strings.LastIndexByte(x, '+'); i >= len(x)-2 {
			x = x[:i]
		}
	}
	return x
}

// maxXforwardLine is the longest XFORWARD command line we send, CRLF
// included (Postfix's smtpd accepts longer lines, RFC 5321 says 512).
const maxXforwardLine = 512

// xforwardLines builds the XFORWARD commands (without CRLF) for the client
// attributes the next hop offers (offered is the EHLO XFORWARD argument).
// As amavis, it sends nothing when the client address is unknown, and skips
// attributes that are empty: Postfix treats an attribute that was not sent
// as [UNAVAILABLE].
func xforwardLines(ci mail.ClientInfo, offered string) []string {
	if ci.Addr == "" {
		return nil
	}
	supp := map[string]bool{}
	for _, f := range strings.Fields(offered) {
		supp[strings.ToUpper(f)] = true
	}
	addr := ci.Addr
	if strings.Contains(addr, ":") && !strings.HasPrefix(strings.ToUpper(addr), "IPV6:") && net.ParseIP(addr) != nil {
		addr = "IPv6:" + addr
	}
	attrs := []struct{ name, val string }{
		{"ADDR", addr}, {"NAME", ci.Name}, {"PORT", ci.Port}, {"PROTO", ci.Proto},
		{"HELO", ci.Helo}, {"SOURCE", ci.Source}, {"IDENT", ci.Ident},
	}
	var lines []string
	line := ""
	for _, a := range attrs {
		if a.val == "" || !supp[a.name] {
			continue
		}
		kv := a.name + "=" + neuterXforward(a.val)
		if line != "" && len(line)+1+len(kv)+2 > maxXforwardLine {
			lines = append(lines, line)
			line = ""
		}
		if line == "" {
			line = "XFORWARD " + kv
		} else {
			line += " " + kv
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
