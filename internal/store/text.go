package store

import (
	"mime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/net/idna"
	"golang.org/x/text/encoding/charmap"
)

// NormalizeAddr turns an envelope address into the maddr.email value and
// the maddr.domain value as amavis's find_or_save_addr does: the domain in
// ASCII (IDNA) and lower case with trailing dots removed, the local part
// lower-cased (ASCII letters only, as Perl's lc on octets) unless
// caseSensitive, "local@domain" (an address without domain becomes
// "local@"), at most 255 octets, and unless allow8bit every octet outside
// printable ASCII replaced by '?'. domain is the domain's labels in reverse
// order ("sub.example.com" → "com.example.sub"), at most 255 octets. The
// null sender gives ("", "").
func NormalizeAddr(addr string, caseSensitive, allow8bit bool) (email, domain string) {
	if addr == "" {
		return "", ""
	}
	local, dom := addr, ""
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		local, dom = addr[:i], addr[i+1:]
	}
	dom = domainToASCII(dom)
	dom = strings.TrimRight(dom, ".")
	if !caseSensitive {
		local = asciiLower(local)
	}
	email = truncBytes(local+"@"+dom, 255)
	if !allow8bit {
		email = sanitize7bit(email)
	}
	labels := strings.Split(dom, ".")
	for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
		labels[i], labels[j] = labels[j], labels[i]
	}
	domain = truncBytes(strings.Join(labels, "."), 255)
	if !utf8.ValidString(domain) || strings.ContainsFunc(domain, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		domain = sanitize7bit(domain) // varchar column: keep it valid text
	}
	return email, domain
}

// domainToASCII is amavis's idn_to_ascii: ASCII domains are lower-cased,
// others converted to ACE (left as lower-cased octets when that fails).
func domainToASCII(d string) string {
	ascii := true
	for i := 0; i < len(d); i++ {
		if d[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii || (len(d) > 0 && d[0] == '[') {
		return asciiLower(d)
	}
	if a, err := idna.Lookup.ToASCII(d); err == nil {
		return asciiLower(a)
	}
	return asciiLower(d)
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// sanitize7bit replaces every octet outside printable ASCII (0x20-0x7E) by
// '?', amavis's s/[^\040-\176]/?/g.
func sanitize7bit(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// truncBytes cuts s to at most n octets.
func truncBytes(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// truncRunes cuts a UTF-8 string to at most n characters.
func truncRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := 0; k < n; k++ {
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return s[:i]
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// HeaderText prepares a raw header field body (From, Subject) for
// msgs.from_addr / msgs.subject as amavis does: unfold, trim, decode RFC 2047
// encoded-words, decode other 8-bit text as UTF-8 when valid or else as
// Windows-1252, and cut to max characters. The result is valid UTF-8.
// (amavis also guesses unlabelled KOI8; mavis does not.)
func HeaderText(raw string, max int) string {
	s := strings.ReplaceAll(raw, "\r\n", "\n")
	s = strings.TrimRight(s, "\n")
	s = strings.ReplaceAll(s, "\n ", " ")
	s = strings.ReplaceAll(s, "\n\t", "\t")
	s = strings.Trim(s, " \t")
	return truncRunes(decodeMIMEText(s), max)
}

func decodeMIMEText(s string) string {
	if strings.Contains(s, "=?") && strings.Contains(s, "?=") {
		if d, err := wordDecoder.DecodeHeader(s); err == nil {
			s = d
		}
	}
	if utf8.ValidString(s) {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	// mixed: keep valid UTF-8 sequences, decode stray octets as Windows-1252
	var b strings.Builder
	dec := charmap.Windows1252.NewDecoder()
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			if out, err := dec.String(s[i : i+1]); err == nil {
				b.WriteString(out)
			} else {
				b.WriteRune(utf8.RuneError)
			}
			i++
			continue
		}
		b.WriteString(s[i : i+w])
		i += w
	}
	return b.String()
}

// ParseMessageID is amavis's parse_message_id: the <...> tokens of a
// Message-ID (or References) field body, comments and whitespace dropped,
// duplicates removed; a body with no <...> but other text gives that text
// trimmed and wrapped in <> ('>' inside replaced by '_'). Empty input gives
// nil.
func ParseMessageID(body string) []string {
	s := strings.NewReplacer("\r", "", "\n", "").Replace(body)
	s = collapseWS(s)
	var ids []string
	garbage := false
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t':
			i++
		case c == '(':
			if j := commentEnd(s, i); j > 0 {
				i = j
			} else {
				garbage = true
				i++
			}
		case c == '<':
			if j := angleEnd(s, i); j > 0 {
				ids = append(ids, s[i:j])
				i = j
			} else {
				garbage = true
				i++
			}
		default:
			garbage = true
			for i < len(s) && s[i] != '<' && s[i] != '(' && s[i] != ' ' && s[i] != '\t' {
				i++
			}
		}
	}
	if len(ids) > 1 {
		seen := map[string]bool{}
		out := ids[:0]
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
		ids = out
	} else if garbage && len(ids) == 0 {
		t := strings.Trim(s, " \t")
		t = strings.TrimPrefix(t, "<")
		t = strings.TrimSuffix(t, ">")
		ids = []string{"<" + strings.ReplaceAll(t, ">", "_") + ">"}
	}
	return ids
}

func collapseWS(s string) string {
	var b strings.Builder
	ws := false
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '\t' {
			if !ws {
				b.WriteByte(' ')
			}
			ws = true
			continue
		}
		ws = false
		b.WriteByte(s[i])
	}
	return b.String()
}

// commentEnd returns the index after a "(...)" comment (no nesting, \
// escapes) starting at i, or -1.
func commentEnd(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '(':
			return -1
		case ')':
			return j + 1
		}
	}
	return -1
}

