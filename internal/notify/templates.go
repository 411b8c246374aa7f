package notify

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/text/encoding/htmlindex"

	"github.com/mavis-filter/mavis/internal/policy"
)

// Templates are the notification templates, in amavis's template syntax,
// named after amavis's settings. An empty field means the built-in text.
type Templates struct {
	Sender      string // notify_sender_templ: DSN (bounce) for other categories
	VirusSender string // notify_virus_sender_templ: DSN for VIRUS and BANNED
	SpamSender  string // notify_spam_sender_templ: DSN for SPAM
	VirusAdmin  string // notify_virus_admin_templ: admin notice, all but SPAM
	SpamAdmin   string // notify_spam_admin_templ: admin notice for SPAM
	VirusRecips string // notify_virus_recips_templ: recipient warning
}

// DefaultTemplates returns mavis's built-in templates. Their header lines
// and report lines are the ones amavis writes (people filter on them);
// the explanatory prose is our own.
func DefaultTemplates() Templates {
	return Templates{
		Sender:      defaultSenderTempl,
		VirusSender: defaultVirusSenderTempl,
		SpamSender:  defaultSpamSenderTempl,
		VirusAdmin:  defaultVirusAdminTempl,
		SpamAdmin:   defaultSpamAdminTempl,
		VirusRecips: defaultVirusRecipsTempl,
	}
}

func (t Templates) withDefaults() Templates {
	d := DefaultTemplates()
	pick := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	pick(&t.Sender, d.Sender)
	pick(&t.VirusSender, d.VirusSender)
	pick(&t.SpamSender, d.SpamSender)
	pick(&t.VirusAdmin, d.VirusAdmin)
	pick(&t.SpamAdmin, d.SpamAdmin)
	pick(&t.VirusRecips, d.VirusRecips)
	return t
}

// templateFiles maps amavis's l10n template file names (Debian's
// /etc/amavis/en_US/template-*.txt, read by read_l10n_templates) to fields.
var templateFiles = []struct {
	file string
	set  func(*Templates, string)
}{
	{"template-dsn.txt", func(t *Templates, s string) { t.Sender = s }},
	{"template-virus-sender.txt", func(t *Templates, s string) { t.VirusSender = s }},
	{"template-spam-sender.txt", func(t *Templates, s string) { t.SpamSender = s }},
	{"template-virus-admin.txt", func(t *Templates, s string) { t.VirusAdmin = s }},
	{"template-spam-admin.txt", func(t *Templates, s string) { t.SpamAdmin = s }},
	{"template-virus-recipient.txt", func(t *Templates, s string) { t.VirusRecips = s }},
}

// LoadTemplates reads amavis's localized templates from dir (e.g.
// /etc/amavis/en_US) the way read_l10n_templates does: the files
// template-dsn.txt, template-virus-sender.txt, template-spam-sender.txt,
// template-virus-admin.txt, template-spam-admin.txt and
// template-virus-recipient.txt, in the character set named on the first
// line of the file "charset" (UTF-8 when absent). Missing files keep the
// built-in text.
func LoadTemplates(dir string) (Templates, error) {
	var t Templates
	cs := "utf-8"
	if b, err := os.ReadFile(filepath.Join(dir, "charset")); err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		if f := strings.Fields(first); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			cs = f[0]
		} else {
			// amavis reads the first non-comment line
			for _, l := range strings.Split(string(b), "\n") {
				if f := strings.Fields(l); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
					cs = f[0]
					break
				}
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return t, fmt.Errorf("notification templates: %w", err)
	}
	for _, tf := range templateFiles {
		b, err := os.ReadFile(filepath.Join(dir, tf.file))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return t, fmt.Errorf("notification templates: %w", err)
		}
		s, err := toUTF8(b, cs)
		if err != nil {
			return t, fmt.Errorf("notification template %s: %w", filepath.Join(dir, tf.file), err)
		}
		tf.set(&t, s)
	}
	return t, nil
}

