package lookup

import (
	"strings"

	"golang.org/x/net/idna"
)

// Rules are the amavis settings lookups depend on: how keys are built
// from an address ($recipient_delimiter, $localpart_is_case_sensitive) and
// whether trailing spaces are trimmed from string results read from files
// and SQL ($trim_trailing_space_in_lookup_result_fields).
type Rules struct {
	// Delimiter is $recipient_delimiter: the characters that start an
	// address extension ("+", or several such as "+-"); "" disables
	// extension keys.
	Delimiter string
	// LocalpartCaseSensitive is $localpart_is_case_sensitive: when false
	// (amavis's default) local parts are lower-cased in keys.
	LocalpartCaseSensitive bool
	// TrimTrailingSpace is $trim_trailing_space_in_lookup_result_fields
	// (default false).
	TrimTrailingSpace bool
}

// SplitAddress splits a raw (unquoted) address into the local part and the
// domain including its '@' ("" when there is no '@'), at the last '@' that
// is not inside an address literal, as amavis's split_address.
func SplitAddress(addr string) (localpart, domain string) {
	for i := 0; i < len(addr); i++ {
		if addr[i] == '@' && validDomainTail(addr[i+1:]) {
			return addr[:i], addr[i:]
		}
	}
	return addr, ""
}

// validDomainTail reports whether s (what follows an '@') has no further
// '@' outside address literals, with literals closed (or running to the
// end), as amavis's split_address pattern requires.
func validDomainTail(s string) bool {
	for i := 0; i < len(s); {
		switch s[i] {
		case '@':
			return false
		case '[':
			j, n := i+1, 0
			for j < len(s) && s[j] != ']' {
				if n >= 999 {
					return false
				}
				if s[j] == '\\' {
					if j+1 >= len(s) {
						return false
					}
					j += 2
				} else {
					j++
				}
				n++
			}
			if j >= len(s) {
				return true
			}
			i = j + 1
		default:
			i++
		}
	}
	return true
}

// SplitLocalpart splits a local part at the first delimiter character that
// is not its first character, returning the user and the extension with
// its delimiter ("" when none), as amavis's split_localpart: postmaster,
// mailer-daemon and double-bounce are never split, and with '-' among the
// delimiters neither are owner-* and *-request.
func SplitLocalpart(localpart, delimiter string) (user, ext string) {
	if delimiter == "" || localpart == "" {
		return localpart, ""
	}
	switch asciiLower(localpart) {
	case "postmaster", "mailer-daemon", "double-bounce":
		return localpart, ""
	}
	if strings.IndexByte(delimiter, '-') >= 0 {
		l := asciiLower(localpart)
		if len(l) > len("owner-") && strings.HasPrefix(l, "owner-") ||
			len(l) > len("-request") && strings.HasSuffix(l, "-request") {
			return localpart, ""
		}
	}
	if i := strings.IndexAny(localpart[1:], delimiter); i >= 0 {
		return localpart[:i+1], localpart[i+1:]
	}
	return localpart, ""
}

// asciiLower lower-cases ASCII letters only, as Perl's lc on octets does.
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

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// NormalizeDomain returns a domain as lookup keys use it: lower-cased and,
// for an international name, in ASCII-compatible encoding (IDNA ToASCII);
// a leading '.' or '@' is kept. A name IDNA rejects stays as given, as in
// amavis.
func NormalizeDomain(d string) string {
	if d == "" {
		return d
	}
	if isASCII(d) {
		return asciiLower(d)
	}
	prefix := ""
	if d[0] == '.' || d[0] == '@' {
		prefix, d = d[:1], d[1:]
	}
	if a, err := idna.Lookup.ToASCII(d); err == nil {
		d = asciiLower(a)
	}
	return prefix + d
}

// trimDomain strips a leading '@' and trailing dots, then normalizes.
func trimDomain(domain string) string {
	domain = strings.TrimPrefix(domain, "@")
	domain = strings.TrimRight(domain, ".")
	return NormalizeDomain(domain)
}

