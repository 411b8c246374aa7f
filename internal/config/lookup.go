package config

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// LookupType is the kind of a lookup table in a *_maps setting.
type LookupType uint8

// Lookup table kinds (amavis §8).
const (
	// LookupConst always matches and yields Value (amavis: a scalar in the
	// list, e.g. @bypass_virus_checks_maps = (1)). An undef constant means
	// "don't know, try the next table".
	LookupConst LookupType = iota
	// LookupACL is an amavis ACL (an arrayref): first matching element
	// decides, "!" negates. In address maps the elements are addresses and
	// domains (ACL); in IP maps they are networks (IPACL).
	LookupACL
	// LookupHash is a hash lookup ({...} or read_hash(file)): Entries,
	// and/or File read by internal/lookup.
	LookupHash
	// LookupRegexp is a new_RE(...) table: Rules, first match wins.
	LookupRegexp
	// LookupCIDR is an IP table read from File (amavis read_cidr) and/or
	// given in IPACL.
	LookupCIDR
	// LookupSQL is the SQL lookup (@lookup_sql_dsn, $sql_select_policy);
	// Field names the column ("" = the one the setting implies).
	LookupSQL
	// LookupLDAP is the LDAP lookup; Field is the attribute.
	LookupLDAP
	// LookupRef refers to another setting by name, like Perl's \$var or
	// \@var in a default map. It only appears in the raw configuration
	// (Config.Raw); Settings resolves it.
	LookupRef
)

var lookupTypeNames = [...]string{"const", "acl", "hash", "regexp", "cidr", "sql", "ldap", "ref"}

func (t LookupType) String() string {
	if int(t) < len(lookupTypeNames) {
		return lookupTypeNames[t]
	}
	return "lookup(" + strconv.Itoa(int(t)) + ")"
}

// LookupSpec is one lookup table of a *_maps list, as configured. The
// config package only validates and stores it; internal/lookup interprets
// it (key forms, case folding, file reading).
type LookupSpec struct {
	Type LookupType
	// Value is the constant of LookupConst.
	Value Value
	// ACL holds the elements of an address ACL (raw amavis syntax: "!"
	// prefixes, "user@", "@domain", ".domain", "domain", ".").
	ACL []string
	// IPACL holds the parsed elements of an IP ACL (LookupACL in IP maps,
	// LookupCIDR).
	IPACL IPACL
	// Entries are the inline entries of LookupHash (keys as written).
	Entries Hash
	// File is the file of LookupHash (read_hash), LookupACL (read_array)
	// or LookupCIDR (read_cidr).
	File string
	// Rules are the rules of LookupRegexp.
	Rules []RegexpRule
	// Field is the SQL column / LDAP attribute of LookupSQL/LookupLDAP.
	Field string
	// Ref is the setting name of LookupRef.
	Ref string
	// Pos is where the table was configured.
	Pos Pos
}

// Equal reports whether two specs are the same (ignoring Pos).
func (s LookupSpec) Equal(o LookupSpec) bool {
	return s.Type == o.Type && s.Value.Equal(o.Value) && slices.Equal(s.ACL, o.ACL) &&
		slices.EqualFunc(s.IPACL, o.IPACL, func(a, b IPACLEntry) bool { return a.Raw == b.Raw }) &&
		maps.EqualFunc(s.Entries, o.Entries, Value.Equal) && s.File == o.File &&
		slices.EqualFunc(s.Rules, o.Rules, RegexpRule.equal) && s.Field == o.Field && s.Ref == o.Ref
}

// Maps is a *_maps setting: lookup tables tried in order, the first
// defined result wins. nil is an empty list.
type Maps []LookupSpec

// Equal reports whether two lists hold the same tables.
func (m Maps) Equal(o Maps) bool { return slices.EqualFunc(m, o, LookupSpec.Equal) }

// Const returns a one-table list holding a constant.
func Const(v Value) Maps { return Maps{{Type: LookupConst, Value: v}} }

// Hash is an amavis hash lookup table (%local_domains, %virus_admin, a
// read_hash file's entries): keys as written, values as configured.
type Hash map[string]Value

// Table is a free-form amavis hash of options (%smtpd_tls_server_options,
// a scanner's options, a redis DSN).
type Table map[string]Value

