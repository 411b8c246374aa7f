package notify

import (
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/policy"
)

// Done tells how a recipient was settled, amavis's recip_done.
type Done int

// Recipient settlement.
const (
	NotDone  Done = 0 // not settled (e.g. left to the MTA or a milter)
	DoneHere Done = 1 // settled by the filter itself (discard, reject, quarantine)
	Relayed  Done = 2 // forwarded to the next hop, whose reply is in Reply
)

// Rcpt is one recipient of the reported message.
type Rcpt struct {
	Addr   string   // envelope address, no angle brackets
	ORcpt  string   // ORCPT parameter as received ("rfc822;xtext"), or ""
	Notify []string // NOTIFY values (upper case); nil = not given
	// Destiny is the recipient's final destiny, Reply the reply it got
	// (ours for DoneHere, the wrapped next-hop reply for Relayed).
	Destiny policy.Destiny
	Reply   mail.Reply
	Done    Done
	// RemoteMTA is the next hop's name when it answered, RemoteReply its
	// own reply (used in DSNs instead of ours).
	RemoteMTA   string
	RemoteReply string
	// Blocking is the category that blocked the recipient (nil = passed),
	// Category the recipient's main category.
	Category policy.Category
	Blocking *policy.Category
	// Spam data and the DSN suppression inputs.
	SpamLevel      float64
	Blacklisted    bool
	Whitelisted    bool
	SuppressReason string   // amavis dsn_suppress_reason ("INFECTED", "BANNED:DISCARD suggested by rule")
	DSNCutoff      *float64 // by-recipient spam_dsn_cutoff_level (or the crediblefrom one)
	WarnSender     bool     // warnsender_by_ccat is true for the recipient
}

// Info is what notification texts say about the reported message. The
// pipeline fills it once per message.
type Info struct {
	LogID    string    // %n
	MailID   string    // %i
	Received time.Time // %d, Arrival-Date
	// Hostname is $myhostname (%h, Reporting-MTA).
	Hostname string
	// PolicyBank is the policy bank path (%p).
	PolicyBank string
	Sender     string // envelope sender without brackets
	// SenderSource is the best guess of the real sender of a virus (%o);
	// empty = Sender.
	SenderSource string
	Params       mail.MailParams // RET, ENVID, SMTPUTF8
	Rcpts        []Rcpt
	Header       *mail.Header // the original header section
	Client       mail.ClientInfo
	Conn         mail.ConnInfo
	Originating  bool  // %l
	Size         int64 // %z
	QueueID      string

	// Main is the message's main category, Blocking the message-level
	// blocking category (nil when nothing was blocked).
	Main     policy.Category
	Blocking *policy.Category

	VirusNames    []string // %V
	Scanners      []string // %W: scanners that detected a virus
	ScannerOutput string   // %v
	Banned        string   // %F: the first banned part with its rule comment
	BadHeaders    []string // %X
	SpamScore     string   // %c, e.g. "16.0" or "-"
	SpamSummary   string   // %A: the spam report text
	SpamTests     []string // %T in amavis's log templates (not used here)
	Quarantined   []string // %q: locations relative to QUARANTINEDIR
	// ReceivedTrace lists "proto://ip" hops of the Received trace below our
	// own (the ip_proto_trace_all macro); Originator is the oldest public IP
	// (%e) and FirstReceived its Received entry (%t).
	ReceivedTrace []string
	Originator    string
	FirstReceived string
	// SenderNotified tells whether the sender gets a notification (%S).
	SenderNotified bool
	// DSNPassedOn is set when the next hop took the DSN parameters.
	DSNPassedOn bool
}

// ccatDisplayName is amavis's %ccat_display_names.
func ccatDisplayName(c policy.Category) string {
	switch c.Major {
	case policy.CCCatchAll:
		return "CatchAll"
	case policy.CCClean:
		if c.Minor == 1 {
			return "CleanTag"
		}
		return "Clean"
	case policy.CCMTA:
		switch c.Minor {
		case 1:
			return "MtaTempFailed"
		case 2:
			return "MtaRejected"
		}
		return "MtaFailed"
	case policy.CCOversized:
		return "Oversized"
	case policy.CCBadH:
		names := []string{"BadHdr", "BadHdrMime", "BadHdr8bit", "BadHdrChar", "BadHdrSpace", "BadHdrLong", "BadHdrSyntax", "BadHdrMissing", "BadHdrDupl"}
		if c.Minor >= 0 && c.Minor < len(names) {
			return names[c.Minor]
		}
		return "BadHdr"
	case policy.CCSpammy:
		if c.Minor == 1 {
			return "Spammy3"
		}
		return "Spammy"
	case policy.CCSpam:
		return "Spam"
	case policy.CCUnchecked:
		switch c.Minor {
		case 1:
			return "UncheckedEncrypted"
		case 2:
			return "UncheckedOverLimits"
		case 3:
			return "UncheckedAmbiguousContent"
		}
		return "Unchecked"
	case policy.CCBanned:
		return "Banned"
	case policy.CCVirus:
		return "Virus"
	}
	return "CatchAll"
}

