package notify

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"go.uber.org/goleak"

	"github.com/mavis-filter/mavis/internal/deliver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sink is a go-smtp server (an independent SMTP implementation) that
// records the messages it accepts; rcptErr can refuse recipients.
type sink struct {
	mu      sync.Mutex
	msgs    []sunk
	rcptErr func(to string) error
}

type sunk struct {
	from  string
	opts  smtp.MailOptions
	rcpts []string
	data  []byte
}

type sinkSession struct {
	s   *sink
	cur sunk
}

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }

func (ss *sinkSession) Mail(from string, o *smtp.MailOptions) error {
	ss.cur = sunk{from: from}
	if o != nil {
		ss.cur.opts = *o
	}
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.rcptErr != nil {
		if err := ss.s.rcptErr(to); err != nil {
			return err
		}
	}
	ss.cur.rcpts = append(ss.cur.rcpts, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.cur.data = b
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, ss.cur)
	ss.s.mu.Unlock()
	return nil
}

func (ss *sinkSession) Reset()        {}
func (ss *sinkSession) Logout() error { return nil }

func startSink(t *testing.T, s *sink) deliver.Method {
	t.Helper()
	srv := smtp.NewServer(s)
	srv.Domain = "sink.test"
	srv.EnableDSN = true
	srv.ErrorLog = nopLog{}
	srv.ReadTimeout = 10 * time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(l); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	m, err := deliver.ParseMethod("smtp:[127.0.0.1]:" + strings.TrimPrefix(l.Addr().String(), "127.0.0.1:"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type nopLog struct{}

func (nopLog) Printf(string, ...any) {}
func (nopLog) Println(...any)        {}

func TestSendAdminAndDSN(t *testing.T) {
	s := &sink{}
	method := startSink(t, s)
	c := deliver.NewClient(deliver.Timeouts{}, false, nil)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	admin, err := Admin(eicarInfo(t), AdminOptions{Admins: []string{"postmaster@rig.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Send(ctx, c, method, admin, SendOptions{LogID: "23233-07"}); err != nil {
		t.Fatal(err)
	}
	dsn, _, _, err := DSN(bounceInfo(t), DSNOptions{})
	if err != nil || dsn == nil {
		t.Fatal(dsn, err)
	}
	if _, err := Send(ctx, c, method, dsn, SendOptions{LogID: "23233-08"}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) != 2 {
		t.Fatalf("sink got %d messages", len(s.msgs))
	}
	a, d := s.msgs[0], s.msgs[1]
	if a.from != "postmaster@amavis-rig.test" || strings.Join(a.rcpts, ",") != "postmaster@rig.test" {
		t.Errorf("admin envelope %q -> %v", a.from, a.rcpts)
	}
	if d.from != "" || strings.Join(d.rcpts, ",") != "sender@example.net" || d.opts.Body != smtp.Body7Bit {
		t.Errorf("DSN envelope %q -> %v, body %q", d.from, d.rcpts, d.opts.Body)
	}
	pa := parseMsg(t, a.data)
	if pa.header.Get("Subject") != "VIRUS (Rig.Test.EICAR_NDB-1.UNOFFICIAL) in mail FROM [127.0.0.1] <sender@example.net>" || len(pa.parts) != 2 {
		t.Errorf("admin as received: %q, %d parts", pa.header.Get("Subject"), len(pa.parts))
	}
	pd := parseMsg(t, d.data)
	ct, params, _ := pd.header.ContentType()
	if ct != "multipart/report" || params["report-type"] != "delivery-status" || len(pd.parts) != 3 || pd.parts[1].ctype != "message/delivery-status" {
		t.Errorf("DSN as received: %s %v, %d parts", ct, params, len(pd.parts))
	}
	if !strings.Contains(pd.parts[1].body, "Final-Recipient: rfc822;user@rig.test\nAction: failed\nStatus: 5.7.0\n") {
		t.Errorf("status part:\n%s", pd.parts[1].body)
	}
}

func TestSendFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := deliver.NewClient(deliver.Timeouts{}, false, nil)
	defer c.Close()
	admin, _ := Admin(eicarInfo(t), AdminOptions{Admins: []string{"postmaster@rig.test"}})

	// 4xx from notify_method: a TempError (the caller tempfails the message)
	s := &sink{rcptErr: func(string) error {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	}}
	_, err := Send(ctx, c, startSink(t, s), admin, SendOptions{LogID: "1-01"})
	var te *TempError
	if !errors.As(err, &te) || te.Reply.Code != 451 || !IsTemp(err) {
		t.Errorf("4xx: %v", err)
	}
	// 5xx: logged only, no error
	s = &sink{rcptErr: func(string) error {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}}
	res, err := Send(ctx, c, startSink(t, s), admin, SendOptions{LogID: "1-02"})
	if err != nil || res == nil || res.PerRcpt[0].Code != 550 {
		t.Errorf("5xx: %v %+v", err, res)
	}
	// nobody listening: a local failure is temporary too
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	m, _ := deliver.ParseMethod("smtp:[127.0.0.1]:" + strings.TrimPrefix(addr, "127.0.0.1:"))
	if _, err := Send(ctx, c, m, admin, SendOptions{LogID: "1-03"}); !IsTemp(err) {
		t.Errorf("connection refused: %v", err)
	}
	if _, err := Send(ctx, c, m, &Notification{Kind: "admin"}, SendOptions{}); err == nil {
		t.Error("no recipients accepted")
	}
}

func TestLoadTemplates(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "charset"), []byte("# comment\niso-8859-1 # or utf-8\n"), 0o644)
	// Latin-1 bytes: "Grüße" with ü=0xFC, ß=0xDF
	os.WriteFile(filepath.Join(dir, "template-virus-admin.txt"), []byte("Subject: Gr\xfc\xdfe %n\n\nText f\xfcr %i\n"), 0o644)
	tm, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tm.VirusAdmin != "Subject: Grüße %n\n\nText für %i\n" || tm.Sender != "" {
		t.Fatalf("loaded %+v", tm)
	}
	n, err := Admin(eicarInfo(t), AdminOptions{Admins: []string{"a@x.test"}, Templates: tm})
	if err != nil {
		t.Fatal(err)
	}
	p := parseMsg(t, n.Message)
	if s, _ := p.header.Text("Subject"); s != "Grüße 23233-07" || !strings.Contains(p.parts[0].body, "Text für 7k45DZ5zqMRC") {
		t.Errorf("subject %q body %q", p.header.Get("Subject"), p.parts[0].body)
	}
	if strings.Contains(string(n.Message), "ü") && !strings.Contains(string(n.Message), "quoted-printable") {
		t.Error("8-bit text not encoded")
	}
	// Debian's own files load and expand (if the package is unpacked here).
	if _, err := os.Stat("/tmp/amavis-src/etc/amavis/en_US/template-dsn.txt"); err == nil {
		deb, err := LoadTemplates("/tmp/amavis-src/etc/amavis/en_US")
		if err != nil || deb.Sender == "" || deb.VirusAdmin == "" {
			t.Fatalf("Debian templates: %v", err)
		}
		n, _, _, err := DSN(bounceInfo(t), DSNOptions{Templates: deb})
		if err != nil || !strings.Contains(n.Subject, "BANNED contents from you") {
			t.Errorf("Debian DSN: %v %q", err, n.Subject)
		}
	}
	if _, err := LoadTemplates(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("missing dir: %v", err)
	}
}
