package lookup

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// IPNet is an address or network in amavis's form: IPv4 is held as an
// IPv4-mapped IPv6 address (so "::/0" covers all and "0/0" all IPv4).
type IPNet struct {
	Addr [16]byte
	Bits int // prefix length 0..128
}

// Contains reports whether ip (16-byte form) is inside n.
func (n IPNet) Contains(ip [16]byte) bool {
	bits := n.Bits
	for i := 0; i < 16 && bits > 0; i++ {
		mask := byte(0xFF)
		if bits < 8 {
			mask = ^byte(0xFF >> bits)
		}
		if ip[i]&mask != n.Addr[i]&mask {
			return false
		}
		bits -= 8
	}
	return true
}

// IsV4 reports whether the address is IPv4-mapped.
func (n IPNet) IsV4() bool {
	for i := 0; i < 10; i++ {
		if n.Addr[i] != 0 {
			return false
		}
	}
	return n.Addr[10] == 0xFF && n.Addr[11] == 0xFF
}

// Prefix returns the network as a netip.Prefix (IPv4 unmapped).
func (n IPNet) Prefix() netip.Prefix {
	a := netip.AddrFrom16(n.Addr)
	if n.IsV4() && n.Bits >= 96 {
		return netip.PrefixFrom(a.Unmap(), n.Bits-96)
	}
	return netip.PrefixFrom(a, n.Bits)
}

// ParseIP parses an address or network as amavis's ip_to_vec does:
// "a.b.c.d", "a.b.c.d/n", "a.b.c.d/m.m.m.m", truncated "a.b/16" (only with
// a length), IPv6 in every RFC 4291 form (also x:x:x:x:x:x:d.d.d.d),
// optional brackets "[::1]/128", an optional "IPv6:" prefix and a "%zone"
// suffix (ignored). allowMask false refuses a "/…" part.
func ParseIP(s string, allowMask bool) (IPNet, error) {
	orig := s
	s = strings.TrimLeft(s, " \t")
	s = strings.TrimRight(s, " \t\r\n")
	bad := func(why string) (IPNet, error) {
		return IPNet{}, fmt.Errorf("invalid IP address [%s]: %s", orig, why)
	}
	ipa, length, hasLen := s, "", false
	if allowMask {
		if i := strings.IndexByte(s, '/'); i >= 0 {
			ipa, length, hasLen = s[:i], s[i+1:], true
		}
	}
	if len(ipa) >= 2 && ipa[0] == '[' && ipa[len(ipa)-1] == ']' {
		ipa = ipa[1 : len(ipa)-1]
	}
	v6 := false
	if len(ipa) >= 5 && strings.EqualFold(ipa[:5], "IPv6:") {
		ipa, v6 = ipa[5:], true
	} else if hasInnerColonPair(ipa) {
		v6 = true
	}
	if i := strings.LastIndexByte(ipa, '%'); i >= 0 && isZoneID(ipa[i+1:]) {
		ipa = ipa[:i]
	}
	var fields []string
	if v6 {
		// alternative form x:x:x:x:x:x:d.d.d.d
		if i := strings.LastIndexByte(ipa, ':'); i >= 0 && strings.Count(ipa[i+1:], ".") == 3 {
			d, ok := parseDotted(ipa[i+1:], 4)
			if !ok {
				return bad("invalid decimal field value in IPv6 address")
			}
			ipa = ipa[:i+1] + fmt.Sprintf("%02x%02x:%02x%02x", d[0], d[1], d[2], d[3])
		}
	} else if d, nf, ok := parseIPv4Fields(ipa); ok {
		if nf != 4 && !hasLen {
			return bad("IPv4 address contains fewer than 4 fields")
		}
		bits := 0
		switch {
		case !hasLen:
			bits = 32
		case isDigits(length, 1, 9):
			v, _ := strconv.Atoi(length)
			bits = v
		case strings.Count(length, ".") == 3:
			m, ok := parseDotted(length, 4)
			if !ok {
				return bad("illegal field value in IPv4 mask")
			}
			ones, zero := 0, false
			for _, by := range m {
				for k := 7; k >= 0; k-- {
					if by&(1<<k) != 0 {
						if zero {
							return bad("IPv4 mask not representing a valid CIDR mask")
						}
						ones++
					} else {
						zero = true
					}
				}
			}
			bits = ones
		default:
			return bad("invalid IPv4 network mask or CIDR prefix length")
		}
		if bits > 32 {
			return bad("IPv4 network prefix length greater than 32")
		}
		var n IPNet
		n.Addr[10], n.Addr[11] = 0xFF, 0xFF
		copy(n.Addr[12:], d[:])
		n.Bits = bits + 96
		return n, nil
	} else if invalidV4(ipa) {
		return bad("invalid field value in IPv4 address")
	}
	// IPv6 preferred or compressed form
	if i := strings.Index(ipa, "::"); i >= 0 {
		before, after := ipa[:i], ipa[i+2:]
		var bf, af []string
		bf = splitColons(before)
		af = splitColons(after)
		missing := 8 - (len(bf) + len(af))
		if missing < 1 {
			missing = 1
		}
		fields = append(fields, bf...)
		for ; missing > 0; missing-- {
			fields = append(fields, "0")
		}
		fields = append(fields, af...)
	} else {
		fields = strings.Split(ipa, ":")
	}
	if len(fields) < 8 {
		return bad("IPv6 address contains fewer than 8 fields")
	}
	if len(fields) > 8 {
		return bad("IPv6 address contains more than 8 fields")
	}
	var n IPNet
	for i, f := range fields {
		if len(f) < 1 || len(f) > 4 {
			return bad("invalid syntax of IPv6 address")
		}
		v, err := strconv.ParseUint(f, 16, 16)
		if err != nil {
			return bad("invalid syntax of IPv6 address")
		}
		n.Addr[2*i] = byte(v >> 8)
		n.Addr[2*i+1] = byte(v)
	}
	bits := 128
	if hasLen {
		if !isDigits(length, 1, 3) {
			return bad("invalid prefix length syntax")
		}
		bits, _ = strconv.Atoi(length)
		if bits > 128 {
			return bad("IPv6 network prefix length greater than 128")
		}
	}
	n.Bits = bits
	return n, nil
}

