package spam_test

import (
	"bytes"
	"context"
	"math"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mavis-filter/mavis/internal/check/spam"
	"github.com/mavis-filter/mavis/internal/check/spam/rspamd"
	"github.com/mavis-filter/mavis/internal/check/spam/spamd"
)

// TestCheckAllRealScanners runs the real spamd and rspamd (scripts/spamd.sh,
// scripts/rspamd.sh) together on GTUBE, as amavis with two @spam_scanners
// entries: the combined score is the sum, the test list spamd's then
// rspamd's; a scanner that is down adds nothing and reports an error.
func TestCheckAllRealScanners(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	sa, err := spamd.New(spamd.Config{Name: "SpamAssassin", Command: spamd.Headers})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rspamd.New(rspamd.Config{Name: "Rspamd", ScoreFactor: 6.31 / 15})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.CloseIdleConnections()
	if err1, err2 := sa.Ping(ctx), rs.Ping(ctx); err1 != nil || err2 != nil {
		if os.Getenv("MAVIS_REQUIRE_INTEGRATION") == "" {
			t.Skipf("spamd (%v) or rspamd (%v) not available", err1, err2)
		}
		t.Fatalf("spamd (%v) or rspamd (%v) not available", err1, err2)
	}
	msg, err := os.ReadFile("/usr/share/doc/spamassassin/examples/sample-spam.txt")
	if err != nil {
		t.Fatal(err)
	}
	msg = bytes.ReplaceAll(msg, []byte("\n"), []byte("\r\n"))
	req := &spam.Request{LogID: "it", Message: bytes.NewReader(msg), Size: int64(len(msg)),
		MailFrom: "sender@example.net", Rcpts: []string{"user@example.org"}, ClientIP: "192.0.2.1",
		ClientName: "mx.example.net", QueueID: "Q1"}

	got, outs := spam.CheckAll(ctx, []spam.Scanner{sa, rs}, req)
	if len(outs) != 2 || outs[0].Err != nil || outs[1].Err != nil {
		t.Fatalf("outcomes: %+v", outs)
	}
	a, b := outs[0].Result, outs[1].Result
	if math.Abs(got.Score-(a.Score+b.Score)) > 1e-9 || !got.IsSpam || got.Scanner != "SpamAssassin,Rspamd" {
		t.Errorf("combined %+v from %+v and %+v", got, a, b)
	}
	if len(got.Tests) != len(a.Tests)+len(b.Tests) || got.Tests[0] != a.Tests[0] ||
		got.Tests[len(a.Tests)] != b.Tests[0] {
		t.Errorf("combined tests %v, want %v then %v", got.Tests, a.Tests, b.Tests)
	}
	list := spam.FormatTests(got.Tests, true)
	if !strings.HasPrefix(list, "GTUBE=1000, ") || strings.Count(list, "GTUBE") != 2 {
		t.Errorf("test list %q", list)
	}

	// spamd down: rspamd's verdict alone, and an error for spamd
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	down, err := spamd.New(spamd.Config{Name: "Down", Addrs: []string{dead}})
	if err != nil {
		t.Fatal(err)
	}
	got, outs = spam.CheckAll(ctx, []spam.Scanner{down, rs}, req)
	if outs[0].Err == nil || outs[1].Err != nil || got == nil || got.Score != outs[1].Result.Score {
		t.Errorf("with spamd down: %+v %+v", got, outs)
	}
}
