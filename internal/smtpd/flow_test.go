package smtpd

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mavis-filter/mavis/internal/mail"
)

func TestLMTP(t *testing.T) {
	h := &recorder{reply: func(_ context.Context, m *mail.Message) mail.Outcome {
		return mail.Outcome{PerRcpt: []mail.Reply{
			{Code: 250, Enh: "2.0.0", Text: "from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 1"},
			{Code: 554, Enh: "5.7.0", Text: "Reject, id=" + m.LogID + " - INFECTED: Eicar"},
			{Code: 450, Enh: "4.4.1", Text: "Can't connect"},
		}}
	}}
	for _, how := range []string{"listener", "LHLO"} {
		t.Run(how, func(t *testing.T) {
			ts := startServer(t, h, nil, 1, how == "listener")
			c := dial(t, ts.addr)
			if how == "listener" {
				c.expect("220 [127.0.0.1] LMTP mavis service ready")
			} else {
				c.expect("220 [127.0.0.1] ESMTP mavis service ready")
			}
			c.cmd("LHLO mta", ehloReply)
			c.cmd("MAIL FROM:<a@b>", "250 2.1.0 Sender <a@b> OK")
			c.cmd("RCPT TO:<r1@x>", "250 2.1.5 Recipient <r1@x> OK")
			c.cmd("RCPT TO:<bad@x> NOTIFY=maybe", "501 5.5.4 Error in RCPT parameter NOTIFY, illegal value: maybe")
			c.cmd("RCPT TO:<r2@x>", "250 2.1.5 Recipient <r2@x> OK")
			c.cmd("RCPT TO:<r3@x>", "250 2.1.5 Recipient <r3@x> OK")
			c.cmd("DATA", "354 End data with <CR><LF>.<CR><LF>")
			c.send("Subject: x\r\n\r\nhi\r\n.\r\n")
			c.expect("250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 1")
			c.expect("554 5.7.0 Reject, id=" + fmt.Sprintf("%05d-01", pid()) + " - INFECTED: Eicar")
			c.expect("450 4.4.1 Can't connect")
			c.cmd("QUIT", "221 2.0.0 [127.0.0.1] mavis closing transmission channel")
		})
	}
}

