package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mavis-filter/mavis/internal/check/virus/virustest"
	"github.com/mavis-filter/mavis/internal/quarantine"
	"github.com/mavis-filter/mavis/internal/testcorpus"
	"github.com/mavis-filter/mavis/test/integration/harness"
)

// Helpers shared by the content tests (banned files, viruses, spam, SQL): messages built from
// internal/testcorpus and SpamAssassin's samples with a unique Message-ID, mavisd configurations with
// the scanners of scripts/test-deps.sh, and checks of the three places a verdict shows: Postfix's log
// line for the amavisfeed delivery (mavis's SMTP reply), mavisd's main log line, and the Maildir.

// letter is one test message: envelope, text and the unique Message-ID it carries.
type letter struct {
	From string   // sender+<tag>-<random>@it.test
	To   []string // envelope recipients
	ID   string   // Message-ID with angle brackets
	Raw  []byte   // CRLF line ends
}

// newLetter builds a letter from sender+<tag>@it.test (the sender gets its own address so that bounces
// and DSNs to it can be told apart) to rcpts, with raw as text and a fresh Message-ID.
func newLetter(tag string, raw []byte, rcpts ...string) *letter {
	id := "<" + harness.UniqueID("it-"+tag+"-") + "@" + harness.Domain + ">"
	return &letter{
		From: "sender+" + harness.UniqueID(tag+"-") + "@" + harness.Domain,
		To:   rcpts,
		ID:   id,
		Raw:  harness.SetMessageID(raw, id),
	}
}

// attachmentsMessage is a multipart/mixed message with a text part and the attachments.
func attachmentsMessage(subject string, atts ...testcorpus.Attachment) []byte {
	return testcorpus.Message(subject, atts)
}

// sample reads one of SpamAssassin's example messages (GTUBE and ham).
func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("/usr/share/doc/spamassassin/examples/" + name)
	if err != nil {
		harness.Require(t, fmt.Errorf("SpamAssassin sample (package spamassassin): %w", err))
	}
	return b
}

// send hands the letter to Postfix's inbound port and returns Postfix's queue id for it.
func (l *letter) send(ctx context.Context, t *testing.T, p *harness.Postfix) string {
	t.Helper()
	off := p.LogOffset()
	rs, err := harness.SendRaw(ctx, harness.InboundAddr, l.From, l.To, l.Raw, harness.DialOptions{})
	if err != nil {
		t.Fatalf("send %s: %v", l.ID, err)
	}
	if len(rs) == 0 || !strings.Contains(rs[0].Text, "queued as") {
		t.Fatalf("Postfix reply %v, want queued as", rs)
	}
	return inboundQueueID(ctx, t, p, off, l.ID)
}

// feedLine waits for Postfix's log line of the delivery of queue id qid to rcpt through the content
// filter (relay 127.0.0.1:20024) with the given status (sent, bounced, deferred), and returns the text in
// the parentheses: mavis's reply, or Postfix's description of it.
func feedLine(ctx context.Context, t *testing.T, p *harness.Postfix, off int64, qid, rcpt, status string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(qid) + `: to=<` + regexp.QuoteMeta(rcpt) +
		`>, .*relay=127\.0\.0\.1\[127\.0\.0\.1\]:20024, .*status=` + status + ` \((.*)\)$`)
	line, err := p.WaitLog(within(ctx, t), off, re)
	if err != nil {
		t.Fatalf("%v\n--- postfix log ---\n%s", err, must(p.LogSince(off)))
	}
	return re.FindStringSubmatch(line)[1]
}

// mainLine waits for mavisd's main log line for the Message-ID that starts with verb ("Blocked BANNED",
// "Passed CLEAN", ...).
func mainLine(ctx context.Context, t *testing.T, d *harness.Daemon, verb, msgID string) string {
	t.Helper()
	line, err := d.WaitLog(within(ctx, t), regexp.MustCompile(regexp.QuoteMeta(verb)+`.*Message-ID: `+regexp.QuoteMeta(msgID)))
	if err != nil {
		t.Fatal(err)
	}
	return line
}

// logField returns the value of "name: value," in a main log line.
func logField(line, name string) string {
	m := regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `: ([^, ]+)`).FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	return m[1]
}

// notDelivered waits until Postfix is done with rcpt and checks that no copy of msgID arrived.
func notDelivered(ctx context.Context, t *testing.T, p *harness.Postfix, rcpt, msgID string) {
	t.Helper()
	expectCopies(ctx, t, p, rcpt, msgID, 0, 0)
}

