package deliver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mavis-filter/mavis/internal/mail"
)

// sink is a running Postfix smtp-sink, the real Postfix SMTP/LMTP test
// server, used as the peer for XFORWARD and pipelining checks.
type sink struct {
	method Method
	dir    string // dump directory (when dumping)
	out    *syncBuffer
}

// startSink runs smtp-sink with the given extra options. dump makes it write
// every transaction to a file; verbose (-v) logs the conversation.
func startSink(tb testing.TB, lmtp, dump, verbose bool, opts ...string) *sink {
	tb.Helper()
	bin, err := exec.LookPath("smtp-sink")
	if err != nil {
		bin = "/usr/sbin/smtp-sink"
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("MAVIS_REQUIRE_INTEGRATION") != "" {
				tb.Fatalf("smtp-sink not available: %v", err)
			}
			tb.Skip("smtp-sink (postfix) not installed")
		}
	}
	s := &sink{out: &syncBuffer{}}
	var args []string
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody") // smtp-sink refuses to run as root
	}
	if dump {
		dir, err := os.MkdirTemp("", "mavis-sink-")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o777); err != nil {
			tb.Fatal(err)
		}
		s.dir = dir
		args = append(args, "-d", filepath.Join(dir, "%H%M%S."))
	}
	if verbose {
		args = append(args, "-v")
	}
	if lmtp {
		args = append(args, "-L")
	}
	args = append(args, opts...)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	args = append(args, addr, "100")
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("smtp-sink: %v", err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	proto := "smtp"
	if lmtp {
		proto = "lmtp"
	}
	s.method, err = ParseMethod(proto + ":[127.0.0.1]:" + portOf(l.Addr()))
	if err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			// wait for the greeting, so the probe is a complete session
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 512)
			_, _ = c.Read(buf)
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("smtp-sink did not start: %v\n%s", err, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// dumps returns the transactions smtp-sink wrote.
func (s *sink) dumps(t *testing.T, want int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(s.dir, "*.*"))
		if len(files) >= want || time.Now().After(deadline) {
			var out []string
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, string(b))
			}
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// commands returns the commands smtp-sink logged (-v).
func (s *sink) commands() []string {
	var out []string
	for _, l := range strings.Split(s.out.String(), "\n") {
		_, cmd, ok := strings.Cut(l, "smtp-sink: ")
		if !ok {
			continue
		}
		for _, v := range []string{"EHLO ", "LHLO ", "HELO ", "XFORWARD ", "MAIL ", "RCPT ", "DATA", "RSET", "QUIT", "."} {
			if strings.HasPrefix(cmd, v) {
				out = append(out, cmd)
				break
			}
		}
	}
	return out
}

// chunkProxy forwards TCP to a target and records each chunk the client
// wrote, to see which commands travelled together.
type chunkProxy struct {
	method Method
	mu     sync.Mutex
	chunks []string
}

func newChunkProxy(t *testing.T, target Method) *chunkProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &chunkProxy{}
	p.method, _ = ParseMethod(target.Proto + ":[127.0.0.1]:" + portOf(l.Addr()))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target.Address)
			if err != nil {
				_ = c.Close()
				continue
			}
			mu.Lock()
			open = append(open, c, s)
			mu.Unlock()
			wg.Go(func() {
				_, _ = io.Copy(c, s)
				_ = c.Close()
			})
			wg.Go(func() {
				buf := make([]byte, 64*1024)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						p.mu.Lock()
						p.chunks = append(p.chunks, string(buf[:n]))
						p.mu.Unlock()
						if _, werr := s.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				_ = s.Close()
			})
		}
	})
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range open {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return p
}

func (p *chunkProxy) chunkWith(subs ...string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.chunks {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(c, s)
		}
		if all {
			return c, true
		}
	}
	return "", false
}

