package smtpd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mavis-filter/mavis/internal/mail"
)

func TestIdleTimeout(t *testing.T) {
	h := &recorder{}
	ts := startServer(t, h, &Options{IdleTimeout: 600 * time.Millisecond, SpoolThreshold: 16}, 1, false)

	t.Run("between commands", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.greetEHLO()
		// input re-arms the timer: keep the session alive past the timeout
		for range 4 {
			time.Sleep(100 * time.Millisecond)
			c.cmd("NOOP", "250 2.0.0 Ok NOOP")
		}
		start := time.Now()
		c.expect("421 4.3.2 Service shutting down, closing channel, during waiting for input from client")
		c.expectClosed()
		if d := time.Since(start); d < 200*time.Millisecond {
			t.Errorf("timed out after %v", d)
		}
	})
	t.Run("during DATA", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.greetEHLO()
		c.cmd("MAIL FROM:<a@b>", "250 2.1.0 Sender <a@b> OK")
		c.cmd("RCPT TO:<c@d>", "250 2.1.5 Recipient <c@d> OK")
		c.cmd("DATA", "354 End data with <CR><LF>.<CR><LF>")
		// slow but steady data keeps the session alive
		for range 4 {
			time.Sleep(100 * time.Millisecond)
			c.send("line\r\n")
		}
		c.expect("421 4.3.2 Service shutting down, timed out during waiting for input from client")
		c.expectClosed()
		waitFor(t, func() bool { return len(ts.spoolFiles(t)) == 0 })
		if len(h.messages()) != 0 {
			t.Fatal("handler called after a timeout")
		}
	})
}

func TestACL(t *testing.T) {
	h := &recorder{}
	deny := func(a netip.Addr) bool { return a != netip.MustParseAddr("127.0.0.1") }
	ts := startServer(t, h, &Options{ACL: deny}, 1, false)
	c := dial(t, ts.addr)
	c.expectClosed()
	waitFor(t, func() bool { return strings.Contains(ts.logs.String(), "DENIED ACCESS from IP 127.0.0.1") })

	allow := func(a netip.Addr) bool { return a.IsLoopback() }
	ts2 := startServer(t, h, &Options{ACL: allow}, 1, false)
	c2 := dial(t, ts2.addr)
	c2.greetEHLO()
	c2.cmd("QUIT", "221 2.0.0 [127.0.0.1] mavis closing transmission channel")
}

// TestUnixSocket: no ACL on Unix sockets, the own name is [localhost].
func TestUnixSocket(t *testing.T) {
	h := &recorder{}
	path := filepath.Join(t.TempDir(), "mavis.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServerOn(t, ln, h, &Options{ACL: func(netip.Addr) bool { return false }}, 1, true)
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &client{t: t, conn: conn, br: bufio.NewReader(conn)}
	c.expect("220 [localhost] LMTP mavis service ready")
	c.cmd("LHLO x", strings.Replace(ehloReply, "[127.0.0.1]", "[localhost]", 1))
	got := sendMessage(c, "a@b", []string{"c@d"}, testBody)
	if len(got) != 1 || got[0] != "250 2.0.0 Ok c@d" {
		t.Fatalf("reply %q", got)
	}
	c.cmd("QUIT", "221 2.0.0 [localhost] mavis closing transmission channel")
	m := h.messages()[0].msg
	if m.Conn.UnixSocket != path || m.Conn.RemoteIP != "" || m.Conn.LocalIP != "" || !m.Conn.LMTP {
		t.Errorf("conn %+v", m.Conn)
	}
	_ = ts
}

// TestMaxServers: with one slot, a second client is accepted but not
// greeted until the first quits.
func TestMaxServers(t *testing.T) {
	h := &recorder{}
	ts := startServer(t, h, nil, 1, false)
	a := dial(t, ts.addr)
	a.greetEHLO()
	b := dial(t, ts.addr)
	b.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if l, err := b.br.ReadString('\n'); err == nil {
		t.Fatalf("second client greeted while the slot is busy: %q", l)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("second client: %v", err)
	}
	b.send("EHLO early\r\n") // pipelined before the greeting; kept for later
	a.cmd("QUIT", "221 2.0.0 [127.0.0.1] mavis closing transmission channel")
	b.expect("220 [127.0.0.1] ESMTP mavis service ready")
	b.expect(ehloReply)
	b.cmd("QUIT", "221 2.0.0 [127.0.0.1] mavis closing transmission channel")
}

// TestShutdown: a message in flight completes and gets its reply, an idle
// session gets 421, a waiting connection is closed, Serve returns.
func TestShutdown(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	h := &recorder{reply: func(ctx context.Context, m *mail.Message) mail.Outcome {
		close(entered)
		<-release
		if ctx.Err() != nil {
			return mail.Outcome{SMTP: mail.Reply{Code: 451, Enh: "4.0.0", Text: "cancelled"}}
		}
		return mail.Outcome{SMTP: mail.Reply{Code: 250, Enh: "2.0.0", Text: "done " + m.LogID}}
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(h, func() *Options { return &Options{TempDir: t.TempDir()} }, 2, nil, mail.NewLogIDs())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln, false) }()
	addr := ln.Addr().String()

	busy := dial(t, addr)
	busy.greetEHLO()
	idle := dial(t, addr)
	idle.greetEHLO()
	idle.cmd("MAIL FROM:<a@b>", "250 2.1.0 Sender <a@b> OK") // in a transaction, but idle
	waiting := dial(t, addr)                                 // no slot: waits ungreeted

	busy.cmd("MAIL FROM:<a@b>", "250 2.1.0 Sender <a@b> OK")
	busy.cmd("RCPT TO:<c@d>", "250 2.1.5 Recipient <c@d> OK")
	busy.cmd("DATA", "354 End data with <CR><LF>.<CR><LF>")
	busy.send(testBody + ".\r\n")
	<-entered

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	idle.expect("421 4.3.2 Service shutting down, closing channel")
	idle.expectClosed()
	waiting.expectClosed()
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		// the listener may take a moment to close; a connection must not be served
		waitFor(t, func() bool {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return true
			}
			c.Close()
			return false
		})
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a message in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	busy.expect(fmt.Sprintf("250 2.0.0 done %05d-01", pid()))
	busy.expect("421 4.3.2 Service shutting down, closing channel")
	busy.expectClosed()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if err := srv.Serve(context.Background(), ln, false); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}

