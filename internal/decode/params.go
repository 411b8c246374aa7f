package decode

import (
	"mime"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding/charmap"
)

// param is one parameter of a structured MIME header field, as written.
// Every occurrence is kept: filename="a.txt"; filename="b.exe" yields two.
type param struct {
	name  string // lower-cased attribute name, including any RFC 2231 "*0*" suffix
	value string // unquoted value, backslash escapes resolved
}

// parseStructured splits a Content-Type / Content-Disposition value into its
// lower-cased main token and every parameter. It never fails: it recovers
// from unquoted spaces, a missing closing quote, stray semicolons, comments
// and duplicates, and reports what it had to forgive in errs.
func parseStructured(v string) (token string, params []param, errs []string) {
	v = strings.TrimSpace(v)
	i := 0
	// main token: up to ';' (or whitespace followed by something that looks
	// like a parameter, for the "text/plain name=x" case)
	for i < len(v) && v[i] != ';' {
		i++
	}
	if sp := strings.IndexAny(v[:i], " \t"); sp >= 0 && strings.Contains(v[sp:i], "=") {
		// "text/plain name=x": the ';' is missing
		errs = append(errs, "missing ';' after media type")
		v = v[:sp] + ";" + v[sp:]
		i = sp
	}
	token = strings.ToLower(strings.TrimSpace(stripComments(v[:i])))
	if sp := strings.IndexAny(token, " \t"); sp >= 0 {
		token = token[:sp]
	}
	for i < len(v) {
		if v[i] == ';' || v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n' {
			i++
			continue
		}
		if v[i] == '(' {
			i = skipComment(v, i)
			continue
		}
		// attribute
		j := i
		for j < len(v) && v[j] != '=' && v[j] != ';' {
			j++
		}
		name := strings.ToLower(strings.TrimSpace(v[i:j]))
		if j >= len(v) || v[j] == ';' {
			if name != "" {
				errs = append(errs, "parameter without value: "+clip(name, 40))
			}
			i = j
			continue
		}
		j++ // past '='
		for j < len(v) && (v[j] == ' ' || v[j] == '\t' || v[j] == '\r' || v[j] == '\n') {
			j++
		}
		var val strings.Builder
		if j < len(v) && v[j] == '"' {
			j++
			closed := false
			for j < len(v) {
				c := v[j]
				if c == '\\' && j+1 < len(v) {
					val.WriteByte(v[j+1])
					j += 2
					continue
				}
				if c == '"' {
					closed = true
					j++
					break
				}
				val.WriteByte(c)
				j++
			}
			if !closed {
				errs = append(errs, "unterminated quoted string in parameter "+clip(name, 40))
				// a missing closing quote: take the value up to the next ';'
				s := val.String()
				if k := strings.IndexByte(s, ';'); k >= 0 {
					j = j - len(s) + k
					val.Reset()
					val.WriteString(s[:k])
				}
			}
			// junk between the closing quote and ';' is ignored
			for j < len(v) && v[j] != ';' {
				j++
			}
		} else {
			k := j
			for k < len(v) && v[k] != ';' {
				k++
			}
			raw := strings.TrimSpace(stripComments(v[j:k]))
			if strings.ContainsAny(raw, " \t") && !strings.Contains(raw, "=?") {
				errs = append(errs, "unquoted whitespace in parameter "+clip(name, 40))
			}
			val.WriteString(raw)
			j = k
		}
		if name != "" {
			params = append(params, param{name: name, value: val.String()})
		}
		i = j
	}
	return token, params, errs
}

func skipComment(v string, i int) int {
	depth := 0
	for i < len(v) {
		switch v[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return i
}

func stripComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '(' {
			i = skipComment(s, i)
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// paramValues returns every value of attribute name (RFC 2231 aware): plain
// occurrences each, then continuations/extended values assembled. Each
// value comes decoded and, when different, raw — like amavis, which offers
// both forms to the banned-name rules.
func paramValues(params []param, name string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s == "" || seen[s] {
			return
		}
		seen[s] = true
		out = append(out, s)
	}
	type seg struct {
		n   int
		ext bool
		v   string
	}
	var segs []seg
	for _, p := range params {
		switch {
		case p.name == name:
			add(decodeWords(p.value))
			add(p.value)
		case p.name == name+"*":
			add(decode2231(p.value, true))
			add(p.value)
		case strings.HasPrefix(p.name, name+"*"):
			rest := p.name[len(name)+1:]
			ext := strings.HasSuffix(rest, "*")
			rest = strings.TrimSuffix(rest, "*")
			n, err := strconv.Atoi(rest)
			if err != nil || n < 0 || n > 999 {
				continue
			}
			segs = append(segs, seg{n, ext, p.value})
		}
	}
	if len(segs) > 0 {
		sort.SliceStable(segs, func(i, j int) bool { return segs[i].n < segs[j].n })
		var cs string
		var dec, raw strings.Builder
		used := map[int]bool{}
		var dups []string
		for _, s := range segs {
			if used[s.n] { // duplicate continuation: keep it as its own name
				dups = append(dups, s.v)
				continue
			}
			used[s.n] = true
			raw.WriteString(s.v)
			v := s.v
			if s.ext {
				if s.n == 0 {
					if p := strings.SplitN(v, "'", 3); len(p) == 3 {
						cs, v = p[0], p[2]
					}
				}
				if u, err := url.PathUnescape(strings.ReplaceAll(v, "+", "%2B")); err == nil {
					v = u
				}
			}
			dec.WriteString(v)
		}
		add(toUTF8(cs, dec.String()))
		add(raw.String())
		for _, d := range dups {
			add(d)
		}
	}
	return out
}

// decode2231 decodes a single extended value charset'lang'%XX.
func decode2231(v string, ext bool) string {
	if !ext {
		return v
	}
	p := strings.SplitN(v, "'", 3)
	if len(p) != 3 {
		return v
	}
	u, err := url.PathUnescape(strings.ReplaceAll(p[2], "+", "%2B"))
	if err != nil {
		u = p[2]
	}
	return toUTF8(p[0], u)
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// decodeWords decodes RFC 2047 encoded words anywhere in s (also where the
// RFC forbids them, inside quoted parameter values, as mailers write them).
// Undecodable words are left as they are; raw 8-bit text that is not UTF-8
// is read as Latin-1, as amavis does.
func decodeWords(s string) string {
	if strings.Contains(s, "=?") {
		if d, err := wordDecoder.DecodeHeader(s); err == nil {
			s = d
		}
	}
	if !utf8.ValidString(s) {
		s = latin1(s)
	}
	return s
}

func toUTF8(cs, s string) string {
	cs = strings.ToLower(strings.TrimSpace(cs))
	switch cs {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		if utf8.ValidString(s) {
			return s
		}
		return latin1(s)
	}
	r, err := charset.Reader(cs, strings.NewReader(s))
	if err != nil {
		if utf8.ValidString(s) {
			return s
		}
		return latin1(s)
	}
	var b strings.Builder
	buf := make([]byte, 512)
	for b.Len() < 4096 {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

func latin1(s string) string {
	out, err := charmap.ISO8859_1.NewDecoder().String(s)
	if err != nil {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return out
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