// ByCcat is a %*_by_ccat setting: per content category (and minor code) a
// list of lookup tables; a plain value is a one-constant list. The
// entries amavis fills in with `sub { c('final_virus_destiny') }` are refs
// to the legacy settings, resolved by Settings, so policy banks that change
// the legacy setting take effect as in amavis.
type ByCcat map[CCKey]Maps

// Get returns the tables for the most specific key present: "maj,min",
// then "maj" (amavis tries the minor form first).
func (b ByCcat) Get(major, minor int) (Maps, bool) {
	if m, ok := b[CCKey{major, minor}]; ok && minor >= 0 {
		return m, true
	}
	m, ok := b[CC(major)]
	return m, ok
}

// NamedMaps maps a name to lookup tables (%banned_rules).
type NamedMaps map[string]Maps

// Regexp is a compiled regular expression with its source. mavis uses Go's
// RE2 syntax: Perl's inline flags (?i) (?m) (?s) work, (?#comments) are
// taken out (and kept as Comment, amavis uses them in banning reasons),
// look-around and back-references are not available.
type Regexp struct {
	Source  string
	Comment string
	re      *regexp.Regexp
}

// CompileRegexp compiles a pattern as config does.
func CompileRegexp(src string) (*Regexp, error) {
	pat, comment := stripRegexpComments(src)
	re, err := regexp.Compile(pat)
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "invalid or unsupported Perl syntax") ||
			strings.Contains(pat, "(?<=") || strings.Contains(pat, "(?<!") {
			msg += " (Go regexps have no look-around or back-references)"
		}
		return nil, fmt.Errorf("bad regexp %q: %s", src, msg)
	}
	return &Regexp{Source: src, Comment: comment, re: re}, nil
}

// Re returns the compiled expression (safe for concurrent use).
func (r *Regexp) Re() *regexp.Regexp { return r.re }

// MatchString reports whether s matches.
func (r *Regexp) MatchString(s string) bool { return r.re.MatchString(s) }

func (r *Regexp) String() string { return r.Source }

// stripRegexpComments removes Perl (?#...) comments outside character
// classes and returns the pattern and the comment texts joined by spaces.
func stripRegexpComments(src string) (string, string) {
	if !strings.Contains(src, "(?#") {
		return src, ""
	}
	var out, com strings.Builder
	inClass := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\\' && i+1 < len(src):
			out.WriteByte(c)
			out.WriteByte(src[i+1])
			i++
			continue
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
		case strings.HasPrefix(src[i:], "(?#"):
			end := strings.IndexByte(src[i:], ')')
			if end < 0 {
				out.WriteString(src[i:]) // unterminated: let Compile complain
				return out.String(), com.String()
			}
			if com.Len() > 0 {
				com.WriteByte(' ')
			}
			com.WriteString(src[i+3 : i+end])
			i += end
			continue
		}
		out.WriteByte(c)
	}
	return out.String(), com.String()
}

// RegexpRule is one rule of a regexp lookup table: when Re matches the key,
// the result is Value (amavis's default 1 when a rule has no value).
// amavis substitutes $1.. in string results; internal/lookup does that.
type RegexpRule struct {
	Re    *Regexp
	Value Value
	Pos   Pos
}

func (r RegexpRule) equal(o RegexpRule) bool {
	return (r.Re == nil) == (o.Re == nil) && (r.Re == nil || r.Re.Source == o.Re.Source) && r.Value.Equal(o.Value)
}

// Regexps is a $*_re setting: one regexp lookup table (new_RE(...)).
type Regexps []RegexpRule

// IPACLEntry is one element of an IP ACL such as @mynetworks or @inet_acl.
type IPACLEntry struct {
	Raw    string       // as written
	Negate bool         // an odd number of leading "!"
	Prefix netip.Prefix // in 16-byte form: IPv4 networks are IPv4-mapped
}

// IPACL is an amavis IP access list: the first matching element decides,
// "!" negates; no match is "not found".
type IPACL []IPACLEntry

// Lookup returns the ACL's answer for ip: found is false when no element
// matches. As in amavis, IPv4 addresses are matched in their IPv4-mapped
// IPv6 form, so "::/0" matches everything and "0/0" all of IPv4.
func (a IPACL) Lookup(ip netip.Addr) (allow, found bool) {
	ip = canonIP(ip)
	for _, e := range a {
		if e.Prefix.Contains(ip) {
			return !e.Negate, true
		}
	}
	return false, false
}

