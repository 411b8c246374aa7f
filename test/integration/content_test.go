package integration

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mavis-filter/mavis/internal/testcorpus"
	"github.com/mavis-filter/mavis/test/integration/harness"
)

// Issue 3 through real Postfix: banned attachments are discarded, rejected or bounced as
// final_banned_destiny says, with amavis's reply texts, and quarantined as complete messages.

// bannedCase is one banned attachment and what amavis names in the reason (%F: the part's names and
// types; we check the file name and, for a misnamed executable, its detected type).
type bannedCase struct {
	name   string
	att    testcorpus.Attachment
	reason []string // substrings of the "BANNED: ..." reason
	exact  string   // the whole reason where amavisd-new's is known (../shared/reference/samples)
}

func bannedCases() []bannedCase {
	pe := testcorpus.TinyPE(false)
	return []bannedCase{
		{"setup.exe", testcorpus.File("setup.exe", pe), []string{"setup.exe"}, "application/octet-stream,.exe,.exe-ms,setup.exe"},
		// a PE named invoice.pdf: banned by its detected type (Debian's '^\.(exe-ms|dll)$' rule)
		{"invoice.pdf-is-pe", testcorpus.Attachment{ContentType: "application/pdf; name=\"invoice.pdf\"",
			Disposition: "attachment; filename=\"invoice.pdf\"", Data: pe}, []string{"exe-ms", "invoice.pdf"}, ""},
		{"exe-in-zip", testcorpus.File("docs.zip", testcorpus.Zip([]string{"readme.txt", "tool.exe"},
			map[string][]byte{"readme.txt": []byte("read me\n"), "tool.exe": pe})), []string{"tool.exe"}, ""},
	}
}

// Default final_banned_destiny (D_DISCARD): Postfix hears "250 2.7.0 Ok, discarded, id=… - BANNED: …",
// nothing reaches the mailbox, the message is in the quarantine (banned-<mail_id>) as a complete
// message, banned_admin (via virus_admin) is told; a clean message with a harmless attachment arrives.
func TestBannedDiscarded(t *testing.T) {
	p := harness.RequirePostfix(t)
	h, qdir := home(t)
	admin := "admin+" + harness.UniqueID("bd") + "@" + harness.Domain
	d := harness.StartMavisd(t, mavisConfig(h, `virus_admin = "`+admin+`"`))
	for _, tc := range bannedCases() {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t, 2*time.Minute)
			rcpt := rcptFor("u20", "ban")
			l := newLetter("ban", attachmentsMessage("banned "+tc.name, tc.att), rcpt)
			off := p.LogOffset()
			qid := l.send(ctx, t, p)
			reply := feedLine(ctx, t, p, off, qid, rcpt, "sent")
			re := regexp.MustCompile(`^250 2\.7\.0 Ok, discarded, id=\d+-\d+ - BANNED: `)
			if !re.MatchString(reply) {
				t.Errorf("mavis reply %q, want match %s", reply, re)
			}
			for _, s := range tc.reason {
				if !strings.Contains(reply, s) {
					t.Errorf("reply %q does not name %q", reply, s)
				}
			}
			reason := strings.TrimPrefix(reply, re.FindString(reply))
			if tc.exact != "" && reason != tc.exact {
				t.Errorf("BANNED reason %q, amavisd-new says %q", reason, tc.exact)
			}
			line := mainLine(ctx, t, d, "Blocked BANNED", l.ID)
			if !strings.Contains(line, "{DiscardedInbound,Quarantined}") {
				t.Errorf("main log line %q, want {DiscardedInbound,Quarantined}", line)
			}
			mailID := logField(line, "mail_id")
			loc := quarantined(t, qdir, mailID, l)
			if want := "banned-" + mailID; !strings.HasSuffix(loc, want) || logField(line, "quarantine") != loc {
				t.Errorf("quarantine %q (log says %q), want …%s", loc, logField(line, "quarantine"), want)
			}
			notDelivered(ctx, t, p, rcpt, l.ID)
			// the admin notification (banned_admin_maps falls back to virus_admin)
			n, err := p.WaitMail(within(ctx, t), "admin", func(b []byte) bool {
				return strings.EqualFold(harness.HeaderValue(b, "Delivered-To"), admin) && strings.Contains(string(b), l.ID)
			})
			if err != nil {
				t.Fatalf("banned admin notification: %v", err)
			}
			// amavis's template: FROM [:client_addr_port] <%s>; Postfix passes the client's port with XFORWARD
			want := regexp.MustCompile(`^BANNED contents \(` + regexp.QuoteMeta(reason) + `\) in mail FROM \[127\.0\.0\.1\]:\d+ <` + regexp.QuoteMeta(l.From) + `>$`)
			if s := harness.HeaderValue(n, "Subject"); !want.MatchString(s) {
				t.Errorf("admin notification subject %q, want match %s", s, want)
			}
		})
	}
	t.Run("clean-still-arrives", func(t *testing.T) {
		ctx := testCtx(t, 2*time.Minute)
		rcpt := rcptFor("u20", "clean")
		l := newLetter("clean", attachmentsMessage("clean attachment",
			testcorpus.File("notes.txt", []byte("just notes\n")), testcorpus.File("report.pdf", []byte("%PDF-1.4\n%%EOF\n"))), rcpt)
		off := p.LogOffset()
		qid := l.send(ctx, t, p)
		if reply := feedLine(ctx, t, p, off, qid, rcpt, "sent"); !strings.HasPrefix(reply, "250 2.0.0 from MTA(smtp:[127.0.0.1]:20026): 250 2.0.0 Ok: queued as ") {
			t.Errorf("mavis reply %q, want the re-injection's queued as", reply)
		}
		mainLine(ctx, t, d, "Passed CLEAN", l.ID)
		if _, err := p.WaitDelivered(within(ctx, t), "u20", l.ID); err != nil {
			t.Fatal(err)
		}
		expectCopies(ctx, t, p, rcpt, l.ID, 1, 1)
	})
}

