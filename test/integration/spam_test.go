package integration

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mavis-filter/mavis/test/integration/harness"
)

// Issue 5 through real Postfix and the real spamd of scripts/spamd.sh: seeds 000 and 001 line by line.

const spamdAddr = "127.0.0.1:783"

// spamd is the spam_scanners setting for SpamAssassin's spamd.
const spamd = `spam_scanners = [["SpamdClient", "SpamdClient"]]`

// seed000Spam is seed 000's spam settings (tag 1.0, tag2 5.0, kill 6.31, dsn cutoff 10, discard).
var seed000Spam = settings(spamd,
	`sa_spam_subject_tag = '***SPAM*** '`,
	`sa_tag_level_deflt = 1.0`,
	`sa_tag2_level_deflt = 5.0`,
	`sa_kill_level_deflt = 6.31`,
	`sa_dsn_cutoff_level = 10`,
	`final_spam_destiny = "D_DISCARD"`,
	`virus_admin = "undef"`)

// seed001Spam is seed 001's 50-user file (on top of Debian's defaults: tag2 = kill = 6.31).
var seed001Spam = settings(spamd,
	`sa_spam_subject_tag = "undef"`,
	`spam_quarantine_to = "undef"`,
	`sa_tag_level_deflt = "undef"`,
	`final_spam_destiny = "D_PASS"`,
	`virus_admin = "undef"`)

const gtubeSubject = "Test spam mail (GTUBE)"

// Seed 000: GTUBE is discarded and quarantined (spam-<mail_id>.gz), ham is delivered untagged.
func TestSpamSeed000(t *testing.T) {
	p := harness.RequirePostfix(t)
	requireTCP(t, "spamd", spamdAddr)
	h, qdir := home(t)
	d := harness.StartMavisd(t, mavisConfig(h, seed000Spam))

	t.Run("gtube-discarded", func(t *testing.T) {
		ctx := testCtx(t, 2*time.Minute)
		rcpt := rcptFor("u40", "gtube")
		l := newLetter("gtube", sample(t, "sample-spam.txt"), rcpt)
		off := p.LogOffset()
		qid := l.send(ctx, t, p)
		reply := feedLine(ctx, t, p, off, qid, rcpt, "sent")
		if re := regexp.MustCompile(`^250 2\.7\.0 Ok, discarded, id=\d+-\d+ - spam$`); !re.MatchString(reply) {
			t.Errorf("mavis reply %q, want match %s", reply, re)
		}
		line := mainLine(ctx, t, d, "Blocked SPAM", l.ID)
		if !strings.Contains(line, "{DiscardedInbound,Quarantined}") {
			t.Errorf("main log line %q, want {DiscardedInbound,Quarantined}", line)
		}
		if hits, err := strconv.ParseFloat(logField(line, "Hits"), 64); err != nil || hits < 6.31 {
			t.Errorf("Hits %q in %q, want a score at or above the kill level 6.31", logField(line, "Hits"), line)
		}
		mailID := logField(line, "mail_id")
		if loc := quarantined(t, qdir, mailID, l); !strings.HasSuffix(loc, "spam-"+mailID+".gz") {
			t.Errorf("quarantine file %q, want spam-%s.gz", loc, mailID)
		}
		notDelivered(ctx, t, p, rcpt, l.ID)
	})
	t.Run("ham-delivered", func(t *testing.T) {
		ctx := testCtx(t, 2*time.Minute)
		rcpt := rcptFor("u40", "ham")
		l := newLetter("ham", sample(t, "sample-nonspam.txt"), rcpt)
		off := p.LogOffset()
		qid := l.send(ctx, t, p)
		if reply := feedLine(ctx, t, p, off, qid, rcpt, "sent"); !strings.HasPrefix(reply, "250 2.0.0 from MTA(") {
			t.Errorf("mavis reply %q, want passed", reply)
		}
		got, err := p.WaitDelivered(within(ctx, t), "u40", l.ID)
		if err != nil {
			t.Fatal(err)
		}
		if f := harness.HeaderValue(got, "X-Spam-Flag"); f == "YES" {
			t.Errorf("ham got X-Spam-Flag: YES:\n%s", hdrs(got))
		}
		if s := harness.HeaderValue(got, "Subject"); strings.Contains(s, "***SPAM***") {
			t.Errorf("ham Subject %q tagged", s)
		}
		line := mainLine(ctx, t, d, "Passed CLEAN", l.ID)
		// X-Spam-* fields only at or above the tag level 1.0, with tagged_above and required (tag2 5.0)
		hits, err := strconv.ParseFloat(logField(line, "Hits"), 64)
		if err != nil {
			t.Fatalf("Hits in %q: %v", line, err)
		}
		st := harness.HeaderValue(got, "X-Spam-Status")
		switch {
		case hits >= 1.0 && !regexp.MustCompile(`^No, score=[0-9.]+ tagged_above=1 required=5 tests=\[`).MatchString(st):
			t.Errorf("ham scored %v (>= tag level 1.0): X-Spam-Status %q, want No, score=… tagged_above=1 required=5", hits, st)
		case hits < 1.0 && st != "":
			t.Errorf("ham scored %v (< tag level 1.0) but has X-Spam-Status %q", hits, st)
		}
		t.Logf("ham: Hits %v, X-Spam-Status %q", hits, st)
		expectCopies(ctx, t, p, rcpt, l.ID, 1, 1)
	})
}

