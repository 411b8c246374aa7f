package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvMavisd names a prebuilt mavisd binary to use instead of building ./cmd/mavisd.
const EnvMavisd = "MAVIS_IT_MAVISD"

// ModuleRoot returns the directory of mavis's go.mod (found from this source file).
func ModuleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("module root: no caller information")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	return filepath.Clean(root), nil
}

// builder builds cmd/mavisd once per process.
type builder struct {
	once sync.Once
	dir  string
	path string
	err  error
}

var mavisdBuild builder // the one build of this test binary; see Cleanup

// BuildMavisd builds ./cmd/mavisd once per process (with -race when this binary was built with -race)
// and returns the binary's path. MAVIS_IT_MAVISD names a prebuilt binary instead.
func BuildMavisd(ctx context.Context) (string, error) {
	if p := os.Getenv(EnvMavisd); p != "" {
		return p, nil
	}
	b := &mavisdBuild
	b.once.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			b.err = err
			return
		}
		if _, err := os.Stat(filepath.Join(root, "cmd", "mavisd")); err != nil {
			b.err = fmt.Errorf("build mavisd: %w", err)
			return
		}
		b.dir, err = os.MkdirTemp("", "mavis-it-bin-")
		if err != nil {
			b.err = fmt.Errorf("build mavisd: %w", err)
			return
		}
		b.path = filepath.Join(b.dir, "mavisd")
		args := []string{"build", "-o", b.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/mavisd")...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build ./cmd/mavisd: %w\n%s", err, out)
		}
	})
	return b.path, b.err
}

// Cleanup removes what BuildMavisd left behind; call it from TestMain (see Main).
func Cleanup() {
	if mavisdBuild.dir != "" {
		_ = os.RemoveAll(mavisdBuild.dir)
	}
}

// Main runs the tests and then Cleanup: func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }.
func Main(m *testing.M) int {
	defer Cleanup()
	return m.Run()
}

// MavisdConfig is the part of a mavisd configuration the harness needs; Extra is appended verbatim.
type MavisdConfig struct {
	Listen  string // host:port of the SMTP/LMTP listener
	Forward string // forward_method and notify_method, e.g. smtp:[127.0.0.1]:20026
	Home    string // MYHOME and TEMPBASE; StartMavisd uses the test's temp dir when empty
	Extra   string // more TOML settings (amavis names)
}

// BareSettings is DefaultConfig's Extra: it.test is the local domain and no scanner runs (the defaults
// would ask clamd and spamd about every message; tests of the scanners configure them themselves).
const BareSettings = `local_domains_acl = [".it.test"]
av_scanners = []
av_scanners_backup = []
spam_scanners = []
`

// DefaultConfig listens on FilterAddr, forwards to the Postfix re-injection port, and checks nothing
// (BareSettings).
func DefaultConfig() MavisdConfig {
	return MavisdConfig{Listen: FilterAddr, Forward: ForwardMethod, Extra: BareSettings}
}