func toUTF8(b []byte, charset string) (string, error) {
	switch strings.ToLower(charset) {
	case "utf-8", "utf8", "ascii", "us-ascii":
		return string(b), nil
	}
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return "", fmt.Errorf("unknown charset %q", charset)
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return "", fmt.Errorf("decode %s: %w", charset, err)
	}
	return string(out), nil
}

// senderTemplate picks the DSN template by category, as amavis's
// %notify_sender_templ_by_ccat: VIRUS and BANNED the virus sender text,
// SPAM the spam sender text, anything else the neutral DSN.
func (t Templates) senderTemplate(ccats []policy.Category) string {
	t = t.withDefaults()
	for _, c := range ccats {
		switch c.Major {
		case policy.CCVirus, policy.CCBanned:
			return t.VirusSender
		case policy.CCSpam:
			return t.SpamSender
		}
	}
	return t.Sender
}

// adminTemplate picks the admin template: SPAM the spam admin text,
// anything else the virus admin text (%notify_admin_templ_by_ccat).
func (t Templates) adminTemplate(ccats []policy.Category) string {
	t = t.withDefaults()
	for _, c := range ccats {
		if c.Major == policy.CCSpam {
			return t.SpamAdmin
		}
	}
	return t.VirusAdmin
}

// The built-in templates. Shared lines: the client and trace block and the
// original message's identification.
const identBlock = `[? %a |#|[:wrap|78||  |First upstream SMTP client IP address: [:client_addr_port] %g]]

[:wrap|78||  |Received trace: [ip_proto_trace_all|%x| < ]]

[:wrap|78||  |Return-Path: [:mail_addr_decode|%s]]
[:wrap|78||  |From: [:mime_decode|[:header_field_octets|From]|100]]
[? [:header_field|Sender]|#|[:wrap|78||  |Sender: [:mime_decode|[:header_field_octets|Sender]|100]]]
[? %m |#|[:wrap|78||  |Message-ID: [:mail_addr_decode|%m]]]
[? %r |#|[:wrap|78||  |Resent-Message-ID: [:mail_addr_decode|%r]]]
[? %j |#|[:wrap|78||  |Subject: [:mime_decode|[:header_field_octets|Subject]|100]]]
`

const defaultVirusAdminTempl = `#
# mavis: administrator notification for blocked contents (not spam).
#
From: %f
Date: %d
Subject: [? [:ccat|major] |Clean mail|Clean mail|MTA-blocked mail|\
OVERSIZED mail|INVALID HEADER in mail|Spammy|Spam|UNCHECKED contents in mail|\
BANNED contents (%F) in mail|VIRUS (%V) in mail]\
 FROM [?%l||LOCAL ][?%a||[:client_addr_port] ][:mail_addr_decode|%s]
To: [? %#T |undisclosed-recipients:;|[%T|, ]]
Message-ID: <VA%i@%h>

[? %#V |No viruses were found.
|A virus was found: %V
|Two viruses were found:\n  %V
|%#V viruses were found:\n  %V
]
[? %#F |#|[:wrap|78||  |Banned name: %F]]
[? %#X |#|Bad header:[\n[:wrap|78|  |  |%X]]]
[? %#W |#\
|Scanner detecting a virus: %W
|Scanners detecting a virus: %W
]
Content type: [:ccat|name|main]#
[? [:ccat|is_blocked_by_nonmain] ||, blocked for [:ccat|name|blocking]]
Internal reference code for the message is %n/%i

` + identBlock + `[? %q |Not quarantined.|The message has been quarantined as: %q]

[? %#S |Notification to sender will not be mailed.

]#
[? %#D |#|The message WILL BE relayed to:[%D|\n[:mail_addr_decode|%D]|]
]
[? %#N |#|The message WAS NOT relayed to:[%N|\n[:mail_addr_decode|%N]|]
]
[? %#V |#|[? %#v |#|Virus scanner output:[\n  %v]
]]
`

