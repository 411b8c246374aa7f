package integration

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mavis-filter/mavis/test/integration/harness"
)

// phase bounds one wait for something that takes a second or two when mavis works (Postfix retries
// every 1-2 s in the test instance), so that a broken mavis fails fast instead of at the test timeout.
const phase = 30 * time.Second

func within(ctx context.Context, t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, phase)
	t.Cleanup(cancel)
	return c
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// rcptFor returns a fresh recipient in Maildir user, with an address extension as a tag
// ("+lmtp…" or "+direct…" choose a path, see scripts/postfix-it.sh).
func rcptFor(user, tag string) string {
	return user + "+" + harness.UniqueID(tag) + "@" + harness.Domain
}

// inboundQueueID finds the queue id the inbound smtpd gave the message (the first cleanup line with its
// Message-ID after off).
func inboundQueueID(ctx context.Context, t *testing.T, p *harness.Postfix, off int64, msgID string) string {
	t.Helper()
	line, err := p.WaitLog(within(ctx, t), off, regexp.MustCompile(`cleanup\[\d+\]: [0-9A-F]+: message-id=`+regexp.QuoteMeta(msgID)))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`: ([0-9A-F]+): message-id=`).FindStringSubmatch(line)
	return m[1]
}

// expectCopies waits until Postfix is done with rcpt and checks how many copies of msgID arrived.
func expectCopies(ctx context.Context, t *testing.T, p *harness.Postfix, rcpt, msgID string, lo, hi int) int {
	t.Helper()
	if err := p.Settle(within(ctx, t), rcpt, 2*time.Second); err != nil {
		t.Error(err)
	}
	n, err := p.CountDelivered(harness.MailboxOf(rcpt), msgID)
	if err != nil {
		t.Fatal(err)
	}
	if n < lo || n > hi {
		t.Errorf("%d copies of %s delivered to %s, want %d..%d", n, msgID, rcpt, lo, hi)
	}
	return n
}

// A message through Postfix → mavisd → Postfix arrives once, with mavis's Received field, and the
// original client (127.0.0.2) and Postfix's queue id are carried by XFORWARD into mavis's log line and on
// to the re-injection smtpd (which logs them as orig_client and orig_queue_id).
func TestPassThroughMavis(t *testing.T) {
	for _, tc := range []struct {
		name, tag, with string
	}{
		{"smtp", "s", "ESMTP"},
		{"lmtp", "lmtp-", "LMTP"}, // Postfix's amavisfeed-lmtp transport: mavis must speak LMTP after LHLO
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := harness.RequirePostfix(t)
			d := harness.StartMavisd(t, harness.DefaultConfig())
			ctx := testCtx(t, 2*time.Minute)
			rcpt := rcptFor("u10", tc.tag)
			m := harness.NewMessage(rcpt)
			off := p.LogOffset()
			if _, err := harness.Send(ctx, harness.InboundAddr, m, harness.DialOptions{LocalIP: "127.0.0.2", Helo: "origin.example"}); err != nil {
				t.Fatal(err)
			}
			qid := inboundQueueID(ctx, t, p, off, m.MessageID)
			got, err := p.WaitDelivered(within(ctx, t), "u10", m.MessageID)
			if err != nil {
				t.Fatalf("%v\n--- postfix log ---\n%s", err, must(p.LogSince(off)))
			}

			rcv := harness.HeaderValues(got, "Received")
			if len(rcv) < 3 {
				t.Fatalf("want Received fields of re-injection, mavis and inbound smtpd, got %q", rcv)
			}
			// rcv[0] is the re-injection smtpd's (Postfix writes its own connection there even with XFORWARD;
			// it logs what XFORWARD told it as orig_queue_id and orig_client instead)
			if !strings.HasPrefix(rcv[0], "from ") || !strings.Contains(rcv[0], "by mx.it.test (Postfix)") {
				t.Errorf("re-injection Received = %q", rcv[0])
			}
			xf := regexp.MustCompile(`/reinject/smtpd\[\d+\]: [0-9A-F]+: client=\S+, orig_queue_id=` + qid + `, orig_client=\S*\[127\.0\.0\.2\]`)
			if _, err := p.WaitLog(within(ctx, t), off, xf); err != nil {
				t.Errorf("mavis did not pass the original client on with XFORWARD (IDENT, ADDR): %v", err)
			}
			// rcv[1]: mavis's own, amavis format: from <MTA HELO> ([<MTA ip>]) by <localhost_name>
			// (<myhostname> [<socket ip>]) (<product>, port 20024) with <proto> id <mail_id> for <rcpt>; date
			re := regexp.MustCompile(`^from mx\.it\.test \(\[127\.0\.0\.1\]\) by \S+ \(\S+ \[127\.0\.0\.1\]\) \(\S+, port 20024\) with ` +
				tc.with + ` id \S+ for <` + regexp.QuoteMeta(rcpt) + `>; .+$`)
			if !re.MatchString(rcv[1]) {
				t.Errorf("mavis Received = %q\nwant match %s", rcv[1], re)
			}
			if !strings.Contains(rcv[2], "from origin.example") || !strings.Contains(rcv[2], "by mx.it.test (Postfix)") {
				t.Errorf("inbound Received = %q", rcv[2])
			}
			// mavis's main log line names the original client and Postfix's queue id
			line, err := d.WaitLog(within(ctx, t), regexp.MustCompile(`Passed CLEAN .*`+regexp.QuoteMeta(m.MessageID)))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"[127.0.0.2]", "Queue-ID: " + qid, "<" + rcpt + ">"} {
				if !strings.Contains(line, want) {
					t.Errorf("mavis log line lacks %q: %s", want, line)
				}
			}
			expectCopies(ctx, t, p, rcpt, m.MessageID, 1, 1)
		})
	}
}

