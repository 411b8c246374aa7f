package rspamd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mavis-filter/mavis/internal/check/spam"
)

// Integration tests talk to the rspamd started by scripts/rspamd.sh
// (http://127.0.0.1:11333, or MAVIS_RSPAMD_URL). They skip when it does not
// answer, unless MAVIS_REQUIRE_INTEGRATION is set, when they fail.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const examples = "/usr/share/doc/spamassassin/examples/"

func rspamdURL() string {
	if u := os.Getenv("MAVIS_RSPAMD_URL"); u != "" {
		return u
	}
	return DefaultURL
}

func client(t testing.TB, cfg Config) *Client {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = rspamdURL()
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		if os.Getenv("MAVIS_REQUIRE_INTEGRATION") == "" {
			t.Skipf("rspamd not available (%v); run scripts/rspamd.sh or set MAVIS_REQUIRE_INTEGRATION", err)
		}
		t.Fatalf("rspamd not available: %v (run scripts/rspamd.sh)", err)
	}
	return c
}

func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(examples + name)
	if err != nil {
		if os.Getenv("MAVIS_REQUIRE_INTEGRATION") == "" {
			t.Skipf("SpamAssassin examples missing: %v", err)
		}
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
	return b
}

func request(msg []byte) *spam.Request {
	return &spam.Request{LogID: "test-01", Message: bytes.NewReader(msg), Size: int64(len(msg)),
		MailFrom: "sender@example.net", Rcpts: []string{"user@example.org"},
		ClientIP: "192.0.2.1", ClientHelo: "mx.example.net", ClientName: "mx.example.net", QueueID: "4XYZ12"}
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

func testNames(r *spam.Result) map[string]float64 {
	m := map[string]float64{}
	for _, t := range r.Tests {
		m[t.Name] = t.Score
	}
	return m
}

func TestGTUBE(t *testing.T) {
	res := check(t, client(t, Config{}), request(sample(t, "sample-spam.txt")))
	if _, ok := testNames(res)["GTUBE"]; !ok {
		t.Fatalf("no GTUBE symbol: %v", res.Tests)
	}
	if !res.IsSpam || res.Action != "reject" || res.Score < res.Required || res.Required <= 0 {
		t.Errorf("result = %+v, want spam, action reject", res)
	}
	// score_factor scales score and required score (amavis: tag2_level/15)
	f := check(t, client(t, Config{ScoreFactor: 6.31 / 15}), request(sample(t, "sample-spam.txt")))
	if math.Abs(f.Score-res.Score*6.31/15) > 1e-9 || math.Abs(f.Required-res.Required*6.31/15) > 1e-9 {
		t.Errorf("with factor: score %v required %v; without: %v %v", f.Score, f.Required, res.Score, res.Required)
	}
}

func TestNonSpam(t *testing.T) {
	res := check(t, client(t, Config{}), request(sample(t, "sample-nonspam.txt")))
	if res.IsSpam || res.Score >= res.Required {
		t.Errorf("sample-nonspam = %+v, want not spam", res)
	}
	if _, ok := testNames(res)["GTUBE"]; ok {
		t.Error("GTUBE in sample-nonspam")
	}
	for i := 1; i < len(res.Tests); i++ {
		if res.Tests[i-1].Name >= res.Tests[i].Name {
			t.Errorf("tests not sorted: %v", res.Tests)
		}
	}
}

// TestEnvelope: rspamd's own rules show that the envelope arrived.
func TestEnvelope(t *testing.T) {
	c := client(t, Config{})
	msg := sample(t, "sample-nonspam.txt") // From: dawson@world.std.com, To: tbtf@world.std.com

	req := request(msg)
	req.MailFrom, req.Rcpts = "dawson@world.std.com", []string{"tbtf@world.std.com"}
	got := testNames(check(t, c, req))
	for _, want := range []string{"FROM_EQ_ENVFROM", "TO_MATCH_ENVRCPT_ALL"} {
		if _, ok := got[want]; !ok {
			t.Errorf("envelope matching the header: no %s in %v", want, got)
		}
	}

	req = request(msg)
	req.Rcpts = []string{"a@example.org", "b@example.org", "c@example.org"}
	got = testNames(check(t, c, req))
	for _, want := range []string{"FROM_NEQ_ENVFROM", "FORGED_RECIPIENTS"} {
		if _, ok := got[want]; !ok {
			t.Errorf("foreign envelope: no %s in %v", want, got)
		}
	}

	// IP without a host name: rspamd looks the name up (and fails offline)
	req = request(msg)
	req.ClientName = ""
	got = testNames(check(t, c, req))
	if _, ok := got["RDNS_NONE"]; !ok {
		t.Errorf("IP without Hostname: no RDNS_NONE in %v", got)
	}
	req = request(msg)
	got = testNames(check(t, c, req))
	if _, ok := got["RDNS_NONE"]; ok {
		t.Errorf("IP with Hostname: RDNS_NONE in %v", got)
	}
}

// TestEnvelopeInLog: rspamd logs queue id, IP, user, sender and recipients
// of each task; scripts/rspamd.sh writes that log to
// MAVIS_IT_DIR/rspamd/log/rspamd.log (or MAVIS_RSPAMD_LOG).
func TestEnvelopeInLog(t *testing.T) {
	c := client(t, Config{})
	logPath := os.Getenv("MAVIS_RSPAMD_LOG")
	if logPath == "" {
		dir := os.Getenv("MAVIS_IT_DIR")
		if dir == "" {
			dir = "/var/tmp/mavis-it"
		}
		logPath = dir + "/rspamd/log/rspamd.log"
	}
	if _, err := os.Stat(logPath); err != nil {
		t.Skipf("rspamd log not readable: %v", err)
	}
	qid := fmt.Sprintf("MAVIS%d", time.Now().UnixNano())
	req := request(sample(t, "sample-nonspam.txt"))
	req.QueueID, req.AuthUser, req.ClientIP = qid, "bob", "192.0.2.77"
	req.Rcpts = []string{"r1@example.org", "r2@example.org"}
	check(t, c, req)
	var line string
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && line == ""; {
		f, err := os.Open(logPath)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "qid: <"+qid+">") {
				line = sc.Text()
			}
		}
		f.Close()
		if line == "" {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if line == "" {
		t.Fatalf("no log line with qid %s in %s", qid, logPath)
	}
	for _, want := range []string{"ip: 192.0.2.77", "user: bob", "from: <sender@example.net>", "r1@example.org", "r2@example.org"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %q: %s", want, line)
		}
	}
}

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