// Text renders the configuration file (mavisd's TOML, amavis setting names).
func (c MavisdConfig) Text() string {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		host, port = "127.0.0.1", "20024"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# mavisd configuration written by test/integration/harness\n")
	fmt.Fprintf(&b, "inet_socket_bind = [%q]\n", host)
	fmt.Fprintf(&b, "inet_socket_port = [%s]\n", port)
	fmt.Fprintf(&b, "forward_method = %q\n", c.Forward)
	fmt.Fprintf(&b, "notify_method = %q\n", c.Forward)
	fmt.Fprintf(&b, "myhostname = %q\n", "mavis."+Domain)
	b.WriteString("do_syslog = false\n") // log to stderr, which the harness keeps
	if c.Home != "" {
		fmt.Fprintf(&b, "MYHOME = %q\nTEMPBASE = %q\n", c.Home, filepath.Join(c.Home, "tmp"))
	}
	if c.Extra != "" {
		b.WriteString(c.Extra)
		if !strings.HasSuffix(c.Extra, "\n") {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// DaemonOptions start a mavisd process.
type DaemonOptions struct {
	Binary string    // path of mavisd
	Config string    // configuration file text
	Listen string    // host:port whose 220 banner means "ready"
	Dir    string    // where the config file and mavisd.log go
	Log    io.Writer // optional: also copy the log here
	Args   []string  // extra arguments after -c FILE
	Ready  time.Duration
}

// Daemon is a running mavisd.
type Daemon struct {
	Listen  string
	LogPath string
	// Banner is the 220 greeting seen when the daemon became ready.
	Banner string

	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
	err  error // exit status, valid after done
}

// StartDaemon starts mavisd with opt.Config and waits until it answers with a 220 banner on opt.Listen.
func StartDaemon(ctx context.Context, opt DaemonOptions) (*Daemon, error) {
	if opt.Ready == 0 {
		opt.Ready = 60 * time.Second
	}
	bin, err := filepath.Abs(opt.Binary) // the daemon runs in opt.Dir
	if err != nil {
		return nil, fmt.Errorf("mavisd binary: %w", err)
	}
	cfg := filepath.Join(opt.Dir, "mavisd.toml")
	if err := os.WriteFile(cfg, []byte(opt.Config), 0o600); err != nil {
		return nil, fmt.Errorf("write mavisd config: %w", err)
	}
	logPath := filepath.Join(opt.Dir, "mavisd.log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open mavisd log: %w", err)
	}
	d := &Daemon{Listen: opt.Listen, LogPath: logPath, log: &syncBuffer{}, done: make(chan struct{})}
	ws := []io.Writer{d.log, lf}
	if opt.Log != nil {
		ws = append(ws, opt.Log)
	}
	w := io.MultiWriter(ws...)
	d.cmd = exec.Command(bin, append([]string{"-c", cfg}, opt.Args...)...)
	d.cmd.Stdout, d.cmd.Stderr = w, w
	d.cmd.Dir = opt.Dir
	if err := d.cmd.Start(); err != nil {
		_ = lf.Close()
		return nil, fmt.Errorf("start mavisd: %w", err)
	}
	go func() {
		d.err = d.cmd.Wait()
		_ = lf.Close()
		close(d.done)
	}()
	rctx, cancel := context.WithTimeout(ctx, opt.Ready)
	defer cancel()
	if err := d.waitBanner(rctx); err != nil {
		_ = d.Kill()
		return nil, fmt.Errorf("mavisd not ready on %s: %w\n--- mavisd log ---\n%s", opt.Listen, err, d.Log())
	}
	return d, nil
}

func (d *Daemon) waitBanner(ctx context.Context) error {
	for {
		select {
		case <-d.done:
			return fmt.Errorf("mavisd exited: %v", d.err)
		default:
		}
		if b, err := banner(ctx, d.Listen); err == nil {
			d.Banner = b
			return nil
		}
		if err := sleep(ctx); err != nil {
			return err
		}
	}
}

// banner reads the first line a server sends on addr and says QUIT.
func banner(ctx context.Context, addr string) (string, error) {
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "220") {
		return "", fmt.Errorf("greeting %q", strings.TrimSpace(line))
	}
	_, _ = c.Write([]byte("QUIT\r\n"))
	return strings.TrimSpace(line), nil
}

// Pid is the process id.
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (d *Daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits for the exit (SIGKILL after the context ends); it returns the exit error.
func (d *Daemon) Stop(ctx context.Context) error {
	if d.Exited() {
		return d.err
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return d.err
	case <-ctx.Done():
		_ = d.Kill()
		return fmt.Errorf("mavisd did not stop after SIGTERM: %w", ctx.Err())
	}
}

// Kill sends SIGKILL and waits until the process is gone.
func (d *Daemon) Kill() error {
	if d.Exited() {
		return nil
	}
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill mavisd: %w", err)
	}
	<-d.done
	return nil
}

// Log returns everything mavisd wrote to stdout and stderr so far.
func (d *Daemon) Log() string { return d.log.String() }

// WaitLog waits until a log line matches re and returns it.
func (d *Daemon) WaitLog(ctx context.Context, re *regexp.Regexp) (string, error) {
	for {
		for _, l := range strings.Split(d.Log(), "\n") {
			if re.MatchString(l) {
				return l, nil
			}
		}
		if err := sleep(ctx); err != nil {
			return "", fmt.Errorf("mavisd log: no line matching %q: %w", re, err)
		}
	}
}

// StartMavisd builds and starts mavisd for a test with cfg, and stops it at the end of the test. When
// mavisd cannot be built the test is skipped or failed per MAVIS_REQUIRE_INTEGRATION. If the test fails,
// the daemon's log is printed; a data race reported by a -race build fails the test.
func StartMavisd(t testing.TB, cfg MavisdConfig) *Daemon {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := BuildMavisd(ctx)
	Require(t, err)
	dir := t.TempDir()
	if cfg.Home == "" {
		cfg.Home = dir
	}
	d, err := StartDaemon(ctx, DaemonOptions{Binary: bin, Config: cfg.Text(), Listen: cfg.Listen, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mavisd pid %d ready on %s: %s", d.Pid(), cfg.Listen, d.Banner)
	t.Cleanup(func() { CheckDaemon(t, d) })
	return d
}

// CheckDaemon stops d if it still runs, fails the test on a data race in its log, and prints the log when
// the test failed. StartMavisd registers it; call it directly for daemons started with StartDaemon.
func CheckDaemon(t testing.TB, d *Daemon) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Stop(ctx); err != nil && !isSignalExit(err) {
		t.Errorf("mavisd exit: %v", err)
	}
	if strings.Contains(d.Log(), "WARNING: DATA RACE") {
		t.Errorf("data race in mavisd (log %s)", d.LogPath)
	}
	if t.Failed() {
		t.Logf("--- mavisd log (pid %d) ---\n%s", d.Pid(), d.Log())
	}
}

func isSignalExit(err error) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return true
		}
	}
	return false
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
