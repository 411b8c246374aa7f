package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mavis-filter/mavis/internal/policy"
)

// Pos is a place in a configuration file. The zero Pos means a built-in
// default.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.File == "" && p.Line == 0 {
		return "(default)"
	}
	if p.Line == 0 {
		return p.File
	}
	return p.File + ":" + strconv.Itoa(p.Line)
}

// Destiny is amavis's final destiny of a recipient (policy.Destiny, with
// amavis's numbers).
type Destiny = policy.Destiny

// Destinies.
const (
	DTempfail = policy.DTempfail
	DReject   = policy.DReject
	DBounce   = policy.DBounce
	DDiscard  = policy.DDiscard
	DPass     = policy.DPass
)

// ParseDestiny accepts D_PASS, D_DISCARD, D_BOUNCE, D_REJECT, D_TEMPFAIL
// (case-sensitive, as Perl barewords are) and amavis's numbers for them.
func ParseDestiny(s string) (Destiny, error) {
	t := strings.TrimSpace(s)
	if t != strings.ToUpper(t) {
		return 0, fmt.Errorf("unknown destiny %q (want D_PASS, D_DISCARD, D_BOUNCE, D_REJECT or D_TEMPFAIL)", s)
	}
	return policy.ParseDestiny(t)
}

// CCKey is a key of a *_by_ccat table: a major content category (amavis's
// CC_* number) and an optional minor code. Minor -1 means "major only"
// (the key "CC_SPAM"); "CC_UNCHECKED,3" is {7, 3}.
type CCKey struct {
	Major int
	Minor int
}

// Content category numbers, amavis's CC_* constants.
const (
	CCCatchAll  = 0
	CCClean     = 1
	CCMTA       = 2
	CCOversized = 3
	CCBadH      = 4
	CCSpammy    = 5
	CCSpam      = 6
	CCUnchecked = 7
	CCBanned    = 8
	CCVirus     = 9
)

var ccNames = [...]string{"CC_CATCHALL", "CC_CLEAN", "CC_MTA", "CC_OVERSIZED", "CC_BADH",
	"CC_SPAMMY", "CC_SPAM", "CC_UNCHECKED", "CC_BANNED", "CC_VIRUS"}

// CC returns the key for a major category alone.
func CC(major int) CCKey { return CCKey{Major: major, Minor: -1} }

// CCMinor returns the key for a major category with a minor code.
func CCMinor(major, minor int) CCKey { return CCKey{Major: major, Minor: minor} }

func (k CCKey) String() string {
	name := strconv.Itoa(k.Major)
	if k.Major >= 0 && k.Major < len(ccNames) {
		name = ccNames[k.Major]
	}
	if k.Minor < 0 {
		return name
	}
	return name + "," + strconv.Itoa(k.Minor)
}

// ParseCCKey parses "CC_SPAM", "CC_UNCHECKED,3", "6" or "7,3". A leading
// "&" (Perl's &CC_VIRUS) is accepted.
func ParseCCKey(s string) (CCKey, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "&")
	maj, min, hasMin := strings.Cut(s, ",")
	maj = strings.TrimSuffix(strings.TrimSpace(maj), "()")
	k := CCKey{Minor: -1}
	found := false
	for i, n := range ccNames {
		if maj == n {
			k.Major, found = i, true
		}
	}
	if !found {
		n, err := strconv.Atoi(maj)
		if err != nil || n < 0 || n >= len(ccNames) {
			return CCKey{}, fmt.Errorf("unknown content category %q (want CC_VIRUS, CC_BANNED, CC_UNCHECKED, CC_SPAM, CC_SPAMMY, CC_BADH, CC_OVERSIZED, CC_MTA, CC_CLEAN, CC_CATCHALL, optionally with \",minor\")", s)
		}
		k.Major = n
	}
	if hasMin {
		n, err := strconv.Atoi(strings.TrimSpace(min))
		if err != nil || n < 0 || n > 255 {
			return CCKey{}, fmt.Errorf("bad minor content category in %q", s)
		}
		k.Minor = n
	}
	return k, nil
}