// TestBodySizeLimit: rspamd looks for GTUBE only in small text parts (below
// about 10 KiB), so a 40 KiB message with GTUBE at the start is spam only
// when the client cuts the body to 1000 bytes — which proves the cut.
func TestBodySizeLimit(t *testing.T) {
	const limit, size = 1000, 40 << 10
	skip := check(t, client(t, Config{BodySizeLimit: limit, Oversize: spam.Skip}), request(bigMessage(size, true)))
	if skip.Skipped != "too big" || skip.Score != 0 || len(skip.Tests) != 0 {
		t.Errorf("skip: %+v", skip)
	}
	c := client(t, Config{BodySizeLimit: limit})
	early := check(t, c, request(bigMessage(size, true)))
	if early.Truncated == 0 || early.Truncated > 32<<10+limit || !early.IsSpam {
		t.Errorf("GTUBE at the start, truncated: %+v, want truncated and spam", early)
	}
	late := check(t, c, request(bigMessage(size, false)))
	if late.Truncated == 0 || late.IsSpam {
		t.Errorf("GTUBE at the end, truncated: %+v, want not spam", late)
	}
	full := check(t, client(t, Config{}), request(bigMessage(size, true)))
	if full.Truncated != 0 || full.IsSpam {
		t.Errorf("GTUBE at the start, whole message: %+v, want not spam (part too big for rspamd's GTUBE check)", full)
	}
}

