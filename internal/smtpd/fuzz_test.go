package smtpd

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mavis-filter/mavis/internal/mail"
)

// checkWire verifies that a reply's wire form is well formed: CRLF lines of
// at most 510 octets, all with the same code, "-" on all but the last.
func checkWire(t *testing.T, resp string) {
	t.Helper()
	w := string(appendReply(nil, resp))
	if !strings.HasSuffix(w, "\r\n") {
		t.Fatalf("no CRLF: %q", w)
	}
	lines := strings.Split(strings.TrimSuffix(w, "\r\n"), "\r\n")
	for i, l := range lines {
		if len(l) > maxReplyLine || len(l) < 4 || strings.ContainsAny(l, "\r\n\x00") {
			t.Fatalf("bad reply line %q", l)
		}
		sep := byte(' ')
		if i < len(lines)-1 {
			sep = '-'
		}
		if l[:3] != lines[0][:3] || l[3] != sep {
			t.Fatalf("bad continuation %q in %q", l, w)
		}
	}
}

func FuzzCommand(f *testing.F) {
	for _, s := range []string{
		"MAIL FROM:<a@b> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=x+2By SMTPUTF8 AUTH=<>",
		"RCPT TO:<c@d> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c+40d",
		`MAIL FROM:<"a \"b"@[1.2.3.4]>`,
		"RCPT TO:<@r1,@r2:a@b>",
		"XFORWARD NAME=mx ADDR=IPv6:2001:db8::1 PORT=25 HELO=[UNAVAILABLE] IDENT=Q+41",
		"EHLO mta", "QUIT", "rcpt to:<a> notify=never,success", "MAIL FROM:<a>b> SIZE=1=2",
		"RCPT TO:<\xff@\xfe> ORCPT=utf-8;\xc3\xbc", "", " ", "\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		verb, args, ok := splitCommand(line)
		if !ok {
			return
		}
		if verb == "" || verb != strings.ToUpper(verb) || strings.ContainsAny(args, "\r\n") {
			t.Fatalf("splitCommand(%q) = %q %q", line, verb, args)
		}
		checkWire(t, "500 5.5.2 Error: command "+verb+" not recognized")
		for _, from := range []bool{true, false} {
			path, params, ok := parsePath(args, from)
			if !ok {
				continue
			}
			if len(path) < 2 || path[0] != '<' || path[len(path)-1] != '>' {
				t.Fatalf("path %q", path)
			}
			u := unquoteAddr(path)
			q := quoteAddr(u)
			checkWire(t, "250 2.1.0 Sender "+path+" OK")
			checkWire(t, "250 2.1.5 Recipient "+q+" OK")
			// (unquote∘quote is not the identity for odd paths such as
			// <0@@>, in amavis neither; only the form is checked)
			if len(q) < 2 || q[0] != '<' || q[len(q)-1] != '>' {
				t.Fatalf("quoteAddr(%q) = %q", u, q)
			}
			if from {
				if _, e := parseMailParams(params); e != "" {
					checkWire(t, e)
				}
			} else if _, e := parseRcptParams(params); e != "" {
				checkWire(t, e)
			}
		}
		attrs := map[string]string{}
		if e := applyXForward(attrs, args); e != "" {
			checkWire(t, e)
		}
		_ = clientInfo(attrs)
		xtextDecode(args)
		if d := xtextDecode(xtextEncode(args)); d != args {
			t.Fatalf("xtext round trip %q -> %q", args, d)
		}
	})
}

