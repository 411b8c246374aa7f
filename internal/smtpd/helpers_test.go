package smtpd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mavis-filter/mavis/internal/mail"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// captured is what a test handler saw of one message (copied, because the
// spool is closed when Process returns).
type captured struct {
	msg       *mail.Message
	body      []byte
	spoolPath string
}

// recorder is a handler that records messages and answers with reply (or a
// fixed 250).
type recorder struct {
	mu    sync.Mutex
	got   []captured
	reply func(ctx context.Context, m *mail.Message) mail.Outcome
}

func (r *recorder) Process(ctx context.Context, m *mail.Message) mail.Outcome {
	b, err := m.Body.Bytes()
	if err != nil {
		panic(err)
	}
	r.mu.Lock()
	r.got = append(r.got, captured{msg: m, body: b, spoolPath: m.Body.Path()})
	r.mu.Unlock()
	if r.reply != nil {
		return r.reply(ctx, m)
	}
	o := mail.Outcome{SMTP: mail.Reply{Code: 250, Enh: "2.0.0", Text: "Ok, id=" + m.LogID}}
	for _, rc := range m.Envelope.Rcpts {
		o.PerRcpt = append(o.PerRcpt, mail.Reply{Code: 250, Enh: "2.0.0", Text: "Ok " + rc.Addr})
	}
	return o
}

func (r *recorder) messages() []captured {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]captured(nil), r.got...)
}

// testServer runs a Server on a loopback listener.
type testServer struct {
	srv  *Server
	addr string
	dir  string
	logs *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer starts a server; opts may be nil. TempDir is a fresh
// directory unless set.
func startServer(t testing.TB, h Handler, opts *Options, maxServers int, lmtp bool) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startServerOn(t, ln, h, opts, maxServers, lmtp)
}

// startServerOn is startServer on a given listener.
func startServerOn(t testing.TB, ln net.Listener, h Handler, opts *Options, maxServers int, lmtp bool) *testServer {
	t.Helper()
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.TempDir == "" {
		o.TempDir = t.TempDir()
	}
	ts := &testServer{addr: ln.Addr().String(), dir: o.TempDir, logs: &syncBuffer{}, done: make(chan error, 1)}
	level := slog.Level(-5) // amavis log level 5: everything
	if _, bench := t.(*testing.B); bench {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: level}))
	ts.srv = New(h, func() *Options { c := o; return &c }, maxServers, logger, mail.NewLogIDs())
	go func() { ts.done <- ts.srv.Serve(context.Background(), ln, lmtp) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ts.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-ts.done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ts
}

// spoolFiles lists the files left in the server's TempDir.
func (ts *testServer) spoolFiles(t testing.TB) []string {
	t.Helper()
	ents, err := os.ReadDir(ts.dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// client is a raw SMTP client for exact conversations.
type client struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, br: bufio.NewReader(conn)}
}

// send writes raw text (no CRLF added).
func (c *client) send(s string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// reply reads one (possibly multi-line) reply, lines without CRLF.
func (c *client) reply() ([]string, error) {
	var lines []string
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			return lines, err
		}
		if !strings.HasSuffix(l, "\r\n") {
			return lines, errors.New("reply line without CRLF: " + l)
		}
		l = strings.TrimSuffix(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return lines, nil
		}
	}
}

// expect reads one reply and compares it with want (lines joined by "\n").
func (c *client) expect(want string) {
	c.t.Helper()
	got, err := c.reply()
	if err != nil {
		c.t.Fatalf("reading reply (want %q): %v (got %q)", want, err, got)
	}
	if g := strings.Join(got, "\n"); g != want {
		c.t.Fatalf("reply:\n got %q\nwant %q", g, want)
	}
}

// cmd sends one command line and expects a reply.
func (c *client) cmd(line, want string) {
	c.t.Helper()
	c.send(line + "\r\n")
	c.expect(want)
}

// expectClosed checks that the server closed the connection.
func (c *client) expectClosed() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := c.br.ReadString('\n')
	if err == nil {
		c.t.Fatalf("connection still open, read %q", b)
	}
}

const ehloReply = "250-[127.0.0.1]\n250-VRFY\n250-PIPELINING\n250-SIZE\n250-ENHANCEDSTATUSCODES\n250-8BITMIME\n250-SMTPUTF8\n250-DSN\n250 XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE"

// greetEHLO reads the greeting and does EHLO.
func (c *client) greetEHLO() {
	c.t.Helper()
	c.expect("220 [127.0.0.1] ESMTP mavis service ready")
	c.cmd("EHLO mta.example", ehloReply)
}

func pid() int { return os.Getpid() }
