package mail

import (
	"fmt"
	"strings"
	"time"
)

// Reply is one SMTP/LMTP reply: a three-digit code, an RFC 3463 enhanced
// status code (may be empty) and free text.
type Reply struct {
	Code int
	Enh  string
	Text string
}

// String renders the reply as one line without CRLF, "250 2.0.0 text".
func (r Reply) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%03d", r.Code)
	if r.Enh != "" {
		b.WriteByte(' ')
		b.WriteString(r.Enh)
	}
	if r.Text != "" {
		b.WriteByte(' ')
		b.WriteString(r.Text)
	}
	return b.String()
}

// Class is the first digit of the code: 2, 4 or 5 (0 for an empty reply).
func (r Reply) Class() int { return r.Code / 100 }

// IsZero reports whether no reply has been set.
func (r Reply) IsZero() bool { return r.Code == 0 }

// MailParams are the ESMTP parameters of MAIL FROM, kept as received so that
// they can be passed on to the next hop.
type MailParams struct {
	Size     int64  // SIZE=, 0 when absent
	Body     string // "", "7BIT" or "8BITMIME" (upper case)
	Ret      string // "", "FULL" or "HDRS" (upper case)
	EnvID    string // ENVID=, still xtext-encoded
	SMTPUTF8 bool   // SMTPUTF8 given
	Auth     string // AUTH=, still xtext-encoded
}

// RcptParams are the ESMTP parameters of one RCPT TO.
type RcptParams struct {
	Notify []string // NOTIFY= values, upper case, e.g. ["SUCCESS","FAILURE"] or ["NEVER"]
	ORcpt  string   // ORCPT= as given: "rfc822;xtext-address"
}

// Recipient is one envelope recipient with its per-recipient state.
type Recipient struct {
	Addr   string // the address without angle brackets, unquoted form
	Raw    string // the address as the client wrote it, without angle brackets
	Params RcptParams

	// Filled in while the message is processed.
	Done  bool  // the recipient is settled (delivered, dropped or failed)
	Reply Reply // the final reply for this recipient (LMTP reports it as is)
	// Remote is the next hop's reply when the recipient was forwarded.
	Remote Reply
	// QueuedAs is the queue id the next hop reported for this recipient.
	QueuedAs string
}

// Envelope is the SMTP envelope of one transaction.
type Envelope struct {
	MailFrom    string // reverse path without angle brackets; "" is the null sender
	MailFromRaw string // as the client wrote it
	Params      MailParams
	Rcpts       []*Recipient
}

// ClientInfo describes the original SMTP client as reported by the MTA with
// XFORWARD (Postfix smtp_send_xforward_command=yes). Empty fields were not
// given or were [UNAVAILABLE].
type ClientInfo struct {
	Name   string // NAME: the client host name
	Addr   string // ADDR: the client IP address (IPv6 without "IPv6:" prefix)
	Port   string // PORT
	Proto  string // PROTO: SMTP or ESMTP
	Helo   string // HELO: the client's HELO/EHLO argument
	Ident  string // IDENT: the MTA's queue id
	Source string // SOURCE: LOCAL or REMOTE
	Login  string // LOGIN: SASL login name
}

// IsZero reports whether no XFORWARD attribute was given.
func (c ClientInfo) IsZero() bool { return c == ClientInfo{} }

// ConnInfo describes the connection the message arrived on.
type ConnInfo struct {
	RemoteIP   string // the MTA's address (the peer of our listener)
	RemotePort string
	LocalIP    string // our listening address
	LocalPort  string // our listening port, e.g. "10024" (interface_policy key)
	// UnixSocket is the path of the Unix socket the session arrived on
	// ("" for TCP); amavis keys interface_policy by "SOCK" and by this path.
	UnixSocket string
	Helo       string // the argument of HELO/EHLO/LHLO
	LMTP       bool   // the session speaks LMTP
	// Protocol is the RFC 3848 name for Received: SMTP, ESMTP, LMTP (+S/+A),
	// UTF8 prefixed when SMTPUTF8 was used.
	Protocol string
}

// Message is one message under processing.
type Message struct {
	LogID  string // amavis log id, e.g. "12345-03" or "12345-03-2"
	MailID string // 12-character base64url id (72 bits), amavis mail_id
	// SecretID is the release secret amavis keeps next to mail_id.
	SecretID string

	Envelope Envelope
	Client   ClientInfo
	Conn     ConnInfo

	// Body holds the message as received (header and body, CRLF line ends,
	// dot-stuffing removed). Size is the RFC 1870 size.
	Body *Spool
	Size int64
	// Header is the parsed header section of Body.
	Header *Header

	Received time.Time // when DATA started
	// Truncated is set when the message exceeded the size limit; the body is
	// incomplete and must not be delivered.
	Truncated bool
}

// Close releases the message's resources (the spool file).
func (m *Message) Close() error {
	if m == nil || m.Body == nil {
		return nil
	}
	return m.Body.Close()
}

// RecipientAddrs returns the recipient addresses in order.
func (m *Message) RecipientAddrs() []string {
	out := make([]string, len(m.Envelope.Rcpts))
	for i, r := range m.Envelope.Rcpts {
		out[i] = r.Addr
	}
	return out
}

// Outcome is what the pipeline hands back to a front end after DATA: one
// reply for SMTP ("one response for all", amavis §3.6) and one per accepted
// recipient for LMTP, in RCPT order.
type Outcome struct {
	SMTP    Reply
	PerRcpt []Reply
}