// RFC2822Date formats t as amavis's rfc2822_timestamp: local time, day
// padded with a space, zone offset and name.
func RFC2822Date(t time.Time) string {
	s := t.Format("Mon, _2 Jan 2006 15:04:05 -0700")
	if z, _ := t.Zone(); strings.TrimSpace(z) != "" {
		s += " (" + z + ")"
	}
	return s
}

// quoteAddr is amavis's qquote_rfc2821_local: the address in angle
// brackets, its local part quoted when it needs quoting.
func quoteAddr(a string) string {
	local, domain, hasAt := a, "", false
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		local, domain, hasAt = a[:i], a[i:], true
	}
	if local != "" && needsQuote(local) {
		local = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(local) + `"`
	}
	if !hasAt {
		return "<" + local + ">"
	}
	return "<" + local + domain + ">"
}

func needsQuote(local string) bool {
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return true
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c >= 0x80:
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0:
		default:
			return true
		}
	}
	return false
}

// decodeMIME decodes RFC 2047 encoded-words, keeping the text as is when it
// cannot.
func decodeMIME(s string) string {
	dec := new(mime.WordDecoder)
	if out, err := dec.DecodeHeader(s); err == nil {
		return out
	}
	return s
}

// messageID returns the first <...> of a Message-ID field, amavis's
// parse_message_id.
func messageID(v string) string {
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j >= 0 {
			return v[i : i+j+1]
		}
	}
	return strings.TrimSpace(v)
}

// shortReport is amavis's delivery_short_report: recipients that got the
// message, the others, and the others with their replies.
func (in *Info) shortReport() (succ, failed, failedFull []string) {
	for _, r := range in.Rcpts {
		q := quoteAddr(r.Addr)
		if r.Destiny == policy.DPass && (r.Reply.Class() == 2 || r.Done == NotDone) {
			succ = append(succ, q)
			continue
		}
		failed = append(failed, q)
		said := ""
		if r.RemoteMTA != "" {
			said = " [" + r.RemoteMTA + "] said:"
		}
		failedFull = append(failedFull, fmt.Sprintf("%s:%s\n   %s", q, said, r.Reply.String()))
	}
	return
}

// ccat picks the category the [:ccat|attr|which] macro reports: "main",
// "blocking", or (empty) the blocking one when there is one.
func (in *Info) ccat(which string) policy.Category {
	if which != "main" && in.Blocking != nil {
		return *in.Blocking
	}
	return in.Main
}

// headerValue returns the raw (not unfolded beyond CRLF removal) body of the
// first field named name, or "" with ok false.
func (in *Info) headerValue(name string) (string, bool) {
	if in.Header == nil {
		return "", false
	}
	for _, f := range in.Header.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value(), true
		}
	}
	return "", false
}

func undefIfEmpty(s string) Value {
	if s == "" {
		return Value{}
	}
	return S(s)
}

