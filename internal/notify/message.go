package notify

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mavis-filter/mavis/internal/policy"
)

// Notification is a generated message, ready for Send.
type Notification struct {
	Kind     string   // "dsn", "admin" or "recip", for logs
	MailFrom string   // envelope sender without brackets; "" = <>
	Rcpts    []string // envelope recipients
	// Message is the complete message (header and body), CRLF line ends.
	Message []byte
	// Subject is the generated Subject (unfolded), for logs.
	Subject string
}

// DefaultFrom is amavis's $hdrfrom_notify_sender default for a host:
// "Content-filter at host" <postmaster@host>.
func DefaultFrom(hostname string) string {
	return fmt.Sprintf(`"Content-filter at %s" <postmaster@%s>`, hostname, hostname)
}

// addrOf returns the address of a From-style value ("Name <a@b>" or a@b).
func addrOf(hdrFrom string) string {
	if a, err := mail.ParseAddress(hdrFrom); err == nil {
		return a.Address
	}
	if i := strings.LastIndexByte(hdrFrom, '<'); i >= 0 {
		if j := strings.IndexByte(hdrFrom[i:], '>'); j > 0 {
			return hdrFrom[i+1 : i+j]
		}
	}
	return strings.TrimSpace(hdrFrom)
}

// AdminOptions control an administrator notification.
type AdminOptions struct {
	// Admins are the recipients: the union of the per-recipient admin
	// addresses (virus_admin, banned_admin, spam_admin, bad_header_admin).
	Admins []string
	// HdrFrom is hdrfrom_notify_admin (or _spamadmin); "" = DefaultFrom.
	HdrFrom string
	// MailFrom is mailfrom_notify_admin; "" = the address in HdrFrom,
	// "<>" = the null sender.
	MailFrom string
	// Templates overrides the built-in texts.
	Templates Templates
	// CCats is the message's category list, most important first, used to
	// pick the template (spam or virus admin); nil = [Info.Main].
	CCats []policy.Category
}

// Admin builds the administrator notification amavis sends for blocked
// mail: multipart/mixed with the report text and the original header
// section (text/rfc822-headers). It returns nil when there are no admins.
func Admin(in *Info, opt AdminOptions) (*Notification, error) {
	if len(opt.Admins) == 0 {
		return nil, nil
	}
	hdrFrom := opt.HdrFrom
	if hdrFrom == "" {
		hdrFrom = DefaultFrom(in.Hostname)
	}
	mailFrom := opt.MailFrom
	switch mailFrom {
	case "":
		mailFrom = addrOf(hdrFrom)
	case "<>":
		mailFrom = ""
	}
	to := make([]string, len(opt.Admins))
	for i, a := range opt.Admins {
		to[i] = quoteAddr(a)
	}
	ccats := opt.CCats
	if ccats == nil {
		ccats = []policy.Category{in.Main}
	}
	tmpl := opt.Templates.adminTemplate(ccats)
	extra := Macros{
		"f": func([]string) Value { return S(hdrFrom) },
		"T": func([]string) Value { return L(to) },
		"C": func([]string) Value { return L(nil) },
	}
	text, err := Expand(tmpl, in.macros(extra))
	if err != nil {
		return nil, fmt.Errorf("admin notification: %w", err)
	}
	e := newEntity(in, text, "multipart/mixed")
	e.addHeaderPart(in)
	return &Notification{
		Kind:     "admin",
		MailFrom: mailFrom,
		Rcpts:    append([]string(nil), opt.Admins...),
		Message:  e.bytes(),
		Subject:  e.subject(),
	}, nil
}

// DSNOptions control a delivery status notification to the sender.
type DSNOptions struct {
	// HdrFrom is hdrfrom_notify_sender; "" = DefaultFrom.
	HdrFrom string
	// Bcc is dsn_bcc: an address that gets a copy, "" for none.
	Bcc       string
	Templates Templates
	// CCats is the message's category list (template choice); nil =
	// [Info.Main].
	CCats []policy.Category
	// Message-level inputs of the suppression rules (Sender and
	// AllRejected are filled in from Info).
	Decision DSNMessage
}

