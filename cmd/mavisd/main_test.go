package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// The daemon is tested as a process: built once, started with a config
// file, driven with SMTP and signals.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func mavisdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mavisd-test-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "mavisd")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// slowSink is a go-smtp server that holds each DATA for delay.
type slowSink struct {
	delay time.Duration
	mu    sync.Mutex
	n     int
}

func (b *slowSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &slowSess{b: b}, nil }

type slowSess struct{ b *slowSink }

func (s *slowSess) AuthPlain(string, string) error       { return nil }
func (s *slowSess) Mail(string, *smtp.MailOptions) error { return nil }
func (s *slowSess) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *slowSess) Reset()                               {}
func (s *slowSess) Logout() error                        { return nil }
func (s *slowSess) Data(r io.Reader) error {
	io.Copy(io.Discard, r)
	time.Sleep(s.b.delay)
	s.b.mu.Lock()
	s.b.n++
	s.b.mu.Unlock()
	return nil
}

type daemon struct {
	cmd  *exec.Cmd
	port int
	mu   sync.Mutex
	log  bytes.Buffer
}

func (d *daemon) logs() string { d.mu.Lock(); defer d.mu.Unlock(); return d.log.String() }

func startDaemon(t *testing.T, cfgFile string, port int) *daemon {
	t.Helper()
	d := &daemon{port: port, cmd: exec.Command(mavisdBinary(t), "-c", cfgFile)}
	pr, pw := io.Pipe()
	d.cmd.Stderr = pw
	d.cmd.Stdout = pw
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			d.mu.Lock()
			d.log.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
		}
	}()
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cmd.Process.Kill(); d.cmd.Wait(); pw.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return d
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("mavisd did not start listening; log:\n%s", d.logs())
	return nil
}

func writeConfig(t *testing.T, path string, port, fwd int, extra string) {
	t.Helper()
	state := filepath.Join(filepath.Dir(path), "state")
	cfg := fmt.Sprintf("inet_socket_port = %d\ninet_socket_bind = \"127.0.0.1\"\nforward_method = \"smtp:[127.0.0.1]:%d\"\nMYHOME = %q\nmydomain = \"example.org\"\nbypass_virus_checks_maps = [true]\n%s", port, fwd, state, extra)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

func greeting(t *testing.T, port int) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "QUIT\r\n")
	return strings.TrimSpace(line)
}

func sendMail(port int) error {
	c, err := smtp.Dial(fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	defer c.Close()
	return c.SendMail("a@example.net", []string{"b@example.org"}, strings.NewReader("From: a@example.net\r\nDate: Sat, 01 Jun 2024 12:00:00 +0000\r\nSubject: t\r\n\r\nhi\r\n"))
}

func TestReloadAndGracefulStop(t *testing.T) {
	dir := t.TempDir()
	sinkLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink := &slowSink{delay: 1500 * time.Millisecond}
	srv := smtp.NewServer(sink)
	go srv.Serve(sinkLn)
	defer srv.Close()
	fwd := sinkLn.Addr().(*net.TCPAddr).Port

	port := freePort(t)
	cfgFile := filepath.Join(dir, "mavis.toml")
	writeConfig(t, cfgFile, port, fwd, "")
	d := startDaemon(t, cfgFile, port)
	if g := greeting(t, port); g != "220 [127.0.0.1] ESMTP mavis service ready" {
		t.Fatalf("greeting %q", g)
	}

	// A bad file: the reload is rejected, the old settings keep running.
	if err := os.WriteFile(cfgFile, []byte("max_sevrers = 3\nchild_timeout = \"soon\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, d, "Rejecting reload")
	if !strings.Contains(d.logs(), "max_sevrers") {
		t.Errorf("reload rejection does not name the bad key:\n%s", d.logs())
	}
	if g := greeting(t, port); !strings.HasPrefix(g, "220 ") {
		t.Fatalf("after a bad reload: %q", g)
	}

	// A good file: new connections get the new settings.
	writeConfig(t, cfgFile, port, fwd, "smtpd_greeting_banner = \"${helo-name} ${protocol} reloaded ${product}\"\n")
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, d, "configuration reloaded")
	if g := greeting(t, port); g != "220 [127.0.0.1] ESMTP reloaded mavis" {
		t.Errorf("after reload greeting %q", g)
	}

	// SIGTERM with a message in flight: it is finished and answered 250,
	// then the daemon exits 0 and stops listening.
	done := make(chan error, 1)
	go func() { done <- sendMail(port) }()
	time.Sleep(500 * time.Millisecond) // the message is now held by the slow sink
	d.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-done; err != nil {
		t.Errorf("message in flight at SIGTERM: %v", err)
	}
	if err := d.cmd.Wait(); err != nil {
		t.Errorf("exit: %v\n%s", err, d.logs())
	}
	if sink.n != 1 {
		t.Errorf("sink got %d messages", sink.n)
	}
	if _, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		t.Error("still listening after SIGTERM")
	}
}

func TestRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "bad.toml")
	os.WriteFile(cfgFile, []byte("max_servers = \"many\"\nunknown_thing = 1\n"), 0o644)
	out, err := exec.Command(mavisdBinary(t), "-c", cfgFile).CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != exConfig {
		t.Fatalf("exit %v, want %d; output:\n%s", err, exConfig, out)
	}
	for _, want := range []string{"bad.toml:1", "max_servers", "bad.toml:2", "unknown_thing"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestHelp(t *testing.T) {
	out, err := exec.Command(mavisdBinary(t), "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Usage: mavisd [-c FILE]") {
		t.Errorf("--help: %v\n%s", err, out)
	}
}

func waitFor(t *testing.T, d *daemon, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(d.logs(), s) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("log never showed %q:\n%s", s, d.logs())
}
