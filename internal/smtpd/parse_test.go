package smtpd

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/mail"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in, verb, args string
		ok             bool
	}{
		{"NOOP", "NOOP", "", true},
		{"noop", "NOOP", "", true},
		{"  mail FROM:<a>  \t", "MAIL", "FROM:<a>", true},
		{"MAIL \t FROM:<a> SIZE=1", "MAIL", "FROM:<a> SIZE=1", true},
		{"X2 y", "X2", "y", true},
		{"", "", "", false},
		{" ", "", "", false},
		{"2X", "", "", false},
		{"MAIL:", "", "", false},
		{"NOOP\n", "", "", false},
		{"NO\rOP", "", "", false},
		{"NOOP\x00", "", "", false},
	}
	for _, tc := range tests {
		v, a, ok := splitCommand(tc.in)
		if v != tc.verb || a != tc.args || ok != tc.ok {
			t.Errorf("splitCommand(%q) = %q %q %v, want %q %q %v", tc.in, v, a, ok, tc.verb, tc.args, tc.ok)
		}
	}
}

func TestAddresses(t *testing.T) {
	tests := []struct {
		path, unquoted, requoted string
	}{
		{"<>", "", "<>"},
		{"<a@b.example>", "a@b.example", "<a@b.example>"},
		{"<A.B+c@d>", "A.B+c@d", "<A.B+c@d>"},
		{`<"a b"@c>`, "a b@c", `<"a b"@c>`},
		{`<"ab"@c>`, "ab@c", "<ab@c>"},
		{`<"a\"b"@c>`, `a"b@c`, `<"a\"b"@c>`},
		{`<"a\\b"@c>`, `a\b@c`, `<"a\\b"@c>`},
		{"<@r1,@r2:a@b>", "a@b", "<a@b>"},
		{"<@[1.2.3.4]:a@b>", "a@b", "<a@b>"},
		{`<"a@b">`, `a@b"`, `<a@b">`}, // as amavis: the lazy split finds the first '@'
		{`<"a@b"x>`, `a@b"x`, `<a@b"x>`},
		{`<"a@b"@c>`, "a@b@c", `<"a@b"@c>`},
		{"<a@[192.0.2.1]>", "a@[192.0.2.1]", "<a@[192.0.2.1]>"},
		{"<.a@b>", ".a@b", `<".a"@b>`},
		{"<a..b@c>", "a..b@c", `<"a..b"@c>`},
		{"<postmaster>", "postmaster", "<postmaster>"},
		{"<üser@exämple>", "üser@exämple", "<üser@exämple>"},
		{"<a\xffb@c>", "a\xffb@c", "<\"a\xffb\"@c>"},
	}
	for _, tc := range tests {
		u := unquoteAddr(tc.path)
		if u != tc.unquoted {
			t.Errorf("unquoteAddr(%q) = %q, want %q", tc.path, u, tc.unquoted)
		}
		if q := quoteAddr(u); q != tc.requoted {
			t.Errorf("quoteAddr(%q) = %q, want %q", u, q, tc.requoted)
		}
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		args, path, params string
		ok                 bool
	}{
		{"FROM:<a@b>", "<a@b>", "", true},
		{"from:<a@b> SIZE=1  BODY=7BIT", "<a@b>", "SIZE=1  BODY=7BIT", true},
		{"FROM: <a@b>", "<a@b>", "", true},
		{`FROM:<"x y"@b> X`, `<"x y"@b>`, "X", true},
		{"FROM:<a@[1 2]>", "<a@[1 2]>", "", true},
		{"FROM:<a>b>", "<a>b>", "", true}, // '>' is a local-part char for amavis
		{"FROM:<a@b>c", "", "", false},
		{"FROM:<a@b", "", "", false},
		{"FROM:a@b", "", "", false},
		{"FROM:<a@b@c>", "<a@b@c>", "", true}, // '@' is a domain char for amavis
		{"FROM:<a\tb@c>", "", "", false},
		{"TO:<a@b>", "", "", false},
	}
	for _, tc := range tests {
		p, o, ok := parsePath(tc.args, true)
		if p != tc.path || o != tc.params || ok != tc.ok {
			t.Errorf("parsePath(%q) = %q %q %v, want %q %q %v", tc.args, p, o, ok, tc.path, tc.params, tc.ok)
		}
	}
}

func TestParseMailParams(t *testing.T) {
	p, e := parseMailParams("SIZE=12345 body=7bit RET=full ENVID=a+2Bb SMTPUTF8 AUTH=u+40x")
	want := mail.MailParams{Size: 12345, Body: "7BIT", Ret: "FULL", EnvID: "a+2Bb", SMTPUTF8: true, Auth: "u+40x"}
	if e != "" || p != want {
		t.Fatalf("got %+v %q", p, e)
	}
	if p, e := parseMailParams("SIZE=99999999999999999999"); e != "" || p.Size != 1<<63-1 {
		t.Errorf("huge SIZE: %+v %q", p, e)
	}
	if _, e := parseMailParams("FOO BODY"); e != "504 5.5.4 MAIL command parameter error: FOO=" {
		t.Errorf("first error wins: %q", e)
	}
}

func TestParseRcptParams(t *testing.T) {
	p, e := parseRcptParams("notify=Success,Delay ORCPT=rfc822;a+40b")
	if e != "" || !reflect.DeepEqual(p, mail.RcptParams{Notify: []string{"SUCCESS", "DELAY"}, ORcpt: "rfc822;a+40b"}) {
		t.Fatalf("got %+v %q", p, e)
	}
	if _, e := parseRcptParams("NOTIFY=,"); !strings.Contains(e, "illegal value: ,") {
		t.Errorf("got %q", e)
	}
}