// Keys is the result of splitting an address for a lookup.
type Keys struct {
	// List is the ordered, duplicate-free list of keys to try.
	List []string
	// RHS are the replacement strings for $1..$5 in hash results: the full
	// address as given, the full local part as given, the user (folded
	// per the rules, without extension), the extension with its delimiter,
	// and the domain (lower-case, ASCII-compatible encoding).
	RHS [5]string
	// Domain is the normalized domain (RHS[4]).
	Domain string
}

// maxDomainKeys is amavis's sanity limit on ".sub.domain" keys.
const maxDomainKeys = 20

// HashKeys returns the keys a hash table is searched with for addr, in
// amavis order (make_query_keys with '@' on user keys and bare user keys):
// for "User+Foo@Sub.Example.COM" with delimiter "+": the address as given,
// "user+foo@sub.example.com", "user@sub.example.com", "user+foo@",
// "user@", "sub.example.com", ".sub.example.com", ".example.com", ".com",
// ".". The null address gives "", "@", ".".
func (r Rules) HashKeys(addr string) Keys {
	return r.queryKeys(addr, true, true)
}

// SQLKeys returns the keys %k expands to (make_query_keys as amavis's
// lookup_sql calls it): domain keys get a leading '@' and user keys none;
// bare user keys ("user+foo", "user") only when local is true. With
// noAtMeansDomain ($sql_lookups_no_at_means_domain) the keys are built as
// for a hash.
func (r Rules) SQLKeys(addr string, local, noAtMeansDomain bool) Keys {
	return r.queryKeys(addr, noAtMeansDomain, local)
}

func (r Rules) queryKeys(addr string, atWithUser, bareUser bool) Keys {
	localpart, domain := SplitAddress(addr)
	full := localpart
	if !r.LocalpartCaseSensitive {
		localpart = asciiLower(localpart)
	}
	domain = trimDomain(domain)
	ext := ""
	if r.Delimiter != "" {
		localpart, ext = SplitLocalpart(localpart, r.Delimiter)
	}
	userSuffix, domainPrefix := "@", ""
	if !atWithUser {
		userSuffix, domainPrefix = "", "@"
	}
	keys := make([]string, 0, 12)
	keys = append(keys, addr)
	if ext != "" {
		keys = append(keys, localpart+ext+"@"+domain)
	}
	keys = append(keys, localpart+"@"+domain)
	if bareUser {
		if ext != "" {
			keys = append(keys, localpart+ext+userSuffix)
		}
		keys = append(keys, localpart+userSuffix)
	}
	keys = append(keys, domainPrefix+domain)
	if strings.IndexByte(domain, '[') >= 0 {
		keys = append(keys, domainPrefix+".")
	} else {
		var dk []string
		d := domain
		for {
			dk = append(dk, domainPrefix+"."+d)
			if d == "" {
				break
			}
			if i := strings.IndexByte(d, '.'); i >= 0 {
				d = d[i+1:]
			} else {
				d = ""
			}
		}
		if len(dk) > maxDomainKeys {
			dk = dk[len(dk)-maxDomainKeys:]
		}
		keys = append(keys, dk...)
	}
	return Keys{
		List:   unique(keys),
		RHS:    [5]string{addr, full, localpart, ext, domain},
		Domain: domain,
	}
}

func unique(keys []string) []string {
	out := keys[:0]
	for i, k := range keys {
		dup := false
		for _, p := range keys[:i] {
			if p == k {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, k)
		}
	}
	return out
}

// substituteRHS replaces $n, ${n} and $(n) in s with rhs[n-1] ("" for $0
// and numbers beyond rhs), as amavis does in hash and regexp results.
func substituteRHS(s string, rhs []string) string {
	if strings.IndexByte(s, '$') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		closer := byte(0)
		switch s[j] {
		case '{':
			closer = '}'
			j++
		case '(':
			closer = ')'
			j++
		}
		k := j
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k == j || closer != 0 && (k >= len(s) || s[k] != closer) {
			b.WriteByte(c)
			continue
		}
		n := 0
		for _, d := range s[j:k] {
			if n > 1000 {
				break
			}
			n = n*10 + int(d-'0')
		}
		if n >= 1 && n <= len(rhs) {
			b.WriteString(rhs[n-1])
		}
		if closer != 0 {
			k++
		}
		i = k - 1
	}
	return b.String()
}
