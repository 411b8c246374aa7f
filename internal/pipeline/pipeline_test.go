package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mavis-filter/mavis/internal/config"
	"github.com/mavis-filter/mavis/internal/deliver"
	"github.com/mavis-filter/mavis/internal/logging"
	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/policy"
	"github.com/mavis-filter/mavis/internal/testcorpus"
)

// sink is a go-smtp backend (an independent SMTP implementation) standing in
// for Postfix's re-injection smtpd; it records what it received.
type sink struct {
	mu       sync.Mutex
	msgs     []string
	rcpts    [][]string
	rejectTo map[string]*smtp.SMTPError
}

func (b *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{b: b}, nil }

type sinkSession struct {
	b     *sink
	rcpts []string
}

func (s *sinkSession) AuthPlain(string, string) error       { return nil }
func (s *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *sinkSession) Reset()                               { s.rcpts = nil }
func (s *sinkSession) Logout() error                        { return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if e := s.b.rejectTo[to]; e != nil {
		return e
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.msgs = append(s.b.msgs, string(b))
	s.b.rcpts = append(s.b.rcpts, s.rcpts)
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Ok: queued as 4XyZ"}
}

func startSink(t *testing.T, b *sink) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(b)
	srv.Domain = "sink.test"
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func newMessage(t *testing.T, rcpts ...string) *mail.Message {
	t.Helper()
	raw := "From: a@example.net\r\nTo: b@example.org\r\nMessage-ID: <m1@example.net>\r\nSubject: hi\r\n\r\nbody\r\n"
	m := &mail.Message{LogID: "01234-01", MailID: "AbCdEfGhIjKl", Body: mail.NewSpoolFromBytes([]byte(raw)), Size: int64(len(raw))}
	m.Envelope.MailFrom = "a@example.net"
	for _, r := range rcpts {
		m.Envelope.Rcpts = append(m.Envelope.Rcpts, &mail.Recipient{Addr: r, Raw: r})
	}
	m.Client = mail.ClientInfo{Addr: "198.51.100.7", Port: "41234", Helo: "client.example", Ident: "4ABC", Name: "client.example"}
	m.Conn = mail.ConnInfo{RemoteIP: "127.0.0.1", LocalIP: "127.0.0.1", LocalPort: "10024", Helo: "mx.example", Protocol: "ESMTP"}
	h, err := mail.ParseHeader(m.Body.Reader())
	if err != nil {
		t.Fatal(err)
	}
	m.Header = h
	return m
}

func newPipeline(t *testing.T, fwd string, logs io.Writer) *Pipeline {
	t.Helper()
	meth, err := deliver.ParseMethod(fwd)
	if err != nil {
		t.Fatal(err)
	}
	lg, _, _ := logging.New(logging.Options{Stderr: logs})
	c := deliver.NewClient(deliver.DefaultTimeouts(), false, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { c.Close() })
	s := &Settings{Product: "mavis", MyHostname: "filter.example", LocalhostName: "localhost", Forward: meth,
		Resolve: func(_ context.Context, a string) (*RcptPolicy, error) {
			rp := DefaultRcptPolicy()
			rp.Local = strings.HasSuffix(a, "@example.org")
			return rp, nil
		}}
	return &Pipeline{Settings: func(*mail.Message) *Settings { return s }, Forwarder: c, Logger: lg,
		Now: func() time.Time { return time.Date(2026, 11, 21, 7, 9, 46, 0, time.UTC) }}
}

func TestProcessPass(t *testing.T) {
	b := &sink{}
	addr := startSink(t, b)
	var logs bytes.Buffer
	p := newPipeline(t, "smtp:["+strings.Replace(addr, ":", "]:", 1), &logs)
	m := newMessage(t, "b@example.org")
	out := p.Process(context.Background(), m)
	if out.SMTP.Code != 250 || !strings.Contains(out.SMTP.Text, "from MTA(smtp:[127.0.0.1]:") || !strings.HasSuffix(out.SMTP.Text, "250 2.0.0 Ok: queued as 4XyZ") {
		t.Fatalf("reply %q", out.SMTP)
	}
	if len(b.msgs) != 1 {
		t.Fatalf("sink got %d messages", len(b.msgs))
	}
	wantRecv := "Received: from mx.example ([127.0.0.1])\r\n by localhost (filter.example [127.0.0.1]) (mavis, port 10024) with ESMTP\r\n id AbCdEfGhIjKl for <b@example.org>; Sat, 21 Nov 2026 07:09:46 +0000 (UTC)\r\nFrom: a@example.net\r\n"
	if !strings.HasPrefix(b.msgs[0], wantRecv) {
		t.Errorf("forwarded message starts\n%q\nwant\n%q", b.msgs[0][:min(len(b.msgs[0]), 300)], wantRecv)
	}
	wantLog := "(01234-01) Passed CLEAN {RelayedInbound}, [198.51.100.7]:41234 [198.51.100.7] <a@example.net> -> <b@example.org>, Queue-ID: 4ABC, Message-ID: <m1@example.net>, mail_id: AbCdEfGhIjKl, Hits: -, size: 91, queued_as: 4XyZ, 0 ms"
	if !strings.Contains(logs.String(), wantLog) {
		t.Errorf("log lacks main line\n%s\nwant %s", logs.String(), wantLog)
	}
}

func TestProcessDownstreamDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var logs bytes.Buffer
	p := newPipeline(t, "smtp:["+strings.Replace(addr, ":", "]:", 1), &logs)
	m := newMessage(t, "b@example.org")
	out := p.Process(context.Background(), m)
	if out.SMTP.Class() != 4 || !strings.HasPrefix(out.SMTP.String(), "451 4.5.0 id=01234-01 - Temporary MTA failure on relaying, From MTA() during fwd-connect (All attempts (1) failed connecting to smtp:[127.0.0.1]:") {
		t.Fatalf("reply %q", out.SMTP)
	}
	if !strings.Contains(logs.String(), "Blocked MTA-BLOCKED {TempFailedInbound}") {
		t.Errorf("log: %s", logs.String())
	}
}

