package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mavis-filter/mavis/internal/mail"
)

const (
	testLogID = "12345-01"
	testMsg   = "From: a@example.net\r\nSubject: test\r\n\r\nHello\r\n.leading dot\r\n"
)

func newReq(m Method, rcpts ...string) *Request {
	rs := make([]*mail.Recipient, len(rcpts))
	for i, a := range rcpts {
		rs[i] = &mail.Recipient{Addr: a, Raw: a}
	}
	return &Request{
		Method:    m,
		LogID:     testLogID,
		Envelope:  mail.Envelope{MailFrom: "sender@example.net"},
		Rcpts:     rs,
		Body:      strings.NewReader(testMsg),
		LocalName: "mavis.test",
	}
}

func send(t *testing.T, c *Client, req *Request) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := c.Send(ctx, req)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(res.PerRcpt) != len(req.Rcpts) {
		t.Fatalf("%d replies for %d recipients", len(res.PerRcpt), len(req.Rcpts))
	}
	for i, r := range res.PerRcpt {
		if r.IsZero() {
			t.Fatalf("recipient %d has no reply", i)
		}
	}
	return res
}

func replies(res *Result) []string {
	out := make([]string, len(res.PerRcpt))
	for i, r := range res.PerRcpt {
		out[i] = r.String()
	}
	return out
}

func queued(n int) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: fmt.Sprintf("Ok: queued as Q%d", n)}
}