// macros returns the builtins the templates use. extra overrides them.
func (in *Info) macros(extra Macros) Macros {
	succ, failed, failedFull := in.shortReport()
	recips := make([]string, len(in.Rcpts))
	for i, r := range in.Rcpts {
		recips[i] = quoteAddr(r.Addr)
	}
	str := func(s string) Macro { return func([]string) Value { return undefIfEmpty(s) } }
	list := func(l []string) Macro { return func([]string) Value { return L(l) } }
	hdrField := func(args []string) Value {
		if len(args) == 0 {
			return Value{}
		}
		v, ok := in.headerValue(args[0])
		if !ok {
			return Value{}
		}
		if len(args) > 1 {
			if n, err := strconv.Atoi(strings.TrimSpace(args[1])); err == nil && n > 0 && len(v) > n {
				v = v[:n]
			}
		}
		return S(v)
	}
	sender := quoteAddr(in.Sender)
	src := in.SenderSource
	if src == "" {
		src = sender
	}
	clientAddrPort := ""
	if in.Client.Addr != "" {
		clientAddrPort = "[" + in.Client.Addr + "]"
		if in.Client.Port != "" && in.Client.Port != "0" {
			clientAddrPort += ":" + in.Client.Port
		}
	}
	m := Macros{
		"p":        str(in.PolicyBank),
		"d":        str(RFC2822Date(in.Received)),
		"DATE":     str(RFC2822Date(in.Received)),
		"U":        str(in.Received.UTC().Format("20060102T150405Z")),
		"u":        str(fmt.Sprintf("%010d", in.Received.Unix())),
		"h":        str(in.Hostname),
		"HOSTNAME": str(in.Hostname),
		"l": func([]string) Value {
			if in.Originating {
				return S("1")
			}
			return Value{}
		},
		"s":       str(sender),
		"S":       str(sender),
		"o":       str(src),
		"R":       list(recips),
		"D":       list(succ),
		"O":       list(failed),
		"N":       list(failedFull),
		"Q":       str(in.QueueID),
		"n":       str(in.LogID),
		"i":       str(in.MailID),
		"log_id":  str(in.LogID),
		"mail_id": str(in.MailID),
		"LOGID":   str(in.LogID),
		"MAILID":  str(in.MailID),
		"m": func([]string) Value {
			v, ok := in.headerValue("Message-ID")
			if !ok {
				return Value{}
			}
			return S(messageID(v))
		},
		"r": func([]string) Value {
			v, ok := in.headerValue("Resent-Message-ID")
			if !ok {
				return Value{}
			}
			return S(messageID(v))
		},
		"j": func([]string) Value {
			v, ok := in.headerValue("Subject")
			if !ok {
				return Value{}
			}
			return S(v)
		},
		"header_field":        hdrField,
		"header_field_octets": hdrField,
		"HEADER":              hdrField,
		"useragent": func(args []string) Value {
			name := "User-Agent"
			v, ok := in.headerValue(name)
			if !ok {
				name = "X-Mailer"
				if v, ok = in.headerValue(name); !ok {
					return Value{}
				}
			}
			which := ""
			if len(args) > 0 {
				which = strings.ToLower(strings.TrimSpace(args[0]))
			}
			switch which {
			case "name":
				return S(name)
			case "body":
				return S(v)
			}
			return S(name + ": " + v)
		},
		"ccat": func(args []string) Value {
			attr, which := "", ""
			if len(args) > 0 {
				attr = strings.ToLower(args[0])
			}
			if len(args) > 1 {
				which = strings.ToLower(args[1])
			}
			switch attr {
			case "is_blocking":
				if in.Blocking != nil {
					return S("1")
				}
				return S("")
			case "is_nonblocking":
				if in.Blocking == nil {
					return S("1")
				}
				return S("")
			case "is_blocked_by_nonmain":
				if in.Blocking != nil && *in.Blocking != in.Main {
					return S("1")
				}
				return S("")
			case "name":
				if which != "blocking" {
					which = "main"
				}
				return S(ccatDisplayName(in.ccat(which)))
			}
			c := in.ccat(which)
			switch attr {
			case "major":
				return S(strconv.Itoa(int(c.Major)))
			case "minor":
				return S(strconv.Itoa(c.Minor))
			}
			return S(fmt.Sprintf("(%d,%d)", c.Major, c.Minor))
		},
		"dsn_notify": func([]string) Value {
			if in.Sender == "" {
				return S("NEVER")
			}
			set := map[string]bool{}
			for _, r := range in.Rcpts {
				if r.Notify == nil {
					set["FAILURE"] = true
				}
				for _, n := range r.Notify {
					set[strings.ToUpper(n)] = true
				}
			}
			var keys []string
			for _, k := range []string{"DELAY", "FAILURE", "NEVER", "SUCCESS"} {
				if set[k] {
					keys = append(keys, k)
				}
			}
			return S(strings.Join(keys, ","))
		},
		"q": list(in.Quarantined),
		"v": func([]string) Value {
			if in.ScannerOutput == "" {
				return Value{}
			}
			var lines []string
			for _, l := range strings.Split(strings.ReplaceAll(in.ScannerOutput, "\r\n", "\n"), "\n") {
				lines = append(lines, strings.TrimRight(l, " \t"))
			}
			return L(lines)
		},
		"V": list(unique(in.VirusNames)),
		"W": list(in.Scanners),
		"F": str(in.Banned),
		"X": list(in.BadHeaders),
		"H": func([]string) Value {
			var lines []string
			if in.Header != nil {
				for _, f := range in.Header.Fields {
					raw := strings.TrimRight(strings.ReplaceAll(string(f.Raw), "\r\n", "\n"), "\n")
					lines = append(lines, strings.Split(raw, "\n")...)
				}
			}
			return L(lines)
		},
		"A": func([]string) Value {
			if in.SpamSummary == "" {
				return L(nil)
			}
			return L(strings.Split(strings.ReplaceAll(in.SpamSummary, "\r\n", "\n"), "\n"))
		},
		"SUMMARY":            str(in.SpamSummary),
		"c":                  str(in.SpamScore),
		"SCORE":              str(in.SpamScore),
		"z":                  str(strconv.FormatInt(in.Size, 10)),
		"ip_proto_trace_all": traceMacro(in.ReceivedTrace),
		"ip_trace_all":       traceMacro(in.ReceivedTrace),
		"t":                  str(in.FirstReceived),
		"e":                  str(in.Originator),
		"a":                  str(in.Client.Addr),
		"client_addr":        str(in.Client.Addr),
		"client_port":        str(in.Client.Port),
		"client_addr_port":   str(clientAddrPort),
		"g":                  str(in.Client.Name),
		"client_helo":        str(in.Client.Helo),
		"client_protocol":    str(in.Client.Proto),
		"dkim":               func([]string) Value { return Value{} },
		"wrap": func(args []string) Value {
			for len(args) < 4 {
				args = append(args, "")
			}
			width, err := strconv.Atoi(strings.TrimSpace(args[0]))
			if err != nil || width <= 0 {
				width = 78
			}
			return S(wrapString(args[3], width, args[1], args[2], true, false))
		},
		"lc": func(args []string) Value { return S(strings.ToLower(strings.Join(args, ""))) },
		"uc": func(args []string) Value { return S(strings.ToUpper(strings.Join(args, ""))) },
		"len": func(args []string) Value {
			if len(args) == 0 {
				return S("0")
			}
			return S(strconv.Itoa(len(args[0])))
		},
		"join": func(args []string) Value {
			if len(args) == 0 {
				return S("")
			}
			return S(strings.Join(args[1:], args[0]))
		},
		"limit": func(args []string) Value {
			if len(args) < 2 {
				return Value{}
			}
			lim, _ := strconv.Atoi(strings.TrimSpace(args[0]))
			s := args[1]
			if lim < 6 || len(s) <= lim {
				return S(s)
			}
			return S(s[:lim-5] + "[...]")
		},
		"dquote": func(args []string) Value {
			var b strings.Builder
			for _, a := range args {
				b.WriteString(`"` + strings.ReplaceAll(a, `"`, `""`) + `"`)
			}
			return S(b.String())
		},
		"uquote": func(args []string) Value {
			var b strings.Builder
			for _, a := range args {
				b.WriteString(strings.Join(strings.FieldsFunc(a, func(r rune) bool { return r == ' ' || r == '\t' }), "_"))
			}
			return S(b.String())
		},
		"mail_addr_decode":        mailAddrDecode,
		"mail_addr_decode_octets": mailAddrDecode,
		"mime_decode": func(args []string) Value {
			if len(args) == 0 || args[0] == "" {
				return S("")
			}
			s := decodeMIME(args[0])
			if len(args) > 1 {
				if n, err := strconv.Atoi(strings.TrimSpace(args[1])); err == nil && n > 0 {
					if r := []rune(s); len(r) > n {
						s = string(r[:n])
					}
				}
			}
			return S(s)
		},
		"mime2utf8": func(args []string) Value {
			if len(args) == 0 {
				return S("")
			}
			return S(decodeMIME(args[0]))
		},
		"report_format": str("dsn"),
		"partition_tag": str(""),
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// mailAddrDecode lowercases the domain of an address, as amavis's
// mail_addr_decode. Unlike amavis it leaves text that is not a single
// address alone: amavis also lowercases everything after the last '@' of
// a recipient's report line, reply text included.
func mailAddrDecode(args []string) Value {
	if len(args) == 0 {
		return Value{}
	}
	a := args[0]
	if strings.ContainsAny(a, " \t\n") {
		return undefIfEmpty(a)
	}
	if i := strings.LastIndexByte(a, '@'); i >= 0 && isASCII(a[i:]) {
		a = a[:i] + strings.ToLower(a[i:])
	}
	return undefIfEmpty(a)
}

// traceMacro is undefined (one empty iteration) without a trace, as in
// amavis ("Received trace: " with nothing after it).
func traceMacro(t []string) Macro {
	return func([]string) Value {
		if len(t) == 0 {
			return Value{}
		}
		return L(t)
	}
}

func unique(l []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range l {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
