package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// Sink is a Postfix smtp-sink process: an SMTP server that accepts and discards everything.
type Sink struct {
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// FreePort returns a currently unused TCP port of 127.0.0.1.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// StartSink starts smtp-sink on 127.0.0.1:port (a free port when 0) and waits until it accepts
// connections. As root it drops privileges to nobody (smtp-sink requires -u then).
func StartSink(ctx context.Context, port int) (*Sink, error) {
	bin, err := exec.LookPath("smtp-sink")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/smtp-sink"); serr != nil {
			return nil, fmt.Errorf("smtp-sink (package postfix): %w", err)
		}
		bin = "/usr/sbin/smtp-sink"
	}
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{"-m", "1024", "-h", "sink.bench.test"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	s := &Sink{Addr: addr, done: make(chan struct{})}
	s.cmd = exec.Command(bin, append(args, addr, "1024")...)
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start smtp-sink: %w", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return s, nil
		}
		select {
		case <-s.done:
			return nil, errors.New("smtp-sink exited at start")
		case <-ctx.Done():
			s.Stop()
			return nil, fmt.Errorf("smtp-sink not listening on %s: %w", addr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop terminates the smtp-sink process this Sink started.
func (s *Sink) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}