func smtpErr(code int, enh smtp.EnhancedCode, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

// TestSendSMTP covers the per-recipient outcomes against go-smtp.
func TestSendSMTP(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(p *peer)
		rcpts       []string
		perRcpt     bool
		want        []string // {mta} is replaced by the peer's MTA id
		wantMsgs    int
		wantAborted int
		wantQueued  []string
	}{
		{
			name:       "delivered",
			setup:      func(p *peer) { p.reply = queued },
			rcpts:      []string{"user@example.org", "other@example.org"},
			want:       []string{"250 2.0.0 from MTA({mta}): 250 2.0.0 Ok: queued as Q1", "250 2.0.0 from MTA({mta}): 250 2.0.0 Ok: queued as Q1"},
			wantMsgs:   1,
			wantQueued: []string{"Q1"},
		},
		{
			name: "enhanced code fabricated",
			setup: func(p *peer) {
				p.reply = func(int) *smtp.SMTPError { return smtpErr(250, smtp.NoEnhancedCode, "Ok: queued as ABC") }
			},
			rcpts:      []string{"user@example.org"},
			want:       []string{"250 2.6.0 from MTA({mta}): 250 Ok: queued as ABC"},
			wantMsgs:   1,
			wantQueued: []string{"ABC"},
		},
		{
			name: "one recipient rejected",
			setup: func(p *peer) {
				p.reply = queued
				p.rcptHook = func(to string) error {
					if strings.HasPrefix(to, "bad@") {
						return smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "<"+to+">: Recipient address rejected: User unknown")
					}
					return nil
				}
			},
			rcpts: []string{"bad@example.org", "user@example.org"},
			want: []string{
				"550 5.1.1 from MTA({mta}): 550 5.1.1 <bad@example.org>: Recipient address rejected: User unknown",
				"250 2.0.0 from MTA({mta}): 250 2.0.0 Ok: queued as Q1",
			},
			wantMsgs: 1,
		},
		{
			name: "all recipients rejected",
			setup: func(p *peer) {
				p.rcptHook = func(to string) error { return smtpErr(550, smtp.NoEnhancedCode, "no such user") }
			},
			rcpts:    []string{"a@example.org", "b@example.org"},
			want:     []string{"550 5.1.0 from MTA({mta}): 550 no such user", "550 5.1.0 from MTA({mta}): 550 no such user"},
			wantMsgs: 0,
		},
		{
			name: "sender rejected",
			setup: func(p *peer) {
				p.mailHook = func(string, *smtp.MailOptions) error {
					return smtpErr(553, smtp.EnhancedCode{5, 1, 8}, "Sender address rejected")
				}
			},
			rcpts:    []string{"a@example.org", "b@example.org"},
			want:     []string{"553 5.1.8 from MTA({mta}): 553 5.1.8 Sender address rejected", "553 5.1.8 from MTA({mta}): 553 5.1.8 Sender address rejected"},
			wantMsgs: 0,
		},
		{
			name: "message rejected after the dot",
			setup: func(p *peer) {
				p.reply = func(int) *smtp.SMTPError { return smtpErr(554, smtp.EnhancedCode{5, 7, 1}, "Message rejected") }
			},
			rcpts:    []string{"a@example.org", "b@example.org"},
			want:     []string{"554 5.7.1 from MTA({mta}): 554 5.7.1 Message rejected", "554 5.7.1 from MTA({mta}): 554 5.7.1 Message rejected"},
			wantMsgs: 1, // the peer read it, then refused it
		},
		{
			name: "message tempfailed after the dot",
			setup: func(p *peer) {
				p.reply = func(int) *smtp.SMTPError { return smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "Try again later") }
			},
			rcpts:    []string{"a@example.org"},
			want:     []string{"451 4.3.0 from MTA({mta}): 451 4.3.0 Try again later"},
			wantMsgs: 1,
		},
		{
			name: "recipient tempfailed, SMTP input: whole transaction aborted",
			setup: func(p *peer) {
				p.rcptHook = func(to string) error {
					if strings.HasPrefix(to, "temp@") {
						return smtpErr(451, smtp.EnhancedCode{4, 7, 1}, "Greylisted")
					}
					return nil
				}
			},
			rcpts: []string{"user@example.org", "temp@example.org"},
			want: []string{
				"451 4.5.0 From MTA({mta}) during fwd-data-chkpnt (Bail out, DATA accepted but tempfailed recips, not an LMTP input): id=12345-01",
				"451 4.7.1 from MTA({mta}): 451 4.7.1 Greylisted",
			},
			wantMsgs:    0,
			wantAborted: 1,
		},
		{
			name: "recipient tempfailed, per-recipient input: others delivered",
			setup: func(p *peer) {
				p.reply = queued
				p.rcptHook = func(to string) error {
					if strings.HasPrefix(to, "temp@") {
						return smtpErr(451, smtp.EnhancedCode{4, 7, 1}, "Greylisted")
					}
					return nil
				}
			},
			rcpts:   []string{"user@example.org", "temp@example.org"},
			perRcpt: true,
			want: []string{
				"250 2.0.0 from MTA({mta}): 250 2.0.0 Ok: queued as Q1",
				"451 4.7.1 from MTA({mta}): 451 4.7.1 Greylisted",
			},
			wantMsgs: 1,
		},
	}
	for _, tc := range tests {
		for _, cache := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/cache=%v", tc.name, cache), func(t *testing.T) {
				p := newPeer(t, peerOpts{})
				tc.setup(p)
				c := NewClient(DefaultTimeouts(), cache, nil)
				defer c.Close()
				req := newReq(p.method, tc.rcpts...)
				req.PerRecipientCapable = tc.perRcpt
				res := send(t, c, req)
				mta := p.method.MTAID()
				for i, w := range tc.want {
					w = strings.ReplaceAll(w, "{mta}", mta)
					if got := res.PerRcpt[i].String(); got != w {
						t.Errorf("recipient %d:\n got  %q\n want %q", i, got, w)
					}
				}
				if tc.wantQueued != nil && strings.Join(res.QueuedAs, ",") != strings.Join(tc.wantQueued, ",") {
					t.Errorf("QueuedAs = %q, want %q", res.QueuedAs, tc.wantQueued)
				}
				if tc.wantAborted > 0 {
					deadline := time.Now().Add(5 * time.Second)
					for time.Now().Before(deadline) {
						if _, _, _, a := p.counts(); a >= tc.wantAborted {
							break
						}
						time.Sleep(5 * time.Millisecond)
					}
				}
				_, _, msgs, aborted := p.counts()
				if msgs != tc.wantMsgs || aborted != tc.wantAborted {
					t.Errorf("peer got %d messages (%d aborted), want %d (%d aborted)", msgs, aborted, tc.wantMsgs, tc.wantAborted)
				}
				// a second message on the same client still works (the
				// connection was left clean, or dropped)
				p.mailHook, p.rcptHook = nil, nil
				p.reply = nil
				res2 := send(t, c, newReq(p.method, "again@example.org"))
				if res2.PerRcpt[0].Class() != 2 {
					t.Errorf("next message: %v", res2.PerRcpt[0])
				}
			})
		}
	}
}

