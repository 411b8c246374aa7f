package smtpd

import (
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"
)

// Defaults, as amavis's.
const (
	DefaultProduct        = "mavis"
	DefaultGreetingBanner = "${helo-name} ${protocol} ${product} service ready"
	DefaultQuitBanner     = "${helo-name} ${product} closing transmission channel"
	DefaultRecipientLimit = 1100
	DefaultIdleTimeout    = 480 * time.Second
	DefaultChildTimeout   = 480 * time.Second
	DefaultMaxLineLength  = 4096
	DefaultHelpURL        = "https://github.com/mavis-filter/mavis"
	// MinMessageSizeLimit is the smallest size limit enforced or announced
	// (RFC 5321 requires 64k; amavis $enforce_smtpd_message_size_limit_64kb_min).
	MinMessageSizeLimit = 65536
)

// Options is one immutable snapshot of the server settings. The server asks
// for a fresh snapshot (the opts function given to New) at each new
// connection; a session keeps its snapshot to the end.
type Options struct {
	// Product names the software in the banners and HELP ("mavis").
	Product string
	// Version fills ${version} in the banners.
	Version string
	// GreetingBanner and QuitBanner are amavis's $smtpd_greeting_banner and
	// $smtpd_quit_banner templates; macros ${helo-name} ${protocol}
	// ${product} ${myhostname} ${version} (also $name without braces).
	// Empty selects the amavis defaults.
	GreetingBanner, QuitBanner string
	// MyHostname fills ${myhostname}.
	MyHostname string
	// HelpURL is the second line of the HELP reply.
	HelpURL string
	// RecipientLimit is $smtpd_recipient_limit (0 = 1100).
	RecipientLimit int
	// MessageSizeLimit is $smtpd_message_size_limit in bytes (0 = none). It
	// is announced with SIZE and enforced; values below 65536 are raised.
	MessageSizeLimit int64
	// DiscardEHLOKeywords is @smtpd_discard_ehlo_keywords (case-insensitive;
	// discarding 8BITMIME also discards SMTPUTF8).
	DiscardEHLOKeywords []string
	// IdleTimeout is $smtpd_timeout: how long to wait for client input,
	// re-armed on every read, also during DATA (0 = 480 s).
	IdleTimeout time.Duration
	// ChildTimeout is $child_timeout: the deadline of Handler.Process,
	// counted from the final dot (0 = 480 s).
	ChildTimeout time.Duration
	// ACL is inet_acl for TCP clients; nil allows all. Unix-socket sessions
	// are never checked.
	ACL func(netip.Addr) bool
	// TempDir is TEMPBASE, where message spools spill to files
	// ("" = os.TempDir()).
	TempDir string
	// SpoolThreshold is how much of a message is held in memory before it
	// is written to a file (0 = mail.DefaultSpoolThreshold).
	SpoolThreshold int
	// MaxLineLength bounds a command line (0 = 4096). DATA lines of any
	// length are streamed.
	MaxLineLength int
}

// normalized returns a copy with defaults filled in.
func (o *Options) normalized() Options {
	var n Options
	if o != nil {
		n = *o
	}
	if n.Product == "" {
		n.Product = DefaultProduct
	}
	if n.GreetingBanner == "" {
		n.GreetingBanner = DefaultGreetingBanner
	}
	if n.QuitBanner == "" {
		n.QuitBanner = DefaultQuitBanner
	}
	if n.HelpURL == "" {
		n.HelpURL = DefaultHelpURL
	}
	if n.RecipientLimit <= 0 {
		n.RecipientLimit = DefaultRecipientLimit
	}
	if n.MessageSizeLimit < 0 {
		n.MessageSizeLimit = 0
	}
	if n.MessageSizeLimit > 0 && n.MessageSizeLimit < MinMessageSizeLimit {
		n.MessageSizeLimit = MinMessageSizeLimit
	}
	if n.IdleTimeout <= 0 {
		n.IdleTimeout = DefaultIdleTimeout
	}
	if n.ChildTimeout <= 0 {
		n.ChildTimeout = DefaultChildTimeout
	}
	if n.TempDir == "" {
		n.TempDir = os.TempDir()
	}
	if n.MaxLineLength <= 0 {
		n.MaxLineLength = DefaultMaxLineLength
	}
	return n
}

// ehloKeywords returns the EHLO/LHLO keywords in amavis's order, without the
// discarded ones.
func (o *Options) ehloKeywords() []string {
	size := "SIZE"
	if o.MessageSizeLimit > 0 {
		size = "SIZE " + itoa(o.MessageSizeLimit)
	}
	all := []string{"VRFY", "PIPELINING", size, "ENHANCEDSTATUSCODES", "8BITMIME",
		"SMTPUTF8", "DSN", "XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE"}
	discard := map[string]bool{}
	for _, k := range o.DiscardEHLOKeywords {
		discard[strings.ToUpper(strings.TrimSpace(k))] = true
	}
	if discard["8BITMIME"] { // RFC 6531: SMTPUTF8 requires 8BITMIME
		discard["SMTPUTF8"] = true
	}
	out := all[:0]
	for _, k := range all {
		name, _, _ := strings.Cut(k, " ")
		if !discard[name] {
			out = append(out, k)
		}
	}
	return out
}

// bannerMacro matches amavis's banner macros: ${name} or $name.
var bannerMacro = regexp.MustCompile(`\$(?:\{([^}]+)\}|([a-zA-Z](?:[a-zA-Z0-9_-]*[a-zA-Z0-9])?\b))`)

// expandBanner expands a banner template as amavis does; unknown macros
// expand to nothing.
func expandBanner(tmpl string, vars map[string]string) string {
	return bannerMacro.ReplaceAllStringFunc(tmpl, func(s string) string {
		sm := bannerMacro.FindStringSubmatch(s)
		return vars[strings.ToLower(sm[1]+sm[2])]
	})
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
