package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/mavis-filter/mavis/internal/check/virus/virustest"
	"github.com/mavis-filter/mavis/internal/config"
	"github.com/mavis-filter/mavis/internal/decode"
	"github.com/mavis-filter/mavis/internal/deliver"
	"github.com/mavis-filter/mavis/internal/logging"
	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/pipeline"
	"github.com/mavis-filter/mavis/internal/quarantine"
	"github.com/mavis-filter/mavis/internal/testcorpus"
)

// recorder is a go-smtp backend (an independent SMTP peer) standing in for
// Postfix's re-injection port.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (b *recorder) NewSession(*smtp.Conn) (smtp.Session, error) { return &recSess{b: b}, nil }

type recSess struct{ b *recorder }

func (s *recSess) AuthPlain(string, string) error       { return nil }
func (s *recSess) Mail(string, *smtp.MailOptions) error { return nil }
func (s *recSess) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *recSess) Reset()                               {}
func (s *recSess) Logout() error                        { return nil }
func (s *recSess) Data(r io.Reader) error {
	b, _ := io.ReadAll(r)
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, string(b))
	s.b.mu.Unlock()
	return nil
}

func (b *recorder) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.msgs
	b.msgs = nil
	return m
}

func newTestPipeline(t *testing.T, cfgText string) (*pipeline.Pipeline, *recorder, *bytes.Buffer, *Snapshot) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	srv := smtp.NewServer(rec)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	env := config.Env{Hostname: "mx.example.org", StateDir: t.TempDir()}
	cfg, err := env.Parse("test.toml", []byte(fmt.Sprintf("forward_method = \"smtp:[127.0.0.1]:%d\"\n", ln.Addr().(*net.TCPAddr).Port)+cfgText))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := Build(cfg, decode.FindTools(nil))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	lg, _, _ := logging.New(logging.Options{Stderr: &logs})
	c := deliver.NewClient(deliver.DefaultTimeouts(), false, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { c.Close() })
	if _, err := PrepareDirs(snap.Settings, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	p := &pipeline.Pipeline{Settings: snap.ForMessage, Forwarder: c, Notifier: c, Logger: lg, WorkDir: t.TempDir()}
	return p, rec, &logs, snap
}

func message(t *testing.T, raw []byte, rcpts ...string) *mail.Message {
	t.Helper()
	m := &mail.Message{LogID: "00001-01", Body: mail.NewSpoolFromBytes(raw), Size: int64(len(raw))}
	m.MailID, m.SecretID = mail.NewMailID()
	m.Envelope.MailFrom = "sender@example.net"
	for _, r := range rcpts {
		m.Envelope.Rcpts = append(m.Envelope.Rcpts, &mail.Recipient{Addr: r, Raw: r})
	}
	m.Conn = mail.ConnInfo{RemoteIP: "127.0.0.1", LocalIP: "127.0.0.1", LocalPort: "10024", Helo: "mx", Protocol: "ESMTP"}
	m.Client = mail.ClientInfo{Addr: "198.51.100.7", Port: "4321"}
	h, err := mail.ParseHeader(m.Body.Reader())
	if err != nil {
		t.Fatal(err)
	}
	m.Header = h
	return m
}