// TestSendContent checks what arrives: prepended header, normalised line
// ends, dot-stuffing undone by the peer, the envelope, Remote and QueuedAs.
func TestSendContent(t *testing.T) {
	p := newPeer(t, peerOpts{})
	p.reply = queued
	c := NewClient(DefaultTimeouts(), true, nil)
	defer c.Close()
	req := newReq(p.method, "a@example.org", "b@example.org")
	req.Prepend = []byte("Received: from client by mavis\r\n\tfor <a@example.org>;\r\n")
	req.Body = strings.NewReader("Subject: x\n\n.one\r\n..two\nbare\rcr\n.")
	res := send(t, c, req)
	want := "Received: from client by mavis\r\n\tfor <a@example.org>;\r\nSubject: x\r\n\r\n.one\r\n..two\r\nbarecr\r\n.\r\n"
	msgs := p.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	if got := string(msgs[0].data); got != want {
		t.Errorf("data:\n got  %q\n want %q", got, want)
	}
	if msgs[0].from != "sender@example.net" || strings.Join(msgs[0].rcpts, ",") != "a@example.org,b@example.org" {
		t.Errorf("envelope: %q -> %q", msgs[0].from, msgs[0].rcpts)
	}
	for i, r := range req.Rcpts {
		if r.QueuedAs != "Q1" || r.Remote.String() != "250 2.0.0 Ok: queued as Q1" {
			t.Errorf("rcpt %d: QueuedAs %q Remote %q", i, r.QueuedAs, r.Remote)
		}
	}
	if res.Data.String() != res.PerRcpt[0].String() || res.Err != nil {
		t.Errorf("Data %q Err %v", res.Data, res.Err)
	}
	cmds := strings.Join(p.clientCommands(), "\n")
	if !strings.Contains(cmds, "EHLO mavis.test") {
		t.Errorf("no EHLO mavis.test in:\n%s", cmds)
	}
}

func TestSendLMTP(t *testing.T) {
	for _, unix := range []bool{false, true} {
		t.Run(fmt.Sprintf("unix=%v", unix), func(t *testing.T) {
			p := newPeer(t, peerOpts{lmtp: true, unix: unix})
			p.lmtpHook = func(rcpt string) error {
				switch {
				case strings.HasPrefix(rcpt, "full@"):
					return smtpErr(552, smtp.EnhancedCode{5, 2, 2}, "Mailbox full")
				case strings.HasPrefix(rcpt, "temp@"):
					return smtpErr(451, smtp.EnhancedCode{4, 2, 0}, "Try later")
				case strings.HasPrefix(rcpt, "q@"):
					return smtpErr(250, smtp.EnhancedCode{2, 0, 0}, "Ok: queued as LQ7")
				}
				return nil
			}
			p.rcptHook = func(to string) error {
				if strings.HasPrefix(to, "unknown@") {
					return smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "User unknown")
				}
				return nil
			}
			c := NewClient(DefaultTimeouts(), true, nil)
			defer c.Close()
			req := newReq(p.method, "ok@example.org", "full@example.org", "unknown@example.org", "temp@example.org", "q@example.org")
			req.PerRecipientCapable = true
			res := send(t, c, req)
			mta := p.method.MTAID()
			want := []string{
				"250 2.0.0 from MTA(" + mta + "): 250 2.0.0 <ok@example.org> OK: queued",
				"552 5.2.2 from MTA(" + mta + "): 552 5.2.2 <full@example.org> Mailbox full",
				"550 5.1.1 from MTA(" + mta + "): 550 5.1.1 User unknown",
				"451 4.2.0 from MTA(" + mta + "): 451 4.2.0 <temp@example.org> Try later",
				"250 2.0.0 from MTA(" + mta + "): 250 2.0.0 <q@example.org> Ok: queued as LQ7",
			}
			for i, w := range want {
				if got := res.PerRcpt[i].String(); got != w {
					t.Errorf("recipient %d:\n got  %q\n want %q", i, got, w)
				}
			}
			if strings.Join(res.QueuedAs, ",") != "LQ7" || req.Rcpts[4].QueuedAs != "LQ7" {
				t.Errorf("QueuedAs %q / %q", res.QueuedAs, req.Rcpts[4].QueuedAs)
			}
			if res.Data.Class() != 4 {
				t.Errorf("overall reply %q, want the first 4xx", res.Data)
			}
			if !strings.Contains(strings.Join(p.clientCommands(), "\n"), "LHLO mavis.test") {
				t.Errorf("no LHLO")
			}
			// the connection is reusable after per-recipient failures
			res = send(t, c, newReq(p.method, "ok2@example.org"))
			if res.PerRcpt[0].Class() != 2 {
				t.Errorf("second message: %v", res.PerRcpt[0])
			}
			if s, _, _, _ := p.counts(); s != 1 {
				t.Errorf("%d sessions, want 1", s)
			}
		})
	}
}