func FuzzData(f *testing.F) {
	for _, s := range []string{
		".\r\n", "a\r\n.\r\n", "..a\r\n.\r\nQUIT\r\n", "a\n.\nb\r\n.\r\n", "a\r\n.\rb\r\n.\r\n",
		"\r\r\n\n\r.\r\n.\n.\r\n", "x\r\n.",
		"l1\r\nl2\r\n\r\nl4\r\n..l5\r\nl6\rx\r\nl7\nl8\r\n.\r\nQUIT\r\n", "a\r\nb\r\n.\r\r\n.\r\n",
	} {
		f.Add([]byte(s), uint8(1))
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		whole, n1, done1, d1 := decodeAll(in, len(in)+1, 0)
		parts, n2, done2, _ := decodeAll(in, int(chunk)%16+1, 0)
		if !bytes.Equal(whole, parts) || n1 != n2 || done1 != done2 {
			t.Fatalf("chunking changes the result: %q/%d/%v vs %q/%d/%v", whole, n1, done1, parts, n2, done2)
		}
		slow, n3, done3, d3slow := decodeAllMode(in, len(in)+1, 0, true)
		if !bytes.Equal(whole, slow) || n1 != n3 || done1 != done3 || d1.size != d3slow.size {
			t.Fatalf("the plain-lines fast path changes the result: %q/%d/%v vs %q/%d/%v", whole, n1, done1, slow, n3, done3)
		}
		if d1.size != int64(len(whole)) {
			t.Fatalf("size %d for %d stored bytes", d1.size, len(whole))
		}
		for i, c := range whole {
			if c == '\r' && (i+1 >= len(whole) || whole[i+1] != '\n') {
				t.Fatalf("bare CR stored at %d: %q", i, whole)
			}
			if c == '\n' && (i == 0 || whole[i-1] != '\r') {
				t.Fatalf("bare LF stored at %d: %q", i, whole)
			}
		}
		if len(whole) > 2*len(in) {
			t.Fatalf("stored %d bytes from %d", len(whole), len(in))
		}
		if done1 {
			end := in[:n1]
			if !(bytes.HasSuffix(end, []byte("\r\n.\r\n")) || (n1 == 3 && bytes.Equal(end, []byte(".\r\n")))) {
				t.Fatalf("ended at %q", end)
			}
			// the message as stored, dot-stuffed again, must not contain an
			// end marker: nothing is smuggled past the next hop
			var stuffed bytes.Buffer
			for _, l := range bytes.SplitAfter(whole, []byte("\r\n")) {
				if len(l) > 0 && l[0] == '.' {
					stuffed.WriteByte('.')
				}
				stuffed.Write(l)
			}
			if bytes.Contains(append([]byte("\r\n"), stuffed.Bytes()...), []byte("\r\n.\r\n")) {
				t.Fatalf("end marker survives stuffing: %q", stuffed.Bytes())
			}
		} else if n1 != len(in) {
			t.Fatalf("consumed %d of %d without an end", n1, len(in))
		}
		// with a limit the size is the same and nothing beyond it is stored
		limited, _, _, d3 := decodeAll(in, 7, 10)
		if d3.size != d1.size || len(limited) > 10 || d3.oversized != (d1.size > 10) {
			t.Fatalf("limit: size %d stored %d oversized %v", d3.size, len(limited), d3.oversized)
		}
	})
}

// FuzzSession feeds arbitrary client input to a real session over TCP and
// checks that the server answers only with well-formed replies, ends the
// session when the input ends, and leaves no spool file behind.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n",
		"LHLO x\r\nXFORWARD ADDR=1.2.3.4\r\nMAIL FROM:<> SIZE=10\r\nRCPT TO:<a> NOTIFY=NEVER\r\nRCPT TO:<b>\r\nDATA\r\n..\r\n.\n.\r\n",
		"HELO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n" + strings.Repeat("x", 70000) + "\r\n.\r\n",
		"NOOP\nNOOP\r\n\r\n\x00\r\nFOO\r\nRSET x\r\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	h := HandlerFunc(func(_ context.Context, m *mail.Message) mail.Outcome {
		if m.Header == nil || m.Body == nil {
			panic("incomplete message")
		}
		o := mail.Outcome{SMTP: mail.Reply{Code: 250, Enh: "2.0.0", Text: "Ok " + m.LogID}}
		for range m.Envelope.Rcpts {
			o.PerRcpt = append(o.PerRcpt, o.SMTP)
		}
		return o
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	srv := New(h, func() *Options {
		return &Options{TempDir: dir, SpoolThreshold: 1024, MaxLineLength: 512, MessageSizeLimit: 65536, RecipientLimit: 5}
	}, 2, nil, nil)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln, false) }()
	f.Cleanup(func() {
		srv.Shutdown(context.Background())
		<-served
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		outc := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(conn)
			outc <- b
		}()
		conn.Write(in) // may fail once the server has ended the session
		conn.(*net.TCPConn).CloseWrite()
		out := <-outc
		if !bytes.HasSuffix(out, []byte("\r\n")) {
			t.Fatalf("output does not end in CRLF: %q", out)
		}
		lines := strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n")
		if !strings.HasPrefix(lines[0], "220 ") {
			t.Fatalf("greeting %q", lines[0])
		}
		for _, l := range lines {
			if len(l) < 4 || len(l) > maxReplyLine || !isDigit(l[0]) || !isDigit(l[1]) || !isDigit(l[2]) || (l[3] != ' ' && l[3] != '-') ||
				strings.ContainsAny(l, "\r\n") {
				t.Fatalf("bad reply line %q in %q", l, out)
			}
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("spool files left: %v", ents)
		}
	})
}
