package deliver

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/mail"
)

func TestParseMethod(t *testing.T) {
	tests := []struct {
		in              string
		proto, net, adr string
		mta             string
		wantErr         string
	}{
		{in: "smtp:[127.0.0.1]:10025", proto: "smtp", net: "tcp", adr: "127.0.0.1:10025", mta: "smtp:[127.0.0.1]:10025"},
		{in: "smtp:127.0.0.1:10025", proto: "smtp", net: "tcp", adr: "127.0.0.1:10025", mta: "smtp:[127.0.0.1]:10025"},
		{in: "SMTP:[127.0.0.1]:25", proto: "smtp", net: "tcp", adr: "127.0.0.1:25", mta: "smtp:[127.0.0.1]:25"},
		{in: "lmtp:[::1]:24", proto: "lmtp", net: "tcp", adr: "[::1]:24", mta: "lmtp:[::1]:24"},
		{in: "smtp:[mx.example.org]:587", proto: "smtp", net: "tcp", adr: "mx.example.org:587", mta: "smtp:[mx.example.org]:587"},
		{in: " lmtp:/var/run/x.sock ", proto: "lmtp", net: "unix", adr: "/var/run/x.sock", mta: "lmtp:/var/run/x.sock"},
		{in: "", wantErr: "empty"},
		{in: "127.0.0.1:10025", wantErr: "not supported"},
		{in: "local:", wantErr: "not supported"},
		{in: "bsmtp:/var/x", wantErr: "not supported"},
		{in: "smtp", wantErr: "missing protocol"},
		{in: "smtp:[127.0.0.1]", wantErr: "missing :port"},
		{in: "smtp:127.0.0.1", wantErr: "missing :port"},
		{in: "smtp:[127.0.0.1:25", wantErr: "missing ']'"},
		{in: "smtp:::1:25", wantErr: "too many ':'"},
		{in: "smtp:[127.0.0.1]:0", wantErr: "bad port"},
		{in: "smtp:[127.0.0.1]:65536", wantErr: "bad port"},
		{in: "smtp:[127.0.0.1]:x", wantErr: "bad port"},
		{in: "smtp:[]:25", wantErr: "empty host"},
		{in: "smtp:*:*", wantErr: "wildcards"},
		{in: "smtp:[fe80::zz]:25", wantErr: "bad IPv6"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			m, err := ParseMethod(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseMethod(%q) = %+v, %v; want error containing %q", tc.in, m, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMethod(%q): %v", tc.in, err)
			}
			if m.Proto != tc.proto || m.Network != tc.net || m.Address != tc.adr || m.MTAID() != tc.mta {
				t.Errorf("ParseMethod(%q) = %+v (mta %q); want %s %s %s %s", tc.in, m, m.MTAID(), tc.proto, tc.net, tc.adr, tc.mta)
			}
			if m.Spec != strings.TrimSpace(tc.in) {
				t.Errorf("Spec = %q", m.Spec)
			}
		})
	}
}

