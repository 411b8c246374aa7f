package integration

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mavis-filter/mavis/internal/check/virus/virustest"
	"github.com/mavis-filter/mavis/internal/testcorpus"
	"github.com/mavis-filter/mavis/test/integration/harness"
)

// Issue 4 through real Postfix and the real clamd of scripts/clamd.sh.

// seed000Virus is seed 000's virus handling: infected mail is discarded and kept in the quarantine.
const seed000Virus = `final_virus_destiny = "D_DISCARD"`

// An infected message (EICAR plain and inside a zip) is quarantined and discarded with seed 000's
// settings, never reaches the mailbox, and virus_admin gets the notification.
func TestVirusDiscarded(t *testing.T) {
	p := harness.RequirePostfix(t)
	sock := requireClamd(t)
	h, qdir := home(t)
	admin := "admin+" + harness.UniqueID("va") + "@" + harness.Domain
	d := harness.StartMavisd(t, mavisConfig(h, clamdScanner(sock), seed000Virus, `virus_admin = "`+admin+`"`))
	eicar := virustest.EICAR()
	for _, tc := range []struct {
		name string
		att  testcorpus.Attachment
	}{
		{"plain", testcorpus.File("eicar.com", eicar)},
		{"zip", testcorpus.File("eicar.zip", testcorpus.Zip([]string{"eicar.com"}, map[string][]byte{"eicar.com": eicar}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t, 2*time.Minute)
			rcpt := rcptFor("u30", "vir")
			l := newLetter("vir", attachmentsMessage("eicar "+tc.name, tc.att), rcpt)
			off := p.LogOffset()
			qid := l.send(ctx, t, p)
			reply := feedLine(ctx, t, p, off, qid, rcpt, "sent")
			re := regexp.MustCompile(`^250 2\.7\.0 Ok, discarded, id=\d+-\d+ - INFECTED: ` + regexp.QuoteMeta(virustest.EICARName) + `$`)
			if !re.MatchString(reply) {
				t.Errorf("mavis reply %q, want match %s", reply, re)
			}
			line := mainLine(ctx, t, d, "Blocked INFECTED ("+virustest.EICARName+")", l.ID)
			if !strings.Contains(line, "{DiscardedInbound,Quarantined}") {
				t.Errorf("main log line %q, want {DiscardedInbound,Quarantined}", line)
			}
			mailID := logField(line, "mail_id")
			if loc := quarantined(t, qdir, mailID, l); !strings.HasSuffix(loc, "virus-"+mailID) {
				t.Errorf("quarantine file %q, want virus-%s", loc, mailID)
			}
			notDelivered(ctx, t, p, rcpt, l.ID)
			n, err := p.WaitMail(within(ctx, t), "admin", func(b []byte) bool {
				return strings.EqualFold(harness.HeaderValue(b, "Delivered-To"), admin) && strings.Contains(string(b), l.ID)
			})
			if err != nil {
				t.Fatalf("virus_admin notification: %v", err)
			}
			if s := harness.HeaderValue(n, "Subject"); !strings.HasPrefix(s, "VIRUS ("+virustest.EICARName+")") {
				t.Errorf("admin notification subject %q, want VIRUS (%s) …", s, virustest.EICARName)
			}
			// the notification describes the message but does not carry the virus
			if strings.Contains(string(n), string(eicar)) {
				t.Error("the admin notification contains the EICAR string")
			}
		})
	}
}

// deadClamd is a clamd socket path where nothing listens.
func deadClamd(t *testing.T) string { return t.TempDir() + "/no-clamd.ctl" }

