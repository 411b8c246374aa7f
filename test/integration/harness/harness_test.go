package harness

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestMailboxOf(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"user@it.test", "user"},
		{"User+Tag-1@IT.test", "user"},
		{"u07+direct-x@it.test", "u07"},
		{"noat", "noat"},
	} {
		if got := MailboxOf(tc.in); got != tc.want {
			t.Errorf("MailboxOf(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMessageBytes(t *testing.T) {
	m := NewMessage("a@it.test", "b@it.test")
	m.Body = "line1\n.dot\r\nlast"
	b := m.Bytes()
	if !bytes.HasSuffix(b, []byte("\r\n\r\nline1\r\n.dot\r\nlast\r\n")) {
		t.Errorf("body not CRLF-normalised: %q", b)
	}
	if bytes.Contains(bytes.ReplaceAll(b, []byte("\r\n"), nil), []byte("\n")) {
		t.Errorf("lone LF left in %q", b)
	}
	if got := HeaderValue(b, "message-id"); got != m.MessageID {
		t.Errorf("Message-ID = %q, want %q", got, m.MessageID)
	}
	if NewMessage().MessageID == m.MessageID {
		t.Error("Message-IDs are not unique")
	}
	m.PadBody(1 << 20)
	if n := len(m.Bytes()); n < 1<<20 || n > 1<<20+200 {
		t.Errorf("PadBody(1 MiB) gave %d bytes", n)
	}
}

// sendAndWait sends m to addr and waits for it in the Maildir of its first recipient.
func sendAndWait(t *testing.T, p *Postfix, addr string, m *Message, opt DialOptions) []byte {
	t.Helper()
	ctx := testCtx(t, 60*time.Second)
	r, err := Send(ctx, addr, m, opt)
	if err != nil {
		t.Fatalf("send to %s: %v", addr, err)
	}
	if !strings.Contains(r.Text, "queued as") {
		t.Errorf("reply %v, want Postfix's queued as", r)
	}
	got, err := p.WaitDelivered(ctx, MailboxOf(m.To[0]), m.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// The unfiltered smtpd: proves Postfix, the virtual Maildir delivery and the client (dot-stuffing).
func TestPostfixDirectPort(t *testing.T) {
	p := RequirePostfix(t)
	m := NewMessage("user+" + UniqueID("d") + "@" + Domain)
	m.Body = "first\n.a line that starts with a dot\n..two dots\nlast\n"
	got := sendAndWait(t, p, DirectAddr, m, DialOptions{})
	if !bytes.Contains(got, []byte("\n.a line that starts with a dot\n..two dots\nlast\n")) {
		t.Errorf("body changed in transit:\n%s", got)
	}
	if dt := HeaderValue(got, "Delivered-To"); !strings.EqualFold(dt, m.To[0]) {
		t.Errorf("Delivered-To = %q, want %q", dt, m.To[0])
	}
	if n, err := p.CountDelivered("user", m.MessageID); err != nil || n != 1 {
		t.Errorf("CountDelivered = %d, %v; want 1", n, err)
	}
}

// The inbound port with a +direct recipient: Postfix 20025 → FILTER smtp:[127.0.0.1]:20026 → Maildir.
// This is the content-filter path with the filter left out; it also proves the re-injection smtpd.
func TestPostfixInboundViaReinjection(t *testing.T) {
	p := RequirePostfix(t)
	m := NewMessage("u01+direct-" + UniqueID("") + "@" + Domain)
	got := sendAndWait(t, p, InboundAddr, m, DialOptions{LocalIP: "127.0.0.3", Helo: "origin.example"})
	rcv := HeaderValues(got, "Received")
	if len(rcv) < 2 {
		t.Fatalf("want 2 Received fields (inbound and re-injection smtpd), got %q", rcv)
	}
	// the inbound smtpd saw the original client
	if !strings.Contains(rcv[1], "from origin.example") || !strings.Contains(rcv[1], "[127.0.0.3]") {
		t.Errorf("inbound Received = %q, want HELO origin.example and [127.0.0.3]", rcv[1])
	}
}

// Queue helpers: a +defer recipient has a dead next hop, so the message stays deferred.
func TestPostfixDeferredQueue(t *testing.T) {
	p := RequirePostfix(t)
	ctx := testCtx(t, 60*time.Second)
	rcpt := "u02+defer-" + UniqueID("") + "@" + Domain
	t.Cleanup(func() { _ = p.DeleteFor(context.Background(), rcpt) })
	off := p.LogOffset()
	if _, err := Send(ctx, InboundAddr, NewMessage(rcpt), DialOptions{}); err != nil {
		t.Fatal(err)
	}
	e, err := p.WaitDeferred(ctx, rcpt)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Recipients) != 1 || !strings.Contains(e.Recipients[0].DelayReason, "127.0.0.1") {
		t.Errorf("deferred entry %+v, want a delay reason naming the dead next hop", e)
	}
	if _, err := p.WaitLog(ctx, off, regexp.MustCompile(regexp.QuoteMeta(e.QueueID)+`: to=<`+regexp.QuoteMeta(rcpt)+`>.*status=deferred`)); err != nil {
		t.Error(err)
	}
	// a flush retries it now: another deferral is logged
	off = p.LogOffset()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitLog(ctx, off, regexp.MustCompile(regexp.QuoteMeta(e.QueueID)+`: .*status=deferred`)); err != nil {
		t.Errorf("after flush: %v", err)
	}
	if err := p.Delete(ctx, e.QueueID); err != nil {
		t.Fatal(err)
	}
	if left, err := p.QueuedFor(ctx, rcpt); err != nil || len(left) != 0 {
		t.Errorf("after delete: %+v, %v", left, err)
	}
}

// The proxy in front of the unfiltered smtpd: pass, refuse, and stall before and after the final dot.
func TestProxy(t *testing.T) {
	p := RequirePostfix(t)
	px, err := NewProxy(DirectAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)

	t.Run("pass", func(t *testing.T) {
		ctx := testCtx(t, 30*time.Second)
		s, err := Dial(ctx, px.Addr(), DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Hello(); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.Ext["CHUNKING"]; ok {
			t.Error("proxy did not hide CHUNKING")
		}
		if _, ok := s.Ext["PIPELINING"]; !ok {
			t.Errorf("EHLO keywords lost: %v", s.Ext)
		}
		_ = s.Quit()
		sendAndWait(t, p, px.Addr(), NewMessage("u03+"+UniqueID("p")+"@"+Domain), DialOptions{})
	})

	t.Run("down", func(t *testing.T) {
		ctx := testCtx(t, 30*time.Second)
		px.Down()
		if _, err := Dial(ctx, px.Addr(), DialOptions{}); err == nil {
			t.Error("dial succeeded while the proxy is down")
		}
		if err := px.Up(); err != nil {
			t.Fatal(err)
		}
		s, err := Dial(ctx, px.Addr(), DialOptions{})
		if err != nil {
			t.Fatalf("after Up: %v", err)
		}
		_ = s.Quit()
	})

	// stall runs a transaction through the proxy in mode and returns the stall event and the client's
	// result after the proxy dropped the connection.
	stall := func(t *testing.T, mode ProxyMode, m *Message) (StallEvent, error) {
		ctx := testCtx(t, 30*time.Second)
		px.SetMode(mode)
		done := make(chan error, 1)
		go func() { _, err := Send(ctx, px.Addr(), m, DialOptions{}); done <- err }()
		var ev StallEvent
		select {
		case ev = <-px.Stalled():
		case err := <-done:
			t.Fatalf("transaction ended without a stall: %v", err)
		case <-ctx.Done():
			t.Fatal("no stall")
		}
		select {
		case err := <-done:
			t.Fatalf("client finished during the stall: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		px.DropAll()
		return ev, <-done
	}

	t.Run("stall-before-dot", func(t *testing.T) {
		m := NewMessage("u04+" + UniqueID("b") + "@" + Domain)
		ev, err := stall(t, ProxyStallBeforeDot, m)
		if ev.Mode != ProxyStallBeforeDot || err == nil {
			t.Fatalf("event %+v, client error %v; want a stall and a failed client", ev, err)
		}
		// Postfix never saw the end of data: nothing may arrive (give it time to prove the negative)
		time.Sleep(1500 * time.Millisecond)
		if n, err := p.CountDelivered("u04", m.MessageID); err != nil || n != 0 {
			t.Errorf("delivered %d copies (%v) of a message whose DATA never ended", n, err)
		}
	})

	t.Run("stall-after-dot", func(t *testing.T) {
		m := NewMessage("u05+" + UniqueID("a") + "@" + Domain)
		ev, err := stall(t, ProxyStallAfterDot, m)
		if ev.Mode != ProxyStallAfterDot || !strings.HasPrefix(ev.Reply, "250") {
			t.Fatalf("event %+v, want the held 250 reply", ev)
		}
		if err == nil {
			t.Error("client succeeded although the reply was held")
		}
		// the server accepted it: it is delivered although the client never heard so
		if _, err := p.WaitDelivered(testCtx(t, 30*time.Second), "u05", m.MessageID); err != nil {
			t.Fatal(err)
		}
	})

	// Release: the held dot or reply goes on, and the transaction ends normally.
	for _, mode := range []ProxyMode{ProxyStallBeforeDot, ProxyStallAfterDot} {
		t.Run("release-"+mode.String(), func(t *testing.T) {
			ctx := testCtx(t, 30*time.Second)
			m := NewMessage("u06+" + UniqueID("r") + "@" + Domain)
			px.SetMode(mode)
			type result struct {
				r   Reply
				err error
			}
			done := make(chan result, 1)
			go func() { r, err := Send(ctx, px.Addr(), m, DialOptions{}); done <- result{r, err} }()
			select {
			case ev := <-px.Stalled():
				if ev.Mode != mode {
					t.Fatalf("stall event %+v, want %v", ev, mode)
				}
			case <-ctx.Done():
				t.Fatal("no stall")
			}
			px.Release()
			res := <-done
			if res.err != nil || !strings.Contains(res.r.Text, "queued as") {
				t.Fatalf("after Release: %v %v", res.r, res.err)
			}
			if _, err := p.WaitDelivered(ctx, "u06", m.MessageID); err != nil {
				t.Fatal(err)
			}
			if n, _ := p.CountDelivered("u06", m.MessageID); n != 1 {
				t.Errorf("%d copies", n)
			}
		})
	}

	t.Run("mode-is-used-once", func(t *testing.T) {
		sendAndWait(t, p, px.Addr(), NewMessage("u03+"+UniqueID("o")+"@"+Domain), DialOptions{})
	})
}

func TestRequireMessages(t *testing.T) {
	// Require with no error never stops the test
	Require(t, nil)
	var se *SendError
	if errors.As(error(&SendError{Stage: "RCPT", Reply: Reply{Code: 550, Text: "5.1.1 nope"}}), &se) && se.Error() != "RCPT: 550 5.1.1 nope" {
		t.Errorf("SendError text %q", se.Error())
	}
}