// splitColons is Perl's split(/:/, $s, -1) (an empty string gives none).
func splitColons(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ":")
}

// hasInnerColonPair reports whether s matches /:[0-9a-f]*:/i.
func hasInnerColonPair(s string) bool {
	i := strings.IndexByte(s, ':')
	for i >= 0 {
		j := i + 1
		for j < len(s) && isHex(s[j]) {
			j++
		}
		if j < len(s) && s[j] == ':' {
			return true
		}
		k := strings.IndexByte(s[i+1:], ':')
		if k < 0 {
			return false
		}
		i += 1 + k
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isZoneID(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '_' || c == '~' || c == '-') {
			return false
		}
	}
	return true
}

func isDigits(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseIPv4Fields parses /^\d{1,3}(\.\d{1,3}){0,3}$/; ok is false when the
// syntax does not match or a field exceeds 255 (then invalidV4 tells).
func parseIPv4Fields(s string) (d [4]byte, n int, ok bool) {
	if !ipv4Syntax(s) {
		return d, 0, false
	}
	for i, f := range strings.Split(s, ".") {
		v, _ := strconv.Atoi(f)
		if v > 255 {
			return d, 0, false
		}
		d[i] = byte(v)
		n++
	}
	return d, n, true
}

func ipv4Syntax(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return false
	}
	for _, p := range parts {
		if !isDigits(p, 1, 3) {
			return false
		}
	}
	return true
}

func invalidV4(s string) bool { return ipv4Syntax(s) }

func parseDotted(s string, want int) ([]byte, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != want {
		return nil, false
	}
	out := make([]byte, want)
	for i, p := range parts {
		if !isDigits(p, 1, 3) {
			return nil, false
		}
		v, _ := strconv.Atoi(p)
		if v > 255 {
			return nil, false
		}
		out[i] = byte(v)
	}
	return out, true
}

// canonicalV6 is amavis's "preferred IPv6 form" used as hash key: eight
// groups of four lower-case hex digits.
func canonicalV6(a [16]byte) string {
	var b strings.Builder
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02x%02x", a[i], a[i+1])
	}
	return b.String()
}

// IPACL is an amavis IP access list (@mynetworks, @inet_acl, a table of
// @client_ipaddr_policy): the first network containing the address decides,
// '!' negates. An address that does not parse matches only "::/0". The
// result Value is a bool.
type IPACL struct {
	entries []ipEntry
	name    string
}

type ipEntry struct {
	raw    string
	net    IPNet
	result bool
}

// NewIPACL parses the elements; a syntax error in any element is an error
// (amavis dies at startup).
func NewIPACL(elems ...string) (*IPACL, error) {
	a := &IPACL{entries: make([]ipEntry, 0, len(elems))}
	for _, raw := range elems {
		key := raw
		n := 0
		for n < len(key) && key[n] == '!' {
			n++
		}
		net, err := ParseIP(key[n:], true)
		if err != nil {
			return nil, fmt.Errorf("IP ACL element %q: %w", raw, err)
		}
		a.entries = append(a.entries, ipEntry{raw: raw, net: net, result: n%2 == 0})
	}
	return a, nil
}