// Allows reports whether ip matches a non-negated element.
func (a IPACL) Allows(ip netip.Addr) bool {
	allow, _ := a.Lookup(ip)
	return allow
}

func canonIP(ip netip.Addr) netip.Addr {
	ip = ip.WithZone("")
	if ip.Is4() {
		return netip.AddrFrom16(ip.As16())
	}
	return ip
}

// ParseIPACLEntry parses an IP ACL element the way amavis's ip_to_vec does:
// "!"s, then "a.b.c.d", "a.b.c.d/n", "a.b.c.d/m.m.m.m", "a.b/16" (fewer
// fields only with a length), "[v6]", "[v6]/n", "v6", "IPv6:v6", "0/0".
func ParseIPACLEntry(raw string) (IPACLEntry, error) {
	s := strings.TrimSpace(raw)
	e := IPACLEntry{Raw: raw}
	for strings.HasPrefix(s, "!") {
		e.Negate = !e.Negate
		s = strings.TrimSpace(s[1:])
	}
	addr, length, hasLen := strings.Cut(s, "/")
	if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		addr = addr[1 : len(addr)-1]
	}
	bad := func(why string) (IPACLEntry, error) {
		return IPACLEntry{}, fmt.Errorf("bad IP network %q: %s", raw, why)
	}
	if addr == "" {
		return bad("empty address")
	}
	var ip netip.Addr
	bits := 128
	v6 := strings.HasPrefix(strings.ToLower(addr), "ipv6:") || strings.Contains(addr, ":")
	if v6 {
		a, err := netip.ParseAddr(strings.TrimPrefix(strings.TrimPrefix(addr, "IPv6:"), "ipv6:"))
		if err != nil {
			return bad("not an IPv6 address")
		}
		ip = a.WithZone("") // IPv4-mapped stays in the 128-bit space, as in amavis
	} else {
		fields := strings.Split(addr, ".")
		if len(fields) > 4 {
			return bad("too many fields")
		}
		if len(fields) < 4 && !hasLen {
			return bad("an IPv4 address needs 4 fields (or a /length)")
		}
		var b [4]byte
		for i, f := range fields {
			n, err := strconv.Atoi(f)
			if err != nil || n < 0 || n > 255 || len(f) > 3 {
				return bad("field " + strconv.Quote(f) + " is not 0..255")
			}
			b[i] = byte(n)
		}
		ip = netip.AddrFrom4(b)
		bits = 32
	}
	n := bits
	if hasLen {
		switch {
		case bits == 32 && strings.Count(length, ".") == 3:
			m, err := netip.ParseAddr(length)
			if err != nil || !m.Is4() {
				return bad("bad netmask")
			}
			mb := m.As4()
			ones, seenZero := 0, false
			for _, by := range mb {
				for i := 7; i >= 0; i-- {
					if by&(1<<i) != 0 {
						if seenZero {
							return bad("netmask is not a CIDR mask")
						}
						ones++
					} else {
						seenZero = true
					}
				}
			}
			n = ones
		default:
			v, err := strconv.Atoi(length)
			if err != nil || v < 0 || v > bits || len(length) > 3 {
				return bad("prefix length must be 0.." + strconv.Itoa(bits))
			}
			n = v
		}
	}
	if ip.Is4() {
		ip = netip.AddrFrom16(ip.As16())
		n += 96
	}
	p, err := ip.Prefix(n)
	if err != nil {
		return bad(err.Error())
	}
	e.Prefix = p
	return e, nil
}

// ParseIPACL parses a list of elements.
func ParseIPACL(elems ...string) (IPACL, error) {
	acl := make(IPACL, 0, len(elems))
	for _, s := range elems {
		e, err := ParseIPACLEntry(s)
		if err != nil {
			return nil, err
		}
		acl = append(acl, e)
	}
	return acl, nil
}

// Raw returns the elements as written.
func (a IPACL) Raw() []string {
	out := make([]string, len(a))
	for i, e := range a {
		out[i] = e.Raw
	}
	return out
}