// RcptVerdict is the DSN decision for one recipient.
type RcptVerdict struct {
	Addr    string
	Verdict Verdict
	Reason  string
}

// DSN builds the RFC 3464 delivery status notification amavis sends to the
// envelope sender for bounced (and, on SMTP, rejected) recipients. It
// returns nil when no recipient needs one; suppressed tells that some
// recipient's DSN was suppressed by policy (amavis logs NoBounce and
// answers "DISCARD(bounce.suppressed)"). verdicts has one entry per
// recipient in Info.Rcpts order.
func DSN(in *Info, opt DSNOptions) (n *Notification, suppressed bool, verdicts []RcptVerdict, err error) {
	m := opt.Decision
	m.Sender = in.Sender
	m.DSNPassedOn = m.DSNPassedOn || in.DSNPassedOn
	m.AllRejected = len(in.Rcpts) > 0
	for _, r := range in.Rcpts {
		if r.Destiny != policy.DReject || r.Reply.Class() != 5 {
			m.AllRejected = false
		}
	}
	date := RFC2822Date(in.Received)
	var recipTxt strings.Builder
	anyFail, anyDelay, anySucc := false, false, false
	for _, r := range in.Rcpts {
		v, why := DecideDSN(m, DSNRcpt{
			Reply: r.Reply, Destiny: r.Destiny, Done: r.Done, Notify: r.Notify,
			WarnSender: r.WarnSender, SuppressReason: r.SuppressReason,
			SpamLevel: r.SpamLevel, Cutoff: r.DSNCutoff,
			Blacklisted: r.Blacklisted, Whitelisted: r.Whitelisted,
			CCatMajor: r.Category.Major,
		})
		verdicts = append(verdicts, RcptVerdict{Addr: r.Addr, Verdict: v, Reason: why})
		if v == Suppressed {
			suppressed = true
		}
		if v != Report {
			continue
		}
		action := dsnAction(r, m.DSNPassedOn)
		switch action {
		case "failed":
			anyFail = true
		case "delayed":
			anyDelay = true
		default:
			anySucc = true
		}
		writeRecipientFields(&recipTxt, in, r, action, date)
	}
	if !anyFail && !anyDelay && !anySucc {
		return nil, suppressed, verdicts, nil
	}
	var msgTxt strings.Builder
	fmt.Fprintf(&msgTxt, "Reporting-MTA: dns; %s\n", in.Hostname)
	if in.Conn.Helo != "" {
		fmt.Fprintf(&msgTxt, "Received-From-MTA: dns; %s ([%s])\n", in.Conn.Helo, in.Conn.RemoteIP)
	}
	fmt.Fprintf(&msgTxt, "Arrival-Date: %s\n", date)
	if in.Params.EnvID != "" {
		fmt.Fprintf(&msgTxt, "Original-Envelope-Id: %s\n", sanitize(xtextDecode(in.Params.EnvID)))
	}
	status := msgTxt.String() + recipTxt.String()

	hdrFrom := opt.HdrFrom
	if hdrFrom == "" {
		hdrFrom = DefaultFrom(in.Hostname)
	}
	hdrTo := []string{quoteAddr(in.Sender)}
	ccats := opt.CCats
	if ccats == nil {
		ccats = []policy.Category{in.Main}
	}
	extra := Macros{
		"f":             func([]string) Value { return S(hdrFrom) },
		"T":             func([]string) Value { return L(hdrTo) },
		"d":             func([]string) Value { return S(date) },
		"report_format": func([]string) Value { return S("dsn") },
	}
	text, err := Expand(opt.Templates.senderTemplate(ccats), in.macros(extra))
	if err != nil {
		return nil, suppressed, verdicts, fmt.Errorf("DSN: %w", err)
	}
	subtype := "delivery-status"
	if !isASCII(status) && utf8.ValidString(status) {
		subtype = "global-delivery-status"
	}
	e := newEntity(in, text, "multipart/report; report-type="+subtype)
	e.replace("From", hdrFrom)
	e.replace("To", strings.Join(hdrTo, ", "))
	e.replace("Date", date)
	desc := "Delivery report"
	switch {
	case anyFail:
		desc = "Delivery error report"
	case anyDelay:
		desc = "Delivery delay report"
	}
	ph := []string{"Content-Type: message/" + subtype + `; name="dsn_status.dsn"`,
		`Content-Disposition: inline; filename="dsn_status.dsn"`,
		"Content-Transfer-Encoding: 7bit",
		"Content-Description: " + desc}
	if subtype == "global-delivery-status" {
		ph = []string{"Content-Type: message/global-delivery-status; charset=\"UTF-8\"; name=\"dsn_status.u8dsn\"",
			`Content-Disposition: inline; filename="dsn_status.u8dsn"`,
			"Content-Transfer-Encoding: 8bit",
			"Content-Description: " + desc}
	}
	e.parts = append(e.parts, part{headers: ph, body: status})
	e.addHeaderPart(in)
	rcpts := []string{in.Sender}
	if opt.Bcc != "" {
		rcpts = append(rcpts, opt.Bcc)
	}
	return &Notification{
		Kind:     "dsn",
		MailFrom: "",
		Rcpts:    rcpts,
		Message:  e.bytes(),
		Subject:  e.subject(),
	}, suppressed, verdicts, nil
}