func TestSinkXFORWARDAndPipelining(t *testing.T) {
	ci := mail.ClientInfo{Addr: "192.0.2.10", Name: "client.example", Port: "4444", Proto: "ESMTP",
		Helo: "bad<helo> x", Ident: "QID1", Source: "REMOTE"}
	tests := []struct {
		name       string
		opts       []string
		ci         mail.ClientInfo
		wantXfwd   []string // XFORWARD commands as smtp-sink logged them
		pipelining bool
	}{
		{name: "offered", ci: ci, pipelining: true,
			wantXfwd: []string{"XFORWARD ADDR=192.0.2.10 NAME=client.example PROTO=ESMTP HELO=bad?helo??x"}},
		{name: "ipv6", ci: mail.ClientInfo{Addr: "2001:db8::1", Name: "v6.example"}, pipelining: true,
			wantXfwd: []string{"XFORWARD ADDR=IPv6:2001:db8::1 NAME=v6.example"}},
		{name: "long values split", ci: mail.ClientInfo{Addr: "192.0.2.10", Name: strings.Repeat("n", 300), Helo: strings.Repeat("h", 300)}, pipelining: true,
			wantXfwd: []string{"XFORWARD ADDR=192.0.2.10 NAME=" + strings.Repeat("n", 255), "XFORWARD HELO=" + strings.Repeat("h", 255)}},
		{name: "unknown client: none", ci: mail.ClientInfo{Name: "x"}, pipelining: true},
		{name: "not offered", opts: []string{"-F"}, ci: ci, pipelining: true},
		{name: "no pipelining", opts: []string{"-p"}, ci: ci, pipelining: false,
			wantXfwd: []string{"XFORWARD ADDR=192.0.2.10 NAME=client.example PROTO=ESMTP HELO=bad?helo??x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startSink(t, false, true, true, tc.opts...)
			px := newChunkProxy(t, s.method)
			c := NewClient(DefaultTimeouts(), true, nil)
			defer c.Close()
			for n := range 2 { // the second message goes over the cached connection
				req := newReq(px.method, "a@example.org", "b@example.org")
				req.Client = tc.ci
				res := send(t, c, req)
				for i, r := range res.PerRcpt {
					want := "250 2.0.0 from MTA(" + px.method.MTAID() + "): 250 2.0.0 Ok"
					if r.String() != want {
						t.Errorf("message %d recipient %d: %q, want %q", n, i, r, want)
					}
				}
			}
			var xf []string
			for _, cmd := range s.commands() {
				if strings.HasPrefix(cmd, "XFORWARD") {
					xf = append(xf, cmd)
				}
			}
			want := append(append([]string(nil), tc.wantXfwd...), tc.wantXfwd...) // once per message
			if strings.Join(xf, "\n") != strings.Join(want, "\n") {
				t.Errorf("XFORWARD commands:\n%s\nwant:\n%s", strings.Join(xf, "\n"), strings.Join(want, "\n"))
			}
			chunk, together := px.chunkWith("MAIL FROM:<sender@example.net>", "RCPT TO:<a@example.org>", "RCPT TO:<b@example.org>", "DATA\r\n")
			if together != tc.pipelining {
				t.Errorf("MAIL+RCPT+DATA in one write: %v, want %v", together, tc.pipelining)
			}
			if tc.pipelining && len(tc.wantXfwd) > 0 && !strings.HasPrefix(chunk, "XFORWARD ") {
				t.Errorf("XFORWARD not pipelined with MAIL: %q", chunk)
			}
			if d := s.dumps(t, 2); len(d) != 2 {
				t.Errorf("%d transactions dumped, want 2", len(d))
			}
		})
	}
}

