package spamd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mavis-filter/mavis/internal/check/spam"
)

// Integration tests talk to the spamd started by scripts/spamd.sh
// (127.0.0.1:783, or MAVIS_SPAMD_ADDR). They skip when it does not answer,
// unless MAVIS_REQUIRE_INTEGRATION is set, when they fail.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const examples = "/usr/share/doc/spamassassin/examples/"

func spamdAddr() string {
	if a := os.Getenv("MAVIS_SPAMD_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:783"
}

// client returns a client for the test spamd, or skips.
func client(t testing.TB, cfg Config) *Client {
	t.Helper()
	cfg.Addrs = []string{spamdAddr()}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		if os.Getenv("MAVIS_REQUIRE_INTEGRATION") == "" {
			t.Skipf("spamd not available (%v); run scripts/spamd.sh or set MAVIS_REQUIRE_INTEGRATION", err)
		}
		t.Fatalf("spamd not available: %v (run scripts/spamd.sh)", err)
	}
	return c
}

// sample reads one of SpamAssassin's example messages with CRLF line ends
// (as mavis spools them).
func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(examples + name)
	if err != nil {
		if os.Getenv("MAVIS_REQUIRE_INTEGRATION") == "" {
			t.Skipf("SpamAssassin examples missing: %v", err)
		}
		t.Fatal(err)
	}
	return crlf(b)
}

func crlf(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

func request(msg []byte) *spam.Request {
	return &spam.Request{
		LogID: "test-01", Message: bytes.NewReader(msg), Size: int64(len(msg)),
		MailFrom: "sender@example.net", Rcpts: []string{"user@example.org", "other user@example.org"},
		ClientIP: "192.0.2.1", ClientHelo: "mx.example.net", PolicyBank: "MYNETS",
	}
}

func check(t *testing.T, c *Client, req *spam.Request) *spam.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := c.Check(ctx, req)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return res
}

func hasTest(r *spam.Result, name string) (spam.Test, bool) {
	for _, t := range r.Tests {
		if t.Name == name {
			return t, true
		}
	}
	return spam.Test{}, false
}

func TestGTUBEIsSpam(t *testing.T) {
	msg := sample(t, "sample-spam.txt")
	for _, cmd := range []Command{Report, Symbols, Headers} {
		t.Run(string(cmd), func(t *testing.T) {
			c := client(t, Config{Command: cmd})
			res := check(t, c, request(msg))
			if !res.IsSpam || res.Score < 999 || res.Required != 5 {
				t.Errorf("result = %+v, want spam with score about 1000, required 5", res)
			}
			g, ok := hasTest(res, "GTUBE")
			if !ok {
				t.Fatalf("no GTUBE test in %v", res.Tests)
			}
			switch cmd {
			case Symbols:
				if !g.NoScore {
					t.Errorf("SYMBOLS gave a score: %+v", g)
				}
				if got := spam.FormatTests(res.Tests, true); !strings.HasPrefix(got, "GTUBE, ") {
					t.Errorf("tests = %q", got)
				}
			case Report:
				if g.Score != 1000 || g.NoScore {
					t.Errorf("GTUBE = %+v, want score 1000", g)
				}
				if !strings.Contains(res.Report, "Content analysis details") {
					t.Errorf("report = %q", res.Report)
				}
			case Headers:
				// scripts/spamd.sh adds X-Spam-Tests: _TESTSSCORES(,)_
				if g.Score != 1000 || g.NoScore {
					t.Errorf("GTUBE = %+v, want score 1000", g)
				}
				if res.Autolearn == "" {
					t.Errorf("no autolearn status from HEADERS")
				}
			}
			for i := 1; i < len(res.Tests); i++ {
				if res.Tests[i-1].Name > res.Tests[i].Name {
					t.Errorf("tests not sorted: %v", res.Tests)
				}
			}
		})
	}
}