func TestDSNParams(t *testing.T) {
	tests := []struct {
		name     string
		dsn      bool
		sender   string
		wantRet  smtp.DSNReturn
		wantEnv  string
		wantNtfy []smtp.DSNNotify
		wantOrcp string
	}{
		{name: "offered", dsn: true, sender: "s@example.net", wantRet: smtp.DSNReturnHeaders, wantEnv: "QQ+id", wantNtfy: []smtp.DSNNotify{"SUCCESS", "FAILURE"}, wantOrcp: "orig@example.org"},
		{name: "offered, null sender: no NOTIFY", dsn: true, sender: "", wantRet: smtp.DSNReturnHeaders, wantEnv: "QQ+id", wantOrcp: "orig@example.org"},
		{name: "not offered", dsn: false, sender: "s@example.net"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeer(t, peerOpts{dsn: tc.dsn})
			c := NewClient(DefaultTimeouts(), false, nil)
			defer c.Close()
			req := newReq(p.method, "user@example.org")
			req.Envelope.MailFrom = tc.sender
			req.Envelope.Params = mail.MailParams{Ret: "HDRS", EnvID: "QQ+2Bid"}
			req.Rcpts[0].Params = mail.RcptParams{Notify: []string{"SUCCESS", "FAILURE"}, ORcpt: "rfc822;orig+40example.org"}
			res := send(t, c, req)
			if res.PerRcpt[0].Class() != 2 || res.DSNPassedOn != tc.dsn {
				t.Fatalf("reply %v, DSNPassedOn %v", res.PerRcpt[0], res.DSNPassedOn)
			}
			m := p.messages()[0]
			ro := m.ropts[0]
			if m.mopts.Return != tc.wantRet || m.mopts.EnvelopeID != tc.wantEnv {
				t.Errorf("MAIL: RET %q ENVID %q", m.mopts.Return, m.mopts.EnvelopeID)
			}
			if fmt.Sprint(ro.Notify) != fmt.Sprint(tc.wantNtfy) || ro.OriginalRecipient != tc.wantOrcp {
				t.Errorf("RCPT: NOTIFY %v ORCPT %q (%s)", ro.Notify, ro.OriginalRecipient, ro.OriginalRecipientType)
			}
		})
	}
}

