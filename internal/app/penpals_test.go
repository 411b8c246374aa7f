package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/mavis-filter/mavis/internal/pipeline"
	"github.com/mavis-filter/mavis/internal/store"
)

func pgDatabase(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5")
	if err == nil {
		err = admin.PingContext(ctx)
	}
	if err != nil {
		if os.Getenv("MAVIS_REQUIRE_INTEGRATION") == "" {
			t.Skipf("PostgreSQL unavailable: %v", err)
		}
		t.Fatalf("PostgreSQL unavailable (MAVIS_REQUIRE_INTEGRATION set): %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := fmt.Sprintf("mavis_app_test_%x", b)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	})
	return name
}

// Pen pals learnt through one mavisd instance are used by another sharing
// the same PostgreSQL database: a local user writes to a correspondent,
// whose reply (handled by the second instance) gets the bonus.
func TestPenPalsAcrossInstances(t *testing.T) {
	requireSpamd(t)
	db := pgDatabase(t)
	cfg := fmt.Sprintf(`mydomain = "example.org"
av_scanners = []
av_scanners_backup = []
spam_scanners = [["SpamdClient", "SpamdClient"]]
sa_tag_level_deflt = "undef"
sa_kill_level_deflt = 2000
storage_sql_dsn = [["DBI:Pg:dbname=%s;host=127.0.0.1;port=5432", "postgres", ""]]
penpals_bonus_score = 8
penpals_halflife = 604800
`, db)
	ctx := context.Background()
	var pipes []*pipelineUnderTest
	for i := 0; i < 2; i++ {
		p, rec, logs, snap := newTestPipeline(t, cfg)
		o := StoreOptions(snap.Settings, slog.New(slog.DiscardHandler))
		o.CreateSchema = true
		st, err := store.Open(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		p.Recorder = st
		pipes = append(pipes, &pipelineUnderTest{p: p, rec: rec, logs: logs})
	}
	// Instance 1: the local user writes to the correspondent.
	out := message(t, []byte("From: user@example.org\r\nTo: friend@example.net\r\nDate: Sat, 01 Jun 2024 12:00:00 +0000\r\nMessage-ID: <first@example.org>\r\nSubject: hello\r\n\r\nhi\r\n"), "friend@example.net")
	out.Envelope.MailFrom = "user@example.org"
	if r := pipes[0].p.Process(ctx, out); r.SMTP.Code != 250 {
		t.Fatalf("outgoing: %q", r.SMTP)
	}
	// Instance 2: the correspondent's reply (GTUBE, so that it has a score)
	// gets the pen pals bonus.
	reply := sample(t, "sample-spam.txt")
	reply = []byte("In-Reply-To: <first@example.org>\r\n" + string(reply))
	in := message(t, reply, "user@example.org")
	in.Envelope.MailFrom = "friend@example.net"
	if r := pipes[1].p.Process(ctx, in); r.SMTP.Code != 250 {
		t.Fatalf("reply: %q", r.SMTP)
	}
	l := pipes[1].logs.String()
	if !strings.Contains(l, "penpals: bonus") || !strings.Contains(l, "<friend@example.net> replying to <user@example.org>") {
		t.Errorf("second instance did not use the pen pals bonus:\n%s", l)
	}
	got := pipes[1].rec.take()
	if len(got) != 1 || !strings.Contains(got[0], "AM.PENPAL=") {
		t.Errorf("reply copy lacks AM.PENPAL in X-Spam-Status: %q", got)
	}
}

type pipelineUnderTest struct {
	p    *pipeline.Pipeline
	rec  *recorder
	logs *bytes.Buffer
}