// TestShutdownForced: when the grace period ends, connections are broken
// and the handler's context is cancelled.
func TestShutdownForced(t *testing.T) {
	entered := make(chan struct{})
	h := &recorder{reply: func(ctx context.Context, m *mail.Message) mail.Outcome {
		close(entered)
		<-ctx.Done()
		return mail.Outcome{SMTP: mail.Reply{Code: 451, Enh: "4.0.0", Text: "cancelled"}}
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	srv := New(h, func() *Options { return &Options{TempDir: dir, SpoolThreshold: 10} }, 1, nil, nil)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln, false) }()
	c := dial(t, ln.Addr().String())
	c.greetEHLO()
	sendAsync := func() {
		c.cmd("MAIL FROM:<a@b>", "250 2.1.0 Sender <a@b> OK")
		c.cmd("RCPT TO:<c@d>", "250 2.1.5 Recipient <c@d> OK")
		c.cmd("DATA", "354 End data with <CR><LF>.<CR><LF>")
		c.send(testBody + ".\r\n")
	}
	sendAsync()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	// The handler saw its context cancelled; its 451 may or may not make it
	// out before the connection is closed.
	for {
		c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		l, err := c.br.ReadString('\n')
		if err != nil {
			break
		}
		if l != "451 4.0.0 cancelled\r\n" && l != "421 4.3.2 Service shutting down, closing channel\r\n" {
			t.Fatalf("read %q after a forced shutdown", l)
		}
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	waitFor(t, func() bool { return len(listDir(t, dir)) == 0 })
}

// TestServeContext: cancelling Serve's context stops the listener and breaks
// its sessions off.
func TestServeContext(t *testing.T) {
	h := &recorder{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(h, nil, 1, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, false) }()
	c := dial(t, ln.Addr().String())
	c.greetEHLO()
	cancel()
	c.expectClosed()
	if err := <-served; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve: %v", err)
	}
}

func TestListenAndServe(t *testing.T) {
	h := &recorder{}
	dir := t.TempDir()
	sock := filepath.Join(dir, "l.sock")
	// a stale socket from an earlier run is replaced
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	srv := New(h, func() *Options { return &Options{TempDir: dir} }, 2, nil, nil)
	// find a free port
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()
	done := make(chan error, 1)
	go func() {
		done <- srv.ListenAndServe(context.Background(), []Listener{{Network: "tcp", Address: addr}, {Network: "unix", Address: sock, LMTP: true}})
	}()
	var c *client
	waitFor(t, func() bool {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		c = &client{t: t, conn: conn, br: bufio.NewReader(conn)}
		return true
	})
	defer c.conn.Close()
	c.greetEHLO()
	c.cmd("QUIT", "221 2.0.0 [127.0.0.1] mavis closing transmission channel")
	uc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	u := &client{t: t, conn: uc, br: bufio.NewReader(uc)}
	u.expect("220 [localhost] LMTP mavis service ready")
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	u.expect("421 4.3.2 Service shutting down, closing channel")
	if err := <-done; err != nil {
		t.Fatalf("ListenAndServe: %v", err)
	}
	// a listen error is reported
	srv2 := New(h, nil, 1, nil, nil)
	if err := srv2.ListenAndServe(context.Background(), []Listener{{Network: "tcp", Address: "256.0.0.1:1"}}); err == nil {
		t.Fatal("no error for a bad address")
	}
}