// angleEnd returns the index after "<...>" starting at i (quoted strings
// and [literals] may hold '<'), or -1.
func angleEnd(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '>':
			return j + 1
		case '<', '\\', ']':
			return -1
		case '"', '[':
			close := byte('"')
			if s[j] == '[' {
				close = ']'
			}
			k := j + 1
			for ; k < len(s) && s[k] != close; k++ {
				if s[k] == '\\' {
					k++
				} else if s[k] == '>' && close == '"' {
					return -1
				}
			}
			if k >= len(s) {
				return -1
			}
			j = k
		}
	}
	return -1
}

// ISOWeek is amavis's iso8601_week: the ISO 8601 week number (1..53) of t
// in t's location (amavis uses local time: pass t.Local()). A common
// $sql_partition_tag.
func ISOWeek(t time.Time) int64 {
	_, w := t.ISOWeek()
	return int64(w)
}

// ISOYearWeek is amavis's iso8601_yearweek: year*100 + week, e.g. 202423.
func ISOYearWeek(t time.Time) int64 {
	y, w := t.ISOWeek()
	return int64(y*100 + w)
}

// ISOWeekday is amavis's iso8601_weekday: 1 (Monday) .. 7 (Sunday).
func ISOWeekday(t time.Time) int64 {
	return int64((int(t.Weekday())+6)%7 + 1)
}

// SQLQuarantineLocation is what amavis logs and stores (msgs.quar_loc) for
// a message quarantined to SQL: the mail_id, with "[partition_tag]" appended
// unless the tag is 0.
func SQLQuarantineLocation(mailID string, ptag int64) string {
	if ptag == 0 {
		return mailID
	}
	return mailID + "[" + strconv.FormatInt(ptag, 10) + "]"
}

// ParseSQLQuarantineLocation splits "mail_id[ptag]" (amavisd-release's
// form) into mail_id and partition tag; hasTag is false without brackets.
func ParseSQLQuarantineLocation(loc string) (mailID string, ptag int64, hasTag bool) {
	if strings.HasSuffix(loc, "]") {
		if i := strings.LastIndexByte(loc, '['); i > 0 {
			if n, err := strconv.ParseInt(loc[i+1:len(loc)-1], 10, 64); err == nil {
				return loc[:i], n, true
			}
		}
	}
	return loc, 0, false
}