// Seed 001: tag level undef (headers on every message for local recipients), no subject tag, spam
// passed.
func TestSpamSeed001(t *testing.T) {
	p := harness.RequirePostfix(t)
	requireTCP(t, "spamd", spamdAddr)
	h, qdir := home(t)
	d := harness.StartMavisd(t, mavisConfig(h, seed001Spam))

	t.Run("gtube-tagged", func(t *testing.T) {
		ctx := testCtx(t, 2*time.Minute)
		rcpt := rcptFor("u41", "gtube")
		l := newLetter("gtube", sample(t, "sample-spam.txt"), rcpt)
		off := p.LogOffset()
		qid := l.send(ctx, t, p)
		if reply := feedLine(ctx, t, p, off, qid, rcpt, "sent"); !strings.HasPrefix(reply, "250 2.0.0 from MTA(") {
			t.Errorf("mavis reply %q, want passed", reply)
		}
		got, err := p.WaitDelivered(within(ctx, t), "u41", l.ID)
		if err != nil {
			t.Fatal(err)
		}
		checkSpamHeaders(t, got, true)
		if s := harness.HeaderValue(got, "Subject"); s != gtubeSubject {
			t.Errorf("Subject %q, want it unchanged (sa_spam_subject_tag undef): %q", s, gtubeSubject)
		}
		line := mainLine(ctx, t, d, "Passed SPAM", l.ID)
		if strings.Contains(line, "Quarantined") {
			t.Errorf("spam_quarantine_to undef, but %q", line)
		}
		if locs, _ := quarantineFiles(qdir); len(locs) != 0 {
			t.Errorf("quarantine files %q, want none (spam_quarantine_to undef)", locs)
		}
		expectCopies(ctx, t, p, rcpt, l.ID, 1, 1)
	})
	t.Run("ham-headers", func(t *testing.T) {
		ctx := testCtx(t, 2*time.Minute)
		rcpt := rcptFor("u41", "ham")
		l := newLetter("ham", sample(t, "sample-nonspam.txt"), rcpt)
		l.send(ctx, t, p)
		got, err := p.WaitDelivered(within(ctx, t), "u41", l.ID)
		if err != nil {
			t.Fatal(err)
		}
		checkSpamHeaders(t, got, false)
		mainLine(ctx, t, d, "Passed CLEAN", l.ID)
		expectCopies(ctx, t, p, rcpt, l.ID, 1, 1)
	})
}

// checkSpamHeaders checks amavis's X-Spam-* fields on a local recipient's copy with seed 001's levels
// (tag undef: no tagged_above; tag2 = kill = 6.31).
func checkSpamHeaders(t *testing.T, msg []byte, spam bool) {
	t.Helper()
	flag, status := "NO", `^No, score=-?[0-9.]+ required=6\.31 tests=\[.*\] autolearn=\S+$`
	if spam {
		flag, status = "YES", `^Yes, score=[0-9.]+ required=6\.31 tests=\[.*GTUBE.*\] autolearn=\S+$`
	}
	if f := harness.HeaderValue(msg, "X-Spam-Flag"); f != flag {
		t.Errorf("X-Spam-Flag %q, want %s", f, flag)
	}
	if st := harness.HeaderValues(msg, "X-Spam-Status"); len(st) != 1 || !regexp.MustCompile(status).MatchString(st[0]) {
		t.Errorf("X-Spam-Status %q, want one matching %s", st, status)
	}
	score := harness.HeaderValue(msg, "X-Spam-Score")
	level, err := strconv.ParseFloat(score, 64)
	if err != nil {
		t.Errorf("X-Spam-Score %q: %v", score, err)
	}
	if st := harness.HeaderValue(msg, "X-Spam-Status"); !strings.Contains(st, "score="+score+" ") {
		t.Errorf("X-Spam-Status %q does not carry X-Spam-Score %s", st, score)
	}
	// amavis: one '*' per whole point, at most 64, none below 1
	stars := strings.Repeat("*", int(max(0, min(level, 64))))
	if lvl := harness.HeaderValues(msg, "X-Spam-Level"); len(lvl) != 1 || lvl[0] != stars {
		t.Errorf("X-Spam-Level %q, want one field %q for score %s", lvl, stars, score)
	}
	if t.Failed() {
		t.Logf("header:\n%s", hdrs(msg))
	}
}