func TestReadReply(t *testing.T) {
	tests := []struct {
		in      string
		code    int
		enh     string
		text    string
		wantErr bool
	}{
		{in: "250 2.0.0 Ok: queued as 4XyZ\r\n", code: 250, enh: "2.0.0", text: "Ok: queued as 4XyZ"},
		{in: "250 Ok\r\n", code: 250, text: "Ok"},
		{in: "250\r\n", code: 250},
		{in: "250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n", code: 250, text: "mx.example PIPELINING 8BITMIME"},
		{in: "550-5.1.1 first\r\n550 5.1.1 second\r\n", code: 550, enh: "5.1.1", text: "first second"},
		{in: "451 4.3.0Error\n", code: 451, text: "4.3.0Error"}, // not an enhanced code
		{in: "220 smtp-sink ESMTP\n", code: 220, text: "smtp-sink ESMTP"},
		{in: "25 short\r\n", wantErr: true},
		{in: "abc def\r\n", wantErr: true},
		{in: "250x\r\n", wantErr: true},
		{in: "250-a\r\n251 b\r\n", wantErr: true},
		{in: "250-unterminated", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		r, err := readReply(bufio.NewReader(strings.NewReader(tc.in)))
		if tc.wantErr {
			if err == nil {
				t.Errorf("readReply(%q) = %+v, want error", tc.in, r)
			}
			continue
		}
		if err != nil {
			t.Errorf("readReply(%q): %v", tc.in, err)
			continue
		}
		if r.code != tc.code || r.enh != tc.enh || r.text() != tc.text {
			t.Errorf("readReply(%q) = %d %q %q; want %d %q %q", tc.in, r.code, r.enh, r.text(), tc.code, tc.enh, tc.text)
		}
	}
}

func TestReadReplyLimits(t *testing.T) {
	long := "250 " + strings.Repeat("x", 100000) + "\r\n250 next\r\n"
	br := bufio.NewReaderSize(strings.NewReader(long), 4096)
	r, err := readReply(br)
	if err != nil || len(r.text()) > maxReplyLineLen {
		t.Fatalf("long line: len %d, %v", len(r.text()), err)
	}
	r, err = readReply(br)
	if err != nil || r.text() != "next" {
		t.Fatalf("after long line: %+v %v (the rest of the long line must be consumed)", r, err)
	}
	many := strings.Repeat("250-x\r\n", maxReplyLines+5) + "250 end\r\n"
	if _, err := readReply(bufio.NewReader(strings.NewReader(many))); !errors.Is(err, errBadReply) {
		t.Fatalf("runaway reply: %v", err)
	}
}

func TestEnhance(t *testing.T) {
	const mta = "smtp:[127.0.0.1]:10025"
	rp := func(s string) *reply {
		r, err := readReply(bufio.NewReader(strings.NewReader(s + "\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		return &r
	}
	tests := []struct {
		r    *reply
		dflt string
		cmd  string
		want string
	}{
		{rp("250 2.0.0 Ok: queued as 4XyZ"), ".6.0", "data-dot", "250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 4XyZ"},
		{rp("250 Ok: queued as 4XyZ"), ".6.0", "data-dot", "250 2.6.0 from MTA(smtp:[127.0.0.1]:10025): 250 Ok: queued as 4XyZ"},
		{rp("550 User unknown"), ".1.0", "RCPT TO", "550 5.1.0 from MTA(smtp:[127.0.0.1]:10025): 550 User unknown"},
		{rp("452 4.5.3 Too many recipients"), ".5.3", "RCPT TO", "452 4.5.3 from MTA(smtp:[127.0.0.1]:10025): 452 4.5.3 Too many recipients"},
		{rp("354 go ahead"), ".5.0", "DATA", "451 4.5.0 from MTA(smtp:[127.0.0.1]:10025): Bad resp. to DATA: 354 go ahead"},
		{nil, ".6.0", "data-dot", "451 4.5.0 from MTA(smtp:[127.0.0.1]:10025): No resp. to data-dot"},
	}
	for _, tc := range tests {
		if got := enhance(tc.r, mta, tc.dflt, tc.cmd).String(); got != tc.want {
			t.Errorf("enhance = %q\n          want %q", got, tc.want)
		}
	}
}

func TestQueuedAs(t *testing.T) {
	for in, want := range map[string]string{
		"250 2.0.0 Ok: queued as 4XyZ":          "4XyZ",
		"250 2.0.0 Ok: queued as 4XyZ.":         "",
		"250 2.0.0 OK: queued":                  "",
		"250 2.0.0 <a@b> Ok: queued as 000002":  "000002",
		"250 2.6.0 queued as ABC123 (bla)":      "",
		"250 2.0.0 Ok: queued as 3Zg1Xb6Hm8z1w": "3Zg1Xb6Hm8z1w",
	} {
		r, _ := readReply(bufio.NewReader(strings.NewReader(in + "\r\n")))
		if got := queuedAs(r); got != want {
			t.Errorf("queuedAs(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDataWriter(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ".\r\n"},
		{"a", "a\r\n.\r\n"},
		{"a\r\nb\r\n", "a\r\nb\r\n.\r\n"},
		{"a\nb\n", "a\r\nb\r\n.\r\n"},
		{".a\r\n.\r\n..\r\n", "..a\r\n..\r\n...\r\n.\r\n"},
		{"x\r\n.", "x\r\n..\r\n.\r\n"},
		{"bare\rcr\r\n", "barecr\r\n.\r\n"},
		{"a\r\r\nb", "a\r\nb\r\n.\r\n"},
		{"\n\r.x", "\r\n..x\r\n.\r\n"},
		{"nul\x00here\n", "nul\xc0\x80here\r\n.\r\n"},
		{"a.b\n", "a.b\r\n.\r\n"},
	}
	for _, tc := range tests {
		for _, split := range []int{1, 2, 3, 1000} { // chunk boundaries must not matter
			var out bytes.Buffer
			bw := bufio.NewWriter(&out)
			dw := newDataWriter(bw)
			in := []byte(tc.in)
			for len(in) > 0 {
				n := min(split, len(in))
				if _, err := dw.Write(in[:n]); err != nil {
					t.Fatal(err)
				}
				in = in[n:]
			}
			if err := dw.end(); err != nil {
				t.Fatal(err)
			}
			_ = bw.Flush()
			if out.String() != tc.want {
				t.Errorf("data(%q, split %d) = %q, want %q", tc.in, split, out.String(), tc.want)
			}
		}
	}
}

func TestSMTPPath(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "", want: "<>"},
		{in: "user@example.com", want: "<user@example.com>"},
		{in: "first.last+tag@example.com", want: "<first.last+tag@example.com>"},
		{in: "john doe@example.com", want: `<"john doe"@example.com>`},
		{in: `a"b@example.com`, want: `<"a\"b"@example.com>`},
		{in: ".dot@example.com", want: `<".dot"@example.com>`},
		{in: "postmaster", want: "<postmaster>"},
		{in: "用户@例子.测试", want: "<用户@例子.测试>"},
		{in: "u@[192.0.2.1]", want: "<u@[192.0.2.1]>"},
		{in: "u@[IPv6:2001:db8::1]", want: "<u@[IPv6:2001:db8::1]>"},
		{in: "u@exa mple.com", bad: true},
		{in: "u@example.com>\r\nRCPT TO:<x@y", bad: true},
		{in: "u\n@example.com", bad: true},
		{in: "u@", bad: true},
		{in: "u@a>b", bad: true},
	}
	for _, tc := range tests {
		got, err := smtpPath(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("smtpPath(%q) = %q, want error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("smtpPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestIDNToASCII(t *testing.T) {
	for in, want := range map[string]string{
		"user@bücher.example": "user@xn--bcher-kva.example",
		"user@example.com":    "user@example.com",
		"müller@bücher.de":    "müller@bücher.de", // non-ASCII local part: needs SMTPUTF8
		"nodomain":            "nodomain",
	} {
		if got, _ := idnToASCII(in); got != want {
			t.Errorf("idnToASCII(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestXforwardLines(t *testing.T) {
	all := "NAME ADDR PORT PROTO HELO IDENT SOURCE"
	tests := []struct {
		name    string
		ci      mail.ClientInfo
		offered string
		want    []string
	}{
		{"no addr, nothing", mail.ClientInfo{Name: "x"}, all, nil},
		{"basic", mail.ClientInfo{Addr: "192.0.2.1", Name: "client.example", Port: "40000", Proto: "ESMTP", Helo: "helo.example", Ident: "4XyZ", Source: "REMOTE"}, all,
			[]string{"XFORWARD ADDR=192.0.2.1 NAME=client.example PORT=40000 PROTO=ESMTP HELO=helo.example SOURCE=REMOTE IDENT=4XyZ"}},
		{"only offered", mail.ClientInfo{Addr: "192.0.2.1", Name: "client.example", Port: "40000", Ident: "Q"}, "NAME ADDR",
			[]string{"XFORWARD ADDR=192.0.2.1 NAME=client.example"}},
		{"ipv6", mail.ClientInfo{Addr: "2001:db8::1"}, all, []string{"XFORWARD ADDR=IPv6:2001:db8::1"}},
		{"neutered and xtext", mail.ClientInfo{Addr: "192.0.2.1", Helo: "a<b>c d+e=f(g)\"h\\i;j@k\x01é"}, all,
			[]string{"XFORWARD ADDR=192.0.2.1 HELO=a?b?c?d+2Be+3Df?g??h?i?j?k???"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := xforwardLines(tc.ci, tc.offered)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	// long values: each cut to 255 octets of xtext, lines split at 512
	ci := mail.ClientInfo{Addr: "192.0.2.1", Name: strings.Repeat("n", 300), Helo: strings.Repeat("+", 200), Ident: strings.Repeat("i", 300)}
	lines := xforwardLines(ci, all)
	if len(lines) < 2 {
		t.Fatalf("long values not split: %q", lines)
	}
	var attrs []string
	for _, l := range lines {
		if len(l)+2 > maxXforwardLine {
			t.Errorf("line of %d octets: %q", len(l)+2, l)
		}
		attrs = append(attrs, strings.Fields(strings.TrimPrefix(l, "XFORWARD "))...)
	}
	for _, a := range attrs {
		_, v, _ := strings.Cut(a, "=")
		if len(v) > 255 {
			t.Errorf("attribute longer than 255: %d", len(v))
		}
		if strings.HasSuffix(v, "+") || (len(v) >= 2 && v[len(v)-2] == '+') {
			t.Errorf("broken xtext escape at the end of %q", v[len(v)-5:])
		}
	}
	if len(attrs) != 4 {
		t.Errorf("attributes: %d, want 4 (%q)", len(attrs), attrs)
	}
}

func TestSessionErrorReply(t *testing.T) {
	e := &SessionError{Section: "fwd-connect", Msg: "All attempts (1) failed connecting to smtp:[127.0.0.1]:10025"}
	want := "451 4.5.0 From MTA() during fwd-connect (All attempts (1) failed connecting to smtp:[127.0.0.1]:10025): id=03694-01"
	if got := e.Reply("03694-01").String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	e = &SessionError{Section: "fwd-rcpt-pip", MTA: "smtp:[127.0.0.1]:10025", Timeout: true}
	want = "450 4.4.2 Timed out during fwd-rcpt-pip, MTA(smtp:[127.0.0.1]:10025), id=1-2"
	if got := e.Reply("1-2").String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// errReader returns data, then err.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

var _ io.Reader = (*errReader)(nil)

func BenchmarkDataWriter(b *testing.B) {
	line := "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\r\n"
	body := []byte(strings.Repeat(line, (1<<20)/len(line)))
	bw := bufio.NewWriterSize(io.Discard, 32*1024)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		dw := newDataWriter(bw)
		_, _ = dw.Write(body)
		_ = dw.end()
	}
}
