package lookup

import (
	"context"
	"strconv"
	"strings"
)

// Hash is an amavis hash lookup table ({...} in a config, or read_hash).
// A key is searched with the key sequence of Rules.HashKeys; the first
// key present wins even when its value is undef (nil), in which case the
// lookup is not Found and the next table is tried. String values may use
// $1..$5 (full address, full local part, user, extension, domain).
type Hash struct {
	m     map[string]any
	rules Rules
	name  string
}

// NewHash returns a hash table over m (used as is: keys are compared
// exactly, as amavis does with hashes written in its config; use
// NormalizeHashKey or ReadHash for keys in amavis's file form). m must not
// be changed afterwards.
func NewHash(m map[string]any, rules Rules) *Hash {
	if m == nil {
		m = map[string]any{}
	}
	return &Hash{m: m, rules: rules}
}

// Named sets a label for logs and returns h.
func (h *Hash) Named(name string) *Hash { h.name = name; return h }

// Len is the number of keys.
func (h *Hash) Len() int { return len(h.m) }

func (h *Hash) String() string {
	s := "hash(" + strconv.Itoa(len(h.m)) + " keys)"
	if h.name != "" {
		s = h.name + ":" + s
	}
	return s
}

// Lookup implements Table.
func (h *Hash) Lookup(_ context.Context, key string) (Result, error) {
	if len(h.m) == 0 {
		return Result{}, nil
	}
	keys := h.rules.HashKeys(key)
	for _, k := range keys.List {
		if v, ok := h.m[k]; ok {
			return h.result(k, v, &keys), nil
		}
	}
	return Result{}, nil
}

// LookupAll implements AllTable: every key of the sequence present in the
// hash, in order.
func (h *Hash) LookupAll(_ context.Context, key string) ([]Result, error) {
	if len(h.m) == 0 {
		return nil, nil
	}
	keys := h.rules.HashKeys(key)
	var out []Result
	for _, k := range keys.List {
		if v, ok := h.m[k]; ok {
			out = append(out, h.result(k, v, &keys))
		}
	}
	return out, nil
}

func (h *Hash) result(k string, v any, keys *Keys) Result {
	if s, ok := v.(string); ok {
		v = substituteRHS(s, keys.RHS[:])
	}
	return Result{Found: v != nil, Value: v, Key: k, Table: h}
}

// NormalizeHashKey converts a key written in amavis's file form (RFC 5321
// quoting allowed, any case) into the internal form read_hash stores:
// unquoted local part, lower-cased unless the local part is case
// sensitive, domain lower-cased and in ASCII-compatible encoding. A key
// without '@' is a domain (or "" / "."): it is lower-cased and, when
// international, IDNA-encoded (amavis leaves non-ASCII domains without '@'
// unencoded, which can never match; we encode them).
func NormalizeHashKey(key string, rules Rules) string {
	local, domain := parseQuotedRFC5321(key)
	if domain == "" {
		if !rules.LocalpartCaseSensitive || isDomainLike(local) {
			return NormalizeDomain(local)
		}
		return local
	}
	if !rules.LocalpartCaseSensitive {
		local = asciiLower(local)
	}
	return local + NormalizeDomain(domain)
}

// isDomainLike reports whether a key without '@' is a domain key rather
// than a bare user name: it starts with '.' or contains one.
func isDomainLike(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return true
		}
	}
	return false
}

// parseQuotedRFC5321 splits an external (possibly quoted) address into an
// unquoted local part and the domain with its '@' (amavis
// parse_quoted_rfc2821 with unquoting): angle brackets and a source route
// are dropped; the split is at the first '@' after which no '@' follows
// outside address literals.
func parseQuotedRFC5321(addr string) (local, domain string) {
	s := trimSpaceASCII(addr)
	if len(s) > 0 && s[0] == '<' {
		s = trimSpaceASCII(s[1:])
	}
	if n := len(s); n > 0 && s[n-1] == '>' {
		s = trimSpaceASCII(s[:n-1])
	}
	s = stripSourceRoute(s)
	local, domain = splitQuoted(s)
	return unquoteLocal(local), domain
}

func trimSpaceASCII(s string) string {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'
}

// stripSourceRoute removes a source route "@a,@b:" in front of a mailbox.
func stripSourceRoute(s string) string {
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return s
	}
	route := strings.TrimLeft(s[:i], " \t")
	if route == "" || route[0] != '@' || strings.ContainsAny(route, "\"<>") {
		return s
	}
	return strings.TrimLeft(s[i+1:], " \t")
}

// splitQuoted splits at the first '@' followed by a valid domain tail
// (address literals in brackets may contain '@'), as the pattern of
// amavis's parse_quoted_rfc2821.
func splitQuoted(s string) (local, domain string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '@' && validDomainTailQuoted(s[i+1:]) {
			return s[:i], s[i:]
		}
	}
	return s, ""
}

// validDomainTailQuoted is validDomainTail with the literal rule of
// parse_quoted_rfc2821 (a literal must be closed).
func validDomainTailQuoted(s string) bool {
	for i := 0; i < len(s); {
		switch s[i] {
		case '@':
			return false
		case '[':
			j := i + 1
			for j < len(s) && s[j] != ']' {
				if s[j] == '\\' && j+1 < len(s) {
					j += 2
				} else {
					j++
				}
			}
			if j >= len(s) {
				// unclosed literal: '[' taken as an ordinary character
				i++
				continue
			}
			i = j + 1
		default:
			i++
		}
	}
	return true
}

// unquoteLocal removes double quotes and undoes quoted pairs.
func unquoteLocal(s string) string {
	if !containsAny(s, `"\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
		case '\\':
			if i+1 < len(s) {
				i++
				b = append(b, s[i])
			}
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func containsAny(s, chars string) bool {
	for i := 0; i < len(s); i++ {
		for j := 0; j < len(chars); j++ {
			if s[i] == chars[j] {
				return true
			}
		}
	}
	return false
}
