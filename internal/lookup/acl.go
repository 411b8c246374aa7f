package lookup

import (
	"context"
	"strconv"
	"strings"
)

// ACL is an amavis access list (an arrayref in a *_maps list, e.g.
// @local_domains_acl). The first matching element decides; an odd number
// of leading '!' makes the answer false. An element with '@' is compared
// with the whole address (local part case per Rules, extensions not
// stripped); one with a leading '.' matches the domain and its subdomains
// ("." matches everything); any other element matches the domain exactly.
// No match is "not found" (undef), so the next table is tried.
type ACL struct {
	entries []aclEntry
	rules   Rules
	name    string
}

type aclEntry struct {
	raw    string
	result bool
	kind   byte // '@' address, '.' domain and subdomains, 'd' exact domain
	local  string
	domain string // for '.': without the dot
}

// NewACL parses the elements of an access list.
func NewACL(elems []string, rules Rules) *ACL {
	a := &ACL{rules: rules, entries: make([]aclEntry, 0, len(elems))}
	for _, raw := range elems {
		e := aclEntry{raw: raw, result: true}
		key := raw
		n := 0
		for n < len(key) && key[n] == '!' {
			n++
		}
		if n%2 == 1 {
			e.result = false
		}
		key = key[n:]
		if i := strings.LastIndexByte(key, '@'); i >= 0 {
			e.kind = '@'
			e.local = key[:i]
			if !rules.LocalpartCaseSensitive {
				e.local = asciiLower(e.local)
			}
			e.domain = NormalizeDomain(key[i+1:])
		} else if strings.HasPrefix(key, ".") {
			e.kind = '.'
			e.domain = NormalizeDomain(key[1:])
		} else {
			e.kind = 'd'
			e.domain = NormalizeDomain(key)
		}
		a.entries = append(a.entries, e)
	}
	return a
}

// Named sets a label for logs and returns a.
func (a *ACL) Named(name string) *ACL { a.name = name; return a }

func (a *ACL) String() string {
	s := "acl(" + strconv.Itoa(len(a.entries)) + ")"
	if a.name != "" {
		s = a.name + ":" + s
	}
	return s
}

// Lookup implements Table; the Value is a bool.
func (a *ACL) Lookup(_ context.Context, key string) (Result, error) {
	if len(a.entries) == 0 {
		return Result{}, nil
	}
	local, domain := SplitAddress(key)
	if !a.rules.LocalpartCaseSensitive {
		local = asciiLower(local)
	}
	domain = trimDomain(domain)
	for i := range a.entries {
		e := &a.entries[i]
		var found bool
		switch e.kind {
		case '@':
			found = local == e.local && domain == e.domain
		case '.':
			found = e.domain == "" || domain == e.domain ||
				len(domain) > len(e.domain) && strings.HasSuffix(domain, e.domain) &&
					domain[len(domain)-len(e.domain)-1] == '.'
		default:
			found = domain == e.domain
		}
		if found {
			return Result{Found: true, Value: e.result, Key: e.raw, Table: a}, nil
		}
	}
	return Result{}, nil
}