const defaultSpamAdminTempl = `#
# mavis: administrator notification for spam.
#
From: %f
Date: %d
Subject: Spam FROM [?%l||LOCAL ][?%a||[:client_addr_port] ][:mail_addr_decode|%s]
To: [? %#T |undisclosed-recipients:;|[%T|, ]]
Message-ID: <SA%i@%h>

Content type: [:ccat|name|main]#
[? [:ccat|is_blocked_by_nonmain] ||, blocked for [:ccat|name|blocking]]
Internal reference code for the message is %n/%i

` + identBlock + `[? %q |Not quarantined.|The message has been quarantined as: %q]

[? %#D |#|The message WILL BE relayed to:[%D|\n[:mail_addr_decode|%D]|]
]
[? %#N |#|The message WAS NOT relayed to:[%N|\n[:mail_addr_decode|%N]|]
]
Spam scanner report:
[%A
]\
`

const defaultSenderTempl = `#
# mavis: delivery status notification to the sender (categories other than
# virus, banned and spam). From, To and Date are supplied by the program.
#
Subject: [?%#D|Undeliverable mail|Delivery status notification]\
[? [:ccat|major] |||, MTA-BLOCKED\
|, OVERSIZED message\
|, invalid header section[=explain_badh|1]\
[?[:ccat|minor]||: bad MIME|: unencoded 8-bit character\
|: improper use of control char|: all-whitespace header line\
|: header line longer than 998 characters|: header field syntax error\
|: missing required header field|: duplicate header field|]\
|, UNSOLICITED BULK EMAIL apparently from you\
|, UNSOLICITED BULK EMAIL apparently from you\
|, contents UNCHECKED\
|, BANNED contents type (%F)\
|, VIRUS in message apparently from you (%V)\
]
Message-ID: <DSN%i@%h>

[? %#D |#|Your message WAS SUCCESSFULLY RELAYED to:[%D|\n  [:mail_addr_decode|%D]|]

[~[:dsn_notify]|["\\bSUCCESS\\b"]|\
and you explicitly requested a delivery status notification on success.\n]\
]
[? %#N |#|The message WAS NOT relayed to:[%N|\n  [:mail_addr_decode|%N]|]
]
[:wrap|78|||This [?%#D|nondelivery|delivery] report was \
generated by the program mavis at host %h. \
Our internal reference code for your message is %n/%i]

[? [:explain_badh] ||[? [:ccat|minor]
|INVALID HEADER
|INVALID HEADER: BAD MIME HEADER SECTION OR BAD MIME STRUCTURE
|INVALID HEADER: INVALID NON-ASCII CHARACTERS IN HEADER SECTION
|INVALID HEADER: INVALID CONTROL CHARACTERS IN HEADER SECTION
|INVALID HEADER: FOLDED HEADER FIELD LINE MADE UP ENTIRELY OF WHITESPACE
|INVALID HEADER: HEADER LINE LONGER THAN RFC 5322 LIMIT OF 998 CHARACTERS
|INVALID HEADER: HEADER FIELD SYNTAX ERROR
|INVALID HEADER: MISSING REQUIRED HEADER FIELD
|INVALID HEADER: DUPLICATE HEADER FIELD
|INVALID HEADER
]
[[:wrap|78|  |  |%X]\n]
]\
` + identBlock + `
[? [:explain_badh] ||[? [:ccat|minor]
|#
|#
|# 2: 8-bit characters
  Internet mail (RFC 5322) does not allow raw characters above code 127
  in a header section. Text in other alphabets must be encoded as RFC 2047
  describes, which mail programs normally do by themselves, or the message
  must be sent through a mail system that supports SMTPUTF8 (RFC 6532).
  Please ask your postmaster to look at the program that wrote the header.
|# 3: control characters
  Internet mail (RFC 5322) does not allow the control characters NUL and
  a bare CR in a header section.
|# 4: whitespace line
  A header field was folded so that one of its lines holds nothing but
  blanks, which RFC 5322 section 3.2.2 forbids.
|# 5: long line
  A header line was longer than the 998 characters RFC 5322 section 2.1.1
  allows.
|# 6: syntax
|# 7: missing field
  A header field that RFC 5322 section 3.6 requires (the Date and From
  fields) is missing.
|# 8: duplicate field
  A header field that RFC 5322 section 3.6 allows only once occurs more
  than once.
|#
]]#
`

