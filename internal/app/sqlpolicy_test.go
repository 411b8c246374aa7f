package app

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/mavis-filter/mavis/internal/store"
)

// Per-user settings from amavis's users/policy tables (lookup_sql_dsn,
// the default sql_select_policy) change the verdict for one recipient of
// a two-recipient message, and a wblist entry whitelists a sender.
func TestSQLPolicyPerRecipient(t *testing.T) {
	requireSpamd(t)
	dir := t.TempDir()
	dbfile := filepath.Join(dir, "policy.sqlite")
	db, err := sql.Open("sqlite", dbfile)
	if err != nil {
		t.Fatal(err)
	}
	ddl, err := store.Schema("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ddl); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO policy (id, policy_name, spam_kill_level, spam_tag2_level) VALUES (1, 'default', NULL, NULL), (2, 'tolerant', 2000, 2000)`,
		`INSERT INTO users (id, priority, policy_id, email) VALUES (1, 7, 2, 'tolerant@example.org'), (2, 7, 1, 'strict@example.org'), (3, 7, 1, 'wl@example.org')`,
		`INSERT INTO mailaddr (id, priority, email) VALUES (1, 7, 'sender@example.net')`,
		`INSERT INTO wblist (rid, sid, wb) VALUES (3, 1, 'W')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	cfg := `mydomain = "example.org"
av_scanners = []
av_scanners_backup = []
spam_scanners = [["SpamdClient", "SpamdClient"]]
sa_tag_level_deflt = "undef"
sa_tag2_level_deflt = 6.31
sa_kill_level_deflt = 6.31
final_spam_destiny = "D_DISCARD"
virus_admin = "undef"
lookup_sql_dsn = [["DBI:SQLite:dbname=` + dbfile + `", "", ""]]
`
	p, rec, logs, _ := newTestPipeline(t, cfg)
	ctx := context.Background()
	out := p.Process(ctx, message(t, sample(t, "sample-spam.txt"), "tolerant@example.org", "strict@example.org"))
	if out.SMTP.Code != 250 || !strings.Contains(out.SMTP.Text, ", but 1 DISCARD") {
		t.Errorf("reply %q (want the tolerant recipient passed, the strict one discarded)\n%s", out.SMTP, logs.String())
	}
	got := rec.take()
	if len(got) != 1 || !strings.Contains(got[0], "X-Spam-Status: No, score=") || !strings.Contains(got[0], "required=2000") {
		t.Errorf("tolerant copy: %q", got)
	}

	// The whitelisted sender's spam is delivered to wl@.
	out = p.Process(ctx, message(t, sample(t, "sample-spam.txt"), "wl@example.org"))
	if out.SMTP.Code != 250 || !strings.Contains(out.SMTP.Text, "from MTA(") {
		t.Errorf("whitelisted: %q", out.SMTP)
	}
	got = rec.take()
	if len(got) != 1 || !strings.Contains(got[0], "WHITELISTED") {
		t.Errorf("whitelisted copy lacks WHITELISTED: %q", got)
	}
}

// Seed 000 reads the local domains from Postfix's virtual_domains file.
func TestLocalDomainsFromFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "virtual_domains")
	os.WriteFile(f, []byte("# Postfix virtual domains\nexample.org\n.example.net\n"), 0o644)
	_, _, _, snap := newTestPipeline(t, `local_domains_maps = [{ type = "acl", file = "`+f+`" }]
av_scanners = []
`)
	for addr, want := range map[string]bool{"a@example.org": true, "a@sub.example.net": true, "a@example.com": false} {
		rp, err := snap.Pipeline.Resolve(context.Background(), addr)
		if err != nil {
			t.Fatal(err)
		}
		if rp.Local != want {
			t.Errorf("local(%s)=%v want %v", addr, rp.Local, want)
		}
	}
}