// dsnAction is the RFC 3464 Action of a reported recipient.
func dsnAction(r Rcpt, passedOn bool) string {
	class := r.Reply.Class()
	switch r.Done {
	case Relayed:
		switch {
		case class == 5:
			return "failed"
		case !passedOn:
			return "relayed"
		case r.WarnSender:
			return "delayed"
		}
		return "delivered"
	case DoneHere:
		if class == 5 {
			return "failed"
		}
		return "delivered"
	}
	return "relayed"
}

var replyRe = regexp.MustCompile(`^(\d{3})[ \t-][ \t]*([245]\.\d{1,3}\.\d{1,3})?\s*`)

func writeRecipientFields(b *strings.Builder, in *Info, r Rcpt, action, date string) {
	b.WriteString("\n")
	if r.ORcpt != "" {
		typ, addr, ok := strings.Cut(r.ORcpt, ";")
		if !ok {
			typ, addr = "rfc822", r.ORcpt
		}
		typ = strings.ToLower(strings.TrimSpace(typ))
		if typ != "utf-8" {
			addr = xtextDecode(addr)
		}
		fmt.Fprintf(b, "Original-Recipient: %s;%s\n", typ, sanitize(strings.TrimSpace(addr)))
	}
	fmt.Fprintf(b, "Final-Recipient: rfc822;%s\n", r.Addr)
	resp := r.Reply.String()
	enh := r.Reply.Enh
	if m := replyRe.FindStringSubmatch(resp); m != nil && m[2] != "" {
		enh = m[2]
	}
	if enh == "" {
		if c := r.Reply.Class(); c >= 2 && c <= 5 {
			enh = fmt.Sprintf("%d.0.0", c)
		}
	}
	fmt.Fprintf(b, "Action: %s\n", action)
	fmt.Fprintf(b, "Status: %s\n", enh)
	switch {
	case action == "delayed":
		resp = "250 2.6.0 Bad message, but will be delivered anyway"
	case r.RemoteMTA != "" && r.RemoteReply != "":
		fmt.Fprintf(b, "Remote-MTA: dns; %s\n", r.RemoteMTA)
		resp = r.RemoteReply
	case !strings.Contains(resp, "\n") && len(resp) > 78-23:
		// wrap our own reply, RFC 3461 section 9.2 style
		w := wrapString(strings.Repeat("x", 12)+resp, 78-11, "", "", true, false)
		w = strings.TrimPrefix(w, strings.Repeat("x", 12))
		resp = strings.Join(wrapSMTPResp(w), "\n")
	}
	resp = foldDiag.ReplaceAllString(resp, "\n $1")
	fmt.Fprintf(b, "Diagnostic-Code: smtp; %s\n", resp)
	fmt.Fprintf(b, "Last-Attempt-Date: %s\n", date)
	id := in.LogID
	if in.MailID != "" {
		id += "/" + in.MailID
	}
	fmt.Fprintf(b, "Final-Log-ID: %s\n", id)
}

