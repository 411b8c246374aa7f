package notify

import (
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/policy"
)

func f64(v float64) *float64 { return &v }

func TestDecideDSN(t *testing.T) {
	bounce := mail.Reply{Code: 554, Enh: "5.7.0", Text: "Bounce"}
	reject := mail.Reply{Code: 554, Enh: "5.7.0", Text: "Reject"}
	ok := mail.Reply{Code: 250, Enh: "2.0.0", Text: "Ok"}
	base := DSNMessage{Sender: "s@x.test"}
	br := DSNRcpt{Reply: bounce, Destiny: policy.DBounce, Done: DoneHere, CCatMajor: policy.CCBanned}
	type tc struct {
		name string
		m    DSNMessage
		r    DSNRcpt
		want Verdict
		why  string
	}
	mod := func(f func(*DSNMessage, *DSNRcpt)) (DSNMessage, DSNRcpt) {
		m, r := base, br
		f(&m, &r)
		return m, r
	}
	var tests []tc
	add := func(name string, want Verdict, why string, f func(*DSNMessage, *DSNRcpt)) {
		m, r := mod(f)
		tests = append(tests, tc{name, m, r, want, why})
	}
	add("plain bounce", Report, "", func(*DSNMessage, *DSNRcpt) {})
	add("tempfail", NoDSN, "temporary", func(_ *DSNMessage, r *DSNRcpt) { r.Reply = mail.Reply{Code: 450, Enh: "4.7.1"} })
	add("reject over LMTP", NoDSN, "propagated", func(m *DSNMessage, r *DSNRcpt) {
		r.Reply, r.Destiny, m.PerRecipientCapable = reject, policy.DReject, true
	})
	add("reject, all rejected", NoDSN, "propagated", func(m *DSNMessage, r *DSNRcpt) {
		r.Reply, r.Destiny, m.AllRejected = reject, policy.DReject, true
	})
	add("reject on SMTP, mixed: a DSN", Report, "", func(_ *DSNMessage, r *DSNRcpt) { r.Reply, r.Destiny = reject, policy.DReject })
	add("NOTIFY=NEVER", Suppressed, "NOTIFY=NEVER", func(_ *DSNMessage, r *DSNRcpt) { r.Notify = []string{"NEVER"} })
	add("NOTIFY=SUCCESS only", Suppressed, "without FAILURE", func(_ *DSNMessage, r *DSNRcpt) { r.Notify = []string{"SUCCESS"} })
	add("NOTIFY=DELAY only", Suppressed, "without FAILURE", func(_ *DSNMessage, r *DSNRcpt) { r.Notify = []string{"delay"} })
	add("NOTIFY=FAILURE", Report, "", func(_ *DSNMessage, r *DSNRcpt) { r.Notify = []string{"FAILURE"} })
	add("null sender", Suppressed, "null sender", func(m *DSNMessage, _ *DSNRcpt) { m.Sender = "" })
	add("discarded (2xx)", NoDSN, "discarded", func(_ *DSNMessage, r *DSNRcpt) {
		r.Reply, r.Destiny = mail.Reply{Code: 250, Enh: "2.7.0"}, policy.DDiscard
	})
	add("delivered", NoDSN, "no DSN requested", func(_ *DSNMessage, r *DSNRcpt) { r.Reply, r.Destiny, r.Done = ok, policy.DPass, Relayed })
	add("success requested, passed on", NoDSN, "passed on", func(m *DSNMessage, r *DSNRcpt) {
		r.Reply, r.Destiny, r.Done, r.Notify, m.DSNPassedOn = ok, policy.DPass, Relayed, []string{"SUCCESS"}, true
	})
	add("success requested, not passed on", Report, "", func(_ *DSNMessage, r *DSNRcpt) {
		r.Reply, r.Destiny, r.Done, r.Notify = ok, policy.DPass, Relayed, []string{"SUCCESS"}
	})
	add("success requested by null sender", NoDSN, "no DSN requested", func(m *DSNMessage, r *DSNRcpt) {
		r.Reply, r.Destiny, r.Done, r.Notify, m.Sender = ok, policy.DPass, Relayed, []string{"SUCCESS"}, ""
	})
	add("warn sender", Report, "", func(_ *DSNMessage, r *DSNRcpt) {
		r.Reply, r.Destiny, r.Done, r.WarnSender = ok, policy.DPass, Relayed, true
	})
	add("5xx with destiny DISCARD", Suppressed, "DISCARD", func(_ *DSNMessage, r *DSNRcpt) { r.Destiny = policy.DDiscard })
	add("fake-sender virus", Suppressed, "INFECTED", func(_ *DSNMessage, r *DSNRcpt) { r.SuppressReason = "INFECTED" })
	add("banned rule DISCARD", Suppressed, "BANNED:DISCARD", func(_ *DSNMessage, r *DSNRcpt) {
		r.SuppressReason = "BANNED:DISCARD suggested by rule"
	})
	add("by-sender cutoff reached", Suppressed, "by-sender", func(m *DSNMessage, r *DSNRcpt) { m.BySenderCutoff, r.SpamLevel = f64(10), 10 })
	add("by-sender cutoff not reached", Report, "", func(m *DSNMessage, r *DSNRcpt) { m.BySenderCutoff, r.SpamLevel = f64(10), 9.99 })
	add("by-recipient cutoff reached", Suppressed, "by-recipient", func(_ *DSNMessage, r *DSNRcpt) { r.Cutoff, r.SpamLevel = f64(10), 12 })
	add("by-recipient cutoff not reached", Report, "", func(_ *DSNMessage, r *DSNRcpt) { r.Cutoff, r.SpamLevel = f64(10), 3 })
	add("blacklisted with a cutoff", Suppressed, "by-recipient", func(_ *DSNMessage, r *DSNRcpt) { r.Cutoff, r.Blacklisted = f64(10), true })
	add("blacklisted and whitelisted", Report, "", func(_ *DSNMessage, r *DSNRcpt) { r.Cutoff, r.Blacklisted, r.Whitelisted = f64(10), true, true })
	add("blacklisted without a cutoff", Report, "", func(_ *DSNMessage, r *DSNRcpt) { r.Blacklisted = true })
	add("bulk mail, blocked", Suppressed, "bulk", func(m *DSNMessage, _ *DSNRcpt) { m.Bulk = "ml:list.example" })
	add("bulk mail, clean", Report, "", func(m *DSNMessage, r *DSNRcpt) { m.Bulk, r.CCatMajor = "bulk", policy.CCClean })
	add("Windows XP, score 5", Suppressed, "Windows", func(m *DSNMessage, r *DSNRcpt) { m.OSFingerprint, r.SpamLevel = "Windows XP SP1+", 5 })
	add("Windows XP or 2000 SP, score 5", Report, "", func(m *DSNMessage, r *DSNRcpt) { m.OSFingerprint, r.SpamLevel = "Windows XP SP1+, 2000 SP3", 5 })
	add("Windows XP or 2000 SP, score 8", Suppressed, "Windows", func(m *DSNMessage, r *DSNRcpt) { m.OSFingerprint, r.SpamLevel = "Windows XP SP1+, 2000 SP3", 8 })
	add("Windows 2000, score 8", Suppressed, "Windows", func(m *DSNMessage, r *DSNRcpt) { m.OSFingerprint, r.SpamLevel = "Windows 2000 SP4", 8 })
	add("Windows, DKIM-signed sender", Report, "", func(m *DSNMessage, r *DSNRcpt) {
		m.OSFingerprint, r.SpamLevel, m.DKIMEnvSender = "Windows 2000 SP4", 9, true
	})
	add("Linux, high score", Report, "", func(m *DSNMessage, r *DSNRcpt) { m.OSFingerprint, r.SpamLevel = "Linux 2.6", 9 })
	// order: an explicit NEVER wins over everything after it
	add("NEVER and bulk", Suppressed, "NOTIFY=NEVER", func(m *DSNMessage, r *DSNRcpt) { r.Notify, m.Bulk = []string{"NEVER"}, "bulk" })
	add("tempfail beats NEVER", NoDSN, "temporary", func(_ *DSNMessage, r *DSNRcpt) {
		r.Reply, r.Notify = mail.Reply{Code: 451, Enh: "4.5.0"}, []string{"NEVER"}
	})
	for _, tt := range tests {
		v, why := DecideDSN(tt.m, tt.r)
		if v != tt.want || !strings.Contains(why, tt.why) {
			t.Errorf("%s: %v %q, want %v %q", tt.name, v, why, tt.want, tt.why)
		}
	}
}