func TestSMTPUTF8And8BIT(t *testing.T) {
	tests := []struct {
		name     string
		utf8     bool
		dsn      bool
		body     string
		smtputf8 bool
		sender   string
		rcpts    []string
		want     []string // reply prefixes
		wantUTF8 bool
		wantBody smtp.BodyType
		wantTo   []string
		wantOrcp string
	}{
		{name: "utf8 offered", utf8: true, body: "8BITMIME", smtputf8: true, sender: "sénder@exämple.net", rcpts: []string{"用户@例子.测试"},
			want: []string{"250 "}, wantUTF8: true, wantBody: smtp.Body8BitMIME, wantTo: []string{"用户@例子.测试"}},
		{name: "utf8 not needed", body: "7BIT", smtputf8: true, sender: "s@example.net", rcpts: []string{"u@example.org"},
			want: []string{"250 "}, wantBody: smtp.Body7Bit, wantTo: []string{"u@example.org"}},
		{name: "utf8 sender not offered", smtputf8: true, sender: "sénder@example.net", rcpts: []string{"u@example.org", "v@example.org"},
			want: []string{"550 5.6.7 Non-ASCII addresses not permitted for sender", "550 5.6.7 Non-ASCII addresses not permitted for sender"}},
		{name: "utf8 recipient not offered", smtputf8: true, sender: "s@example.net", rcpts: []string{"用户@example.org", "u@example.org"},
			want: []string{"553 5.6.7 Non-ASCII addresses not permitted for recipient", "250 "}, wantTo: []string{"u@example.org"}},
		{name: "IDN domain to ACE", dsn: true, sender: "s@example.net", rcpts: []string{"user@bücher.example"},
			want: []string{"250 "}, wantTo: []string{"user@xn--bcher-kva.example"}, wantOrcp: "user@bücher.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeer(t, peerOpts{utf8: tc.utf8, dsn: tc.dsn})
			c := NewClient(DefaultTimeouts(), true, nil)
			defer c.Close()
			req := newReq(p.method, tc.rcpts...)
			req.Envelope.MailFrom = tc.sender
			req.Envelope.Params = mail.MailParams{Body: tc.body, SMTPUTF8: tc.smtputf8}
			res := send(t, c, req)
			for i, w := range tc.want {
				if !strings.HasPrefix(res.PerRcpt[i].String(), w) {
					t.Errorf("recipient %d: %q, want prefix %q", i, res.PerRcpt[i], w)
				}
			}
			msgs := p.messages()
			if tc.wantTo == nil {
				if len(msgs) != 0 {
					t.Errorf("peer got %d messages", len(msgs))
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("peer got %d messages", len(msgs))
			}
			m := msgs[0]
			if m.mopts.UTF8 != tc.wantUTF8 || m.mopts.Body != tc.wantBody || strings.Join(m.rcpts, ",") != strings.Join(tc.wantTo, ",") {
				t.Errorf("peer got UTF8 %v BODY %q rcpts %q", m.mopts.UTF8, m.mopts.Body, m.rcpts)
			}
			if tc.wantOrcp != "" && (m.ropts[0].OriginalRecipient != tc.wantOrcp || m.ropts[0].OriginalRecipientType != smtp.DSNAddressTypeUTF8) {
				t.Errorf("ORCPT %s;%q", m.ropts[0].OriginalRecipientType, m.ropts[0].OriginalRecipient)
			}
		})
	}
}

func TestTooManyRecipients(t *testing.T) {
	p := newPeer(t, peerOpts{maxRcpts: 2})
	p.reply = queued
	c := NewClient(DefaultTimeouts(), false, nil)
	defer c.Close()
	rcpts := []string{"r1@example.org", "r2@example.org", "r3@example.org", "r4@example.org", "r5@example.org"}
	res := send(t, c, newReq(p.method, rcpts...))
	mta := p.method.MTAID()
	wantQ := []string{"Q1", "Q1", "Q2", "Q2", "Q3"}
	for i, r := range res.PerRcpt {
		want := "250 2.0.0 from MTA(" + mta + "): 250 2.0.0 Ok: queued as " + wantQ[i]
		if r.String() != want {
			t.Errorf("recipient %d: %q, want %q", i, r, want)
		}
	}
	if strings.Join(res.QueuedAs, ",") != "Q1,Q2,Q3" {
		t.Errorf("QueuedAs %q", res.QueuedAs)
	}
	msgs := p.messages()
	var got []string
	for _, m := range msgs {
		got = append(got, strings.Join(m.rcpts, "+"))
	}
	if strings.Join(got, " ") != "r1@example.org+r2@example.org r3@example.org+r4@example.org r5@example.org" {
		t.Errorf("transactions: %q", got)
	}
	if s, _, _, _ := p.counts(); s != 1 {
		t.Errorf("%d sessions, want 1 (all transactions on one connection)", s)
	}
}