// TestOutcomeFailures: a panic or an unusable outcome is a 451, per
// recipient for LMTP, and the daemon carries on.
func TestOutcomeFailures(t *testing.T) {
	id := fmt.Sprintf("%05d-01", pid())
	tests := []struct {
		name  string
		lmtp  bool
		reply func(context.Context, *mail.Message) mail.Outcome
		want  []string
	}{
		{"panic", false, func(context.Context, *mail.Message) mail.Outcome { panic("boom") },
			[]string{"451 4.5.0 Error in processing, id=" + id + ", check FAILED: panic: boom"}},
		{"panic lmtp", true, func(context.Context, *mail.Message) mail.Outcome { panic(fmt.Errorf("nil map")) },
			[]string{"451 4.5.0 Error in processing, id=" + id + ", check FAILED: panic: nil map",
				"451 4.5.0 Error in processing, id=" + id + ", check FAILED: panic: nil map"}},
		{"zero outcome", false, func(context.Context, *mail.Message) mail.Outcome { return mail.Outcome{} },
			[]string{"451 4.5.0 Error in processing, id=" + id + ", check FAILED: no valid response"}},
		{"3xx", false, func(context.Context, *mail.Message) mail.Outcome { return mail.Outcome{SMTP: mail.Reply{Code: 354}} },
			[]string{"451 4.5.0 Error in processing, id=" + id + ", check FAILED: no valid response"}},
		{"bad enhanced", false, func(context.Context, *mail.Message) mail.Outcome {
			return mail.Outcome{SMTP: mail.Reply{Code: 250, Enh: "2.0", Text: "x"}}
		}, []string{"451 4.5.0 Error in processing, id=" + id + ", check FAILED: no valid response"}},
		{"lmtp short", true, func(context.Context, *mail.Message) mail.Outcome {
			return mail.Outcome{SMTP: mail.Reply{Code: 250}, PerRcpt: []mail.Reply{{Code: 250, Enh: "2.0.0", Text: "ok"}}}
		}, []string{"451 4.5.0 Error in processing, id=" + id + ", check FAILED: no valid response",
			"451 4.5.0 Error in processing, id=" + id + ", check FAILED: no valid response"}},
		{"no enhanced code is fine", false, func(context.Context, *mail.Message) mail.Outcome {
			return mail.Outcome{SMTP: mail.Reply{Code: 250, Text: "Ok"}}
		}, []string{"250 Ok"}},
		{"long reply wrapped", false, func(context.Context, *mail.Message) mail.Outcome {
			return mail.Outcome{SMTP: mail.Reply{Code: 250, Enh: "2.0.0", Text: strings.Repeat("a", 600)}}
		}, []string{"250-2.0.0 " + strings.Repeat("a", 500) + "\n250 2.0.0 " + strings.Repeat("a", 100)}},
		{"reply injection sanitized", false, func(context.Context, *mail.Message) mail.Outcome {
			return mail.Outcome{SMTP: mail.Reply{Code: 250, Enh: "2.0.0", Text: "ok\r\n354 x\\y\x00"}}
		}, []string{`250-2.0.0 ok\r` + "\n" + `250 2.0.0 354 x\\y\x00`}},
		{"context has child_timeout deadline", false, func(ctx context.Context, _ *mail.Message) mail.Outcome {
			dl, ok := ctx.Deadline()
			if !ok || time.Until(dl) > 3*time.Second || time.Until(dl) < time.Second {
				return mail.Outcome{SMTP: mail.Reply{Code: 451, Enh: "4.0.0", Text: fmt.Sprintf("deadline %v %v", ok, time.Until(dl))}}
			}
			return mail.Outcome{SMTP: mail.Reply{Code: 250, Enh: "2.0.0", Text: "deadline ok"}}
		}, []string{"250 2.0.0 deadline ok"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &recorder{reply: tc.reply}
			ts := startServer(t, h, &Options{ChildTimeout: 3 * time.Second, SpoolThreshold: 16}, 1, false)
			c := dial(t, ts.addr)
			c.expect("220 [127.0.0.1] ESMTP mavis service ready")
			hello := "EHLO x"
			if tc.lmtp {
				hello = "LHLO x"
			}
			c.cmd(hello, ehloReply)
			c.cmd("MAIL FROM:<a@b>", "250 2.1.0 Sender <a@b> OK")
			c.cmd("RCPT TO:<c@d>", "250 2.1.5 Recipient <c@d> OK")
			if tc.lmtp {
				c.cmd("RCPT TO:<e@f>", "250 2.1.5 Recipient <e@f> OK")
			}
			c.cmd("DATA", "354 End data with <CR><LF>.<CR><LF>")
			c.send(testBody + ".\r\n")
			for _, w := range tc.want {
				c.expect(w)
			}
			// the session goes on
			c.cmd("NOOP", "250 2.0.0 Ok NOOP")
			c.cmd("QUIT", "221 2.0.0 [127.0.0.1] mavis closing transmission channel")
			if m := h.messages(); len(m) != 1 || m[0].spoolPath == "" {
				t.Fatalf("handler saw %d messages (spool file %q)", len(m), m[0].spoolPath)
			}
			if f := ts.spoolFiles(t); len(f) != 0 {
				t.Errorf("spool files left: %v", f)
			}
		})
	}
}

// writeCounter counts the writes the server makes on each connection.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: &l.writes}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