func TestProcessMixed(t *testing.T) {
	b := &sink{rejectTo: map[string]*smtp.SMTPError{
		"bad@example.org":  {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
		"temp@example.org": {Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "try later"},
	}}
	addr := startSink(t, b)
	meth := "smtp:[" + strings.Replace(addr, ":", "]:", 1)
	tests := []struct {
		name    string
		lmtp    bool
		rcpts   []string
		want    string // prefix of the SMTP reply
		perRcpt []int
		msgs    int
	}{
		{"smtp all rejected", false, []string{"bad@example.org"}, "550 5.1.1 id=01234-01 - Rejected by next-hop MTA on relaying, from MTA(", []int{550}, 0},
		{"smtp one tempfailed aborts all", false, []string{"b@example.org", "temp@example.org"}, "451 4.5.0 id=01234-01 - Temporary MTA failure on relaying", []int{451, 450}, 0},
		{"lmtp one tempfailed", true, []string{"b@example.org", "temp@example.org"}, "450 4.2.0 ", []int{250, 450}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.mu.Lock()
			b.msgs = nil
			b.mu.Unlock()
			p := newPipeline(t, meth, io.Discard)
			m := newMessage(t, tt.rcpts...)
			m.Conn.LMTP = tt.lmtp
			out := p.Process(context.Background(), m)
			if !strings.HasPrefix(out.SMTP.String(), tt.want) {
				t.Errorf("reply %q, want prefix %q", out.SMTP, tt.want)
			}
			for i, c := range tt.perRcpt {
				if out.PerRcpt[i].Code/100 != c/100 {
					t.Errorf("rcpt %d: %q, want %d", i, out.PerRcpt[i], c)
				}
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			if len(b.msgs) != tt.msgs {
				t.Errorf("sink got %d messages, want %d", len(b.msgs), tt.msgs)
			}
		})
	}
}

type failingForwarder struct{}

func (failingForwarder) Send(context.Context, *deliver.Request) (*deliver.Result, error) {
	return nil, errors.New("boom")
}

func TestProcessForwarderError(t *testing.T) {
	p := newPipeline(t, "smtp:[127.0.0.1]:1", io.Discard)
	p.Forwarder = failingForwarder{}
	out := p.Process(context.Background(), newMessage(t, "b@example.org"))
	if want := "451 4.5.0 Error in processing, id=01234-01, fwd FAILED: boom"; out.SMTP.String() != want {
		t.Errorf("got %q want %q", out.SMTP, want)
	}
}

func TestProcessBannedDiscarded(t *testing.T) {
	b := &sink{}
	addr := startSink(t, b)
	var logs bytes.Buffer
	p := newPipeline(t, "smtp:["+strings.Replace(addr, ":", "]:", 1), &logs)
	debian := config.Default().Settings().BannedFilenameRe
	base := p.Settings(nil)
	s := *base
	s.Resolve = func(_ context.Context, a string) (*RcptPolicy, error) {
		rp := DefaultRcptPolicy()
		rp.Local = true
		rp.BypassVirus = true
		rp.BannedTables = []config.Regexps{debian}
		if strings.HasPrefix(a, "lover@") {
			rp.Lovers = map[policy.CCat]bool{policy.CCBanned: true}
		}
		return rp, nil
	}
	p.Settings = func(*mail.Message) *Settings { return &s }
	raw := testcorpus.Message("banned exe", []testcorpus.Attachment{testcorpus.File("setup.exe", testcorpus.TinyPE(false))})

	m := newMessageRaw(t, raw, "b@example.org")
	out := p.Process(context.Background(), m)
	if want := "250 2.7.0 Ok, discarded, id=01234-01 - BANNED: "; !strings.HasPrefix(out.SMTP.String(), want) || !strings.Contains(out.SMTP.Text, "setup.exe") {
		t.Errorf("reply %q, want prefix %q naming setup.exe", out.SMTP, want)
	}
	if len(b.msgs) != 0 {
		t.Errorf("banned message was forwarded")
	}
	if !strings.Contains(logs.String(), "Blocked BANNED (") || !strings.Contains(logs.String(), "{DiscardedInbound}") {
		t.Errorf("log: %s", logs.String())
	}

	// A banned-files lover gets it, tagged with X-Amavis-Alert; the other
	// recipient's copy is discarded.
	m = newMessageRaw(t, raw, "lover@example.org", "b@example.org")
	out = p.Process(context.Background(), m)
	if out.SMTP.Code != 250 || !strings.Contains(out.SMTP.Text, ", but 1 DISCARD") {
		t.Errorf("mixed reply %q", out.SMTP)
	}
	if len(b.msgs) != 1 || !strings.Contains(b.msgs[0], "X-Amavis-Alert: BANNED, message contains") {
		t.Fatalf("lover copy: %d messages", len(b.msgs))
	}
	if got := b.rcpts[0]; len(got) != 1 || got[0] != "lover@example.org" {
		t.Errorf("forwarded to %v", got)
	}
}

func newMessageRaw(t *testing.T, raw []byte, rcpts ...string) *mail.Message {
	t.Helper()
	m := newMessage(t, rcpts...)
	m.Body = mail.NewSpoolFromBytes(raw)
	m.Size = int64(len(raw))
	h, err := mail.ParseHeader(m.Body.Reader())
	if err != nil {
		t.Fatal(err)
	}
	m.Header = h
	return m
}