// While the re-injection MTA is unreachable, mavis tempfails and Postfix keeps the mail deferred; once
// it is back the mail is delivered exactly once.
func TestDownstreamDownDefers(t *testing.T) {
	p := harness.RequirePostfix(t)
	px, err := harness.NewProxy(harness.ReinjectAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)
	px.Down()
	cfg := harness.DefaultConfig()
	cfg.Forward = px.Method("smtp")
	harness.StartMavisd(t, cfg)
	ctx := testCtx(t, 2*time.Minute)
	rcpt := rcptFor("u11", "down")
	m := harness.NewMessage(rcpt)
	if _, err := harness.Send(ctx, harness.InboundAddr, m, harness.DialOptions{}); err != nil {
		t.Fatal(err)
	}
	e, err := p.WaitDeferred(within(ctx, t), rcpt)
	if err != nil {
		t.Fatal(err)
	}
	reason := e.Recipients[0].DelayReason
	if !regexp.MustCompile(`host 127\.0\.0\.1\[127\.0\.0\.1\] said: 4\d\d `).MatchString(reason) {
		t.Errorf("deferral reason %q, want a 4xx reply from mavis", reason)
	}
	t.Logf("deferred: %s", reason)
	if n, _ := p.CountDelivered("u11", m.MessageID); n != 0 {
		t.Fatalf("%d copies delivered while the downstream MTA was down", n)
	}
	if err := px.Up(); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitDelivered(within(ctx, t), "u11", m.MessageID); err != nil {
		t.Fatal(err)
	}
	expectCopies(ctx, t, p, rcpt, m.MessageID, 1, 1)
}