// quarantined reads back the quarantine file of mailID under dir and checks that it is the complete
// message: the envelope in its prefix is the letter's, and what follows the prefix is the letter's text
// (after Postfix's Received field). It returns the quarantine location relative to dir.
func quarantined(t *testing.T, dir, mailID string, l *letter, wantRcpts ...string) string {
	t.Helper()
	locs, err := quarantine.Find(dir, mailID)
	if err != nil || len(locs) != 1 {
		t.Fatalf("quarantine files for mail_id %s in %s: %v %v", mailID, dir, locs, err)
	}
	rc, err := quarantine.Open(dir, locs[0].Rel)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	env, rest, err := quarantine.ParseEnvelope(rc)
	if err != nil {
		t.Fatalf("parse quarantine %s: %v", locs[0].Rel, err)
	}
	msg, err := io.ReadAll(rest)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.EqualFold(env.Sender, l.From) {
		t.Errorf("quarantine envelope sender %q, want %q", env.Sender, l.From)
	}
	if len(wantRcpts) == 0 {
		wantRcpts = l.To
	}
	if strings.ToLower(strings.Join(env.Recipients, ",")) != strings.ToLower(strings.Join(wantRcpts, ",")) {
		t.Errorf("quarantine envelope recipients %q, want %q", env.Recipients, wantRcpts)
	}
	if env.QuarantineID != mailID {
		t.Errorf("X-Quarantine-ID %q, want %q", env.QuarantineID, mailID)
	}
	lf := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }
	if !bytes.HasSuffix(lf(msg), lf(l.Raw)) {
		t.Errorf("quarantined message (%d bytes) does not end with the message sent (%d bytes):\n%s", len(msg), len(l.Raw), head(msg, 1500))
	}
	// amavis puts its own Received field on the quarantined copy, above the inbound smtpd's
	if rcv := harness.HeaderValues(msg, "Received"); len(rcv) == 0 || !strings.Contains(rcv[len(rcv)-1], "by mx.it.test (Postfix)") {
		t.Errorf("quarantined message lacks the inbound Received field: %q", rcv)
	}
	if got := harness.HeaderValue(msg, "Message-ID"); got != l.ID {
		t.Errorf("quarantined Message-ID %q, want %q", got, l.ID)
	}
	return locs[0].Rel
}

func head(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// hdrs returns the header section of a message (for failure messages).
func hdrs(b []byte) string {
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		return string(b[:i])
	}
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return string(b[:i])
	}
	return head(b, 2000)
}

// settings joins TOML setting lines.
func settings(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// clamdScanner is the av_scanners entry for the test clamd (scripts/clamd.sh) on socket, as in
// internal/app's tests.
func clamdScanner(socket string) string {
	return fmt.Sprintf(`av_scanners = [{ name = "ClamAV-clamd", type = "ask_daemon", args = "CONTSCAN {}\n", sockets = "clamd:%s", clean = '\bOK$', infected = '\bFOUND$', virus_name = '^.*?: (.*) FOUND$' }]
av_scanners_backup = []
`, socket)
}

// requireClamd returns the socket of the test clamd (skip or fail per MAVIS_REQUIRE_INTEGRATION).
func requireClamd(t *testing.T) string {
	t.Helper()
	return virustest.Require(t).Socket
}

// requireTCP checks that a service answers on addr (skip or fail per MAVIS_REQUIRE_INTEGRATION).
func requireTCP(t *testing.T, what, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		harness.Require(t, fmt.Errorf("%s on %s: %w", what, addr, err))
		return
	}
	_ = c.Close()
}

// home returns a fresh MYHOME for a mavisd of the test, and its quarantine directory (the default
// QUARANTINEDIR, $MYHOME/virusmails).
func home(t *testing.T) (string, string) {
	h := t.TempDir()
	return h, filepath.Join(h, "virusmails")
}

// defaults are the settings mavisConfig adds unless the test sets the key itself: it.test is mydomain and
// the local domain, and no scanner runs.
var defaults = []struct{ key, line string }{
	{"mydomain", `mydomain = "it.test"`},
	{"local_domains_acl", `local_domains_acl = [".it.test"]`},
	{"av_scanners", `av_scanners = []`},
	{"av_scanners_backup", `av_scanners_backup = []`},
	{"spam_scanners", `spam_scanners = []`},
}

// mavisConfig is mavisd's test configuration with MYHOME home and the given setting lines (TOML, amavis
// names; several settings per string are fine), plus the defaults for the keys they leave out.
func mavisConfig(home string, extra ...string) harness.MavisdConfig {
	text := settings(extra...)
	var lines []string
	for _, d := range defaults {
		if !regexp.MustCompile(`(?m)^\s*` + d.key + `\s*=`).MatchString(text) {
			lines = append(lines, d.line)
		}
	}
	cfg := harness.DefaultConfig()
	cfg.Home = home
	cfg.Extra = settings(lines...) + text
	return cfg
}

// restart stops d (SIGTERM) so that another mavisd can take the filter port.
func restart(ctx context.Context, t *testing.T, d *harness.Daemon) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := d.Stop(sctx); err != nil {
		t.Logf("mavisd stop: %v", err)
	}
}

// quarantineFiles lists the files under a quarantine directory (none when it does not exist).
func quarantineFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if e.Type().IsRegular() {
			out = append(out, path)
		}
		return nil
	})
	return out, err
}