// TestGoSMTPClient uses go-smtp as an independent client peer, with DSN
// parameters and SMTPUTF8.
func TestGoSMTPClient(t *testing.T) {
	h := &recorder{}
	ts := startServer(t, h, &Options{MessageSizeLimit: 1 << 20}, 1, false)
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello("mta.example"); err != nil {
		t.Fatal(err)
	}
	if n, ok := c.MaxMessageSize(); !ok || n != 1<<20 {
		t.Errorf("SIZE %d %v", n, ok)
	}
	for _, ext := range []string{"PIPELINING", "DSN", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "XFORWARD"} {
		if ok, _ := c.Extension(ext); !ok {
			t.Errorf("extension %s not seen", ext)
		}
	}
	if err := c.Mail("sender@example.net", &smtp.MailOptions{Size: 200, Return: smtp.DSNReturnHeaders, EnvelopeID: "env id+1", UTF8: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("user@rig.test", &smtp.RcptOptions{Notify: []smtp.DSNNotify{smtp.DSNNotifySuccess, smtp.DSNNotifyDelayed},
		OriginalRecipientType: smtp.DSNAddressTypeRFC822, OriginalRecipient: "User+tag@rig.test"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("other@rig.test", &smtp.RcptOptions{Notify: []smtp.DSNNotify{smtp.DSNNotifyNever}}); err != nil {
		t.Fatal(err)
	}
	err = c.Rcpt("third@rig.test", &smtp.RcptOptions{Notify: []smtp.DSNNotify{smtp.DSNNotifyNever}, OriginalRecipientType: smtp.DSNAddressTypeUTF8, OriginalRecipient: "thïrd@rig.test"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	body := "Subject: via go-smtp\r\n\r\n.leading dot\r\nend\r\n"
	if _, err := w.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusText != "2.0.0 Ok, id="+fmt.Sprintf("%05d-01", pid()) {
		t.Errorf("data response %+v", resp)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	m := h.messages()[0]
	p := m.msg.Envelope.Params
	if p.Ret != "HDRS" || p.EnvID != "env+20id+2B1" || !p.SMTPUTF8 || p.Body != "8BITMIME" || p.Size != 200 {
		t.Errorf("mail params %+v", p)
	}
	r := m.msg.Envelope.Rcpts
	if len(r) != 3 || strings.Join(r[0].Params.Notify, ",") != "SUCCESS,DELAY" || r[0].Params.ORcpt != "RFC822;User+2Btag@rig.test" ||
		strings.Join(r[1].Params.Notify, ",") != "NEVER" || r[1].Params.ORcpt != "" || r[2].Params.ORcpt != "UTF-8;thïrd@rig.test" {
		t.Errorf("rcpts %+v %+v %+v", r[0], r[1], r[2])
	}
	if string(m.body) != body || m.msg.Conn.Protocol != "UTF8SMTP" || m.msg.Conn.Helo != "mta.example" {
		t.Errorf("body %q proto %q", m.body, m.msg.Conn.Protocol)
	}

	// go-smtp as an LMTP peer
	ts2 := startServer(t, h, nil, 1, true)
	conn2, err := net.Dial("tcp", ts2.addr)
	if err != nil {
		t.Fatal(err)
	}
	lc := smtp.NewClientLMTP(conn2)
	defer lc.Close()
	if err := lc.Hello("mta"); err != nil {
		t.Fatal(err)
	}
	if err := lc.Mail("a@b", nil); err != nil {
		t.Fatal(err)
	}
	for _, rc := range []string{"x@y", "z@y"} {
		if err := lc.Rcpt(rc, nil); err != nil {
			t.Fatal(err)
		}
	}
	w2, err := lc.Data()
	if err != nil {
		t.Fatal(err)
	}
	w2.Write([]byte("Subject: lmtp\r\n\r\nx\r\n"))
	resps, err := w2.CloseWithLMTPResponse()
	if err != nil {
		t.Fatal(err)
	}
	if len(resps) != 2 || resps["x@y"].StatusText != "2.0.0 Ok x@y" || resps["z@y"].StatusText != "2.0.0 Ok z@y" {
		t.Errorf("LMTP responses %+v %+v", resps["x@y"], resps["z@y"])
	}
	lc.Quit()
}

func listDir(t testing.TB, dir string) []string {
	ts := &testServer{dir: dir}
	return ts.spoolFiles(t)
}

// TestShutdownForcedStuckHandler: a handler that ignores its context does
// not keep Serve from returning once the grace period is over.
func TestShutdownForcedStuckHandler(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	returned := make(chan struct{})
	h := HandlerFunc(func(context.Context, *mail.Message) mail.Outcome {
		defer close(returned)
		close(entered)
		<-release
		return mail.Outcome{SMTP: mail.Reply{Code: 250, Enh: "2.0.0", Text: "late"}}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(h, func() *Options { return &Options{TempDir: t.TempDir()} }, 1, nil, nil)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln, false) }()
	c := dial(t, ln.Addr().String())
	c.greetEHLO()
	c.cmd("MAIL FROM:<a@b>", "250 2.1.0 Sender <a@b> OK")
	c.cmd("RCPT TO:<c@d>", "250 2.1.5 Recipient <c@d> OK")
	c.cmd("DATA", "354 End data with <CR><LF>.<CR><LF>")
	c.send(testBody + ".\r\n")
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve waits for a stuck handler after a forced shutdown")
	}
	c.expectClosed()
	close(release)
	<-returned
}