const defaultVirusSenderTempl = `#
# mavis: delivery status notification to the sender of a message with a
# virus or banned contents. From, To and Date are supplied by the program.
#
Subject: [? [:ccat|major]
|Clean message from you\
|Clean message from you\
|Clean message from you (MTA blocked)\
|OVERSIZED message from you\
|BAD-HEADER in message from you\
|Spam claiming to be from you\
|Spam claiming to be from you\
|A message with UNCHECKED contents from you\
|BANNED contents from you (%F)\
|VIRUS in message apparently from you (%V)\
]
[? %m  |#|In-Reply-To: [:mail_addr_decode|%m]]
Message-ID: <VS%i@%h>

[? [:ccat|major] |Clean|Clean|MTA-BLOCKED|OVERSIZED|INVALID HEADER|\
Spammy|Spam|UNCHECKED contents|BANNED CONTENTS ALERT|VIRUS ALERT]

Our content checker found
[? %#V |#|[:wrap|78|    |  |[? %#V |viruses|virus|viruses]: %V]]
[? %#F |#|[:wrap|78|    |  |banned name: %F]]
[? %#X |#|[[:wrap|78|    |  |%X]\n]]

in email presumably from you [:mail_addr_decode|%s]
to the following [? %#R |recipients|recipient|recipients]:\
[%R|\n-> [:mail_addr_decode|%R]|]

Our internal reference code for your message is %n/%i

` + identBlock + `
[? %#D |Delivery of the email was stopped!

]#
[? %#V ||Please check your system for viruses,
or ask your system administrator to do so.

]#
[? %#V |[? %#F ||#
[:wrap|78|||The message [?%#D|has been blocked|triggered this warning] \
because it contains a component (a MIME part, or a file inside an archive) \
whose name or type is not accepted here.]

[:wrap|78|||If you meant to send this file, consider making it available \
for download and sending a link instead, or ask the recipient which format \
they can accept. We apologise if the contents were harmless.]

]]#
`

const defaultSpamSenderTempl = `#
# mavis: delivery status notification to the sender of spam.
# From, To and Date are supplied by the program.
#
Subject: Considered UNSOLICITED BULK EMAIL, apparently from you
[? %m  |#|In-Reply-To: [:mail_addr_decode|%m]]
Message-ID: <SS%i@%h>

A message from [:mail_addr_decode|%s][%R|\nto: [:mail_addr_decode|%R]|]

was considered unsolicited bulk e-mail (UBE).

Our internal reference code for your message is %n/%i

The message carried your return address. If you did not send it, your
address was forged by someone else, and we apologise for this notice.

` + identBlock + `[? %#X |#|\n[[:wrap|78||  |%X]\n]]

[? %#D |Delivery of the email was stopped!
]#
`

const defaultVirusRecipsTempl = `#
# mavis: notification to a recipient of blocked contents.
#
From: %f
Date: %d
Subject: [? [:ccat|major] |Clean mail|Clean mail|MTA-blocked mail|\
OVERSIZED mail|INVALID HEADER in mail|Spammy|Spam|UNCHECKED contents in mail|\
BANNED contents (%F) in mail|VIRUS (%V) in mail] TO YOU from [:mail_addr_decode|%s]
To: [? %#T |undisclosed-recipients:;|[%T|, ]]
Message-ID: <VR%i@%h>

[? %#V |[? %#F ||BANNED CONTENTS ALERT]|VIRUS ALERT]

Our content checker found
[? %#V |#|[:wrap|78|    |  |[?%#V|viruses|virus|viruses]: %V]]
[? %#F |#|[:wrap|78|    |  |banned name: %F]]
[? %#X |#|[[:wrap|78|    |  |%X]\n]]

in an email to you [? %#V |from:|from probably faked sender:]
  [:mail_addr_decode|%o]
[? %#V |#|claiming to be: [:mail_addr_decode|%s]]

Content type: [:ccat|name|main]#
[? [:ccat|is_blocked_by_nonmain] ||, blocked for [:ccat|name|blocking]]
Our internal reference code for your message is %n/%i

` + identBlock + `[? %q |Not quarantined.|The message has been quarantined as: %q]

Please contact your system administrator for details.
`
