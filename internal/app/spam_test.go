package app

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func requireSpamd(t *testing.T) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:783", 3*time.Second)
	if err != nil {
		if os.Getenv("MAVIS_REQUIRE_INTEGRATION") == "" {
			t.Skipf("spamd not running on 127.0.0.1:783 (scripts/spamd.sh): %v", err)
		}
		t.Fatalf("MAVIS_REQUIRE_INTEGRATION is set but spamd does not answer: %v", err)
	}
	c.Close()
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("/usr/share/doc/spamassassin/examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.ReplaceAll(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n", "\r\n"))
}

// Seed 000: tag 1.0, tag2 5.0, kill 6.31, dsn cutoff 10, spam discarded and
// quarantined; ham passes.
func TestSpamSeed000(t *testing.T) {
	requireSpamd(t)
	cfg := `mydomain = "example.org"
av_scanners = []
av_scanners_backup = []
spam_scanners = [["SpamdClient", "SpamdClient"]]
sa_spam_subject_tag = '***SPAM*** '
sa_tag_level_deflt = 1.0
sa_tag2_level_deflt = 5.0
sa_kill_level_deflt = 6.31
sa_dsn_cutoff_level = 10
final_spam_destiny = "D_DISCARD"
virus_admin = "undef"
`
	p, rec, logs, _ := newTestPipeline(t, cfg)
	ctx := context.Background()
	out := p.Process(ctx, message(t, sample(t, "sample-spam.txt"), "user@example.org"))
	if want := "250 2.7.0 Ok, discarded, id=00001-01 - spam"; out.SMTP.String() != want {
		t.Errorf("GTUBE reply %q want %q", out.SMTP, want)
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("spam forwarded: %d", len(got))
	}
	l := logs.String()
	if !strings.Contains(l, "Blocked SPAM {DiscardedInbound,Quarantined}") || !strings.Contains(l, "quarantine: ") || !strings.Contains(l, "spam-") {
		t.Errorf("log:\n%s", l)
	}
	out = p.Process(ctx, message(t, sample(t, "sample-nonspam.txt"), "user@example.org"))
	if out.SMTP.Code != 250 || !strings.Contains(out.SMTP.Text, "from MTA(") {
		t.Errorf("ham reply %q", out.SMTP)
	}
	got := rec.take()
	if len(got) != 1 || strings.Contains(got[0], "X-Spam-Flag: YES") || strings.Contains(got[0], "***SPAM***") {
		t.Errorf("ham copy: %q", got)
	}
}

// Seed 001: tag level undef (headers always added), no subject tag, spam
// passed; headers only for the local recipient of a two-recipient message.
func TestSpamSeed001LocalOnly(t *testing.T) {
	requireSpamd(t)
	cfg := `mydomain = "example.org"
av_scanners = []
av_scanners_backup = []
spam_scanners = [["SpamdClient", "SpamdClient"]]
sa_spam_subject_tag = "undef"
sa_tag_level_deflt = "undef"
sa_tag2_level_deflt = 6.31
sa_kill_level_deflt = 6.31
final_spam_destiny = "D_PASS"
`
	p, rec, logs, _ := newTestPipeline(t, cfg)
	ctx := context.Background()
	out := p.Process(ctx, message(t, sample(t, "sample-spam.txt"), "user@example.org", "other@example.net"))
	if out.SMTP.Code != 250 {
		t.Fatalf("reply %q", out.SMTP)
	}
	got := rec.take()
	if len(got) != 2 {
		t.Fatalf("want 2 copies (local and non-local differ), got %d", len(got))
	}
	var local, remote string
	for _, g := range got {
		if strings.Contains(g, "X-Spam-Flag:") {
			local = g
		} else {
			remote = g
		}
	}
	if !strings.Contains(local, "X-Spam-Flag: YES\r\n") || !strings.Contains(local, "X-Spam-Status: Yes, score=") ||
		!strings.Contains(local, "required=6.31") || strings.Contains(local, "tagged_above=") || strings.Contains(local, "***SPAM***") {
		t.Errorf("local copy header:\n%s", local[:min(len(local), 900)])
	}
	if remote == "" || strings.Contains(remote, "X-Spam-") {
		t.Errorf("non-local copy must have no X-Spam fields")
	}
	// The local copy is tagged (Inbound), the non-local one is not
	// (other@example.net is not local and the mail is not originating);
	// spam is quarantined by its category even when passed, as amavis does.
	if !strings.Contains(logs.String(), "Passed SPAM {RelayedTaggedInbound,RelayedOpenRelay,Quarantined}") {
		t.Errorf("log:\n%s", logs.String())
	}
	// Ham also gets headers: the tag level is undef.
	p.Process(ctx, message(t, sample(t, "sample-nonspam.txt"), "user@example.org"))
	got = rec.take()
	if len(got) != 1 || !strings.Contains(got[0], "X-Spam-Flag: NO\r\n") || !strings.Contains(got[0], "X-Spam-Status: No, score=") {
		t.Errorf("ham copy lacks headers: %q", got)
	}
}