func TestSinkExtensions(t *testing.T) {
	tests := []struct {
		name      string
		opts      []string
		body      string
		want      string // reply of each recipient ({mta})
		wantMail  string // X-Mail-Args
		wantRcpt  string // X-Rcpt-Args of the first recipient
		delivered bool
	}{
		{name: "8BITMIME offered", body: "8BITMIME", want: "250 2.0.0 from MTA({mta}): 250 2.0.0 Ok", delivered: true,
			wantMail: "<sender@example.net> BODY=8BITMIME RET=FULL ENVID=env+2B1",
			wantRcpt: "<a@example.org> NOTIFY=FAILURE,DELAY ORCPT=rfc822;a+40example.org"},
		{name: "8BITMIME not offered", opts: []string{"-8"}, body: "8BITMIME", want: "550 5.6.3 Conversion to 7BIT required but not supported"},
		{name: "7BIT without 8BITMIME", opts: []string{"-8"}, body: "7BIT", want: "250 2.0.0 from MTA({mta}): 250 2.0.0 Ok", delivered: true,
			wantMail: "<sender@example.net> RET=FULL ENVID=env+2B1",
			wantRcpt: "<a@example.org> NOTIFY=FAILURE,DELAY ORCPT=rfc822;a+40example.org"},
		{name: "DSN not offered", opts: []string{"-N"}, body: "7BIT", want: "250 2.0.0 from MTA({mta}): 250 2.0.0 Ok", delivered: true,
			wantMail: "<sender@example.net> BODY=7BIT", wantRcpt: "<a@example.org>"},
		{name: "no ESMTP: HELO fallback", opts: []string{"-e"}, body: "8BITMIME", want: "550 5.6.3 Conversion to 7BIT required but not supported"},
		{name: "no ESMTP, 7bit", opts: []string{"-e"}, want: "250 2.0.0 from MTA({mta}): 250 2.0.0 Ok", delivered: true,
			wantMail: "<sender@example.net>", wantRcpt: "<a@example.org>"},
		{name: "RCPT soft-rejected, no pipelining", opts: []string{"-r", "RCPT"}, body: "7BIT",
			want: "450 4.3.0 from MTA({mta}): 450 4.3.0 Error: command failed"},
		{name: "dot rejected", opts: []string{"-f", "."}, body: "7BIT",
			want: "500 5.3.0 from MTA({mta}): 500 5.3.0 Error: command failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startSink(t, false, true, false, tc.opts...)
			c := NewClient(DefaultTimeouts(), false, nil)
			defer c.Close()
			req := newReq(s.method, "a@example.org", "b@example.org")
			req.Envelope.Params = mail.MailParams{Body: tc.body, Ret: "FULL", EnvID: "env+2B1"}
			req.Rcpts[0].Params = mail.RcptParams{Notify: []string{"failure", "delay"}, ORcpt: "rfc822;a+40example.org"}
			res := send(t, c, req)
			want := strings.ReplaceAll(tc.want, "{mta}", s.method.MTAID())
			for i, r := range res.PerRcpt {
				if r.String() != want {
					t.Errorf("recipient %d:\n got  %q\n want %q", i, r, want)
				}
			}
			if !tc.delivered {
				return
			}
			d := s.dumps(t, 1)
			if len(d) != 1 {
				t.Fatalf("%d dumps", len(d))
			}
			if !strings.Contains(d[0], "X-Mail-Args: "+tc.wantMail+"\n") || !strings.Contains(d[0], "X-Rcpt-Args: "+tc.wantRcpt+"\n") {
				t.Errorf("dump:\n%s\nwant X-Mail-Args: %s\nX-Rcpt-Args: %s", d[0], tc.wantMail, tc.wantRcpt)
			}
			if !strings.Contains(d[0], "X-Helo-Args: mavis.test") || !strings.HasSuffix(d[0], "Hello\n.leading dot\n\n") {
				t.Errorf("dump:\n%q", d[0])
			}
		})
	}
}

func TestSinkLMTP(t *testing.T) {
	s := startSink(t, true, true, true)
	c := NewClient(DefaultTimeouts(), true, nil)
	defer c.Close()
	for range 2 {
		req := newReq(s.method, "a@example.org", "b@example.org", "c@example.org")
		req.PerRecipientCapable = true
		res := send(t, c, req)
		for i, r := range res.PerRcpt {
			want := "250 2.2.0 from MTA(" + s.method.MTAID() + "): 250 2.2.0 Ok"
			if r.String() != want {
				t.Errorf("recipient %d: %q", i, r)
			}
		}
	}
	cmds := strings.Join(s.commands(), "|")
	if strings.Count(cmds, "LHLO mavis.test") != 1 || strings.Count(cmds, "DATA") != 2 {
		t.Errorf("commands: %s", cmds)
	}
}

// BenchmarkSendSink measures messages per second to smtp-sink, with and
// without the connection cache.
func BenchmarkSendSink(b *testing.B) {
	s := startSink(b, false, false, false)
	for _, size := range []int{2 << 10, 1 << 20} {
		line := "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\r\n"
		body := []byte("Subject: bench\r\n\r\n" + strings.Repeat(line, size/len(line)))
		for _, cache := range []bool{true, false} {
			b.Run(fmt.Sprintf("size=%dKB/cache=%v", size>>10, cache), func(b *testing.B) {
				c := NewClient(DefaultTimeouts(), cache, nil)
				defer c.Close()
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				start := time.Now()
				n := 0
				for b.Loop() {
					req := newReq(s.method, "a@example.org")
					req.Body = bytes.NewReader(body)
					res, err := c.Send(context.Background(), req)
					if err != nil || res.PerRcpt[0].Class() != 2 {
						b.Fatalf("%v %v", err, res.PerRcpt)
					}
					n++
				}
				b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
			})
		}
	}
}