func TestPipelining(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	h := &recorder{}
	ts := startServerOn(t, cl, h, nil, 1, false)
	c := dial(t, ts.addr)
	c.greetEHLO()
	before := cl.writes.Load()
	c.send("XFORWARD ADDR=192.0.2.7 IDENT=ABC\r\nMAIL FROM:<a@b> BODY=8BITMIME\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f> NOTIFY=NEVER\r\nDATA\r\n")
	c.expect("250 2.5.0 Ok XFORWARD")
	c.expect("250 2.1.0 Sender <a@b> OK")
	c.expect("250 2.1.5 Recipient <c@d> OK")
	c.expect("250 2.1.5 Recipient <e@f> OK")
	c.expect("354 End data with <CR><LF>.<CR><LF>")
	// XFORWARD flushes (amavis flag) but all else waits for the 354.
	if n := cl.writes.Load() - before; n > 2 {
		t.Errorf("%d writes for five pipelined replies, want at most 2", n)
	}
	// the dot, a next transaction and QUIT in one write
	before = cl.writes.Load()
	c.send(testBody + ".\r\nRSET\r\nMAIL FROM:<x@y>\r\nRCPT TO:<bad> FOO=1\r\nDATA\r\nQUIT\r\n")
	c.expect(fmt.Sprintf("250 2.0.0 Ok, id=%05d-01", pid()))
	c.expect("250 2.0.0 Ok RSET")
	c.expect("250 2.1.0 Sender <x@y> OK")
	c.expect("555 5.5.4 RCPT command parameter unrecognized: FOO")
	c.expect("554 5.1.1 Error (DATA): no valid recipients")
	c.expect("221 2.0.0 [127.0.0.1] mavis closing transmission channel")
	c.expectClosed()
	if n := cl.writes.Load() - before; n > 4 {
		t.Errorf("%d writes for six pipelined replies", n)
	}
	msgs := h.messages()
	if len(msgs) != 1 || msgs[0].msg.Client.Addr != "192.0.2.7" || msgs[0].msg.Client.Ident != "ABC" ||
		len(msgs[0].msg.Envelope.Rcpts) != 2 || msgs[0].msg.Envelope.Rcpts[1].Params.Notify[0] != "NEVER" {
		t.Fatalf("messages %+v", msgs)
	}
}

// TestSmuggling sends the known smuggling forms end to end: each gives one
// message and one reply, and the would-be second transaction is body text.
func TestSmuggling(t *testing.T) {
	for _, sep := range []string{"\n.\n", "\r\n.\n", "\n.\r\n", "\r\n.\r", "\r.\r", "\r.\r\n", "\r\n\x00.\r\n"} {
		t.Run(fmt.Sprintf("%q", sep), func(t *testing.T) {
			h := &recorder{}
			ts := startServer(t, h, nil, 1, false)
			c := dial(t, ts.addr)
			c.greetEHLO()
			evil := "MAIL FROM:<admin@example>\r\nRCPT TO:<victim@example>\r\nDATA\r\nSubject: forged\r\n\r\nx\r\n"
			got := sendMessage(c, "a@b", []string{"c@d"}, "Subject: real\r\n\r\nhello"+sep+evil)
			if len(got) != 1 || !strings.HasPrefix(got[0], "250 2.0.0 Ok, id=") {
				t.Fatalf("reply %q", got)
			}
			c.cmd("QUIT", "221 2.0.0 [127.0.0.1] mavis closing transmission channel")
			msgs := h.messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages", len(msgs))
			}
			body := string(msgs[0].body)
			if !strings.Contains(body, "\r\nMAIL FROM:<admin@example>\r\n") || strings.Count(body, "Subject:") != 2 {
				t.Errorf("body %q", body)
			}
			// only CRLF line ends are stored
			if strings.Count(body, "\n") != strings.Count(body, "\r\n") || strings.Count(body, "\r") != strings.Count(body, "\r\n") {
				t.Errorf("bare line end stored: %q", body)
			}
		})
	}
}

func TestSizeLimit(t *testing.T) {
	h := &recorder{}
	ts := startServer(t, h, &Options{MessageSizeLimit: 65536, SpoolThreshold: 1024}, 1, false)
	c := dial(t, ts.addr)
	c.expect("220 [127.0.0.1] ESMTP mavis service ready")
	c.cmd("EHLO x", strings.Replace(ehloReply, "250-SIZE\n", "250-SIZE 65536\n", 1))
	line := strings.Repeat("x", 98) + "\r\n"
	big := "Subject: big\r\n\r\n" + strings.Repeat(line, 700) // 70016 bytes
	got := sendMessage(c, "a@b", []string{"c@d"}, big)
	if want := fmt.Sprintf("552 5.3.4 Message size (%d B) exceeds size limit", len(big)); len(got) != 1 || got[0] != want {
		t.Fatalf("reply %q, want %q", got, want)
	}
	if len(h.messages()) != 0 {
		t.Fatal("handler called for an oversized message")
	}
	if f := ts.spoolFiles(t); len(f) != 0 {
		t.Errorf("spool files left: %v", f)
	}
	// exactly at the limit passes; the session goes on
	exact := "Subject: exact\r\n\r\n" + strings.Repeat(line, 655)
	exact += strings.Repeat("y", 65536-len(exact)-2) + "\r\n"
	got = sendMessage(c, "a@b", []string{"c@d"}, exact)
	if len(got) != 1 || !strings.HasPrefix(got[0], "250 ") {
		t.Fatalf("reply %q", got)
	}
	if m := h.messages(); len(m) != 1 || m[0].msg.Size != 65536 || len(m[0].body) != 65536 {
		t.Fatalf("message at the limit: %d", len(m))
	}
	c.cmd("QUIT", "221 2.0.0 [127.0.0.1] mavis closing transmission channel")
}

