package smtpd

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/mail"
)

type step struct {
	send string   // raw; "\r\n" is appended unless it already ends with "\n"
	want []string // replies expected, in order; each may be multi-line
}

func runScript(t *testing.T, c *client, steps []step) {
	t.Helper()
	for _, st := range steps {
		s := st.send
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\r\n"
		}
		if s != "" {
			c.send(s)
		}
		for _, w := range st.want {
			c.expect(w)
		}
	}
}

// TestReplies checks every command reply text against amavis's.
func TestReplies(t *testing.T) {
	mailOK := step{"MAIL FROM:<a@b.example>", []string{"250 2.1.0 Sender <a@b.example> OK"}}
	rcptOK := step{"RCPT TO:<c@d.example>", []string{"250 2.1.5 Recipient <c@d.example> OK"}}
	tests := []struct {
		name  string
		opts  *Options
		steps []step
	}{
		{"helo", nil, []step{{"HELO mta", []string{"250 [127.0.0.1]"}}}},
		{"helo without name", nil, []step{{"EHLO", []string{ehloReply}}}},
		{"lhlo keywords", nil, []step{{"LHLO mta", []string{ehloReply}}}},
		{"case insensitive", nil, []step{{"ehlo mta", []string{ehloReply}}, {"nOoP", []string{"250 2.0.0 Ok NOOP"}}}},
		{"leading blanks", nil, []step{{" \tNOOP", []string{"250 2.0.0 Ok NOOP"}}}},
		{"noop with args", nil, []step{{"NOOP hello", []string{"250 2.0.0 Ok NOOP"}}}},
		{"rset", nil, []step{{"RSET", []string{"250 2.0.0 Ok RSET"}}}},
		{"rset args", nil, []step{{"RSET now", []string{"501 5.5.4 Error: RSET does not accept arguments"}}}},
		{"rset trailing blanks", nil, []step{{"RSET  \t", []string{"250 2.0.0 Ok RSET"}}}},
		{"vrfy", nil, []step{{"VRFY postmaster", []string{"252 2.0.0 Argument not checked"}}}},
		{"vrfy no arg", nil, []step{{"VRFY", []string{"501 5.5.2 Syntax: VRFY address"}}}},
		{"help", nil, []step{{"HELP", []string{"214-2.0.0 See mavis home page at:\n214 2.0.0 " + DefaultHelpURL}}}},
		{"help url", &Options{HelpURL: "http://www.ijs.si/software/amavisd/", Product: "amavis"}, []step{{"HELP me", []string{"214-2.0.0 See amavis home page at:\n214 2.0.0 http://www.ijs.si/software/amavisd/"}}}},
		{"expn", nil, []step{{"EXPN list", []string{"502 5.5.1 Error: command EXPN not implemented"}}}},
		{"turn etrn send soml saml", nil, []step{
			{"TURN", []string{"502 5.5.1 Error: command TURN not implemented"}},
			{"etrn x", []string{"502 5.5.1 Error: command ETRN not implemented"}},
			{"SEND", []string{"502 5.5.1 Error: command SEND not implemented"}},
			{"SOML", []string{"502 5.5.1 Error: command SOML not implemented"}},
			{"SAML", []string{"502 5.5.1 Error: command SAML not implemented"}},
		}},
		{"unknown", nil, []step{{"FOO bar", []string{"500 5.5.2 Error: command FOO not recognized"}}}},
		{"auth not offered", nil, []step{{"AUTH PLAIN AGEAYg==", []string{"500 5.5.2 Error: command AUTH not recognized"}}}},
		{"bad syntax", nil, []step{
			{"", nil},
			{"\r\n", []string{"500 5.5.2 Error: bad syntax"}},
			{"123", []string{"500 5.5.2 Error: bad syntax"}},
			{"MAIL:FROM:<a>", []string{"500 5.5.2 Error: bad syntax"}},
			{"NO\x00OP", []string{"500 5.5.2 Error: bad syntax"}},
			{"NOOP\nNOOP\r\n", []string{"500 5.5.2 Error: bad syntax"}},
			{"NOOP\rNOOP\r\n", []string{"500 5.5.2 Error: bad syntax"}},
		}},
		{"starttls", nil, []step{
			{"STARTTLS", []string{"502 5.5.1 Error: command not available"}},
			{"STARTTLS x", []string{"501 5.5.4 Error: STARTTLS does not accept arguments"}},
		}},
		{"quit args", nil, []step{{"QUIT now", []string{"501 5.5.4 Error: QUIT does not accept arguments"}}}},
		{"line too long", &Options{MaxLineLength: 100}, []step{
			{"NOOP " + strings.Repeat("x", 200), []string{"500 5.5.2 Error: line too long"}},
			{"NOOP " + strings.Repeat("x", 95), []string{"250 2.0.0 Ok NOOP"}},
		}},
		{"size keyword", &Options{MessageSizeLimit: 10485760}, []step{{"EHLO x", []string{strings.Replace(ehloReply, "250-SIZE\n", "250-SIZE 10485760\n", 1)}}}},
		{"size keyword 64k min", &Options{MessageSizeLimit: 1000}, []step{{"EHLO x", []string{strings.Replace(ehloReply, "250-SIZE\n", "250-SIZE 65536\n", 1)}}}},
		{"discard keywords", &Options{DiscardEHLOKeywords: []string{"8bitmime", "Dsn", "VRFY"}}, []step{{"EHLO x",
			[]string{"250-[127.0.0.1]\n250-PIPELINING\n250-SIZE\n250-ENHANCEDSTATUSCODES\n250 XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE"}}}},
		{"discard all", &Options{DiscardEHLOKeywords: []string{"VRFY", "PIPELINING", "SIZE", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "XFORWARD"}}, []step{{"EHLO x", []string{"250 [127.0.0.1]"}}}},

		// MAIL
		{"mail ok", nil, []step{mailOK}},
		{"mail null sender", nil, []step{{"MAIL FROM:<>", []string{"250 2.1.0 Sender <> OK"}}}},
		{"mail blanks", nil, []step{{"mail from: \t<a@b>", []string{"250 2.1.0 Sender <a@b> OK"}}}},
		{"mail quoted", nil, []step{{`MAIL FROM:<"a b"@x>`, []string{`250 2.1.0 Sender <"a b"@x> OK`}}}},
		{"mail quoted backslash", nil, []step{{`MAIL FROM:<"a\"b"@x>`, []string{`250 2.1.0 Sender <"a\\"b"@x> OK`}}}},
		{"mail literal", nil, []step{{"MAIL FROM:<a@[192.0.2.1]>", []string{"250 2.1.0 Sender <a@[192.0.2.1]> OK"}}}},
		{"mail source route", nil, []step{{"MAIL FROM:<@r1,@r2:a@b>", []string{"250 2.1.0 Sender <@r1,@r2:a@b> OK"}}}},
		{"mail no brackets", nil, []step{{"MAIL FROM:a@b", []string{"501 5.5.2 Syntax: MAIL FROM:<address>"}}}},
		{"mail no colon", nil, []step{{"MAIL FROM <a@b>", []string{"501 5.5.2 Syntax: MAIL FROM:<address>"}}}},
		{"mail junk after", nil, []step{{"MAIL FROM:<a@b>x", []string{"501 5.5.2 Syntax: MAIL FROM:<address>"}}}},
		{"mail space in local", nil, []step{{"MAIL FROM:<a b@c>", []string{"501 5.5.2 Syntax: MAIL FROM:<address>"}}}},
		{"mail no args", nil, []step{{"MAIL", []string{"501 5.5.2 Syntax: MAIL FROM:<address>"}}}},
		{"mail nested", nil, []step{mailOK, {"MAIL FROM:<x@y>", []string{"503 5.5.1 Error: nested MAIL command"}}}},
		{"mail after rset", nil, []step{mailOK, {"RSET", []string{"250 2.0.0 Ok RSET"}}, mailOK}},
		{"mail params ok", nil, []step{{"MAIL FROM:<a@b> SIZE=100 BODY=8bitmime RET=hdrs ENVID=QQ+2Bx SMTPUTF8 AUTH=<>", []string{"250 2.1.0 Sender <a@b> OK"}}}},
		{"mail size no value", nil, []step{{"MAIL FROM:<a@b> SIZE", []string{"250 2.1.0 Sender <a@b> OK"}}}},
		{"mail size dup first wins", nil, []step{{"MAIL FROM:<a@b> SIZE=1 SIZE=2", []string{"250 2.1.0 Sender <a@b> OK"}}}},
		{"mail size bad", nil, []step{{"MAIL FROM:<a@b> SIZE=1k", []string{"501 5.5.4 Syntax error in MAIL parameter: SIZE"}}}},
		{"mail size 21 digits", nil, []step{{"MAIL FROM:<a@b> SIZE=123456789012345678901", []string{"501 5.5.4 Syntax error in MAIL parameter: SIZE"}}}},
		{"mail body bad", nil, []step{{"MAIL FROM:<a@b> BODY=BINARYMIME", []string{"501 5.5.4 Syntax error in MAIL parameter: BODY"}}}},
		{"mail body no value", nil, []step{{"MAIL FROM:<a@b> BODY", []string{"501 5.5.4 Syntax error in MAIL parameter, value is required: BODY"}}}},
		{"mail ret no value", nil, []step{{"MAIL FROM:<a@b> ret", []string{"501 5.5.4 Syntax error in MAIL parameter, value is required: RET"}}}},
		{"mail envid no value", nil, []step{{"MAIL FROM:<a@b> ENVID", []string{"501 5.5.4 Syntax error in MAIL parameter, value is required: ENVID"}}}},
		{"mail auth no value", nil, []step{{"MAIL FROM:<a@b> AUTH", []string{"501 5.5.4 Syntax error in MAIL parameter, value is required: AUTH"}}}},
		{"mail ret bad", nil, []step{{"MAIL FROM:<a@b> RET=all", []string{"501 5.5.4 Syntax error in MAIL parameter RET: ALL"}}}},
		{"mail ret dup", nil, []step{{"MAIL FROM:<a@b> RET=FULL RET=HDRS", []string{"501 5.5.4 Syntax error in MAIL parameter: RET"}}}},
		{"mail envid dup", nil, []step{{"MAIL FROM:<a@b> ENVID=a ENVID=b", []string{"501 5.5.4 Syntax error in MAIL parameter: ENVID"}}}},
		{"mail auth dup", nil, []step{{"MAIL FROM:<a@b> AUTH=<> AUTH=x", []string{"504 5.5.4 MAIL command duplicate param.: AUTH=x"}}}},
		{"mail smtputf8 value", nil, []step{{"MAIL FROM:<a@b> SMTPUTF8=yes", []string{"501 5.5.4 Syntax error in MAIL parameter: SMTPUTF8"}}}},
		{"mail unknown param", nil, []step{{"MAIL FROM:<a@b> XYZ=1", []string{"504 5.5.4 MAIL command parameter error: XYZ=1"}}}},
		{"mail unknown param no value", nil, []step{{"MAIL FROM:<a@b> requiretls", []string{"504 5.5.4 MAIL command parameter error: REQUIRETLS="}}}},
		{"mail param syntax", nil, []step{{"MAIL FROM:<a@b> =x", []string{"501 5.5.4 Syntax error in MAIL FROM parameters"}}}},
		{"mail param double equals", nil, []step{{"MAIL FROM:<a@b> SIZE=1=2", []string{"501 5.5.4 Syntax error in MAIL FROM parameters"}}}},

		// RCPT
		{"rcpt before mail", nil, []step{{"RCPT TO:<c@d>", []string{"503 5.5.1 Need MAIL command before RCPT"}}}},
		{"rcpt ok", nil, []step{mailOK, rcptOK}},
		{"rcpt postmaster", nil, []step{mailOK, {"RCPT TO:<Postmaster>", []string{"250 2.1.5 Recipient <Postmaster> OK"}}}},
		{"rcpt syntax", nil, []step{mailOK, {"RCPT TO:c@d", []string{"501 5.5.2 Syntax: RCPT TO:<address>"}}}},
		{"rcpt from", nil, []step{mailOK, {"RCPT FROM:<c@d>", []string{"501 5.5.2 Syntax: RCPT TO:<address>"}}}},
		{"rcpt dsn ok", nil, []step{mailOK, {"RCPT TO:<c@d> NOTIFY=success,FAILURE,delay ORCPT=rfc822;c+40d", []string{"250 2.1.5 Recipient <c@d> OK"}}}},
		{"rcpt notify never", nil, []step{mailOK, {"RCPT TO:<c@d> NOTIFY=NEVER", []string{"250 2.1.5 Recipient <c@d> OK"}}}},
		{"rcpt notify bad", nil, []step{mailOK, {"RCPT TO:<c@d> NOTIFY=SUCCESS,sometimes", []string{"501 5.5.4 Error in RCPT parameter NOTIFY, illegal value: SUCCESS,sometimes"}}}},
		{"rcpt notify trailing comma", nil, []step{mailOK, {"RCPT TO:<c@d> NOTIFY=SUCCESS,", []string{"501 5.5.4 Error in RCPT parameter NOTIFY, illegal value: SUCCESS,"}}}},
		{"rcpt notify combination", nil, []step{mailOK, {"RCPT TO:<c@d> NOTIFY=never,success", []string{"501 5.5.4 Error in RCPT parameter NOTIFY, illegal combination of values: never,success"}}}},
		{"rcpt notify no value", nil, []step{mailOK, {"RCPT TO:<c@d> NOTIFY", []string{"501 5.5.4 Syntax error in RCPT parameter, value is required: NOTIFY"}}}},
		{"rcpt orcpt no value", nil, []step{mailOK, {"RCPT TO:<c@d> ORCPT", []string{"501 5.5.4 Syntax error in RCPT parameter, value is required: ORCPT"}}}},
		{"rcpt notify dup", nil, []step{mailOK, {"RCPT TO:<c@d> NOTIFY=NEVER NOTIFY=NEVER", []string{"501 5.5.4 Syntax error in RCPT parameter NOTIFY"}}}},
		{"rcpt orcpt dup", nil, []step{mailOK, {"RCPT TO:<c@d> ORCPT=rfc822;a ORCPT=rfc822;b", []string{"501 5.5.4 Syntax error in RCPT parameter ORCPT"}}}},
		{"rcpt unknown param", nil, []step{mailOK, {"RCPT TO:<c@d> FOO=bar", []string{"555 5.5.4 RCPT command parameter unrecognized: FOO"}}}},
		{"rcpt param syntax", nil, []step{mailOK, {"RCPT TO:<c@d> -X", []string{"501 5.5.4 Syntax error in RCPT parameters"}}}},
		{"rcpt limit", &Options{RecipientLimit: 2}, []step{mailOK, rcptOK, rcptOK,
			{"RCPT TO:<e@f>", []string{"452 4.5.3 Too many recipients"}}}},
		{"rcpt limit counts failures", &Options{RecipientLimit: 2}, []step{mailOK, {"RCPT TO:x", []string{"501 5.5.2 Syntax: RCPT TO:<address>"}}, rcptOK,
			{"RCPT TO:<e@f>", []string{"452 4.5.3 Too many recipients"}}}},
		{"declared size over limit", &Options{MessageSizeLimit: 100000}, []step{
			{"MAIL FROM:<a@b> SIZE=100001", []string{"250 2.1.0 Sender <a@b> OK"}},
			{"RCPT TO:<c@d>", []string{"552 5.3.4 Declared message size (100001 B) exceeds size limit for recipient <c@d>"}},
			{"DATA", []string{"554 5.1.1 Error (DATA): no valid recipients"}}}},
		{"declared size at limit", &Options{MessageSizeLimit: 100000}, []step{
			{"MAIL FROM:<a@b> SIZE=100000", []string{"250 2.1.0 Sender <a@b> OK"}}, rcptOK}},

		// DATA
		{"data args", nil, []step{{"DATA now", []string{"501 5.5.4 Error: DATA does not accept arguments"}}}},
		{"data before mail", nil, []step{{"DATA", []string{"503 5.5.1 Need MAIL command before DATA"}}}},
		{"data before rcpt", nil, []step{mailOK, {"DATA", []string{"503 5.5.1 Need RCPT command before DATA"}}}},
		{"data no valid rcpt", nil, []step{mailOK, {"RCPT TO:<c@d> FOO=1", []string{"555 5.5.4 RCPT command parameter unrecognized: FOO"}},
			{"DATA", []string{"554 5.1.1 Error (DATA): no valid recipients"}}}},
		{"data no valid rcpt lmtp", nil, []step{{"LHLO x", []string{ehloReply}}, mailOK, {"RCPT TO:<c@d> FOO=1", []string{"555 5.5.4 RCPT command parameter unrecognized: FOO"}},
			{"DATA", []string{"503 5.1.1 Error (DATA): no valid recipients"}}}},
		{"helo resets transaction", nil, []step{mailOK, {"HELO x", []string{"250 [127.0.0.1]"}}, {"RCPT TO:<c@d>", []string{"503 5.5.1 Need MAIL command before RCPT"}}}},

		// XFORWARD
		{"xforward ok", nil, []step{{"XFORWARD NAME=mx.example ADDR=192.0.2.1 PORT=25 PROTO=ESMTP HELO=[UNAVAILABLE] IDENT=4XyZ SOURCE=REMOTE LOGIN=u", []string{"250 2.5.0 Ok XFORWARD"}}}},
		{"xforward empty", nil, []step{{"XFORWARD", []string{"250 2.5.0 Ok XFORWARD"}}}},
		{"xforward in transaction", nil, []step{mailOK, {"XFORWARD ADDR=192.0.2.1", []string{"503 5.5.1 Error: XFORWARD not allowed within transaction"}}}},
		{"xforward unknown name", nil, []step{{"XFORWARD ADDR=192.0.2.1 COLOR=red", []string{"501 5.5.4 XFORWARD command parameter error: COLOR=red"}}}},
		{"xforward syntax", nil, []step{{"XFORWARD ADDR", []string{"501 5.5.4 Syntax error in XFORWARD parameters"}}}},
		{"xforward too long", nil, []step{{"XFORWARD NAME=" + strings.Repeat("a", 256), []string{"501 5.5.4 Syntax error in XFORWARD parameters"}}}},
		{"xforward 255", nil, []step{{"XFORWARD NAME=" + strings.Repeat("a", 255), []string{"250 2.5.0 Ok XFORWARD"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &recorder{}
			ts := startServer(t, h, tc.opts, 2, false)
			c := dial(t, ts.addr)
			product := "mavis"
			if tc.opts != nil && tc.opts.Product != "" {
				product = tc.opts.Product
			}
			c.expect("220 [127.0.0.1] ESMTP " + product + " service ready")
			runScript(t, c, tc.steps)
			c.cmd("QUIT", "221 2.0.0 [127.0.0.1] "+product+" closing transmission channel")
			c.expectClosed()
		})
	}
}

func TestBanners(t *testing.T) {
	opts := &Options{
		Product:        "amavis",
		MyHostname:     "mx.example",
		Version:        "1.2",
		GreetingBanner: "${helo-name} ${protocol} ${product} $myhostname ${VERSION} ${nosuch}x ready",
		QuitBanner:     "${myhostname} bye",
	}
	h := &recorder{}
	for _, lmtp := range []bool{false, true} {
		ts := startServer(t, h, opts, 1, lmtp)
		c := dial(t, ts.addr)
		proto := "ESMTP"
		if lmtp {
			proto = "LMTP"
		}
		c.expect("220 [127.0.0.1] " + proto + " amavis mx.example 1.2 x ready")
		c.cmd("QUIT", "221 2.0.0 mx.example bye")
	}
	// amavis defaults, as in the reference samples
	ts := startServer(t, h, &Options{Product: "amavis"}, 1, false)
	c := dial(t, ts.addr)
	c.expect("220 [127.0.0.1] ESMTP amavis service ready")
	c.cmd("QUIT", "221 2.0.0 [127.0.0.1] amavis closing transmission channel")
}

// sendMessage runs MAIL, RCPTs, DATA and the body (already dot-stuffed,
// without the final dot) and returns the reply lines after the dot.
func sendMessage(c *client, from string, rcpts []string, body string) []string {
	c.t.Helper()
	c.cmd("MAIL FROM:<"+from+">", "250 2.1.0 Sender <"+from+"> OK")
	for _, r := range rcpts {
		c.cmd("RCPT TO:<"+r+">", "250 2.1.5 Recipient <"+r+"> OK")
	}
	c.cmd("DATA", "354 End data with <CR><LF>.<CR><LF>")
	c.send(body + ".\r\n")
	got, err := c.reply()
	if err != nil {
		c.t.Fatalf("reply after dot: %v", err)
	}
	return got
}

const testBody = "From: a@b.example\r\nSubject: hello\r\nMessage-ID: <1@b.example>\r\n\r\nbody line\r\n"

func TestMessage(t *testing.T) {
	h := &recorder{}
	ts := startServer(t, h, nil, 2, false)
	c := dial(t, ts.addr)
	c.greetEHLO()
	c.cmd("XFORWARD NAME=client.example ADDR=IPv6:2001:DB8::1 PORT=4711", "250 2.5.0 Ok XFORWARD")
	c.cmd("XFORWARD PROTO=ESMTP HELO=helo+2Bname IDENT=4XyZ SOURCE=REMOTE", "250 2.5.0 Ok XFORWARD")
	c.cmd("MAIL FROM:<\"x y\"@b.example> SIZE=81 BODY=8BITMIME RET=HDRS ENVID=id+2B1", "250 2.1.0 Sender <\"x y\"@b.example> OK")
	c.cmd("RCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;C+40d.example", "250 2.1.5 Recipient <c@d.example> OK")
	c.cmd("RCPT TO:<\"e\"@f.example>", "250 2.1.5 Recipient <\"e\"@f.example> OK")
	c.cmd("DATA", "354 End data with <CR><LF>.<CR><LF>")
	c.send(testBody + ".\r\n")
	c.expect("250 2.0.0 Ok, id=" + fmt.Sprintf("%05d-01", pid()))
	// second message in the session: XFORWARD was consumed, log id -2
	got := sendMessage(c, "", []string{"g@h"}, "Subject: second\r\n\r\n")
	if want := fmt.Sprintf("250 2.0.0 Ok, id=%05d-01-2", pid()); got[0] != want {
		t.Fatalf("second reply %q, want %q", got[0], want)
	}
	c.cmd("QUIT", "221 2.0.0 [127.0.0.1] mavis closing transmission channel")

	msgs := h.messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	m := msgs[0].msg
	if string(msgs[0].body) != testBody {
		t.Errorf("body %q", msgs[0].body)
	}
	if m.Size != int64(len(testBody)) {
		t.Errorf("Size %d, want %d", m.Size, len(testBody))
	}
	if m.LogID != fmt.Sprintf("%05d-01", pid()) || len(m.MailID) != 12 || m.SecretID == "" || mail.MailIDFromSecret(m.SecretID) != m.MailID {
		t.Errorf("ids: %q %q %q", m.LogID, m.MailID, m.SecretID)
	}
	wantEnv := mail.Envelope{
		MailFrom: "x y@b.example", MailFromRaw: `"x y"@b.example`,
		Params: mail.MailParams{Size: 81, Body: "8BITMIME", Ret: "HDRS", EnvID: "id+2B1"},
	}
	if m.Envelope.MailFrom != wantEnv.MailFrom || m.Envelope.MailFromRaw != wantEnv.MailFromRaw || m.Envelope.Params != wantEnv.Params {
		t.Errorf("envelope %+v", m.Envelope)
	}
	if len(m.Envelope.Rcpts) != 2 {
		t.Fatalf("rcpts %+v", m.Envelope.Rcpts)
	}
	r0, r1 := m.Envelope.Rcpts[0], m.Envelope.Rcpts[1]
	if r0.Addr != "c@d.example" || r0.Raw != "c@d.example" || strings.Join(r0.Params.Notify, ",") != "SUCCESS,FAILURE" || r0.Params.ORcpt != "rfc822;C+40d.example" {
		t.Errorf("rcpt 0 %+v", r0)
	}
	// re-quoted address: ORCPT synthesized from the client's form
	if r1.Addr != "e@f.example" || r1.Raw != `"e"@f.example` || r1.Params.ORcpt != "rfc822;"+`"e"@f.example` || r1.Params.Notify != nil {
		t.Errorf("rcpt 1 %+v", r1)
	}
	wantClient := mail.ClientInfo{Name: "client.example", Addr: "2001:db8::1", Port: "4711", Proto: "ESMTP", Helo: "helo+name", Ident: "4XyZ", Source: "REMOTE"}
	if m.Client != wantClient {
		t.Errorf("client %+v, want %+v", m.Client, wantClient)
	}
	if m.Conn.RemoteIP != "127.0.0.1" || m.Conn.RemotePort == "" || m.Conn.LocalIP != "127.0.0.1" ||
		m.Conn.LocalPort != ts.addr[strings.LastIndexByte(ts.addr, ':')+1:] || m.Conn.Helo != "mta.example" ||
		m.Conn.LMTP || m.Conn.Protocol != "ESMTP" || m.Conn.UnixSocket != "" {
		t.Errorf("conn %+v", m.Conn)
	}
	if m.Header == nil || m.Header.Get("Subject") != "hello" || m.Header.Get("message-id") != "<1@b.example>" {
		t.Errorf("header %+v", m.Header)
	}
	if m.Received.IsZero() || m.Truncated {
		t.Errorf("received %v truncated %v", m.Received, m.Truncated)
	}
	m2 := msgs[1].msg
	if !m2.Client.IsZero() || m2.Envelope.MailFrom != "" || m2.Envelope.MailFromRaw != "" || m2.LogID != fmt.Sprintf("%05d-01-2", pid()) {
		t.Errorf("second message: client %+v env %+v id %s", m2.Client, m2.Envelope, m2.LogID)
	}
}

func TestProtocolNames(t *testing.T) {
	tests := []struct {
		hello, mailParams, want string
		lmtp                    bool
	}{
		{"HELO x", "", "SMTP", false},
		{"HELO x", " SMTPUTF8", "SMTP", false},
		{"EHLO x", "", "ESMTP", false},
		{"EHLO x", " SMTPUTF8", "UTF8SMTP", false},
		{"LHLO x", "", "LMTP", false},
		{"LHLO x", " SMTPUTF8", "UTF8LMTP", false},
		{"", "", "LMTP", true},
		{"EHLO x", "", "ESMTP", true},
	}
	for _, tc := range tests {
		t.Run(tc.hello+tc.mailParams, func(t *testing.T) {
			h := &recorder{}
			ts := startServer(t, h, nil, 1, tc.lmtp)
			c := dial(t, ts.addr)
			if _, err := c.reply(); err != nil {
				t.Fatal(err)
			}
			if tc.hello != "" {
				c.send(tc.hello + "\r\n")
				c.reply()
			}
			c.cmd("MAIL FROM:<a@b>"+tc.mailParams, "250 2.1.0 Sender <a@b> OK")
			c.cmd("RCPT TO:<c@d>", "250 2.1.5 Recipient <c@d> OK")
			c.cmd("DATA", "354 End data with <CR><LF>.<CR><LF>")
			c.send("\r\n.\r\n")
			c.reply()
			msgs := h.messages()
			if len(msgs) != 1 || msgs[0].msg.Conn.Protocol != tc.want {
				t.Fatalf("protocol %q, want %q", msgs[0].msg.Conn.Protocol, tc.want)
			}
			if lm := tc.want == "LMTP" || tc.want == "UTF8LMTP"; msgs[0].msg.Conn.LMTP != lm {
				t.Errorf("LMTP flag %v", msgs[0].msg.Conn.LMTP)
			}
		})
	}
}