// Method is a parsed delivery or quarantine method such as
// "smtp:[127.0.0.1]:10025", "lmtp:/var/run/dovecot/lmtp",
// "local:spam-%m.gz", "sql:", "bsmtp:/var/spool/x/%m.bsmtp" or
// "pipe:flags=q argv=...".
type Method struct {
	Raw   string // as written
	Proto string // smtp, lmtp, local, sql, bsmtp, pipe
	// For smtp and lmtp over TCP: Host is an IP address or a host name
	// without brackets ("*" = the client's address), Port a number or "*"
	// (the listening port plus one). For smtp/lmtp over a Unix socket Path
	// is the socket path.
	Host string
	Port string
	// Path is the Unix socket of smtp/lmtp, the file template of local and
	// bsmtp, the arguments of pipe.
	Path string
}

func (m Method) String() string { return m.Raw }

// Addr returns host:port for a TCP smtp/lmtp method ("" otherwise).
func (m Method) Addr() string {
	if m.Host == "" {
		return ""
	}
	if strings.Contains(m.Host, ":") {
		return "[" + m.Host + "]:" + m.Port
	}
	return m.Host + ":" + m.Port
}

// ParseMethod parses a method string. A bare "" is an error; callers treat
// "undef" before calling.
func ParseMethod(s string) (Method, error) {
	proto, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Method{}, fmt.Errorf("bad method %q: want proto:destination, e.g. smtp:[127.0.0.1]:10025", s)
	}
	m := Method{Raw: s, Proto: strings.ToLower(proto)}
	switch m.Proto {
	case "smtp", "lmtp":
		if strings.HasPrefix(rest, "/") {
			m.Path = rest
			return m, nil
		}
		host, port, err := splitHostPort(rest)
		if err != nil {
			return Method{}, fmt.Errorf("bad method %q: %v", s, err)
		}
		m.Host, m.Port = host, port
		return m, nil
	case "local", "bsmtp", "pipe", "sql":
		m.Path = rest
		if m.Proto == "pipe" && strings.TrimSpace(rest) == "" {
			return Method{}, fmt.Errorf("bad method %q: pipe needs arguments (flags=... argv=...)", s)
		}
		return m, nil
	}
	return Method{}, fmt.Errorf("bad method %q: unknown protocol %q (want smtp, lmtp, local, sql, bsmtp or pipe)", s, proto)
}

// splitHostPort splits "[host]:port", "host:port", "[v6]:port", "*:*". The
// port is required.
func splitHostPort(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", fmt.Errorf("missing ']'")
		}
		host, s = s[1:end], s[end+1:]
		if !strings.HasPrefix(s, ":") {
			return "", "", fmt.Errorf("missing :port after [%s]", host)
		}
		port = s[1:]
		if host == "" {
			return "", "", fmt.Errorf("empty host")
		}
		if strings.Contains(host, ":") {
			if _, err := netip.ParseAddr(strings.TrimPrefix(host, "IPv6:")); err != nil {
				return "", "", fmt.Errorf("bad IPv6 address %q", host)
			}
			host = strings.TrimPrefix(host, "IPv6:")
		}
	} else {
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			return "", "", fmt.Errorf("missing :port")
		}
		host, port = s[:i], s[i+1:]
		if host == "" || strings.Contains(host, ":") {
			return "", "", fmt.Errorf("bad host %q (write IPv6 addresses in brackets)", host)
		}
	}
	if host != "*" && !validHostname(host) {
		if _, err := netip.ParseAddr(host); err != nil {
			return "", "", fmt.Errorf("bad host %q", host)
		}
	}
	if port != "*" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Errorf("bad port %q", port)
		}
	}
	return host, port, nil
}