func TestDSNActions(t *testing.T) {
	tests := []struct {
		r        Rcpt
		passedOn bool
		want     string
	}{
		{Rcpt{Done: DoneHere, Reply: mail.Reply{Code: 554}}, false, "failed"},
		{Rcpt{Done: DoneHere, Reply: mail.Reply{Code: 250}}, false, "delivered"},
		{Rcpt{Done: Relayed, Reply: mail.Reply{Code: 550}}, true, "failed"},
		{Rcpt{Done: Relayed, Reply: mail.Reply{Code: 250}}, false, "relayed"},
		{Rcpt{Done: Relayed, Reply: mail.Reply{Code: 250}, WarnSender: true}, true, "delayed"},
		{Rcpt{Done: Relayed, Reply: mail.Reply{Code: 250}}, true, "delivered"},
		{Rcpt{Done: NotDone, Reply: mail.Reply{Code: 250}}, false, "relayed"},
	}
	for i, tt := range tests {
		if got := dsnAction(tt.r, tt.passedOn); got != tt.want {
			t.Errorf("%d: %s, want %s", i, got, tt.want)
		}
	}
}

func TestBulkReason(t *testing.T) {
	hdr := func(s string) *mail.Header {
		h, _ := mail.ParseHeader(strings.NewReader(s + "\r\n"))
		return h
	}
	tests := []struct {
		sender, from, header, want string
	}{
		{"a@x.test", "a@x.test", "Subject: hi\r\n", ""},
		{"a@x.test", "a@x.test", "List-Id: Users <users.lists.example.org>\r\n", "ml:users.lists.example.org"},
		{"a@x.test", "a@x.test", "List-Post: <mailto:users@lists.example.org>\r\n", "ml:users@lists.example.org"},
		{"a@x.test", "a@x.test", "List-Unsubscribe: <https://x/u>\r\n", "ml:https://x/u"},
		{"a@x.test", "a@x.test", "Mailing-List: contact x@y\r\n", "ml:contact x@y"},
		{"users-request@lists.test", "a@x.test", "", "ml:sender=users-request@lists.test"},
		{"owner-users@lists.test", "a@x.test", "", "ml:sender=owner-users@lists.test"},
		{"users-bounces@lists.test", "a@x.test", "", "ml:sender=users-bounces@lists.test"},
		{"a@x.test", "users-owner@lists.test", "", "ml:From:users-owner@lists.test"},
		{"a@x.test", "a@x.test", "Precedence: list\r\n", "list"},
		{"a@x.test", "a@x.test", "Precedence: bulk\r\n", "bulk"},
		{"a@x.test", "a@x.test", "Precedence: junk\r\n", "junk"},
		{"a@x.test", "a@x.test", "Precedence: auto_reply\r\n", "auto_reply"},
		{"a@x.test", "a@x.test", "Auto-Submitted: auto-replied (vacation)\r\n", "Auto-Submitted:auto-replied"},
		{"a@x.test", "a@x.test", "Auto-Submitted: no\r\n", ""},
		{"", "a@x.test", "Auto-Submitted: no\r\n", ""}, // the field wins over the null sender test
		{"", "a@x.test", "", "sender=<>"},
		{"MAILER-DAEMON@x.test", "a@x.test", "", "sender=MAILER-DAEMON@x.test"},
		{"double-bounce@x.test", "a@x.test", "", "sender=double-bounce@x.test"},
		{"a@x.test", "autoreply@x.test", "", "From:autoreply@x.test"},
		{"a@x.test", "postmaster@x.test", "", "From:postmaster@x.test"},
		{"a@x.test", "mail-relay@x.test", "", "From:mail-relay@x.test"},
		{"a@x.test", "uucp", "", "From:uucp"},
		{"postmaster@x.test", "a@x.test", "", ""}, // postmaster as sender is not bulk
	}
	for _, tt := range tests {
		if got := BulkReason(tt.sender, tt.from, hdr(tt.header)); got != tt.want {
			t.Errorf("BulkReason(%q, %q, %q) = %q, want %q", tt.sender, tt.from, tt.header, got, tt.want)
		}
	}
	if got := BulkReason("", "", nil); got != "sender=<>" {
		t.Errorf("nil header: %q", got)
	}
}
