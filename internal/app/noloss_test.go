package app

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/store"
	"github.com/mavis-filter/mavis/internal/testcorpus"
)

// Every action that must succeed before the upstream 250 turns its failure
// into a 4xx, with nothing forwarded.
func TestNoLossOnActionFailures(t *testing.T) {
	banned := testcorpus.Message("banned", []testcorpus.Attachment{testcorpus.File("setup.exe", testcorpus.TinyPE(false))})
	base := `mydomain = "example.org"
av_scanners = []
av_scanners_backup = []
spam_scanners = []
`
	ctx := context.Background()

	t.Run("quarantine not writable", func(t *testing.T) {
		p, rec, _, snap := newTestPipeline(t, base+"virus_admin = \"undef\"\n")
		qd := snap.Settings.QuarantineDir.Or("")
		os.RemoveAll(qd)
		if err := os.WriteFile(qd, []byte("not a directory"), 0o600); err != nil {
			t.Fatal(err)
		}
		out := p.Process(ctx, message(t, banned, "user@example.org"))
		if !strings.HasPrefix(out.SMTP.String(), "451 4.5.0 Error in processing, id=00001-01, quar+notif FAILED: quarantine") {
			t.Errorf("reply %q", out.SMTP)
		}
		if n := len(rec.take()); n != 0 {
			t.Errorf("%d messages went out", n)
		}
	})

	t.Run("admin notification tempfailed", func(t *testing.T) {
		p, rec, _, _ := newTestPipeline(t, base+"notify_method = \"smtp:[127.0.0.1]:1\"\nvirus_admin = \"postmaster@example.org\"\n")
		out := p.Process(ctx, message(t, banned, "user@example.org"))
		if !strings.HasPrefix(out.SMTP.String(), "451 4.5.0 Error in processing, id=00001-01, quar+notif FAILED: temporarily unable to notify admin") {
			t.Errorf("reply %q", out.SMTP)
		}
		if n := len(rec.take()); n != 0 {
			t.Errorf("%d messages went out", n)
		}
	})

	t.Run("SQL log unavailable", func(t *testing.T) {
		p, rec, _, snap := newTestPipeline(t, base+"storage_sql_dsn = [[\"DBI:Pg:dbname=nothere;host=127.0.0.1;port=1\", \"postgres\", \"\"]]\n")
		st, err := store.Open(ctx, StoreOptions(snap.Settings, slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err) // lazy: opening succeeds, the first message fails
		}
		defer st.Close()
		p.Recorder = st
		clean := testcorpus.Message("clean", nil)
		out := p.Process(ctx, message(t, clean, "user@example.org"))
		if !strings.HasPrefix(out.SMTP.String(), "451 4.5.0 Error in processing, id=00001-01, sql-log FAILED:") {
			t.Errorf("reply %q", out.SMTP)
		}
		if n := len(rec.take()); n != 0 {
			t.Errorf("%d messages went out", n)
		}
	})
}