func TestVirusThroughPipeline(t *testing.T) {
	cl := virustest.Require(t)
	cfgText := fmt.Sprintf(`mydomain = "example.org"
av_scanners = [{ name = "ClamAV-clamd", type = "ask_daemon", args = "CONTSCAN {}\n", sockets = "clamd:%s", clean = '\bOK$', infected = '\bFOUND$', virus_name = '^.*?: (.*) FOUND$' }]
av_scanners_backup = []
`, cl.Socket)
	p, rec, logs, snap := newTestPipeline(t, cfgText)
	ctx := context.Background()

	// EICAR inside a zip: discarded with amavis's reply, never forwarded.
	eicarZip := testcorpus.Zip([]string{"eicar.com"}, map[string][]byte{"eicar.com": []byte(testcorpus.EICAR)})
	m := message(t, testcorpus.Message("eicar zip", []testcorpus.Attachment{testcorpus.File("doc.zip", eicarZip)}), "user@example.org")
	out := p.Process(ctx, m)
	if !strings.HasPrefix(out.SMTP.String(), "250 2.7.0 Ok, discarded, id=00001-01 - INFECTED: Eicar-Signature") {
		t.Errorf("reply %q", out.SMTP)
	}
	// Only the admin notification to virus_admin (postmaster@mydomain)
	// reaches the next hop, not the infected mail.
	got := rec.take()
	if len(got) != 1 || !strings.Contains(got[0], "Subject: VIRUS (Eicar-Signature") || strings.Contains(got[0], "X-Virus-Scanned") {
		t.Errorf("want just the admin notification, got %d messages: %q", len(got), got)
	}
	if !strings.Contains(logs.String(), "Blocked INFECTED (Eicar-Signature") || !strings.Contains(logs.String(), "{DiscardedInbound,Quarantined}") ||
		!strings.Contains(logs.String(), "quarantine: ") {
		t.Errorf("log lacks Blocked INFECTED line:\n%s", logs.String())
	}
	locs, err := quarantine.Find(snap.Settings.QuarantineDir.Or(""), m.MailID)
	if err != nil || len(locs) != 1 {
		t.Fatalf("quarantine copy: %v %v", locs, err)
	}

	// Clean mail passes with X-Virus-Scanned.
	m = message(t, testcorpus.Message("clean", []testcorpus.Attachment{testcorpus.File("notes.txt", []byte("hello"))}), "user@example.org")
	out = p.Process(ctx, m)
	if out.SMTP.Code != 250 || !strings.Contains(out.SMTP.Text, "from MTA(") {
		t.Errorf("clean reply %q", out.SMTP)
	}
	msgs := rec.take()
	if len(msgs) != 1 || !strings.Contains(msgs[0], "X-Virus-Scanned: Debian amavis at example.org\r\n") {
		t.Fatalf("clean mail: %d forwarded; %q", len(msgs), msgs)
	}
}

func TestVirusScannersFailed(t *testing.T) {
	dead := "/nonexistent/clamd.ctl"
	base := fmt.Sprintf(`mydomain = "example.org"
av_scanners = [{ name = "ClamAV-clamd", type = "ask_daemon", args = "CONTSCAN {}\n", sockets = "clamd:%s", clean = '\bOK$', infected = '\bFOUND$', virus_name = '^.*?: (.*) FOUND$' }]
av_scanners_backup = []
`, dead)
	ctx := context.Background()
	raw := testcorpus.Message("clamd down", nil)

	// Default (amavis): passed as UNCHECKED with the subject tag.
	p, rec, _, _ := newTestPipeline(t, base)
	out := p.Process(ctx, message(t, raw, "user@example.org"))
	if out.SMTP.Code != 250 {
		t.Errorf("reply %q", out.SMTP)
	}
	// The admin notification (UNCHECKED contents) and the tagged copy.
	msgs := rec.take()
	if len(msgs) != 2 || !strings.Contains(msgs[0], "Subject: UNCHECKED contents in mail FROM") ||
		!strings.Contains(msgs[1], "Subject: ***UNCHECKED*** clamd down") {
		t.Errorf("UNCHECKED: %q", msgs)
	}

	// virus_scanners_failure_is_fatal: tempfail, nothing forwarded.
	p, rec, _, _ = newTestPipeline(t, base+"virus_scanners_failure_is_fatal = true\n")
	out = p.Process(ctx, message(t, raw, "user@example.org"))
	if want := "451 4.5.0 Error in processing, id=00001-01, virus_scan FAILED: AV: ALL VIRUS SCANNERS FAILED"; out.SMTP.String() != want {
		t.Errorf("reply %q want %q", out.SMTP, want)
	}
	if n := len(rec.take()); n != 0 {
		t.Errorf("forwarded %d", n)
	}
}

// warnvirusrecip: the local recipient of an infected message is warned.
func TestVirusRecipientWarning(t *testing.T) {
	cl := virustest.Require(t)
	cfgText := fmt.Sprintf(`mydomain = "example.org"
av_scanners = [{ name = "ClamAV-clamd", type = "ask_daemon", args = "CONTSCAN {}\n", sockets = "clamd:%s", clean = '\bOK$', infected = '\bFOUND$', virus_name = '^.*?: (.*) FOUND$' }]
av_scanners_backup = []
virus_admin = "undef"
warnvirusrecip = true
`, cl.Socket)
	p, rec, _, _ := newTestPipeline(t, cfgText)
	m := message(t, testcorpus.Message("eicar", []testcorpus.Attachment{testcorpus.File("e.txt", []byte(testcorpus.EICAR))}), "user@example.org")
	out := p.Process(context.Background(), m)
	if out.SMTP.Code != 250 || !strings.Contains(out.SMTP.Text, "discarded") {
		t.Fatalf("reply %q", out.SMTP)
	}
	got := rec.take()
	if len(got) != 1 || !strings.Contains(got[0], "To: <user@example.org>") || strings.Contains(got[0], "X-Virus-Scanned") {
		t.Errorf("want one warning to the recipient, got %q", got)
	}
}