// With the clamd socket pointing nowhere and virus_scanners_failure_is_fatal = true, mavis tempfails
// and the mail stays deferred in Postfix; after mavisd is restarted with the working clamd and the queue
// is flushed, it is delivered once, scanned.
func TestVirusScannerDownFatal(t *testing.T) {
	p := harness.RequirePostfix(t)
	sock := requireClamd(t)
	h, _ := home(t)
	d := harness.StartMavisd(t, mavisConfig(h, clamdScanner(deadClamd(t)), seed000Virus,
		`virus_scanners_failure_is_fatal = true`, `virus_admin = "undef"`))
	ctx := testCtx(t, 3*time.Minute)
	rcpt := rcptFor("u31", "fatal")
	l := newLetter("fatal", attachmentsMessage("scan me", testcorpus.File("notes.txt", []byte("clean text\n"))), rcpt)
	off := p.LogOffset()
	qid := l.send(ctx, t, p)
	t.Cleanup(func() { _ = p.DeleteFor(context.Background(), rcpt) })
	reason := feedLine(ctx, t, p, off, qid, rcpt, "deferred")
	if re := regexp.MustCompile(`said: 451 4\.5\.0 Error in processing, id=\d+-\d+, virus_scan FAILED: AV: ALL VIRUS SCANNERS FAILED`); !re.MatchString(reason) {
		t.Errorf("deferral %q, want match %s", reason, re)
	}
	e, err := p.WaitDeferred(within(ctx, t), rcpt)
	if err != nil {
		t.Fatal(err)
	}
	if e.QueueID != qid {
		t.Errorf("deferred queue id %s, want %s", e.QueueID, qid)
	}
	if n, _ := p.CountDelivered("u31", l.ID); n != 0 {
		t.Fatalf("%d copies delivered although no scanner worked", n)
	}
	// Postfix retries every second or two: every retry must tempfail again, never pass unscanned
	time.Sleep(3 * time.Second)
	if n, _ := p.CountDelivered("u31", l.ID); n != 0 {
		t.Fatalf("%d copies delivered on a retry although no scanner worked", n)
	}

	restart(ctx, t, d)
	d2 := harness.StartMavisd(t, mavisConfig(h, clamdScanner(sock), seed000Virus,
		`virus_scanners_failure_is_fatal = true`, `virus_admin = "undef"`))
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := p.WaitDelivered(within(ctx, t), "u31", l.ID)
	if err != nil {
		t.Fatal(err)
	}
	// X_HEADER_LINE's default, as Debian's amavis: "Debian amavis at $mydomain"
	if v := harness.HeaderValues(got, "X-Virus-Scanned"); len(v) != 1 || v[0] != "Debian amavis at it.test" {
		t.Errorf("X-Virus-Scanned %q, want one \"Debian amavis at it.test\":\n%s", v, hdrs(got))
	}
	mainLine(ctx, t, d2, "Passed CLEAN", l.ID)
	expectCopies(ctx, t, p, rcpt, l.ID, 1, 1)
}

// With the default (virus_scanners_failure_is_fatal unset, as amavis) the message passes as
// UNCHECKED, with the ***UNCHECKED*** subject tag, and mavis says so loudly.
func TestVirusScannerDownPassesUnchecked(t *testing.T) {
	p := harness.RequirePostfix(t)
	h, _ := home(t)
	d := harness.StartMavisd(t, mavisConfig(h, clamdScanner(deadClamd(t)), seed000Virus, `virus_admin = "undef"`))
	ctx := testCtx(t, 2*time.Minute)
	rcpt := rcptFor("u32", "unchk")
	l := newLetter("unchk", attachmentsMessage("unscanned", testcorpus.File("notes.txt", []byte("clean text\n"))), rcpt)
	off := p.LogOffset()
	qid := l.send(ctx, t, p)
	if reply := feedLine(ctx, t, p, off, qid, rcpt, "sent"); !strings.HasPrefix(reply, "250 2.0.0 from MTA(") {
		t.Errorf("mavis reply %q, want passed", reply)
	}
	got, err := p.WaitDelivered(within(ctx, t), "u32", l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s := harness.HeaderValue(got, "Subject"); s != "***UNCHECKED*** unscanned" {
		t.Errorf("Subject %q, want ***UNCHECKED*** unscanned", s)
	}
	line := mainLine(ctx, t, d, "Passed UNCHECKED", l.ID)
	if !strings.Contains(line, "{RelayedInbound}") && !strings.Contains(line, "{Relayed") {
		t.Errorf("main log line %q", line)
	}
	if l := regexp.MustCompile(`(?i).*(virus.*scanners? failed|ALL VIRUS SCANNERS FAILED).*`).FindString(d.Log()); l == "" {
		t.Errorf("mavisd did not log the scanner failure loudly")
	} else {
		t.Logf("mavisd: %s", l)
	}
	expectCopies(ctx, t, p, rcpt, l.ID, 1, 1)
}
