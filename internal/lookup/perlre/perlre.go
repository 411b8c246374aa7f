// Package perlre translates Perl regular expressions, as amavis
// configurations write them (qr'^\.(exe|com)$'i), into Go's RE2 syntax.
//
// We wrote our own translator instead of using a backtracking engine
// because RE2 runs in time linear in the input (a hostile file name or
// address can not make a lookup hang), and the Perl subset found in real
// amavis configurations maps onto RE2 almost one to one. What differs:
//
//   - flags: /i /m /s are kept; /x is applied here (whitespace and
//     #-comments dropped) since RE2 has no x flag; /o /g /a /u /l /d are
//     ignored; (?^flags:...) (how Perl stringifies a qr//) is understood.
//   - $ without /m matches at the end or before a final newline in Perl;
//     RE2's $ only at the very end. We emit (?:\n?\z) so "evil.exe\n" still
//     matches \.exe$ as it does in amavis.
//   - \Z becomes (?:\n?\z); \h \v \R \e \cX \N \o{..} octal and \N{U+..}
//     are spelled out; \Q..\E is quoted; (?#...) comments are dropped and
//     returned (amavis shows them in banning reasons).
//   - unknown escapes of letters and digits that Perl reads as literals are
//     made literal.
//
// Constructs with no RE2 equivalent are refused with an error naming the
// construct: look-around (?= (?! (?<= (?<!, back-references \1 \g{1}
// \k<n>, atomic groups (?>, possessive quantifiers *+ ++ ?+ }+, \G, \K,
// conditionals (?(, recursion (?R) (?1), branch reset (?|, case
// modifiers \l \u \L \U and embedded code (?{ }).
package perlre

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrUnsupported is wrapped by errors for Perl constructs RE2 lacks.
var ErrUnsupported = errors.New("unsupported Perl regexp construct")

// MaxPatternLen bounds the pattern length accepted (the translation of a
// hostile pattern must stay small).
const MaxPatternLen = 64 << 10

// Translation is the result of translating a Perl pattern.
type Translation struct {
	RE2      string   // the pattern in Go regexp syntax
	Comments []string // texts of (?#...) comments, in order
}

// Compile translates a Perl pattern with its trailing flags (the letters
// after the closing delimiter of qr//, e.g. "i") and compiles it.
func Compile(pattern, flags string) (*regexp.Regexp, error) {
	t, err := Translate(pattern, flags)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(t.RE2)
	if err != nil {
		return nil, fmt.Errorf("perl regexp %q: %w", pattern, err)
	}
	return re, nil
}

// MustCompile is Compile that panics; for patterns in Go source.
func MustCompile(pattern, flags string) *regexp.Regexp {
	re, err := Compile(pattern, flags)
	if err != nil {
		panic(err)
	}
	return re
}

// ParseQR splits a Perl regexp literal — qr/.../flags, qr'...'flags,
// qr{...}flags (any delimiter; bracketing pairs () [] {} <> nest), m/.../
// or a bare /.../ — into pattern and flags. Escaped delimiters stay
// escaped in the pattern, as Perl hands them to the regexp engine.
func ParseQR(lit string) (pattern, flags string, err error) {
	s := strings.TrimSpace(lit)
	switch {
	case strings.HasPrefix(s, "qr"):
		s = strings.TrimLeft(s[2:], " \t\r\n")
	case strings.HasPrefix(s, "m") && len(s) > 1 && !isWordByte(s[1]):
		s = strings.TrimLeft(s[1:], " \t\r\n")
	case strings.HasPrefix(s, "/"):
	default:
		return "", "", fmt.Errorf("not a Perl regexp literal: %q", lit)
	}
	if s == "" {
		return "", "", fmt.Errorf("perl regexp literal %q: missing delimiter", lit)
	}
	open := s[0]
	if isWordByte(open) || open == ' ' || open == '\t' || open == '\\' {
		return "", "", fmt.Errorf("perl regexp literal %q: bad delimiter %q", lit, open)
	}
	closer := open
	switch open {
	case '(':
		closer = ')'
	case '[':
		closer = ']'
	case '{':
		closer = '}'
	case '<':
		closer = '>'
	}
	depth := 0
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
		case c == closer && depth == 0:
			flags = s[i+1:]
			for _, f := range flags {
				if !strings.ContainsRune("msixpodualngc", f) {
					return "", "", fmt.Errorf("perl regexp literal %q: unknown flag %q", lit, f)
				}
			}
			return s[1:i], flags, nil
		case c == closer:
			depth--
		case c == open && closer != open:
			depth++
		}
	}
	return "", "", fmt.Errorf("perl regexp literal %q: missing closing delimiter %q", lit, closer)
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// mode is the set of flags in effect in a group.
type mode struct {
	x, m bool
}