// validHostname accepts a DNS name (letters, digits, '-', '_', dots).
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	// A name made only of digits and dots is a (bad) IPv4 address, not a host.
	return strings.Trim(s, "0123456789.") != ""
}

// Methods is a method setting: one method, or (an amavis arrayref) several
// candidates tried in random order until one connects. nil is undef.
type Methods []Method

// First returns the first method (zero Method if none).
func (ms Methods) First() Method {
	if len(ms) == 0 {
		return Method{}
	}
	return ms[0]
}

// Template is a text setting (a notification template, a log template):
// inline text, or the name of a file read when the setting is used
// (`{ file = "/etc/amavis/en_US/template-dsn.txt" }`, amavis's read_text).
type Template struct {
	Text string
	File string
}

func (t Template) String() string {
	if t.File != "" {
		return "file:" + t.File
	}
	return t.Text
}

// AdminAddr is one of the legacy $*_admin settings. amavis has both a
// scalar (`$virus_admin = 'postmaster@example.com'`) and, for virus and
// spam, a by-domain hash (`%virus_admin`) with the same name; in TOML a
// string sets the address and a table the by-domain hash.
type AdminAddr struct {
	Addr     Opt[string]
	ByDomain Hash
}

// IPPolicy is one pair of @client_ipaddr_policy: when the client IP matches
// Maps (IP lookup tables), the banks are loaded in order.
type IPPolicy struct {
	Maps  Maps
	Banks []string
	Pos   Pos
}

// DSN is one SQL server of @lookup_sql_dsn / @storage_sql_dsn: amavis's
// triple [dsn, user, password]. DSN is in Perl DBI form
// ("DBI:mysql:database=mail;host=127.0.0.1;port=3306", "DBI:Pg:dbname=mail")
// and Driver is its driver part (mysql, MariaDB, Pg, SQLite).
type DSN struct {
	DSN      string
	Driver   string
	User     string
	Password string
}

// AVScanner is one entry of @av_scanners / @av_scanners_backup.
//
// amavis's array form is [name, program_or_code, args, clean, infected,
// virus_name]; mavis accepts that array or a table with the same fields
// named (see docs/configuration.md).
type AVScanner struct {
	Name string
	// Type is "ask_daemon" (a daemon protocol: Args is the query template,
	// Sockets the socket specs, e.g. "/var/run/clamav/clamd.ctl" or
	// "clamd:/run/clamav/clamd.ctl"), "ask_av" or "command" (Command lists
	// program alternatives searched in $path, Args the argument string).
	Type    string
	Command []string
	Args    string
	Sockets []string
	// Clean and Infected are exit codes or a regexp on the output.
	// Infected is tested first; an undefined Clean is "inconclusive".
	Clean    ExitOrRegexp
	Infected ExitOrRegexp
	// VirusName extracts virus names from the output (compiled with
	// (?m), as amavis applies it /gm).
	VirusName *Regexp
	Options   Table
	Pos       Pos
}

// ExitOrRegexp is a scanner result test: a list of exit codes or a regexp.
// The zero value is undef.
type ExitOrRegexp struct {
	Codes  []int
	Regexp *Regexp
}

// IsSet reports whether a test is defined.
func (e ExitOrRegexp) IsSet() bool { return e.Codes != nil || e.Regexp != nil }

// SpamScanner is one entry of @spam_scanners: [name, module, options...].
// Module is the amavis module's last name component: SpamAssassin,
// SpamdClient, RspamdClient or ExtProg. Options holds the remaining
// key/value options (score_factor, mail_body_size_limit, mta_name, and for
// ExtProg program and args).
type SpamScanner struct {
	Name    string
	Module  string
	Options Table
	Pos     Pos
}

// DKIMKey is one dkim_key(domain, selector, key_file, options...) call of
// an amavis configuration: a DKIM signing key.
type DKIMKey struct {
	Domain   string
	Selector string
	KeyFile  string
	Options  Table
	Pos      Pos
}