// mavisd is killed while Postfix is in the middle of DATA (everything sent but the final dot): Postfix
// keeps the mail, and after the restart it is delivered exactly once.
func TestKillMidDataFromPostfix(t *testing.T) {
	p := harness.RequirePostfix(t)
	listen, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg := harness.DefaultConfig()
	cfg.Listen = listen
	d := harness.StartMavisd(t, cfg)
	// Postfix's amavisfeed → proxy on 20024 → mavisd
	px, err := harness.NewProxyOn(harness.FilterAddr, listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)
	px.SetMode(harness.ProxyStallBeforeDot)

	ctx := testCtx(t, 2*time.Minute)
	rcpt := rcptFor("u12", "kdata")
	m := harness.NewMessage(rcpt)
	m.PadBody(256 << 10)
	off := p.LogOffset()
	if _, err := harness.Send(ctx, harness.InboundAddr, m, harness.DialOptions{}); err != nil {
		t.Fatal(err)
	}
	waitStall(within(ctx, t), t, px)
	if err := d.Kill(); err != nil {
		t.Fatal(err)
	}
	px.DropAll()
	if _, err := p.WaitLog(within(ctx, t), off, regexp.MustCompile(`to=<`+regexp.QuoteMeta(rcpt)+`>.*status=deferred`)); err != nil {
		t.Error(err)
	}
	harness.StartMavisd(t, cfg)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitDelivered(within(ctx, t), "u12", m.MessageID); err != nil {
		t.Fatal(err)
	}
	expectCopies(ctx, t, p, rcpt, m.MessageID, 1, 1)
}

