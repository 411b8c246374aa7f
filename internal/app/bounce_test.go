package app

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/store"
)

const dsnTemplate = "From: MAILER-DAEMON@mx.example.net\r\nTo: user@example.org\r\nDate: Sat, 01 Jun 2024 12:00:00 +0000\r\n" +
	"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-MSGID@mx.example.net>\r\nMIME-Version: 1.0\r\n" +
	"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n" +
	"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; nobody@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
	"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: user@example.org\r\nTo: nobody@example.net\r\nSubject: hi\r\nMessage-ID: <MSGID>\r\n\r\n--B--\r\n"

// The bounce killer: a DSN about a message never sent from here is
// backscatter (AM.BOUNCE, blocked as spam); a DSN about a message a local
// user really sent is rescued by pen pals.
func TestBounceKiller(t *testing.T) {
	cfg := `mydomain = "example.org"
av_scanners = []
av_scanners_backup = []
spam_scanners = []
bounce_killer_score = 100
penpals_bonus_score = 5
final_spam_destiny = "D_DISCARD"
virus_admin = "undef"
`
	p, rec, logs, snap := newTestPipeline(t, cfg)
	st, err := store.Open(context.Background(), StoreOptions(snap.Settings, slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p.Recorder = st
	ctx := context.Background()

	dsn := func(id string) []byte { return []byte(strings.ReplaceAll(dsnTemplate, "MSGID", id)) }
	m := message(t, dsn("forged@elsewhere.example"), "user@example.org")
	m.Envelope.MailFrom = ""
	out := p.Process(ctx, m)
	if want := "250 2.7.0 Ok, discarded, id=00001-01 - spam"; out.SMTP.String() != want {
		t.Errorf("backscatter: %q want %q\n%s", out.SMTP, want, logs.String())
	}
	if !strings.Contains(logs.String(), "bounce killed, rfc3464") {
		t.Errorf("log lacks 'bounce killed':\n%s", logs.String())
	}
	rec.take()

	// The local user sends a message, then its bounce comes back.
	sent := message(t, []byte("From: user@example.org\r\nTo: nobody@example.net\r\nDate: Sat, 01 Jun 2024 12:00:00 +0000\r\nMessage-ID: <real@mua.example>\r\nSubject: hi\r\n\r\nhi\r\n"), "nobody@example.net")
	sent.Envelope.MailFrom = "user@example.org"
	if out := p.Process(ctx, sent); out.SMTP.Code != 250 {
		t.Fatalf("outgoing %q", out.SMTP)
	}
	m = message(t, dsn("real@mua.example"), "user@example.org")
	m.Envelope.MailFrom = ""
	out = p.Process(ctx, m)
	if out.SMTP.Code != 250 || !strings.Contains(out.SMTP.Text, "from MTA(") {
		t.Errorf("genuine bounce: %q", out.SMTP)
	}
	if !strings.Contains(logs.String(), "bounce rescued by penpals") {
		t.Errorf("log lacks 'bounce rescued by penpals':\n%s", logs.String())
	}
	if got := st.Counters.Snapshot(); got["InMsgsBounceKilled"] != 1 || got["InMsgsBounceRescuedByPenPals"] != 1 {
		t.Errorf("counters %v", got)
	}
}