func TestConnectionCache(t *testing.T) {
	t.Run("reuse", func(t *testing.T) {
		p := newPeer(t, peerOpts{})
		c := NewClient(DefaultTimeouts(), true, nil)
		for range 3 {
			if r := send(t, c, newReq(p.method, "u@example.org")); r.PerRcpt[0].Class() != 2 {
				t.Fatal(r.PerRcpt[0])
			}
		}
		if s, l, m, _ := p.counts(); s != 1 || l != 0 || m != 3 {
			t.Errorf("sessions %d logouts %d msgs %d; want 1 0 3", s, l, m)
		}
		_ = c.Close()
		if !p.waitLogouts(1) {
			t.Errorf("Close did not end the cached session")
		}
		if cmds := p.clientCommands(); cmds[len(cmds)-1] != "QUIT" {
			t.Errorf("last command %q, want QUIT", cmds[len(cmds)-1])
		}
	})
	t.Run("disabled", func(t *testing.T) {
		p := newPeer(t, peerOpts{})
		c := NewClient(DefaultTimeouts(), false, nil)
		defer c.Close()
		for range 3 {
			send(t, c, newReq(p.method, "u@example.org"))
		}
		if s, l, m, _ := p.counts(); s != 3 || m != 3 {
			t.Errorf("sessions %d logouts %d msgs %d; want 3 sessions, 3 msgs", s, l, m)
		}
		if !p.waitLogouts(3) {
			t.Errorf("sessions not ended")
		}
		if n := strings.Count(strings.Join(p.clientCommands(), "\n"), "QUIT"); n != 3 {
			t.Errorf("%d QUITs, want 3", n)
		}
	})
	t.Run("idle reaper", func(t *testing.T) {
		p := newPeer(t, peerOpts{})
		c := newClient(DefaultTimeouts(), true, nil, 50*time.Millisecond)
		defer c.Close()
		send(t, c, newReq(p.method, "u@example.org"))
		if !p.waitLogouts(1) {
			t.Fatalf("idle connection not closed")
		}
		send(t, c, newReq(p.method, "u@example.org"))
		if s, _, _, _ := p.counts(); s != 2 {
			t.Errorf("%d sessions, want 2", s)
		}
	})
	t.Run("dead cached connection retried", func(t *testing.T) {
		p := newPeer(t, peerOpts{})
		p.reply = queued
		c := NewClient(DefaultTimeouts(), true, nil)
		defer c.Close()
		send(t, c, newReq(p.method, "u@example.org"))
		p.dropConns() // the MTA restarted
		p.waitLogouts(1)
		res := send(t, c, newReq(p.method, "u@example.org"))
		if res.PerRcpt[0].Class() != 2 || res.Err != nil {
			t.Fatalf("after a dead cached connection: %v (%v)", res.PerRcpt[0], res.Err)
		}
		if s, _, m, _ := p.counts(); s != 2 || m != 2 {
			t.Errorf("sessions %d msgs %d; want 2 2", s, m)
		}
	})
	t.Run("RSET before reuse after a failed transaction", func(t *testing.T) {
		p := newPeer(t, peerOpts{})
		c := NewClient(DefaultTimeouts(), true, nil)
		defer c.Close()
		p.rcptHook = func(string) error { return smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "unknown") }
		send(t, c, newReq(p.method, "u@example.org"))
		p.rcptHook = nil
		res := send(t, c, newReq(p.method, "u@example.org"))
		if res.PerRcpt[0].Class() != 2 {
			t.Fatal(res.PerRcpt[0])
		}
		cmds := p.clientCommands()
		var seq []string
		for _, cmd := range cmds {
			seq = append(seq, strings.Fields(cmd)[0])
		}
		if got := strings.Join(seq, " "); got != "EHLO MAIL RCPT DATA RSET MAIL RCPT DATA" {
			t.Errorf("commands: %s", got)
		}
		if s, _, _, _ := p.counts(); s != 1 {
			t.Errorf("%d sessions", s)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		p := newPeer(t, peerOpts{})
		c := NewClient(DefaultTimeouts(), true, nil)
		defer c.Close()
		var wg sync.WaitGroup
		errs := make(chan string, 64)
		for g := range 6 {
			wg.Go(func() {
				for n := range 5 {
					req := newReq(p.method, fmt.Sprintf("g%dn%d@example.org", g, n))
					res, err := c.Send(context.Background(), req)
					if err != nil || res.PerRcpt[0].Class() != 2 {
						errs <- fmt.Sprintf("%v %v", err, res.PerRcpt)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		if s, _, m, _ := p.counts(); m != 30 || s > 6 {
			t.Errorf("sessions %d msgs %d; want <= 6 sessions, 30 msgs", s, m)
		}
	})
}

func TestDownstreamDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := portOf(l.Addr())
	_ = l.Close() // nothing listens there now
	tcp, _ := ParseMethod("smtp:[127.0.0.1]:" + port)
	unix, _ := ParseMethod("lmtp:" + t.TempDir() + "/missing.sock")
	for _, m := range []Method{tcp, unix} {
		t.Run(m.Spec, func(t *testing.T) {
			c := NewClient(DefaultTimeouts(), true, nil)
			defer c.Close()
			res := send(t, c, newReq(m, "a@example.org", "b@example.org"))
			want := "451 4.5.0 From MTA() during fwd-connect (All attempts (1) failed connecting to " + m.Spec + "): id=12345-01"
			for i, r := range res.PerRcpt {
				if r.String() != want {
					t.Errorf("recipient %d:\n got  %q\n want %q", i, r, want)
				}
			}
			var se *SessionError
			if !errors.As(res.Err, &se) || se.Section != "fwd-connect" || res.Data.String() != want {
				t.Errorf("Err %v Data %q", res.Err, res.Data)
			}
		})
	}
}

// silentPeer accepts connections and never says anything.
func silentPeer(t *testing.T) Method {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		_ = l.Close()
		wg.Wait()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
	})
	m, _ := ParseMethod("smtp:[127.0.0.1]:" + portOf(l.Addr()))
	return m
}

func TestSlowDownstream(t *testing.T) {
	short := DefaultTimeouts()
	short.Rcpt = 200 * time.Millisecond
	shortGreet := DefaultTimeouts()
	shortGreet.Greeting = 200 * time.Millisecond
	tests := []struct {
		name    string
		silent  bool
		t       Timeouts
		ctx     func() (context.Context, context.CancelFunc)
		want    string // {mta}
		wantErr error
	}{
		{name: "RCPT timeout", t: short, ctx: func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			want: "450 4.4.2 Timed out during fwd-rcpt-pip, MTA({mta}), id=12345-01"},
		{name: "context deadline bounds the phase", t: DefaultTimeouts(),
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 300*time.Millisecond)
			},
			want: "450 4.4.2 Timed out during fwd-rcpt-pip, MTA({mta}), id=12345-01", wantErr: context.DeadlineExceeded},
		{name: "context canceled", t: DefaultTimeouts(),
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(200*time.Millisecond, cancel)
				return ctx, cancel
			},
			want: "451 4.5.0 From MTA({mta}) during fwd-rcpt-pip (aborted: context canceled): id=12345-01", wantErr: context.Canceled},
		{name: "no greeting", silent: true, t: shortGreet, ctx: func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			want: "450 4.4.2 Timed out during fwd-connect, MTA(), id=12345-01"},
		{name: "no greeting, context deadline", silent: true, t: DefaultTimeouts(),
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 200*time.Millisecond)
			},
			want: "450 4.4.2 Timed out during fwd-connect, MTA(), id=12345-01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m Method
			var p *peer
			if tc.silent {
				m = silentPeer(t)
			} else {
				p = newPeer(t, peerOpts{})
				release := make(chan struct{})
				t.Cleanup(func() { close(release) }) // runs before the peer's cleanup
				p.rcptHook = func(string) error { <-release; return nil }
				m = p.method
			}
			c := NewClient(tc.t, true, nil)
			defer c.Close()
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			res, err := c.Send(ctx, newReq(m, "a@example.org"))
			if err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el > 10*time.Second {
				t.Errorf("Send took %v: not bounded", el)
			}
			want := strings.ReplaceAll(tc.want, "{mta}", m.MTAID())
			if got := res.PerRcpt[0].String(); got != want {
				t.Errorf("\n got  %q\n want %q", got, want)
			}
			if tc.wantErr != nil && !errors.Is(res.Err, tc.wantErr) {
				t.Errorf("Err = %v, want %v", res.Err, tc.wantErr)
			}
		})
	}
}