func TestNonSpam(t *testing.T) {
	c := client(t, Config{})
	res := check(t, c, request(sample(t, "sample-nonspam.txt")))
	if res.IsSpam || res.Score >= res.Required {
		t.Errorf("sample-nonspam = %+v, want not spam", res)
	}
	if _, ok := hasTest(res, "GTUBE"); ok {
		t.Errorf("GTUBE in %v", res.Tests)
	}
}

// TestUser: scripts/spamd.sh gives user "mavis-test" required_score 42 and
// GTUBE 500 (spamd --virtual-config-dir), so the User header must change
// both.
func TestUser(t *testing.T) {
	msg := sample(t, "sample-spam.txt")
	def := check(t, client(t, Config{}), request(msg))
	for _, tc := range []struct {
		name string
		cfg  Config
		user string
	}{
		{"config", Config{User: "mavis-test"}, ""},
		{"request overrides config", Config{User: "nobody-special"}, "mavis-test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := request(msg)
			req.User = tc.user
			res := check(t, client(t, tc.cfg), req)
			g, _ := hasTest(res, "GTUBE")
			if res.Required != 42 || g.Score != 500 {
				t.Errorf("user result: required %v, GTUBE %v; want 42 and 500 (default user: required %v)",
					res.Required, g.Score, def.Required)
			}
		})
	}
	if def.Required == 42 {
		t.Errorf("default user already has required 42")
	}
}

func TestCompress(t *testing.T) {
	for _, name := range []string{"sample-spam.txt", "sample-nonspam.txt"} {
		msg := sample(t, name)
		plain := check(t, client(t, Config{}), request(msg))
		z := check(t, client(t, Config{Compress: true}), request(msg))
		if plain.IsSpam != z.IsSpam || plain.Score != z.Score ||
			spam.FormatTests(plain.Tests, true) != spam.FormatTests(z.Tests, true) {
			t.Errorf("%s: compressed %+v differs from plain %+v", name, z, plain)
		}
	}
}

// bigMessage returns a message of about size bytes with the GTUBE string
// near its start (early) or at its end.
func bigMessage(size int, early bool) []byte {
	gtube := "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n"
	var b bytes.Buffer
	b.WriteString("From: a@example.net\r\nTo: b@example.org\r\nSubject: big\r\nMessage-ID: <big@example.net>\r\n" +
		"Date: Sat, 21 Nov 2026 07:00:00 +0000\r\n\r\n")
	if early {
		b.WriteString(gtube)
	}
	line := "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n"
	for b.Len() < size-len(gtube) {
		b.WriteString(line)
	}
	if !early {
		b.WriteString(gtube)
	}
	return b.Bytes()
}

// TestBodySizeLimit uses a 40 KiB message: SpamAssassin itself scans only the
// first 50 000 bytes of a text part (body_part_scan_size), so a GTUBE near
// the end of this message is found unless the client truncates it.
func TestBodySizeLimit(t *testing.T) {
	const limit, size = 10 << 10, 40 << 10
	t.Run("skip", func(t *testing.T) {
		c := client(t, Config{BodySizeLimit: limit, Oversize: spam.Skip})
		res := check(t, c, request(bigMessage(size, true)))
		if res.Skipped != "too big" || res.Score != 0 || len(res.Tests) != 0 {
			t.Errorf("result = %+v, want skipped", res)
		}
		// a small message is still checked
		res = check(t, c, request(sample(t, "sample-spam.txt")))
		if res.Skipped != "" || !res.IsSpam {
			t.Errorf("small message: %+v", res)
		}
	})
	t.Run("truncate", func(t *testing.T) {
		c := client(t, Config{BodySizeLimit: limit})
		early := check(t, c, request(bigMessage(size, true)))
		if early.Truncated == 0 || early.Truncated > 1<<10+1+limit || !early.IsSpam {
			t.Errorf("GTUBE at the start: %+v, want truncated and spam", early)
		}
		// GTUBE after the cut: spamd never sees it
		late := check(t, c, request(bigMessage(size, false)))
		if late.Truncated == 0 || late.IsSpam {
			t.Errorf("GTUBE at the end: %+v, want truncated and not spam", late)
		}
		// without a limit the late GTUBE is found
		full := check(t, client(t, Config{}), request(bigMessage(size, false)))
		if full.Truncated != 0 || !full.IsSpam {
			t.Errorf("no limit: %+v, want spam", full)
		}
	})
}