type translator struct {
	src      string
	pos      int
	out      strings.Builder
	comments []string
	stack    []mode
	cur      mode
	groups   int  // capturing groups opened so far
	atomOK   bool // the last emitted item can take a quantifier
	lastQuan bool // the last emitted item was a quantifier
}

func unsupported(pattern string, pos int, what string) error {
	return fmt.Errorf("perl regexp %q at offset %d: %s: %w (RE2 has no equivalent)", pattern, pos, what, ErrUnsupported)
}

// Translate converts a Perl pattern with flags into RE2 syntax.
func Translate(pattern, flags string) (Translation, error) {
	if len(pattern) > MaxPatternLen {
		return Translation{}, fmt.Errorf("perl regexp too long (%d bytes, max %d)", len(pattern), MaxPatternLen)
	}
	if !utf8.ValidString(pattern) {
		return Translation{}, fmt.Errorf("perl regexp %q: not valid UTF-8", pattern)
	}
	t := &translator{src: pattern}
	var lead strings.Builder
	for _, f := range flags {
		switch f {
		case 'i', 's':
			lead.WriteRune(f)
		case 'm':
			lead.WriteRune(f)
			t.cur.m = true
		case 'x':
			t.cur.x = true
		case 'o', 'g', 'a', 'u', 'l', 'd', 'p', 'c':
			// no effect on matching a single key
		case 'n':
			return Translation{}, unsupported(pattern, 0, "flag /n (no capture)")
		default:
			return Translation{}, fmt.Errorf("perl regexp %q: unknown flag %q", pattern, f)
		}
	}
	if lead.Len() > 0 {
		t.out.WriteString("(?" + lead.String() + ")")
	}
	if err := t.run(); err != nil {
		return Translation{}, err
	}
	return Translation{RE2: t.out.String(), Comments: t.comments}, nil
}

func (t *translator) emitAtom(s string) {
	t.out.WriteString(s)
	t.atomOK = true
	t.lastQuan = false
}

func (t *translator) emitNonAtom(s string) {
	t.out.WriteString(s)
	t.atomOK = false
	t.lastQuan = false
}