// xtextDecode decodes RFC 3461 xtext (+XX hex escapes).
func xtextDecode(s string) string {
	if !strings.Contains(s, "+") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '+' && i+2 < len(s) {
			if v, err := hex.DecodeString(s[i+1 : i+3]); err == nil && strings.ToUpper(s[i+1:i+3]) == s[i+1:i+3] {
				b.WriteByte(v[0])
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// sanitize replaces control characters, as amavis's sanitize_str.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// entity is a MIME message under construction, LF line ends.
type entity struct {
	ctype    string
	smtputf8 bool
	fields   []string // folded template fields "Name: body\n"
	names    []string // their lower-case names
	parts    []part
}

type part struct {
	headers []string
	body    string
}

var (
	fieldLine = regexp.MustCompile(`^([^:]*?)[ \t]*:[ \t]*(.*)$`)
	unfoldHdr = regexp.MustCompile(`\r?\n([ \t])`)
	foldDiag  = regexp.MustCompile(`\n([^ \t]|$)`)
)

// newEntity splits an expanded template into header fields and text, as
// amavis's build_mime_entity, and makes the text the first part.
func newEntity(in *Info, text, ctype string) *entity {
	e := &entity{ctype: ctype, smtputf8: in.Params.SMTPUTF8}
	var hdr, body string
	switch {
	case text == "":
	case text[0] == '\n':
		body = text[1:]
	default:
		if i := strings.Index(text, "\n\n"); i >= 0 {
			hdr, body = text[:i+1], text[i+2:]
		} else {
			hdr = text
		}
	}
	hdr = unfoldHdr.ReplaceAllString(hdr, "$1")
	for _, l := range strings.Split(hdr, "\n") {
		l = strings.TrimSuffix(l, "\r")
		m := fieldLine.FindStringSubmatch(l)
		if m == nil || m[1] == "" {
			continue
		}
		e.replace(m[1], decodeMIME(m[2]))
	}
	e.parts = append(e.parts, textPart(body))
	return e
}

// replace sets a field, in place of an existing one or at the end.
func (e *entity) replace(name, body string) {
	f := headerField(name, body, " ", true, e.smtputf8)
	ln := strings.ToLower(name)
	for i, n := range e.names {
		if n == ln {
			e.fields[i] = f
			return
		}
	}
	e.fields = append(e.fields, f)
	e.names = append(e.names, ln)
}

func (e *entity) subject() string {
	for i, n := range e.names {
		if n == "subject" {
			_, v, _ := strings.Cut(e.fields[i], ":")
			return decodeMIME(strings.TrimSpace(strings.ReplaceAll(v, "\n", "")))
		}
	}
	return ""
}

// textPart is the report text: us-ascii 7bit, or UTF-8 quoted-printable
// (base64 when more than a fifth is 8-bit).
func textPart(body string) part {
	if isASCII(body) {
		return part{headers: []string{`Content-Type: text/plain; charset="us-ascii"`,
			"Content-Disposition: inline", "Content-Transfer-Encoding: 7bit"}, body: body}
	}
	n8 := 0
	for i := 0; i < len(body); i++ {
		if body[i] >= 0x80 {
			n8++
		}
	}
	h := []string{`Content-Type: text/plain; charset="UTF-8"`, "Content-Disposition: inline"}
	if float64(n8) < 0.2*float64(len(body)) {
		var b bytes.Buffer
		w := quotedprintable.NewWriter(&b)
		w.Write([]byte(body))
		w.Close()
		return part{headers: append(h, "Content-Transfer-Encoding: quoted-printable"), body: strings.ReplaceAll(b.String(), "\r\n", "\n")}
	}
	enc := base64.StdEncoding.EncodeToString([]byte(body))
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\n")
	return part{headers: append(h, "Content-Transfer-Encoding: base64"), body: b.String()}
}

// addHeaderPart attaches the original header section, preceded by a
// Return-Path with the envelope sender, as text/rfc822-headers (or
// message/global-headers for UTF-8 headers).
func (e *entity) addHeaderPart(in *Info) {
	var b strings.Builder
	b.WriteString("Return-Path: " + quoteAddr(in.Sender) + "\n")
	if in.Header != nil {
		for _, f := range in.Header.Fields {
			raw := strings.ReplaceAll(string(f.Raw), "\r\n", "\n")
			if !strings.HasSuffix(raw, "\n") {
				raw += "\n"
			}
			b.WriteString(raw)
		}
	}
	s := b.String()
	typ, name, cte := "text/rfc822-headers", "header.hdr", "7bit"
	if !isASCII(s) {
		cte = "8bit"
		if utf8.ValidString(s) {
			typ, name = "message/global-headers", "header.u8hdr"
		}
	}
	e.parts = append(e.parts, part{headers: []string{
		fmt.Sprintf(`Content-Type: %s; name="%s"`, typ, name),
		fmt.Sprintf(`Content-Disposition: inline; filename="%s"`, name),
		"Content-Transfer-Encoding: " + cte,
		"Content-Description: Message header section",
	}, body: s})
}

func newBoundary() string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("----------=_%d-%s-1", time.Now().Unix(), hex.EncodeToString(r[:]))
}

// bytes renders the message with CRLF line ends.
func (e *entity) bytes() []byte {
	var b strings.Builder
	boundary := newBoundary()
	ct := "Content-Type: " + e.ctype + `; boundary="` + boundary + `"`
	if len(ct) > 78 {
		ct = "Content-Type: " + e.ctype + ";\n boundary=\"" + boundary + `"`
	}
	b.WriteString(ct + "\n")
	b.WriteString("Content-Transfer-Encoding: 8bit\n")
	b.WriteString("MIME-Version: 1.0\n")
	for _, f := range e.fields {
		b.WriteString(f)
	}
	b.WriteString("\nThis is a multi-part message in MIME format...\n")
	for _, p := range e.parts {
		b.WriteString("\n--" + boundary + "\n")
		for _, h := range p.headers {
			b.WriteString(h + "\n")
		}
		b.WriteString("\n")
		b.WriteString(p.body)
	}
	b.WriteString("\n--" + boundary + "--\n")
	out := strings.ReplaceAll(b.String(), "\r\n", "\n")
	return []byte(strings.ReplaceAll(out, "\n", "\r\n"))
}

// errNoRecipients is returned by Send for a notification without
// recipients.
var errNoRecipients = errors.New("notification without recipients")

// RecipOptions control a warning to the recipients of blocked mail
// (warnvirusrecip, warnbannedrecip, warnbadhrecip).
type RecipOptions struct {
	// Rcpts are the recipients to warn.
	Rcpts []string
	// HdrFrom is hdrfrom_notify_recip ("" = DefaultFrom), MailFrom
	// mailfrom_notify_recip ("" = the address in HdrFrom, "<>" = null).
	HdrFrom, MailFrom string
	Templates         Templates
}

// Recipient builds amavis's warning to recipients whose mail was blocked
// (notify_virus_recips_templ), or nil when there is nobody to warn.
func Recipient(in *Info, opt RecipOptions) (*Notification, error) {
	if len(opt.Rcpts) == 0 {
		return nil, nil
	}
	hdrFrom := opt.HdrFrom
	if hdrFrom == "" {
		hdrFrom = DefaultFrom(in.Hostname)
	}
	mailFrom := opt.MailFrom
	switch mailFrom {
	case "":
		mailFrom = addrOf(hdrFrom)
	case "<>":
		mailFrom = ""
	}
	to := make([]string, len(opt.Rcpts))
	for i, a := range opt.Rcpts {
		to[i] = quoteAddr(a)
	}
	extra := Macros{
		"f": func([]string) Value { return S(hdrFrom) },
		"T": func([]string) Value { return L(to) },
		"C": func([]string) Value { return L(nil) },
	}
	text, err := Expand(opt.Templates.VirusRecips, in.macros(extra))
	if err != nil {
		return nil, fmt.Errorf("recipient notification: %w", err)
	}
	e := newEntity(in, text, "multipart/mixed")
	e.addHeaderPart(in)
	return &Notification{
		Kind:     "recip",
		MailFrom: mailFrom,
		Rcpts:    append([]string(nil), opt.Rcpts...),
		Message:  e.bytes(),
		Subject:  e.subject(),
	}, nil
}