// TestSpamdDown: nothing listens; the error comes at once.
func TestSpamdDown(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := New(Config{Addrs: []string{addr}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("Subject: x\r\n\r\nbody\r\n")
	start := time.Now()
	_, err = c.Check(context.Background(), request(msg))
	if err == nil || !strings.Contains(err.Error(), "cannot connect") {
		t.Fatalf("err = %v, want a connection error", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("connection refused took %v", d)
	}
}

// silentServer accepts connections and reads (or, with noRead, does not
// read) but never answers. It stops on cleanup.
func silentServer(t *testing.T, noRead bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			if !noRead {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _ = io.Copy(io.Discard, conn)
				}()
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// TestSpamdSilent: spamd accepts but never answers (hung child, overload):
// the check fails at the deadline, whether it comes from Config.Timeout or
// the context, or when the context is cancelled.
func TestSpamdSilent(t *testing.T) {
	defer goleak.VerifyNone(t)
	small := []byte("Subject: x\r\n\r\nbody\r\n")
	big := bigMessage(8<<20, true) // larger than the socket buffers
	for _, tc := range []struct {
		name    string
		noRead  bool
		msg     []byte
		timeout time.Duration
		ctx     func() (context.Context, context.CancelFunc)
	}{
		{"config timeout", false, small, 300 * time.Millisecond, nil},
		{"context deadline", false, small, time.Minute, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 300*time.Millisecond)
		}},
		{"context cancelled", false, small, time.Minute, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(300*time.Millisecond, cancel)
			return ctx, cancel
		}},
		{"never reads a big message", true, big, 500 * time.Millisecond, nil},
		{"never reads, compressed", true, big, 500 * time.Millisecond, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := silentServer(t, tc.noRead)
			c, err := New(Config{Addrs: []string{addr}, Timeout: tc.timeout, Compress: strings.Contains(tc.name, "compressed")})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			start := time.Now()
			_, err = c.Check(ctx, request(tc.msg))
			d := time.Since(start)
			if err == nil {
				t.Fatal("no error from a silent spamd")
			}
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want a deadline or cancel error", err)
			}
			// Generous: the machine may be loaded; the default timeout is 60 s.
			if d > 20*time.Second {
				t.Errorf("took %v: not bounded by the short deadline", d)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	for _, cfg := range []Config{
		{Command: "PROCESS"},
		{User: "a\r\nb"},
		{BodySizeLimit: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v): no error", cfg)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  Config
		file string
	}{
		{"REPORT/spam", Config{}, "sample-spam.txt"},
		{"REPORT/nonspam", Config{}, "sample-nonspam.txt"},
		{"SYMBOLS/nonspam", Config{Command: Symbols}, "sample-nonspam.txt"},
		{"HEADERS/nonspam", Config{Command: Headers}, "sample-nonspam.txt"},
		{"REPORT+zlib/nonspam", Config{Compress: true}, "sample-nonspam.txt"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := client(b, tc.cfg)
			req := request(sample(b, tc.file))
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.Check(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
		})
	}
}

// BenchmarkCheckParallel keeps several checks in flight (spamd has
// MAVIS_SPAMD_CHILDREN=3 children in the test setup).
func BenchmarkCheckParallel(b *testing.B) {
	c := client(b, Config{})
	msg := sample(b, "sample-nonspam.txt")
	b.SetParallelism(2) // 2 × GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := request(msg)
		for pb.Next() {
			if _, err := c.Check(context.Background(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
}

// BenchmarkSpamc runs Debian's spamc (C) against the same spamd: the ceiling
// for any client, since SpamAssassin's own work dominates. It sends the same
// bytes as the client (our pseudo header included) with spamc -R (REPORT).
func BenchmarkSpamc(b *testing.B) {
	_ = client(b, Config{}) // skips when spamd is not there
	spamcPath, err := exec.LookPath("spamc")
	if err != nil {
		b.Skip("spamc not installed")
	}
	host, port, _ := net.SplitHostPort(spamdAddr())
	for _, file := range []string{"sample-spam.txt", "sample-nonspam.txt"} {
		b.Run(file, func(b *testing.B) {
			req := request(sample(b, file))
			prefix := pseudoHeader(req, 0)
			var in bytes.Buffer
			_, _ = io.Copy(&in, messageReader(prefix, req, int64(len(prefix))+req.Size, false))
			b.ResetTimer()
			for b.Loop() {
				cmd := exec.Command(spamcPath, "-d", host, "-p", port, "-R", "-x")
				cmd.Stdin = bytes.NewReader(in.Bytes())
				if out, err := cmd.Output(); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) || ee.ExitCode() != 1 { // -R exits 1 for spam
						b.Fatalf("spamc: %v %s", err, out)
					}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
		})
	}
}

// BenchmarkVsSpamc alternates one check with our client and one with spamc
// (same spamd, same bytes, REPORT) in every iteration, so that both see the
// same machine load; it reports the time of each and their ratio.
func BenchmarkVsSpamc(b *testing.B) {
	c := client(b, Config{})
	spamcPath, err := exec.LookPath("spamc")
	if err != nil {
		b.Skip("spamc not installed")
	}
	host, port, _ := net.SplitHostPort(spamdAddr())
	for _, file := range []string{"sample-spam.txt", "sample-nonspam.txt"} {
		b.Run(file, func(b *testing.B) {
			req := request(sample(b, file))
			prefix := pseudoHeader(req, 0)
			var in bytes.Buffer
			_, _ = io.Copy(&in, messageReader(prefix, req, int64(len(prefix))+req.Size, false))
			var ours, theirs time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := c.Check(context.Background(), req); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				cmd := exec.Command(spamcPath, "-d", host, "-p", port, "-R", "-x")
				cmd.Stdin = bytes.NewReader(in.Bytes())
				if out, err := cmd.Output(); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) || ee.ExitCode() != 1 {
						b.Fatalf("spamc: %v %s", err, out)
					}
				}
				ours += t1.Sub(t0)
				theirs += time.Since(t1)
			}
			n := float64(b.N)
			b.ReportMetric(ours.Seconds()*1000/n, "mavis-ms/check")
			b.ReportMetric(theirs.Seconds()*1000/n, "spamc-ms/check")
			b.ReportMetric(float64(theirs)/float64(ours), "spamc/mavis-time")
		})
	}
}

// BenchmarkClientOverhead measures the client alone: a local listener reads
// each request (by its Content-length) and answers a fixed REPORT reply at
// once, so SpamAssassin's time is out of the picture.
func BenchmarkClientOverhead(b *testing.B) {
	reply := "SPAMD/1.1 0 EX_OK\r\nContent-length: " + strconv.Itoa(len(reportBody)) +
		"\r\nSpam: True ; 1002.2 / 5.0\r\n\r\n" + reportBody
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(conn)
			n := 0
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					break
				}
				if v, ok := strings.CutPrefix(l, "Content-length: "); ok {
					n, _ = strconv.Atoi(strings.TrimSpace(v))
				}
				if l == "\r\n" {
					_, _ = io.CopyN(io.Discard, br, int64(n))
					_, _ = io.WriteString(conn, reply)
					break
				}
			}
			conn.Close()
		}
	}()
	defer func() { ln.Close(); wg.Wait() }()
	c, err := New(Config{Addrs: []string{ln.Addr().String()}})
	if err != nil {
		b.Fatal(err)
	}
	msg := sample(b, "sample-nonspam.txt")
	req := request(msg)
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.Check(context.Background(), req)
		if err != nil || len(res.Tests) != 6 {
			b.Fatalf("%v %+v", err, res)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
}
