package smtpd

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/mavis-filter/mavis/internal/mail"
)

// splitCommand splits a command line (without its CRLF) into the upper-cased
// verb and its arguments, as amavis's
// /^[ \t]*([A-Za-z][A-Za-z0-9]*)(?:[ \t]+(.*?))?[ \t]*\r\n\z/. ok is false for
// an unparsable line, and for a line holding a bare CR or LF.
func splitCommand(line string) (verb, args string, ok bool) {
	if strings.ContainsAny(line, "\r\n") {
		return "", "", false
	}
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	start := i
	if i >= len(line) || !isAlpha(line[i]) {
		return "", "", false
	}
	for i < len(line) && (isAlpha(line[i]) || isDigit(line[i])) {
		i++
	}
	verb = strings.ToUpper(line[start:i])
	rest := strings.TrimRight(line[i:], " \t")
	if rest == "" {
		return verb, "", true
	}
	if rest[0] != ' ' && rest[0] != '\t' {
		return "", "", false
	}
	return verb, strings.TrimLeft(rest, " \t"), true
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// The MAIL/RCPT path syntax of amavis (In/SMTP.pm), with its {0,999}
// repetition bounds relaxed to * (RE2 would otherwise expand them into a huge
// program); Go's leftmost-first matching picks the same groups as Perl.
var (
	mailFromRe = regexp.MustCompile(`(?is)^FROM:[ \t]*(<(?:"(?:\\.|[^\\"])*"|[^"@ \t])*(?:@(?:\[(?:\\.|[^\]\\])*\]|[^\[\]\\> \t])*)?>)(?:[ \t]+(.+))?\z`)
	rcptToRe   = regexp.MustCompile(`(?is)^TO:[ \t]*(<(?:"(?:\\.|[^\\"])*"|[^"@ \t])*(?:@(?:\[(?:\\.|[^\]\\])*\]|[^\[\]\\> \t])*)?>)(?:[ \t]+(.+))?\z`)
	// parse_quoted_rfc2821: local part and domain.
	localDomainRe = regexp.MustCompile(`(?s)^(.*?)(@(?:[^@\[\]]+|\[(?:\\.|[^\]\\])*\]|[^@])*)\z`)
	// split_address.
	splitAddrRe = regexp.MustCompile(`(?s)^(.*?)(@(?:\[(?:\\.|[^\]\\])*(?:\]|\z)|[^\[@])*)\z`)
)

// parsePath matches the arguments of MAIL (from=true) or RCPT against
// amavis's syntax and returns the <path> (with brackets) and the parameter
// string.
func parsePath(args string, from bool) (path, params string, ok bool) {
	re := rcptToRe
	if from {
		re = mailFromRe
	}
	m := re.FindStringSubmatch(args)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// isSpaceASCII is Perl's \s on octets.
func isSpaceASCII(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v'
}

// fields splits like Perl's split(' ', $s).
func fields(s string) []string { return strings.FieldsFunc(s, isSpaceASCII) }

// splitParam splits an ESMTP parameter NAME[=value]: NAME is
// [A-Za-z0-9][A-Za-z0-9-]*, value any CHAR except "=", SP and controls.
// hasVal reports whether "=value" was given.
func splitParam(tok string) (name, val string, hasVal, ok bool) {
	name, val, hasVal = strings.Cut(tok, "=")
	if name == "" || !(isAlpha(name[0]) || isDigit(name[0])) {
		return "", "", false, false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !(isAlpha(c) || isDigit(c) || c == '-') {
			return "", "", false, false
		}
	}
	if hasVal {
		if val == "" {
			return "", "", false, false
		}
		for i := 0; i < len(val); i++ {
			if c := val[i]; c <= 0x20 || c == 0x7f || c == '=' {
				return "", "", false, false
			}
		}
	}
	return strings.ToUpper(name), val, hasVal, true
}

// parseMailParams parses the MAIL FROM parameters; errReply is the amavis
// reply for the first error, or "".
func parseMailParams(s string) (p mail.MailParams, errReply string) {
	var sizeSet, retSet, envidSet, authSet bool
	for _, tok := range fields(s) {
		name, val, hasVal, ok := splitParam(tok)
		if !ok {
			return p, "501 5.5.4 Syntax error in MAIL FROM parameters"
		}
		if !hasVal && (name == "BODY" || name == "RET" || name == "ENVID" || name == "AUTH") {
			return p, "501 5.5.4 Syntax error in MAIL parameter, value is required: " + name
		}
		switch name {
		case "SIZE": // RFC 1870; without a value: ignored
			if !hasVal {
				break
			}
			if len(val) > 20 || !allDigits(val) {
				return p, "501 5.5.4 Syntax error in MAIL parameter: SIZE"
			}
			if !sizeSet {
				n, err := strconv.ParseInt(val, 10, 64)
				if err != nil { // more than 19 digits: beyond any limit
					n = 1<<63 - 1
				}
				p.Size, sizeSet = n, true
			}
		case "SMTPUTF8": // RFC 6531: no value
			if hasVal {
				return p, "501 5.5.4 Syntax error in MAIL parameter: SMTPUTF8"
			}
			p.SMTPUTF8 = true
		case "BODY": // RFC 6152
			u := strings.ToUpper(val)
			if u != "7BIT" && u != "8BITMIME" {
				return p, "501 5.5.4 Syntax error in MAIL parameter: BODY"
			}
			p.Body = u
		case "RET": // RFC 3461
			if retSet {
				return p, "501 5.5.4 Syntax error in MAIL parameter: RET"
			}
			p.Ret, retSet = strings.ToUpper(val), true
		case "ENVID": // RFC 3461, kept xtext-encoded
			if envidSet {
				return p, "501 5.5.4 Syntax error in MAIL parameter: ENVID"
			}
			p.EnvID, envidSet = val, true
		case "AUTH": // RFC 4954; no AUTH offered, so ignored but kept
			if authSet {
				return p, "504 5.5.4 MAIL command duplicate param.: AUTH=" + val
			}
			p.Auth, authSet = val, true
		default:
			return p, "504 5.5.4 MAIL command parameter error: " + name + "=" + val
		}
	}
	if retSet && p.Ret != "FULL" && p.Ret != "HDRS" {
		return p, "501 5.5.4 Syntax error in MAIL parameter RET: " + p.Ret
	}
	return p, ""
}

// parseRcptParams parses the RCPT TO parameters; errReply is the amavis reply
// for the first error, or "".
func parseRcptParams(s string) (p mail.RcptParams, errReply string) {
	var notify string
	var notifySet, orcptSet bool
	for _, tok := range fields(s) {
		name, val, hasVal, ok := splitParam(tok)
		if !ok {
			return p, "501 5.5.4 Syntax error in RCPT parameters"
		}
		if !hasVal && (name == "NOTIFY" || name == "ORCPT") {
			return p, "501 5.5.4 Syntax error in RCPT parameter, value is required: " + name
		}
		switch name {
		case "NOTIFY": // RFC 3461
			if notifySet {
				return p, "501 5.5.4 Syntax error in RCPT parameter NOTIFY"
			}
			notify, notifySet = val, true
		case "ORCPT": // RFC 3461 / RFC 6533, kept as given
			if orcptSet {
				return p, "501 5.5.4 Syntax error in RCPT parameter ORCPT"
			}
			p.ORcpt, orcptSet = val, true
		default:
			return p, "555 5.5.4 RCPT command parameter unrecognized: " + name
		}
	}
	if notifySet {
		v := strings.Split(strings.ToUpper(notify), ",")
		never, other := false, false
		for _, x := range v {
			switch x {
			case "NEVER":
				never = true
			case "SUCCESS", "FAILURE", "DELAY":
				other = true
			default:
				return p, "501 5.5.4 Error in RCPT parameter NOTIFY, illegal value: " + notify
			}
		}
		if never && other {
			return p, "501 5.5.4 Error in RCPT parameter NOTIFY, illegal combination of values: " + notify
		}
		p.Notify = v
	}
	return p, ""
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// xforwardNames are the attributes amavis accepts.
var xforwardNames = map[string]bool{"NAME": true, "ADDR": true, "PORT": true,
	"PROTO": true, "HELO": true, "IDENT": true, "SOURCE": true, "LOGIN": true}

// applyXForward parses XFORWARD arguments into attrs (accumulating, as
// amavis: attributes before a bad one are kept). A value "[UNAVAILABLE]"
// (any case) clears the attribute; values holding +XX are xtext-decoded.
// errReply is the amavis reply for an error, or "".
func applyXForward(attrs map[string]string, args string) (errReply string) {
	for _, tok := range fields(args) {
		name, val, hasVal := strings.Cut(tok, "=")
		if !hasVal || !validXName(name) || !validXValue(val) {
			return "501 5.5.4 Syntax error in XFORWARD parameters"
		}
		name = strings.ToUpper(name)
		if !xforwardNames[name] {
			return "501 5.5.4 XFORWARD command parameter error: " + name + "=" + val
		}
		if strings.EqualFold(val, "[UNAVAILABLE]") {
			delete(attrs, name)
			continue
		}
		attrs[name] = xtextDecode(val)
	}
	return ""
}

func validXName(s string) bool {
	if s == "" || !(isAlpha(s[0]) || isDigit(s[0])) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(isAlpha(c) || isDigit(c) || c == '-') {
			return false
		}
	}
	return true
}

func validXValue(s string) bool {
	if len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return isDigit(c) || ((c|0x20) >= 'a' && (c|0x20) <= 'f') }

func unhex(c byte) byte {
	if isDigit(c) {
		return c - '0'
	}
	return (c | 0x20) - 'a' + 10
}

// xtextDecode decodes RFC 3461 xtext (+XX, either case, as amavis).
func xtextDecode(s string) string {
	if !strings.Contains(s, "+") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '+' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// xtextEncode encodes s as RFC 3461 xtext: "+", "=" and everything outside
// "!".."~" become +XX.
func xtextEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '+' || c == '=' {
			b.WriteByte('+')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// clientInfo turns accumulated XFORWARD attributes into mail.ClientInfo,
// normalising ADDR and dropping an invalid PORT as amavis does.
func clientInfo(attrs map[string]string) mail.ClientInfo {
	ci := mail.ClientInfo{
		Name: attrs["NAME"], Addr: normalizeIP(attrs["ADDR"]), Port: attrs["PORT"],
		Proto: attrs["PROTO"], Helo: attrs["HELO"], Ident: attrs["IDENT"],
		Source: attrs["SOURCE"], Login: attrs["LOGIN"],
	}
	if ci.Port != "" {
		if n, err := strconv.Atoi(ci.Port); err != nil || len(ci.Port) > 9 || !allDigits(ci.Port) || n > 65535 {
			ci.Port = ""
		}
	}
	return ci
}

// normalizeIP strips an "IPv6:" prefix and writes IPv6 addresses in RFC
// 5952 form, IPv4-mapped ones as IPv4 (amavis normalize_ip_addr).
func normalizeIP(s string) string {
	if s == "" {
		return ""
	}
	if len(s) >= 5 && strings.EqualFold(s[:5], "IPv6:") {
		s = s[5:]
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String()
	}
	if strings.Contains(s, ":") {
		return strings.ToLower(s)
	}
	return s
}

// stripAngles removes the angle brackets around a path, tolerating
// unmatched ones (parse_quoted_rfc2821).
func stripAngles(s string) string {
	s = strings.TrimLeft(s, " \t\r\n\f\v")
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimRight(s, " \t\r\n\f\v")
	return strings.TrimSuffix(s, ">")
}

// stripSourceRoute removes an RFC 5321 source route "@a,@b:" from an address
// (it is accepted and ignored).
func stripSourceRoute(a string) string {
	if !strings.Contains(a, ":") {
		return a
	}
	i := 0
	skipBlanks := func() {
		for i < len(a) && (a[i] == ' ' || a[i] == '\t') {
			i++
		}
	}
	for {
		skipBlanks()
		if i >= len(a) || a[i] != '@' {
			return a
		}
		i++
		if i < len(a) && a[i] == '[' {
			j := scanLiteral(a, i)
			if j < 0 {
				return a
			}
			i = j
		} else {
			for i < len(a) && routeChar(a[i]) {
				i++
			}
		}
		skipBlanks()
		if i >= len(a) {
			return a
		}
		switch a[i] {
		case ',':
			i++
		case ':':
			i++
			skipBlanks()
			return a[i:]
		default:
			return a
		}
	}
}

// scanLiteral scans "[...]" (with \-escapes) starting at a[i]=='[' and
// returns the index after "]", or -1.
func scanLiteral(a string, i int) int {
	for i++; i < len(a); i++ {
		switch a[i] {
		case '\\':
			i++
		case ']':
			return i + 1
		}
	}
	return -1
}

func routeChar(c byte) bool {
	return (c >= 0x80 && c <= 0xf4) || isAlpha(c) || isDigit(c) || strings.IndexByte(".!#$%&*/^{}=_+-", c) >= 0
}

// unquoteAddr returns the internal (unquoted) form of a path such as
// `<"a b"@example.com>`, as amavis's unquote_rfc2821_local: brackets and a
// source route removed, quoting undone in the local part; an address with
// '@' in the local part and no domain gets a trailing '@'.
func unquoteAddr(path string) string {
	a := stripSourceRoute(stripAngles(path))
	local, domain := a, ""
	if m := localDomainRe.FindStringSubmatch(a); m != nil {
		local, domain = m[1], m[2]
	}
	if strings.ContainsAny(local, `"\`) {
		var b strings.Builder
		for i := 0; i < len(local); i++ {
			switch c := local[i]; c {
			case '"':
			case '\\':
				if i+1 < len(local) {
					i++
					b.WriteByte(local[i])
				}
			default:
				b.WriteByte(c)
			}
		}
		local = b.String()
	}
	if domain == "" && local != "" && strings.Contains(local, "@") {
		domain = "@"
	}
	return local + domain
}

// quoteAddr returns the external (quoted) form of an internal address in
// angle brackets, "<>" for the null address (amavis qquote_rfc2821_local).
func quoteAddr(addr string) string {
	if addr == "" {
		return "<>"
	}
	local, domain := addr, ""
	if m := splitAddrRe.FindStringSubmatch(addr); m != nil {
		local, domain = m[1], m[2]
	}
	if !dotAtom(local) {
		local = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(local) + `"`
	}
	if domain == "@" && strings.Contains(local, "@") {
		domain = ""
	}
	return "<" + local + domain + ">"
}

// dotAtom reports whether s is an RFC 5321 dot-atom, atext extended with
// UTF-8 sequences (RFC 6531).
func dotAtom(s string) bool {
	if s == "" {
		return false
	}
	seg := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '.':
			if seg == 0 {
				return false
			}
			seg = 0
			i++
			continue
		case c < 0x80:
			if !isAlpha(c) && !isDigit(c) && strings.IndexByte("!#$%&'*/=?^_`{|}~+-", c) < 0 {
				return false
			}
			i++
		default:
			n := 0
			switch {
			case c >= 0xc2 && c <= 0xdf:
				n = 1
			case c >= 0xe0 && c <= 0xef:
				n = 2
			case c >= 0xf0 && c <= 0xf4:
				n = 3
			default:
				return false
			}
			if i+n >= len(s) {
				return false
			}
			for k := 1; k <= n; k++ {
				if s[i+k] < 0x80 || s[i+k] > 0xbf {
					return false
				}
			}
			i += n + 1
		}
		seg++
	}
	return seg > 0
}
