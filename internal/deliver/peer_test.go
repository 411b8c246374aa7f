package deliver

import (
	"bytes"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// received is one message as the go-smtp peer got it.
type received struct {
	from  string
	mopts smtp.MailOptions
	rcpts []string
	ropts []smtp.RcptOptions
	data  []byte
}

// peer is a go-smtp server (an independent SMTP/LMTP implementation) that
// records what it receives and can be told to misbehave.
type peer struct {
	t      *testing.T
	srv    *smtp.Server
	method Method
	debug  syncBuffer

	mu       sync.Mutex
	sessions int // connections seen
	logouts  int
	conns    []*smtp.Conn
	msgs     []received
	aborted  int // DATA that ended without the dot

	// hooks, set before use
	mailHook func(from string, opts *smtp.MailOptions) error
	rcptHook func(to string) error
	dataHook func(c *smtp.Conn, r io.Reader) error // nil: read all, accept
	lmtpHook func(rcpt string) error               // per-recipient LMTP status
	reply    func(n int) *smtp.SMTPError           // reply to the n-th accepted message
}

type peerOpts struct {
	lmtp     bool
	unix     bool
	dsn      bool
	utf8     bool
	maxRcpts int
}

func newPeer(t *testing.T, o peerOpts) *peer {
	t.Helper()
	p := &peer{t: t}
	srv := smtp.NewServer(p)
	srv.Domain = "peer.test"
	srv.LMTP = o.lmtp
	srv.EnableDSN = o.dsn
	srv.EnableSMTPUTF8 = o.utf8
	srv.MaxRecipients = o.maxRcpts
	srv.Debug = &p.debug
	srv.ErrorLog = nopLogger{}
	srv.ReadTimeout = 30 * time.Second
	var l net.Listener
	var err error
	proto := "smtp"
	if o.lmtp {
		proto = "lmtp"
	}
	if o.unix {
		path := filepath.Join(t.TempDir(), "peer.sock")
		l, err = net.Listen("unix", path)
		if err == nil {
			p.method, err = ParseMethod(proto + ":" + path)
		}
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			p.method, err = ParseMethod(proto + ":[127.0.0.1]:" + portOf(l.Addr()))
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	p.srv = srv
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return p
}

func portOf(a net.Addr) string {
	_, port, _ := net.SplitHostPort(a.String())
	return port
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...interface{}) {}
func (nopLogger) Println(...interface{})        {}

// NewSession implements smtp.Backend.
func (p *peer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sessions++
	p.conns = append(p.conns, c)
	return &peerSession{p: p, c: c}, nil
}

func (p *peer) counts() (sessions, logouts, msgs, aborted int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sessions, p.logouts, len(p.msgs), p.aborted
}

func (p *peer) messages() []received {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]received(nil), p.msgs...)
}

// dropConns closes every connection from the server side, as a restarted
// MTA would.
func (p *peer) dropConns() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.Conn().Close()
	}
}

// waitLogouts waits until n sessions have ended at the peer.
func (p *peer) waitLogouts(n int) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, l, _, _ := p.counts(); l >= n {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

type peerSession struct {
	p   *peer
	c   *smtp.Conn
	cur received
}

func (s *peerSession) Reset() { s.cur = received{} }

func (s *peerSession) Logout() error {
	s.p.mu.Lock()
	s.p.logouts++
	s.p.mu.Unlock()
	return nil
}

func (s *peerSession) Mail(from string, opts *smtp.MailOptions) error {
	if h := s.p.mailHook; h != nil {
		if err := h(from, opts); err != nil {
			return err
		}
	}
	s.cur = received{from: from}
	if opts != nil {
		s.cur.mopts = *opts
	}
	return nil
}

func (s *peerSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	if h := s.p.rcptHook; h != nil {
		if err := h(to); err != nil {
			return err
		}
	}
	s.cur.rcpts = append(s.cur.rcpts, to)
	if opts != nil {
		s.cur.ropts = append(s.cur.ropts, *opts)
	} else {
		s.cur.ropts = append(s.cur.ropts, smtp.RcptOptions{})
	}
	return nil
}

func (s *peerSession) readData(r io.Reader) error {
	if h := s.p.dataHook; h != nil {
		if err := h(s.c, r); err != nil {
			return err
		}
	}
	data, err := io.ReadAll(r)
	if err != nil {
		// the client went away before the dot: nothing was received
		s.p.mu.Lock()
		s.p.aborted++
		s.p.mu.Unlock()
		return err
	}
	s.cur.data = data
	return nil
}

func (s *peerSession) accept() error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.p.msgs = append(s.p.msgs, s.cur)
	if s.p.reply != nil {
		if e := s.p.reply(len(s.p.msgs)); e != nil {
			return e
		}
	}
	return nil
}

func (s *peerSession) Data(r io.Reader) error {
	if err := s.readData(r); err != nil {
		return err
	}
	return s.accept()
}

func (s *peerSession) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	if err := s.readData(r); err != nil {
		return err
	}
	if err := s.accept(); err != nil {
		return err
	}
	for _, rc := range s.cur.rcpts {
		var err error
		if h := s.p.lmtpHook; h != nil {
			err = h(rc)
		}
		status.SetStatus(rc, err)
	}
	return nil
}

// syncBuffer is a goroutine-safe bytes.Buffer (the server's debug log).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// clientLines returns the command lines the client sent, from the server's
// debug log (lines prefixed "C: " by go-smtp are the client's).
func (p *peer) clientCommands() []string {
	var out []string
	for _, l := range strings.Split(p.debug.String(), "\n") {
		l = strings.TrimRight(l, "\r")
		up := strings.ToUpper(l)
		for _, c := range []string{"EHLO", "LHLO", "HELO", "MAIL", "RCPT", "DATA", "RSET", "QUIT", "XFORWARD", "NOOP"} {
			if strings.HasPrefix(up, c) {
				out = append(out, l)
			}
		}
	}
	return out
}