func (t *translator) run() error {
	src := t.src
	for t.pos < len(src) {
		c := src[t.pos]
		switch {
		case t.cur.x && (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'):
			t.pos++
		case t.cur.x && c == '#':
			for t.pos < len(src) && src[t.pos] != '\n' {
				t.pos++
			}
		case c == '\\':
			if err := t.escape(false); err != nil {
				return err
			}
		case c == '[':
			if err := t.class(); err != nil {
				return err
			}
		case c == '(':
			if err := t.group(); err != nil {
				return err
			}
		case c == ')':
			if len(t.stack) == 0 {
				return fmt.Errorf("perl regexp %q at offset %d: unmatched )", src, t.pos)
			}
			t.cur = t.stack[len(t.stack)-1]
			t.stack = t.stack[:len(t.stack)-1]
			t.pos++
			t.emitAtom(")")
		case c == '$':
			t.pos++
			if t.cur.m {
				t.emitNonAtom("$")
			} else {
				t.emitNonAtom(`(?:\n?\z)`)
			}
		case c == '^' || c == '|':
			t.pos++
			t.emitNonAtom(string(c))
		case c == '*' || c == '+' || c == '?':
			if err := t.quantifier(string(c), t.pos+1); err != nil {
				return err
			}
		case c == '{':
			if end, ok := braceQuantifier(src, t.pos); ok {
				if err := t.quantifier(src[t.pos:end], end); err != nil {
					return err
				}
			} else {
				t.pos++
				t.emitAtom(`\{`)
			}
		case c == '}':
			t.pos++
			t.emitAtom(`\}`)
		default:
			_, size := utf8.DecodeRuneInString(src[t.pos:])
			t.emitAtom(src[t.pos : t.pos+size])
			t.pos += size
		}
	}
	if len(t.stack) != 0 {
		return fmt.Errorf("perl regexp %q: missing )", src)
	}
	return nil
}

// braceQuantifier reports whether src[i:] starts with {n}, {n,} or {n,m}
// and returns the index after it.
func braceQuantifier(src string, i int) (int, bool) {
	j := i + 1
	digits := func() int {
		k := j
		for j < len(src) && src[j] >= '0' && src[j] <= '9' {
			j++
		}
		return j - k
	}
	if digits() == 0 {
		return 0, false
	}
	if j < len(src) && src[j] == ',' {
		j++
		digits()
	}
	if j < len(src) && src[j] == '}' {
		return j + 1, true
	}
	return 0, false
}

// quantifier emits q (*, +, ?, {n,m}) and an optional lazy '?' after it;
// possessive '+' is refused.
func (t *translator) quantifier(q string, next int) error {
	if !t.atomOK {
		if t.lastQuan {
			return unsupported(t.src, t.pos, "nested quantifier "+strconv.Quote(q))
		}
		return fmt.Errorf("perl regexp %q at offset %d: quantifier %q follows nothing", t.src, t.pos, q)
	}
	t.pos = next
	t.out.WriteString(q)
	if t.pos < len(t.src) {
		switch t.src[t.pos] {
		case '?':
			t.out.WriteByte('?')
			t.pos++
		case '+':
			return unsupported(t.src, t.pos, "possessive quantifier "+strconv.Quote(q+"+"))
		}
	}
	t.atomOK = false
	t.lastQuan = true
	return nil
}

// group handles everything that starts with '('.
func (t *translator) group() error {
	src := t.src
	start := t.pos
	rest := src[t.pos:]
	push := func(m mode) {
		t.stack = append(t.stack, t.cur)
		t.cur = m
	}
	if !strings.HasPrefix(rest, "(?") && !strings.HasPrefix(rest, "(*") {
		t.groups++
		push(t.cur)
		t.pos++
		t.emitNonAtom("(")
		return nil
	}
	if strings.HasPrefix(rest, "(*") {
		return unsupported(src, start, "verb or alpha assertion "+strconv.Quote(prefix(rest, 6)))
	}
	body := rest[2:]
	switch {
	case strings.HasPrefix(body, "#"):
		end := strings.IndexByte(body, ')')
		if end < 0 {
			return fmt.Errorf("perl regexp %q at offset %d: unterminated (?# comment", src, start)
		}
		t.comments = append(t.comments, body[1:end])
		t.pos += 2 + end + 1
		return nil
	case strings.HasPrefix(body, ":"):
		push(t.cur)
		t.pos += 3
		t.emitNonAtom("(?:")
		return nil
	case strings.HasPrefix(body, "="), strings.HasPrefix(body, "!"):
		return unsupported(src, start, "look-ahead "+strconv.Quote(prefix(rest, 3)))
	case strings.HasPrefix(body, "<="), strings.HasPrefix(body, "<!"):
		return unsupported(src, start, "look-behind "+strconv.Quote(prefix(rest, 4)))
	case strings.HasPrefix(body, ">"):
		return unsupported(src, start, "atomic group (?>")
	case strings.HasPrefix(body, "|"):
		return unsupported(src, start, "branch reset (?|")
	case strings.HasPrefix(body, "("):
		return unsupported(src, start, "conditional (?(")
	case strings.HasPrefix(body, "{"), strings.HasPrefix(body, "?{"), strings.HasPrefix(body, "??{"):
		return unsupported(src, start, "embedded code")
	case strings.HasPrefix(body, "R"), strings.HasPrefix(body, "&"), strings.HasPrefix(body, "P>"),
		len(body) > 0 && (body[0] >= '0' && body[0] <= '9' || body[0] == '+' || body[0] == '-' && len(body) > 1 && body[1] >= '0' && body[1] <= '9'):
		return unsupported(src, start, "recursion "+strconv.Quote(prefix(rest, 4)))
	case strings.HasPrefix(body, "P="):
		return unsupported(src, start, "named back-reference (?P=")
	case strings.HasPrefix(body, "<"), strings.HasPrefix(body, "P<"), strings.HasPrefix(body, "'"):
		var name, term string
		n := 0
		switch {
		case body[0] == '<':
			term, n = ">", 1
		case body[0] == '\'':
			term, n = "'", 1
		default:
			term, n = ">", 2
		}
		end := strings.Index(body[n:], term)
		if end < 0 {
			return fmt.Errorf("perl regexp %q at offset %d: unterminated group name", src, start)
		}
		name = body[n : n+end]
		t.groups++
		push(t.cur)
		t.pos += 2 + n + end + 1
		t.emitNonAtom("(?P<" + name + ">")
		return nil
	}
	// flag group: (?flags) (?flags:...) (?^flags:...) (?flags-flags...)
	i := 0
	caret := false
	if i < len(body) && body[i] == '^' {
		caret = true
		i++
	}
	on, off := "", ""
	neg := false
	nm := t.cur
	if caret {
		nm = mode{}
	}
	for ; i < len(body) && body[i] != ')' && body[i] != ':'; i++ {
		f := body[i]
		switch f {
		case '-':
			if neg || caret {
				return fmt.Errorf("perl regexp %q at offset %d: bad flag group", src, start)
			}
			neg = true
			continue
		case 'i', 's', 'm':
			if neg {
				off += string(f)
			} else {
				on += string(f)
			}
			if f == 'm' {
				nm.m = !neg
			}
		case 'x':
			nm.x = !neg
		case 'a', 'u', 'l', 'd', 'o', 'p':
		case 'n':
			return unsupported(src, start, "flag n (no capture)")
		default:
			return fmt.Errorf("perl regexp %q at offset %d: unknown group flag %q", src, start, f)
		}
	}
	if i >= len(body) {
		return fmt.Errorf("perl regexp %q at offset %d: unterminated group", src, start)
	}
	if caret {
		// (?^ resets to defaults: i, m, s off unless given.
		for _, f := range "ims" {
			if !strings.ContainsRune(on, f) {
				off += string(f)
			}
		}
	}
	flagText := on
	if off != "" {
		flagText += "-" + off
	}
	t.pos += 2 + i + 1
	if body[i] == ')' {
		// (?flags) applies to the rest of the enclosing group.
		t.cur = nm
		if flagText != "" {
			t.emitNonAtom("(?" + flagText + ")")
		}
		return nil
	}
	push(nm)
	if flagText != "" {
		t.emitNonAtom("(?" + flagText + ":")
	} else {
		t.emitNonAtom("(?:")
	}
	return nil
}

func prefix(s string, n int) string {
	if len(s) < n {
		return s
	}
	return s[:n]
}

// escape handles a backslash sequence at t.pos, outside (inClass false) or
// inside a character class; it emits RE2 text.
func (t *translator) escape(inClass bool) error {
	src := t.src
	start := t.pos
	if t.pos+1 >= len(src) {
		return fmt.Errorf("perl regexp %q: trailing backslash", src)
	}
	c := src[t.pos+1]
	t.pos += 2
	emit := func(s string) {
		if inClass {
			t.out.WriteString(s)
		} else {
			t.emitAtom(s)
		}
	}
	switch c {
	case 'd', 'D', 'w', 'W', 's', 'S', 'n', 't', 'r', 'f', 'a':
		emit(`\` + string(c))
	case 'b', 'B':
		if inClass {
			if c == 'b' {
				t.out.WriteString(`\x08`)
				return nil
			}
			return fmt.Errorf("perl regexp %q at offset %d: \\B in a character class", src, start)
		}
		t.emitNonAtom(`\` + string(c))
	case 'A':
		if inClass {
			emit("A")
			return nil
		}
		t.emitNonAtom(`\A`)
	case 'z':
		if inClass {
			emit("z")
			return nil
		}
		t.emitNonAtom(`\z`)
	case 'Z':
		if inClass {
			emit("Z")
			return nil
		}
		t.emitNonAtom(`(?:\n?\z)`)
	case 'h':
		if inClass {
			t.out.WriteString(`\t \x{A0}`)
		} else {
			t.emitAtom(`[\t \x{A0}]`)
		}
	case 'H':
		if inClass {
			return unsupported(src, start, `\H in a character class`)
		}
		t.emitAtom(`[^\t \x{A0}]`)
	case 'v':
		if inClass {
			t.out.WriteString(`\n\x0B\f\r\x{85}\x{2028}\x{2029}`)
		} else {
			t.emitAtom(`[\n\x0B\f\r\x{85}\x{2028}\x{2029}]`)
		}
	case 'V':
		if inClass {
			return unsupported(src, start, `\V in a character class`)
		}
		t.emitAtom(`[^\n\x0B\f\r\x{85}\x{2028}\x{2029}]`)
	case 'R':
		if inClass {
			return fmt.Errorf("perl regexp %q at offset %d: \\R in a character class", src, start)
		}
		t.emitAtom(`(?:\r\n|[\n\x0B\f\r\x{85}\x{2028}\x{2029}])`)
	case 'e':
		emit(`\x1B`)
	case 'c':
		if t.pos >= len(src) {
			return fmt.Errorf("perl regexp %q: \\c at end", src)
		}
		ch := src[t.pos]
		t.pos++
		if ch >= 'a' && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		emit(fmt.Sprintf(`\x{%X}`, ch^0x40))
	case 'x':
		if t.pos < len(src) && src[t.pos] == '{' {
			end := strings.IndexByte(src[t.pos:], '}')
			if end < 0 {
				return fmt.Errorf("perl regexp %q at offset %d: unterminated \\x{", src, start)
			}
			hex := strings.TrimSpace(src[t.pos+1 : t.pos+end])
			t.pos += end + 1
			v, err := strconv.ParseUint(strings.ReplaceAll(hex, "_", ""), 16, 32)
			if hex == "" {
				v, err = 0, nil
			}
			if err != nil || v > utf8.MaxRune {
				return fmt.Errorf("perl regexp %q at offset %d: bad \\x{%s}", src, start, hex)
			}
			emit(fmt.Sprintf(`\x{%X}`, v))
			return nil
		}
		// \x, \xH, \xHH
		n := 0
		v := 0
		for n < 2 && t.pos < len(src) && isHex(src[t.pos]) {
			v = v*16 + hexVal(src[t.pos])
			t.pos++
			n++
		}
		emit(fmt.Sprintf(`\x{%X}`, v))
	case 'o':
		if t.pos >= len(src) || src[t.pos] != '{' {
			return fmt.Errorf("perl regexp %q at offset %d: \\o needs {", src, start)
		}
		end := strings.IndexByte(src[t.pos:], '}')
		if end < 0 {
			return fmt.Errorf("perl regexp %q at offset %d: unterminated \\o{", src, start)
		}
		oct := src[t.pos+1 : t.pos+end]
		t.pos += end + 1
		v, err := strconv.ParseUint(oct, 8, 32)
		if err != nil || v > utf8.MaxRune {
			return fmt.Errorf("perl regexp %q at offset %d: bad \\o{%s}", src, start, oct)
		}
		emit(fmt.Sprintf(`\x{%X}`, v))
	case '0':
		v := 0
		for n := 0; n < 2 && t.pos < len(src) && src[t.pos] >= '0' && src[t.pos] <= '7'; n++ {
			v = v*8 + int(src[t.pos]-'0')
			t.pos++
		}
		emit(fmt.Sprintf(`\x{%X}`, v))
	case '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if inClass {
			// octal in a class, as Perl reads it
			j := t.pos - 1
			v := 0
			n := 0
			for n < 3 && j < len(src) && src[j] >= '0' && src[j] <= '7' {
				v = v*8 + int(src[j]-'0')
				j++
				n++
			}
			if n == 0 {
				t.out.WriteString(regexp.QuoteMeta(string(c)))
				return nil
			}
			t.pos = j
			t.out.WriteString(fmt.Sprintf(`\x{%X}`, v))
			return nil
		}
		// \1..\9 are back-references; \10 and up too when that many
		// groups exist, else up to three octal digits (Perl's rule)
		j := t.pos - 1
		for j < len(src) && j < t.pos+2 && src[j] >= '0' && src[j] <= '9' {
			j++
		}
		num, _ := strconv.Atoi(src[t.pos-1 : j])
		if j-(t.pos-1) >= 2 && num > t.groups && c <= '7' {
			v, k := 0, t.pos-1
			for k < j && src[k] <= '7' {
				v = v*8 + int(src[k]-'0')
				k++
			}
			t.pos = k
			emit(fmt.Sprintf(`\x{%X}`, v))
			return nil
		}
		return unsupported(src, start, "back-reference \\"+src[t.pos-1:j])
	case 'g':
		return unsupported(src, start, `back-reference \g`)
	case 'k':
		return unsupported(src, start, `named back-reference \k`)
	case 'G':
		return unsupported(src, start, `\G`)
	case 'K':
		return unsupported(src, start, `\K`)
	case 'X':
		return unsupported(src, start, `\X (extended grapheme cluster)`)
	case 'l', 'u', 'L', 'U', 'F':
		return unsupported(src, start, "case modifier \\"+string(c))
	case 'N':
		if t.pos < len(src) && src[t.pos] == '{' {
			end := strings.IndexByte(src[t.pos:], '}')
			if end < 0 {
				return fmt.Errorf("perl regexp %q at offset %d: unterminated \\N{", src, start)
			}
			name := src[t.pos+1 : t.pos+end]
			t.pos += end + 1
			if !strings.HasPrefix(name, "U+") {
				return unsupported(src, start, "named character \\N{"+name+"}")
			}
			v, err := strconv.ParseUint(name[2:], 16, 32)
			if err != nil || v > utf8.MaxRune {
				return fmt.Errorf("perl regexp %q at offset %d: bad \\N{%s}", src, start, name)
			}
			emit(fmt.Sprintf(`\x{%X}`, v))
			return nil
		}
		if inClass {
			return fmt.Errorf("perl regexp %q at offset %d: \\N in a character class", src, start)
		}
		t.emitAtom(`[^\n]`)
	case 'p', 'P':
		// \pL, \p{Name}: RE2 knows the common ones; let it judge.
		if t.pos < len(src) && src[t.pos] == '{' {
			end := strings.IndexByte(src[t.pos:], '}')
			if end < 0 {
				return fmt.Errorf("perl regexp %q at offset %d: unterminated \\%c{", src, start, c)
			}
			emit(src[start : t.pos+end+1])
			t.pos += end + 1
			return nil
		}
		if t.pos >= len(src) {
			return fmt.Errorf("perl regexp %q: \\%c at end", src, c)
		}
		emit(src[start : t.pos+1])
		t.pos++
	case 'Q':
		end := strings.Index(src[t.pos:], `\E`)
		lit := ""
		if end < 0 {
			lit = src[t.pos:]
			t.pos = len(src)
		} else {
			lit = src[t.pos : t.pos+end]
			t.pos += end + 2
		}
		if lit == "" {
			return nil
		}
		if inClass {
			for _, r := range lit {
				t.out.WriteString(classLiteral(r))
			}
			return nil
		}
		// quote as one atom so a following quantifier applies to the
		// last character only, as in Perl
		_, size := utf8.DecodeLastRuneInString(lit)
		t.out.WriteString(regexp.QuoteMeta(lit[:len(lit)-size]))
		t.emitAtom(regexp.QuoteMeta(lit[len(lit)-size:]))
	case 'E':
		// stray \E: ignored by Perl
	default:
		r, size := utf8.DecodeRuneInString(src[start+1:])
		t.pos = start + 1 + size
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			// unknown letter escape: Perl takes the letter literally
			if inClass {
				t.out.WriteString(classLiteral(r))
			} else {
				t.emitAtom(regexp.QuoteMeta(string(r)))
			}
			return nil
		}
		if inClass {
			t.out.WriteString(classLiteral(r))
		} else {
			t.emitAtom(regexp.QuoteMeta(string(r)))
		}
	}
	return nil
}

func classLiteral(r rune) string {
	switch r {
	case '\\', ']', '[', '^', '-':
		return `\` + string(r)
	}
	if r < 0x20 || r == 0x7F {
		return fmt.Sprintf(`\x{%X}`, r)
	}
	return string(r)
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	default:
		return int(c-'A') + 10
	}
}

// class translates a bracketed character class starting at t.pos.
func (t *translator) class() error {
	src := t.src
	start := t.pos
	t.pos++ // [
	t.out.WriteByte('[')
	if t.pos < len(src) && src[t.pos] == '^' {
		t.out.WriteByte('^')
		t.pos++
	}
	first := true
	for {
		if t.pos >= len(src) {
			return fmt.Errorf("perl regexp %q at offset %d: unterminated character class", src, start)
		}
		c := src[t.pos]
		switch {
		case c == ']' && !first:
			t.pos++
			t.out.WriteByte(']')
			t.atomOK = true
			t.lastQuan = false
			return nil
		case c == ']':
			t.pos++
			t.out.WriteString(`\]`)
		case c == '\\':
			if err := t.escape(true); err != nil {
				return err
			}
		case c == '[':
			// POSIX class [:name:] (also [:^name:]); else a literal '['
			if t.pos+1 < len(src) && (src[t.pos+1] == ':' || src[t.pos+1] == '=' || src[t.pos+1] == '.') {
				delim := src[t.pos+1]
				end := strings.Index(src[t.pos+2:], string(delim)+"]")
				if end >= 0 {
					if delim != ':' {
						return unsupported(src, t.pos, "POSIX collating element")
					}
					t.out.WriteString(src[t.pos : t.pos+2+end+2])
					t.pos += 2 + end + 2
					break
				}
			}
			t.out.WriteString(`\[`)
			t.pos++
		default:
			r, size := utf8.DecodeRuneInString(src[t.pos:])
			t.pos += size
			if r == '-' {
				t.out.WriteByte('-')
			} else {
				t.out.WriteString(classLiteral(r))
			}
		}
		first = false
	}
}