// final_banned_destiny = D_REJECT: mavis answers 554 5.7.0 Reject, Postfix bounces the message to the
// (local) sender with that text, and mavis still quarantines it.
func TestBannedRejected(t *testing.T) {
	p := harness.RequirePostfix(t)
	h, qdir := home(t)
	d := harness.StartMavisd(t, mavisConfig(h, `final_banned_destiny = "D_REJECT"`, `virus_admin = "undef"`))
	for _, lmtp := range []bool{false, true} {
		name := map[bool]string{false: "smtp", true: "lmtp"}[lmtp]
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t, 2*time.Minute)
			tag := "rej"
			if lmtp {
				tag = "lmtp-rej"
			}
			rcpt := rcptFor("u21", tag)
			tc := bannedCases()[0]
			l := newLetter("rej", attachmentsMessage("rejected "+tc.name, tc.att), rcpt)
			off := p.LogOffset()
			qid := l.send(ctx, t, p)
			reply := feedLine(ctx, t, p, off, qid, rcpt, "bounced")
			re := regexp.MustCompile(`said: 554 5\.7\.0 Reject, id=\d+-\d+ - BANNED: .*setup\.exe`)
			if !re.MatchString(reply) {
				t.Errorf("Postfix bounce reason %q, want match %s", reply, re)
			}
			line := mainLine(ctx, t, d, "Blocked BANNED", l.ID)
			if !strings.Contains(line, "{RejectedInbound,Quarantined}") {
				t.Errorf("main log line %q, want {RejectedInbound,Quarantined}", line)
			}
			quarantined(t, qdir, logField(line, "mail_id"), l)
			notDelivered(ctx, t, p, rcpt, l.ID)
			// Postfix's own bounce reaches the sender, quoting mavis's reply
			b, err := p.WaitMail(within(ctx, t), "sender", harness.DeliveredTo(l.From))
			if err != nil {
				t.Fatalf("Postfix bounce to %s: %v", l.From, err)
			}
			if !strings.Contains(string(b), "554 5.7.0 Reject, id=") || !strings.Contains(string(b), l.ID) {
				t.Errorf("bounce lacks mavis's reply or the original Message-ID:\n%s", head(b, 3000))
			}
			if from := harness.HeaderValue(b, "From"); !strings.Contains(strings.ToUpper(from), "MAILER-DAEMON") {
				t.Errorf("bounce From %q, want Postfix's MAILER-DAEMON", from)
			}
		})
	}
}

// final_banned_destiny = D_BOUNCE: Postfix gets 250 2.5.0 Ok, id=…, BOUNCE and mavis itself sends an
// RFC 3464 DSN through notify_method to the (local) sender.
func TestBannedBounced(t *testing.T) {
	p := harness.RequirePostfix(t)
	h, qdir := home(t)
	d := harness.StartMavisd(t, mavisConfig(h, `final_banned_destiny = "D_BOUNCE"`, `virus_admin = "undef"`))
	ctx := testCtx(t, 2*time.Minute)
	rcpt := rcptFor("u22", "bounce")
	tc := bannedCases()[2]
	l := newLetter("bnc", attachmentsMessage("bounced "+tc.name, tc.att), rcpt)
	off := p.LogOffset()
	qid := l.send(ctx, t, p)
	reply := feedLine(ctx, t, p, off, qid, rcpt, "sent")
	if re := regexp.MustCompile(`^250 2\.5\.0 Ok, id=\d+-\d+, BOUNCE$`); !re.MatchString(reply) {
		t.Errorf("mavis reply %q, want match %s", reply, re)
	}
	line := mainLine(ctx, t, d, "Blocked BANNED", l.ID)
	if !strings.Contains(line, "{BouncedInbound,Quarantined}") {
		t.Errorf("main log line %q, want {BouncedInbound,Quarantined}", line)
	}
	quarantined(t, qdir, logField(line, "mail_id"), l)
	notDelivered(ctx, t, p, rcpt, l.ID)

	dsn, err := p.WaitMail(within(ctx, t), "sender", harness.DeliveredTo(l.From))
	if err != nil {
		t.Fatalf("mavis's DSN to %s: %v", l.From, err)
	}
	if rp := harness.HeaderValue(dsn, "Return-Path"); rp != "<>" {
		t.Errorf("DSN Return-Path %q, want <> (null sender)", rp)
	}
	ct := harness.HeaderValue(dsn, "Content-Type")
	if !strings.HasPrefix(ct, "multipart/report") || !strings.Contains(ct, "report-type=delivery-status") {
		t.Errorf("DSN Content-Type %q, want multipart/report; report-type=delivery-status", ct)
	}
	body := string(dsn)
	for _, want := range []string{
		"Content-Type: message/delivery-status",
		"Final-Recipient: rfc822;" + rcpt,
		"Action: failed",
		"Status: 5.7.0",
		"Diagnostic-Code: smtp; 554", // amavis wraps its own long replies (RFC 3461 §9.2): 554-5.7.0 …
		"5.7.0 Bounce, id=",
		"BANNED",
		"Content-Type: text/rfc822-headers",
		"Message-ID: " + l.ID,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("DSN lacks %q", want)
		}
	}
	if strings.Contains(body, "Content-Transfer-Encoding: base64\r\n\r\nTVqQ") || strings.Contains(body, "UEsDB") {
		t.Errorf("DSN carries the banned content (only the header belongs in it)")
	}
	if t.Failed() {
		t.Logf("DSN:\n%s", head(dsn, 4000))
	}
}