func TestRspamdDown(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := New(Config{URL: "http://" + addr + "/checkv2", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	start := time.Now()
	if _, err := c.Check(context.Background(), request([]byte("Subject: x\r\n\r\nbody\r\n"))); err == nil {
		t.Fatal("no error with nothing listening")
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("connection refused took %v", d)
	}
}

// silentServer accepts and reads (or does not read) but never answers.
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

func TestRspamdSilent(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, tc := range []struct {
		name    string
		noRead  bool
		size    int
		timeout time.Duration
		cancel  bool
	}{
		{"config timeout", false, 100, 300 * time.Millisecond, false},
		{"context cancelled", false, 100, time.Minute, true},
		{"never reads a big message", true, 8 << 20, 500 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := silentServer(t, tc.noRead)
			c, err := New(Config{URL: "http://" + addr + "/checkv2", Timeout: tc.timeout})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseIdleConnections()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				time.AfterFunc(300*time.Millisecond, cancel)
			}
			start := time.Now()
			_, err = c.Check(ctx, request(bigMessage(tc.size, true)))
			if err == nil {
				t.Fatal("no error from a silent rspamd")
			}
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want a deadline or cancel error", err)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// answerServer answers every request with status and body.
func answerServer(t *testing.T, status int, body string) string {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}), ReadHeaderTimeout: time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String() + "/checkv2"
}

// TestBadReplies: what a broken or misconfigured rspamd (or something else
// on its port) sends is an error, never a verdict.
func TestBadReplies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"http error", 500, `{"error":"internal"}`, "500"},
		{"not json", 200, "<html>hello</html>", "bad JSON"},
		{"rspamd error", 200, `{"error":"cannot parse message"}`, "cannot parse message"},
		{"no score", 200, `{"action":"no action"}`, "without score"},
		{"huge", 200, `{"score":1,"x":"` + strings.Repeat("a", 5<<20) + `"}`, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{URL: answerServer(t, tc.status, tc.body), Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseIdleConnections()
			_, err = c.Check(context.Background(), request([]byte("Subject: x\r\n\r\nbody\r\n")))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseReply(t *testing.T) {
	rp, err := parseReply([]byte(`{"is_skipped":false,"score":5.3,"required_score":15.0,"action":"greylist",
		"symbols":{"A=B":{"name":"A=B","score":1.5},"C,D":{"name":"C,D","score":-0.1},"E":{"score":2}}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := spam.FormatTests(symbolsToTests(rp.Symbols), true)
	if want := "A_B=1.5, C_D=-0.1, E=2"; got != want {
		t.Errorf("tests = %q, want %q", got, want)
	}
	if spamActions[rp.Action] {
		t.Error("greylist counted as spam")
	}
}

func FuzzParseReply(f *testing.F) {
	f.Add([]byte(`{"is_skipped":true,"score":15.0,"required_score":15.0,"action":"reject","symbols":{"GTUBE":{"name":"GTUBE","score":0.0}}}`))
	f.Add([]byte(`{"score":1e308,"symbols":{"":{"name":"a\u0000b,c=d"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rp, err := parseReply(b)
		if err != nil {
			return
		}
		for _, tt := range symbolsToTests(rp.Symbols) {
			if strings.ContainsAny(tt.Name, "=,\r\n") {
				t.Fatalf("bad test name %q", tt.Name)
			}
		}
	})
}

func TestNewRejects(t *testing.T) {
	for _, cfg := range []Config{
		{URL: "ftp://x/"},
		{URL: "::"},
		{Password: "a\nb"},
		{BodySizeLimit: -5},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v): no error", cfg)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	for _, file := range []string{"sample-spam.txt", "sample-nonspam.txt"} {
		b.Run(file, func(b *testing.B) {
			c := client(b, Config{})
			req := request(sample(b, file))
			for b.Loop() {
				if _, err := c.Check(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
		})
	}
}

// TestUnixSocket: "unix:/path" talks HTTP over a unix socket.
func TestUnixSocket(t *testing.T) {
	sock := t.TempDir() + "/rspamd.sock"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var gotPath, gotRcpts string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		gotPath, gotRcpts = r.URL.Path, strings.Join(r.Header.Values("Rcpt"), " ")
		_, _ = io.WriteString(w, `{"score":3.5,"required_score":15,"action":"no action","symbols":{"X":{"name":"X","score":3.5}}}`)
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	c, err := New(Config{URL: "unix:" + sock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	req := request([]byte("Subject: x\r\n\r\nbody\r\n"))
	req.Rcpts = []string{"a@example.org", "b c@example.org"}
	res, err := c.Check(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Score != 3.5 || spam.FormatTests(res.Tests, true) != "X=3.5" || gotPath != "/checkv2" ||
		gotRcpts != `<a@example.org> <"b c"@example.org>` {
		t.Errorf("result %+v, path %q, rcpts %q", res, gotPath, gotRcpts)
	}
}
