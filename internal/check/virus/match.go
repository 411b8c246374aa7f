package virus

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Match is an @av_scanners "clean" or "infected" test: a list of exit
// statuses, or a regexp matched against the output. A nil *Match is amavis's
// undef: never matches (for "clean": the scanner's clean answer is
// inconclusive).
type Match struct {
	Codes []int
	Re    *regexp.Regexp
}

// Codes returns a Match on exit statuses.
func Codes(codes ...int) *Match { return &Match{Codes: codes} }

// Output returns a Match on the output (Perl-style pattern, see
// CompilePattern; amavis's qr/.../m entries are multi-line).
func Output(perl string) (*Match, error) {
	p, err := CompilePattern(perl)
	if err != nil {
		return nil, err
	}
	if len(p.Exclude) > 0 {
		return nil, fmt.Errorf("virus: pattern %q: negative lookahead only supported in virus-name patterns", perl)
	}
	return &Match{Re: p.Re}, nil
}

// MustOutput is Output for patterns known to compile.
func MustOutput(perl string) *Match {
	m, err := Output(perl)
	if err != nil {
		panic(err)
	}
	return m
}

func (m *Match) matches(status int, output string) bool {
	if m == nil {
		return false
	}
	if m.Re != nil {
		return m.Re.MatchString(output)
	}
	return slices.Contains(m.Codes, status)
}

// NamePattern extracts virus names from scanner output: every match's first
// non-empty capture group (amavis applies the regexp with /gm). Captures
// starting with one of Exclude are dropped: that is how the Perl negative
// lookahead in amavis's ClamAV patterns, "(?!Infected Archive)", is carried
// over to Go's RE2, which has no lookahead.
type NamePattern struct {
	Re      *regexp.Regexp
	Exclude []string
}

// Names returns the virus names in output.
func (p *NamePattern) Names(output string) []string {
	if p == nil || p.Re == nil {
		return nil
	}
	var names []string
	for _, m := range p.Re.FindAllStringSubmatch(output, -1) {
		for _, g := range m[1:] {
			if g == "" {
				continue
			}
			if !slices.ContainsFunc(p.Exclude, func(x string) bool { return strings.HasPrefix(g, x) }) {
				names = append(names, g)
			}
			break
		}
	}
	return names
}

// CompilePattern compiles an amavis (Perl) regexp for Go: either bare or in
// qr/.../flags or m{...}flags form. Flags i, m, s carry over; x is applied
// by removing unescaped whitespace and comments; a negative lookahead of a
// literal, "(?!Infected Archive)", becomes NamePattern.Exclude. Other Perl
// features RE2 lacks (backreferences, lookbehind) are errors.
func CompilePattern(perl string) (*NamePattern, error) {
	body, flags := splitQR(perl)
	// leading inline flags, "(?x)^\s* ...", join the qr// ones
	if m := inlineFlags.FindStringSubmatch(body); m != nil {
		flags += m[1]
		body = body[len(m[0]):]
	}
	if strings.Contains(flags, "x") {
		body = stripExtended(body)
		flags = strings.ReplaceAll(flags, "x", "")
	}
	var exclude []string
	for {
		i := strings.Index(body, "(?!")
		if i < 0 {
			break
		}
		j := strings.IndexByte(body[i:], ')')
		if j < 0 {
			return nil, fmt.Errorf("virus: pattern %q: unterminated (?!", perl)
		}
		lit := body[i+3 : i+j]
		unq := strings.NewReplacer(`\ `, " ", `\.`, ".", `\-`, "-").Replace(lit)
		if strings.ContainsAny(unq, `\.*+?()[]{}|^$`) {
			return nil, fmt.Errorf("virus: pattern %q: negative lookahead of a non-literal is not supported", perl)
		}
		exclude = append(exclude, unq)
		body = body[:i] + body[i+j+1:]
	}
	var goFlags string
	for _, f := range flags {
		switch f {
		case 'i', 'm', 's':
			goFlags += string(f)
		case 'g', 'o':
		default:
			return nil, fmt.Errorf("virus: pattern %q: flag %q not supported", perl, f)
		}
	}
	if goFlags != "" {
		body = "(?" + goFlags + ")" + body
	}
	re, err := regexp.Compile(body)
	if err != nil {
		return nil, fmt.Errorf("virus: pattern %q: %w", perl, err)
	}
	return &NamePattern{Re: re, Exclude: exclude}, nil
}

// MustPattern is CompilePattern for patterns known to compile.
func MustPattern(perl string) *NamePattern {
	p, err := CompilePattern(perl)
	if err != nil {
		panic(err)
	}
	return p
}

var inlineFlags = regexp.MustCompile(`^\(\?([a-z]+)\)`)

// splitQR takes a pattern out of qr/…/flags, m{…}flags and the like.
func splitQR(s string) (body, flags string) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, "qr")
	if !ok {
		rest, ok = strings.CutPrefix(s, "m")
	}
	if !ok || len(rest) < 2 {
		return s, ""
	}
	open := rest[0]
	closer := map[byte]byte{'{': '}', '(': ')', '[': ']', '<': '>'}[open]
	if closer == 0 {
		if open == ' ' || open == '_' || (open >= 'a' && open <= 'z') || (open >= 'A' && open <= 'Z') || (open >= '0' && open <= '9') {
			return s, ""
		}
		closer = open
	}
	end := strings.LastIndexByte(rest, closer)
	if end <= 0 {
		return s, ""
	}
	flags = rest[end+1:]
	for _, f := range flags {
		if f < 'a' || f > 'z' {
			return s, ""
		}
	}
	return rest[1:end], flags
}

// stripExtended applies Perl's /x: unescaped whitespace and #-comments
// outside character classes are removed.
func stripExtended(s string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			if s[i+1] != ' ' { // "\ " is a literal space; RE2 has no such escape
				b.WriteByte(c)
			}
			b.WriteByte(s[i+1])
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