// A client that talks to mavisd directly and is cut off mid-DATA (mavisd killed, or the client going
// away) never gets a partial message delivered.
func TestMidDataDirectNothingForwarded(t *testing.T) {
	p := harness.RequirePostfix(t)
	for _, kill := range []bool{true, false} {
		name := map[bool]string{true: "mavisd-killed", false: "client-drops"}[kill]
		t.Run(name, func(t *testing.T) {
			d := harness.StartMavisd(t, harness.DefaultConfig())
			ctx := testCtx(t, time.Minute)
			rcpt := rcptFor("u13", "direct-mid")
			m := harness.NewMessage(rcpt)
			s, err := harness.Dial(ctx, harness.FilterAddr, harness.DialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for _, step := range []func() (harness.Reply, error){
				s.Hello, func() (harness.Reply, error) { return s.Mail(m.From) },
				func() (harness.Reply, error) { return s.Rcpt(rcpt) },
			} {
				if r, err := step(); err != nil || !r.OK() {
					t.Fatalf("%v %v", r, err)
				}
			}
			if r, err := s.Data(); err != nil || r.Code != 354 {
				t.Fatalf("DATA: %v %v", r, err)
			}
			if err := s.WriteData(m.Bytes()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // let mavisd read it all
			if kill {
				if err := d.Kill(); err != nil {
					t.Fatal(err)
				}
				if rs, err := s.EndData(); err == nil {
					t.Errorf("end of data answered by a killed mavisd: %v", rs)
				}
				harness.StartMavisd(t, harness.DefaultConfig())
			} else {
				s.Close()
			}
			time.Sleep(2 * time.Second) // nothing may show up: give a wrong delivery time to happen
			if n, err := p.CountDelivered("u13", m.MessageID); err != nil || n != 0 {
				t.Errorf("%d copies (%v) of a message whose DATA never ended", n, err)
			}
			if q, err := p.QueuedFor(ctx, rcpt); err != nil || len(q) != 0 {
				t.Errorf("queued: %+v %v", q, err)
			}
		})
	}
}

// mavisd is killed while it re-injects the message. Before the downstream MTA saw the final dot, the
// message must arrive exactly once. After the downstream MTA accepted it but before mavisd heard the
// reply, SMTP cannot avoid a duplicate (Postfix retries a message mavis never confirmed): 1 or 2 copies,
// and the test reports which.
func TestKillDuringReinjection(t *testing.T) {
	p := harness.RequirePostfix(t)
	for _, tc := range []struct {
		mode   harness.ProxyMode
		lo, hi int
	}{
		{harness.ProxyStallBeforeDot, 1, 1},
		{harness.ProxyStallAfterDot, 1, 2},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			px, err := harness.NewProxy(harness.ReinjectAddr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(px.Close)
			cfg := harness.DefaultConfig()
			cfg.Forward = px.Method("smtp")
			d := harness.StartMavisd(t, cfg)
			px.SetMode(tc.mode)

			ctx := testCtx(t, 2*time.Minute)
			rcpt := rcptFor("u14", "kreinj")
			m := harness.NewMessage(rcpt)
			if _, err := harness.Send(ctx, harness.InboundAddr, m, harness.DialOptions{}); err != nil {
				t.Fatal(err)
			}
			ev := waitStall(within(ctx, t), t, px)
			if tc.mode == harness.ProxyStallAfterDot && !strings.HasPrefix(ev.Reply, "250") {
				t.Fatalf("held downstream reply %q, want 250", ev.Reply)
			}
			if err := d.Kill(); err != nil {
				t.Fatal(err)
			}
			px.DropAll()
			harness.StartMavisd(t, cfg)
			if err := p.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := p.WaitDelivered(within(ctx, t), "u14", m.MessageID); err != nil {
				t.Fatal(err)
			}
			n := expectCopies(ctx, t, p, rcpt, m.MessageID, tc.lo, tc.hi)
			t.Logf("killed %s: %d cop(ies) delivered", tc.mode, n)
		})
	}
}

func waitStall(ctx context.Context, t *testing.T, px *harness.Proxy) harness.StallEvent {
	t.Helper()
	select {
	case ev := <-px.Stalled():
		return ev
	case <-ctx.Done():
		t.Fatal("the proxy never stalled a transaction")
	}
	return harness.StallEvent{}
}

func must(s string, err error) string {
	if err != nil {
		return err.Error()
	}
	return s
}

// SIGTERM while a message is being re-injected: mavisd stops accepting connections but finishes the
// message in flight (Postfix gets its 250, one copy arrives) and exits 0.
func TestSIGTERMFinishesInFlight(t *testing.T) {
	p := harness.RequirePostfix(t)
	px, err := harness.NewProxy(harness.ReinjectAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)
	cfg := harness.DefaultConfig()
	cfg.Forward = px.Method("smtp")
	d := harness.StartMavisd(t, cfg)
	px.SetMode(harness.ProxyStallAfterDot)

	ctx := testCtx(t, 2*time.Minute)
	rcpt := rcptFor("u15", "term")
	m := harness.NewMessage(rcpt)
	off := p.LogOffset()
	if _, err := harness.Send(ctx, harness.InboundAddr, m, harness.DialOptions{}); err != nil {
		t.Fatal(err)
	}
	qid := inboundQueueID(ctx, t, p, off, m.MessageID)
	waitStall(within(ctx, t), t, px)
	stopped := make(chan error, 1)
	go func() { stopped <- d.Stop(ctx) }()
	// stopping: new connections are refused (or closed) while the message is in flight
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := harness.Dial(within(ctx, t), harness.FilterAddr, harness.DialOptions{})
		if err != nil {
			break
		}
		s.Close()
		if time.Now().After(deadline) {
			t.Fatal("mavisd still accepts connections 10 s after SIGTERM")
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("mavisd exited (%v) with a message in flight", err)
	default:
	}
	px.Release()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-within(ctx, t).Done():
		t.Fatal("mavisd did not exit after the message in flight was done")
	}
	if _, err := p.WaitLog(within(ctx, t), off, regexp.MustCompile(qid+`: to=<`+regexp.QuoteMeta(rcpt)+`>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:20024, .*status=sent \(250 `)); err != nil {
		t.Error(err)
	}
	if _, err := p.WaitDelivered(within(ctx, t), "u15", m.MessageID); err != nil {
		t.Fatal(err)
	}
	expectCopies(ctx, t, p, rcpt, m.MessageID, 1, 1)
}