// TestSpoolRemoved checks that the spool file is gone after success,
// failure, oversize and a connection broken mid-DATA.
func TestSpoolRemoved(t *testing.T) {
	var calls atomic.Int64
	var fail atomic.Bool
	h := &recorder{reply: func(_ context.Context, m *mail.Message) mail.Outcome {
		calls.Add(1)
		if fail.Load() {
			panic("checker crashed")
		}
		return mail.Outcome{SMTP: mail.Reply{Code: 250, Enh: "2.0.0", Text: "ok"}}
	}}
	ts := startServer(t, h, &Options{SpoolThreshold: 64}, 2, false)
	body := "Subject: s\r\n\r\n" + strings.Repeat("spooled to a file\r\n", 50)

	c := dial(t, ts.addr)
	c.greetEHLO()
	if got := sendMessage(c, "a@b", []string{"c@d"}, body); got[0] != "250 2.0.0 ok" {
		t.Fatalf("reply %q", got)
	}
	if p := h.messages()[0].spoolPath; p == "" || !strings.HasPrefix(p, ts.dir) {
		t.Fatalf("message was not spooled to a file in TempDir: %q", p)
	}
	if f := ts.spoolFiles(t); len(f) != 0 {
		t.Fatalf("after success: %v", f)
	}
	fail.Store(true)
	if got := sendMessage(c, "a@b", []string{"c@d"}, body); !strings.HasPrefix(got[0], "451 4.5.0 Error in processing") {
		t.Fatalf("reply %q", got)
	}
	if f := ts.spoolFiles(t); len(f) != 0 {
		t.Fatalf("after failure: %v", f)
	}

	// broken connection mid-DATA: nothing answered, handler not called
	c2 := dial(t, ts.addr)
	c2.greetEHLO()
	c2.cmd("MAIL FROM:<a@b>", "250 2.1.0 Sender <a@b> OK")
	c2.cmd("RCPT TO:<c@d>", "250 2.1.5 Recipient <c@d> OK")
	c2.cmd("DATA", "354 End data with <CR><LF>.<CR><LF>")
	c2.send(body + strings.Repeat("more than the write buffer\r\n", 2000) + "\r\n.") // no final CRLF: not the end
	waitFor(t, func() bool { return len(ts.spoolFiles(t)) == 1 })
	c2.conn.Close()
	waitFor(t, func() bool { return len(ts.spoolFiles(t)) == 0 })
	if n := calls.Load(); n != 2 {
		t.Fatalf("handler called %d times, want 2", n)
	}
	if !strings.Contains(ts.logs.String(), "ABORTING: Connection broken during data transfer") {
		t.Errorf("no abort logged:\n%s", ts.logs.String())
	}
	c.cmd("QUIT", "221 2.0.0 [127.0.0.1] mavis closing transmission channel")
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConcurrentSessions runs several clients at once under -race.
func TestConcurrentSessions(t *testing.T) {
	h := &recorder{}
	ts := startServer(t, h, &Options{SpoolThreshold: 128}, 4, false)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, ts.addr)
			c.greetEHLO()
			for j := range 3 {
				sendMessage(c, fmt.Sprintf("s%d@x", i), []string{fmt.Sprintf("r%d@y", j)}, testBody+strings.Repeat("z\r\n", 100))
			}
			c.cmd("QUIT", "221 2.0.0 [127.0.0.1] mavis closing transmission channel")
		}()
	}
	wg.Wait()
	if n := len(h.messages()); n != 24 {
		t.Fatalf("%d messages, want 24", n)
	}
	ids := map[string]bool{}
	for _, m := range h.messages() {
		if ids[m.msg.LogID] {
			t.Errorf("duplicate log id %s", m.msg.LogID)
		}
		ids[m.msg.LogID] = true
	}
	if f := ts.spoolFiles(t); len(f) != 0 {
		t.Errorf("spool files left: %v", f)
	}
}