// Named sets a label for logs and returns a.
func (a *IPACL) Named(name string) *IPACL { a.name = name; return a }

func (a *IPACL) String() string {
	s := "ipacl(" + strconv.Itoa(len(a.entries)) + ")"
	if a.name != "" {
		s = a.name + ":" + s
	}
	return s
}

// Lookup implements Table; key is an IP address.
func (a *IPACL) Lookup(_ context.Context, key string) (Result, error) {
	ip, err := ParseIP(key, false)
	valid := err == nil
	for i := range a.entries {
		e := &a.entries[i]
		if e.net.Bits == 0 || valid && e.net.Contains(ip.Addr) {
			return Result{Found: true, Value: e.result, Key: e.raw, Table: a}, nil
		}
	}
	return Result{}, nil
}

// IPHash is the hash form of an IP table (amavis lookup_ip_acl on a hash):
// an IPv4 address is tried as "a.b.c.d", "a.b.c", "a.b", "a", then every
// address in the full IPv6 form ("0000:…:ffff:0a00:0001"). Keys are
// normalized when the table is built, so IPv6 keys may be written in any
// form. Keys with a "/length" are networks, tried (longest first) after
// the exact keys — an addition of ours: amavis never matches them; a key
// with '!' (read_cidr's negation) is such a network with the value false.
// The Value is the hash value.
type IPHash struct {
	exact map[string]any
	nets  []ipNetValue
	name  string
}

type ipNetValue struct {
	raw   string
	net   IPNet
	value any
}

// NewIPHash builds an IP hash table.
func NewIPHash(m map[string]any) (*IPHash, error) {
	h := &IPHash{exact: make(map[string]any, len(m))}
	for k, v := range m {
		key := strings.ToLower(strings.TrimSpace(k))
		if strings.HasPrefix(key, "!") || strings.IndexByte(key, '/') >= 0 {
			bangs := len(key) - len(strings.TrimLeft(key, "!"))
			key = key[bangs:]
			if bangs%2 == 1 {
				v = false
			}
			n, err := ParseIP(key, true)
			if err != nil {
				return nil, fmt.Errorf("IP table key %q: %w", k, err)
			}
			h.nets = append(h.nets, ipNetValue{raw: k, net: n, value: v})
			continue
		}
		if strings.IndexByte(key, ':') >= 0 {
			if n, err := ParseIP(key, false); err == nil {
				if n.IsV4() {
					a := n.Addr
					key = fmt.Sprintf("%d.%d.%d.%d", a[12], a[13], a[14], a[15])
				} else {
					key = canonicalV6(n.Addr)
				}
			}
		}
		h.exact[key] = v
	}
	sort.SliceStable(h.nets, func(i, j int) bool { return h.nets[i].net.Bits > h.nets[j].net.Bits })
	return h, nil
}

// Named sets a label for logs and returns h.
func (h *IPHash) Named(name string) *IPHash { h.name = name; return h }

func (h *IPHash) String() string {
	s := "iphash(" + strconv.Itoa(len(h.exact)+len(h.nets)) + ")"
	if h.name != "" {
		s = h.name + ":" + s
	}
	return s
}

// Lookup implements Table; key is an IP address.
func (h *IPHash) Lookup(_ context.Context, key string) (Result, error) {
	ip, err := ParseIP(key, false)
	if err != nil {
		return Result{}, nil
	}
	if ip.IsV4() {
		a := ip.Addr
		parts := []string{
			strconv.Itoa(int(a[12])), strconv.Itoa(int(a[13])),
			strconv.Itoa(int(a[14])), strconv.Itoa(int(a[15])),
		}
		for n := 4; n >= 1; n-- {
			k := strings.Join(parts[:n], ".")
			if v, ok := h.exact[k]; ok && v != nil {
				return Result{Found: true, Value: v, Key: k, Table: h}, nil
			}
		}
	}
	k := canonicalV6(ip.Addr)
	if v, ok := h.exact[k]; ok && v != nil {
		return Result{Found: true, Value: v, Key: k, Table: h}, nil
	}
	for _, n := range h.nets {
		if n.value != nil && n.net.Contains(ip.Addr) {
			return Result{Found: true, Value: n.value, Key: n.raw, Table: h}, nil
		}
	}
	return Result{}, nil
}