// nonLocal is a recipient that Postfix delivers (it.test) but mavis does not count as local:
// local_domains_acl = ["!rcpt2@it.test", ".it.test"] (amavis ACL: the first match decides, ! negates).
const nonLocal = "rcpt2@" + harness.Domain

// One local and one non-local recipient: only the local recipient's copy gets the X-Spam-* fields
// (amavis adds them for local recipients only), over SMTP and over LMTP.
func TestSpamHeadersLocalOnly(t *testing.T) {
	p := harness.RequirePostfix(t)
	requireTCP(t, "spamd", spamdAddr)
	h, _ := home(t)
	d := harness.StartMavisd(t, mavisConfig(h, seed001Spam, `local_domains_acl = ["!`+nonLocal+`", ".it.test"]`))
	for _, tc := range []struct{ name, tag, with string }{
		{"smtp", "mix", "ESMTP"},
		{"lmtp", "lmtp-mix", "LMTP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t, 2*time.Minute)
			local := rcptFor("u42", tc.tag)
			l := newLetter("mix", sample(t, "sample-spam.txt"), local, nonLocal)
			off := p.LogOffset()
			qid := l.send(ctx, t, p)
			for _, r := range l.To {
				if reply := feedLine(ctx, t, p, off, qid, r, "sent"); !strings.Contains(reply, "2.0.0") {
					t.Errorf("mavis reply for %s: %q, want passed", r, reply)
				}
			}
			lc, err := p.WaitDelivered(within(ctx, t), "u42", l.ID)
			if err != nil {
				t.Fatal(err)
			}
			nc, err := p.WaitDelivered(within(ctx, t), "rcpt2", l.ID)
			if err != nil {
				t.Fatal(err)
			}
			checkSpamHeaders(t, lc, true)
			for _, f := range []string{"X-Spam-Flag", "X-Spam-Score", "X-Spam-Level", "X-Spam-Status"} {
				if v := harness.HeaderValues(nc, f); len(v) != 0 {
					t.Errorf("non-local copy has %s: %q", f, v)
				}
			}
			// both copies went through mavis (over the protocol the route chose)
			for name, c := range map[string][]byte{"local": lc, "non-local": nc} {
				rcv := harness.HeaderValues(c, "Received")
				if len(rcv) < 2 || !strings.Contains(rcv[1], "with "+tc.with+" id ") {
					t.Errorf("%s copy: mavis Received %q, want with %s", name, rcv, tc.with)
				}
			}
			mainLine(ctx, t, d, "Passed SPAM", l.ID)
			expectCopies(ctx, t, p, local, l.ID, 1, 1)
			expectCopies(ctx, t, p, nonLocal, l.ID, 1, 1)
		})
	}
}

// Seed 001's settings with rspamd (RspamdClient, /checkv2 on 127.0.0.1:11333) as the spam scanner:
// GTUBE is tagged, ham gets X-Spam-Flag: NO.
func TestSpamRspamdSeed001(t *testing.T) {
	p := harness.RequirePostfix(t)
	requireTCP(t, "rspamd", "127.0.0.1:11333")
	h, _ := home(t)
	cfg := strings.Replace(seed001Spam, spamd, `spam_scanners = [["Rspamd", "RspamdClient"]]`, 1)
	d := harness.StartMavisd(t, mavisConfig(h, cfg))
	for _, tc := range []struct {
		name, sample, verb string
		spam               bool
	}{
		{"gtube", "sample-spam.txt", "Passed SPAM", true},
		{"ham", "sample-nonspam.txt", "Passed CLEAN", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t, 2*time.Minute)
			rcpt := rcptFor("u43", "rsp"+tc.name)
			l := newLetter("rsp"+tc.name, sample(t, tc.sample), rcpt)
			l.send(ctx, t, p)
			got, err := p.WaitDelivered(within(ctx, t), "u43", l.ID)
			if err != nil {
				t.Fatal(err)
			}
			if tc.spam {
				if f := harness.HeaderValue(got, "X-Spam-Flag"); f != "YES" {
					t.Errorf("X-Spam-Flag %q, want YES:\n%s", f, hdrs(got))
				}
				if st := harness.HeaderValue(got, "X-Spam-Status"); !regexp.MustCompile(`^Yes, score=[0-9.]+ required=6\.31 tests=\[.*GTUBE.*\]`).MatchString(st) {
					t.Errorf("X-Spam-Status %q", st)
				}
				if s := harness.HeaderValue(got, "Subject"); s != gtubeSubject {
					t.Errorf("Subject %q, want it unchanged", s)
				}
			} else if f := harness.HeaderValue(got, "X-Spam-Flag"); f != "NO" {
				t.Errorf("X-Spam-Flag %q, want NO:\n%s", f, hdrs(got))
			}
			mainLine(ctx, t, d, tc.verb, l.ID)
			expectCopies(ctx, t, p, rcpt, l.ID, 1, 1)
		})
	}
}