func TestServerClosesMidData(t *testing.T) {
	for _, size := range []int{2 << 10, 2 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			p := newPeer(t, peerOpts{})
			p.dataHook = func(c *smtp.Conn, r io.Reader) error {
				buf := make([]byte, 100)
				_, _ = io.ReadFull(r, buf)
				_ = c.Conn().Close()
				return errors.New("closed")
			}
			c := NewClient(DefaultTimeouts(), true, nil)
			defer c.Close()
			req := newReq(p.method, "a@example.org")
			req.Body = strings.NewReader("Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n", size/74))
			res := send(t, c, req)
			got := res.PerRcpt[0].String()
			prefix := "451 4.5.0 From MTA(" + p.method.MTAID() + ") during fwd-"
			if !strings.HasPrefix(got, prefix) || !strings.HasSuffix(got, "): id=12345-01") {
				t.Errorf("got %q, want %q...", got, prefix)
			}
			if _, _, m, _ := p.counts(); m != 0 {
				t.Errorf("peer accepted %d messages", m)
			}
		})
	}
}

func TestBodyReadError(t *testing.T) {
	p := newPeer(t, peerOpts{})
	c := NewClient(DefaultTimeouts(), true, nil)
	defer c.Close()
	req := newReq(p.method, "a@example.org", "b@example.org")
	req.Body = &errReader{data: []byte(strings.Repeat("line of text\r\n", 20000)), err: errors.New("disk on fire")}
	res := send(t, c, req)
	want := "451 4.5.0 From MTA(" + p.method.MTAID() + ") during fwd-data-contents (Error reading: disk on fire): id=12345-01"
	for i, r := range res.PerRcpt {
		if r.String() != want {
			t.Errorf("recipient %d:\n got  %q\n want %q", i, r, want)
		}
	}
	// The peer saw DATA start and the connection drop before any dot.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, _, _, a := p.counts(); a == 1 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, _, m, a := p.counts(); m != 0 || a != 1 {
		t.Errorf("peer: %d messages, %d aborted; want 0, 1", m, a)
	}
	// the dropped connection was not cached
	res = send(t, c, newReq(p.method, "a@example.org"))
	if res.PerRcpt[0].Class() != 2 {
		t.Fatal(res.PerRcpt[0])
	}
	if s, _, _, _ := p.counts(); s != 2 {
		t.Errorf("%d sessions, want 2", s)
	}
}