func TestXForward(t *testing.T) {
	attrs := map[string]string{}
	if e := applyXForward(attrs, "name=mx.example ADDR=IPv6:2001:DB8:0:0::1 PORT=25"); e != "" {
		t.Fatal(e)
	}
	if e := applyXForward(attrs, "PROTO=ESMTP HELO=h+5Bx+5D IDENT=Q1 SOURCE=LOCAL NAME=[unavailable] LOGIN=x+2"); e != "" {
		t.Fatal(e)
	}
	// an error after valid attributes keeps them, as amavis
	if e := applyXForward(attrs, "PORT=99999 BAD=1"); e != "501 5.5.4 XFORWARD command parameter error: BAD=1" {
		t.Fatal(e)
	}
	ci := clientInfo(attrs)
	want := mail.ClientInfo{Addr: "2001:db8::1", Port: "", Proto: "ESMTP", Helo: "h[x]", Ident: "Q1", Source: "LOCAL", Login: "x+2"}
	if ci != want {
		t.Errorf("got %+v, want %+v", ci, want)
	}
	for _, bad := range []string{"ADDR", "=x", "A_B=1", "ADDR=a\x01b", "NAME=" + strings.Repeat("x", 256)} {
		if e := applyXForward(map[string]string{}, bad); e != "501 5.5.4 Syntax error in XFORWARD parameters" {
			t.Errorf("%q: %q", bad, e)
		}
	}
}

func TestNormalizeIP(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1": "192.0.2.1", "IPv6:::FFFF:192.0.2.1": "192.0.2.1", "ipv6:2001:DB8::1": "2001:db8::1",
		"2001:DB8:0:0:0:0:0:1": "2001:db8::1", "unknown": "unknown", "": "", "FE80::X": "fe80::x",
	} {
		if got := normalizeIP(in); got != want {
			t.Errorf("normalizeIP(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestXtext(t *testing.T) {
	for dec, enc := range map[string]string{"a+b=c d": "a+2Bb+3Dc+20d", "ü": "+C3+BC", "": ""} {
		if got := xtextEncode(dec); got != enc {
			t.Errorf("xtextEncode(%q) = %q", dec, got)
		}
		if got := xtextDecode(enc); got != dec {
			t.Errorf("xtextDecode(%q) = %q", enc, got)
		}
	}
	if got := xtextDecode("a+2b+zz+4"); got != "a++zz+4" {
		t.Errorf("lenient decode: %q", got)
	}
}

func TestAppendReply(t *testing.T) {
	room := maxReplyLine - len("250 2.0.0 ")
	tests := []struct {
		in   string
		want []string
	}{
		{"250 2.0.0 Ok", []string{"250 2.0.0 Ok"}},
		{"250 2.0.0", []string{"250 2.0.0"}},
		{"250", []string{"250 "}},
		{"250 [127.0.0.1]\nVRFY\nDSN", []string{"250-[127.0.0.1]", "250-VRFY", "250 DSN"}},
		{"214 2.0.0 See x\nhttp://y", []string{"214-2.0.0 See x", "214 2.0.0 http://y"}},
		{"250 2.0.0 " + strings.Repeat("a", room), []string{"250 2.0.0 " + strings.Repeat("a", room)}},
		{"250 2.0.0 " + strings.Repeat("a", room+1), []string{"250-2.0.0 " + strings.Repeat("a", room), "250 2.0.0 a"}},
		{"550 " + strings.Repeat("b", 1100), []string{"550-" + strings.Repeat("b", 506), "550-" + strings.Repeat("b", 506), "550 " + strings.Repeat("b", 88)}},
		{"250 2.0.00 x", []string{"250 2.0.00 x"}},
		{"451 4.5.0 a\r\nb\tc\x7f", []string{`451-4.5.0 a\r`, `451 4.5.0 b\tc\x7F`}},
		{"junk", []string{"451 4.5.0 Error in processing: bad reply"}},
	}
	for _, tc := range tests {
		got := strings.Split(strings.TrimSuffix(string(appendReply(nil, tc.in)), "\r\n"), "\r\n")
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("appendReply(%.40q):\n got %q\nwant %q", tc.in, got, tc.want)
		}
		for _, l := range got {
			if len(l) > maxReplyLine {
				t.Errorf("line of %d octets", len(l))
			}
		}
	}
}

func TestValidReply(t *testing.T) {
	for r, want := range map[mail.Reply]bool{
		{Code: 250, Enh: "2.0.0"}: true, {Code: 550}: true, {Code: 421, Enh: "4.3.2", Text: "x"}: true,
		{}: false, {Code: 199}: false, {Code: 354}: false, {Code: 600}: false,
		{Code: 250, Enh: "2.0"}: false, {Code: 250, Enh: "3.0.0"}: false, {Code: 250, Enh: "2.0.1234"}: false, {Code: 250, Enh: "2.0.0 "}: false,
	} {
		if got := validReply(r); got != want {
			t.Errorf("validReply(%+v) = %v", r, got)
		}
	}
}

func TestOptionsNormalized(t *testing.T) {
	var nilOpts *Options
	o := nilOpts.normalized()
	if o.Product != "mavis" || o.RecipientLimit != 1100 || o.IdleTimeout != DefaultIdleTimeout || o.ChildTimeout != DefaultChildTimeout ||
		o.MaxLineLength != 4096 || o.TempDir == "" || o.MessageSizeLimit != 0 {
		t.Errorf("defaults %+v", o)
	}
	o = (&Options{MessageSizeLimit: 10}).normalized()
	if o.MessageSizeLimit != 65536 {
		t.Errorf("64k minimum: %d", o.MessageSizeLimit)
	}
}