func TestBadRequests(t *testing.T) {
	c := NewClient(DefaultTimeouts(), false, nil)
	defer c.Close()
	m, _ := ParseMethod("smtp:[127.0.0.1]:25")
	if _, err := c.Send(context.Background(), nil); err == nil {
		t.Error("nil request accepted")
	}
	req := newReq(m, "a@example.org")
	req.Body = nil
	if _, err := c.Send(context.Background(), req); err == nil {
		t.Error("nil body accepted")
	}
	req = newReq(Method{}, "a@example.org")
	if _, err := c.Send(context.Background(), req); err == nil {
		t.Error("zero method accepted")
	}
	res, err := c.Send(context.Background(), newReq(m))
	if err != nil || len(res.PerRcpt) != 0 {
		t.Errorf("no recipients: %v %v", res, err)
	}
}

func TestBadAddresses(t *testing.T) {
	p := newPeer(t, peerOpts{})
	c := NewClient(DefaultTimeouts(), true, nil)
	defer c.Close()
	res := send(t, c, newReq(p.method, "evil@example.org>\r\nRSET", "good@example.org"))
	if got := res.PerRcpt[0].String(); got != "501 5.1.3 Bad recipient address syntax" {
		t.Errorf("bad rcpt: %q", got)
	}
	if res.PerRcpt[1].Class() != 2 {
		t.Errorf("good rcpt: %q", res.PerRcpt[1])
	}
	req := newReq(p.method, "good@example.org")
	req.Envelope.MailFrom = "x@y\r\nDATA"
	res = send(t, c, req)
	if got := res.PerRcpt[0].String(); got != "501 5.1.7 Bad sender address syntax" {
		t.Errorf("bad sender: %q", got)
	}
	if n := strings.Count(p.debug.String(), "RSET"); n != 0 {
		t.Errorf("command injected")
	}
}

// TestManyRecipients sends more recipients than one pipelined group holds.
func TestManyRecipients(t *testing.T) {
	for _, lmtp := range []bool{false, true} {
		t.Run(fmt.Sprintf("lmtp=%v", lmtp), func(t *testing.T) {
			p := newPeer(t, peerOpts{lmtp: lmtp})
			p.rcptHook = func(to string) error {
				if strings.HasPrefix(to, "r17@") || strings.HasPrefix(to, "r150@") {
					return smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "unknown")
				}
				return nil
			}
			c := NewClient(DefaultTimeouts(), true, nil)
			defer c.Close()
			var rcpts []string
			for i := range 3*maxPipelined + 7 {
				rcpts = append(rcpts, fmt.Sprintf("r%d@example.org", i))
			}
			req := newReq(p.method, rcpts...)
			req.PerRecipientCapable = lmtp
			res := send(t, c, req)
			for i, r := range res.PerRcpt {
				want := 2
				if i == 17 || i == 150 {
					want = 5
				}
				if r.Class() != want {
					t.Errorf("recipient %d: %q", i, r)
				}
			}
			msgs := p.messages()
			if len(msgs) != 1 || len(msgs[0].rcpts) != len(rcpts)-2 {
				t.Fatalf("peer got %d messages", len(msgs))
			}
		})
	}
}
