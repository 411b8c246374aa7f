package deliver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// conn is one session with a next hop.
type conn struct {
	nc     net.Conn
	r      *bufio.Reader
	w      *bufio.Writer // writes through dw
	dw     *deadlineWriter
	buf    []byte // body read buffer, reused across messages
	method Method
	mtaID  string

	ext  map[string]string // EHLO keywords (upper case) and their arguments
	lmtp bool

	// dirty is set when a transaction may still be open on the server
	// (MAIL was sent and the transaction did not end with a reply to the
	// dot): an RSET goes first when the connection is used again.
	dirty bool
	// broken is set after an I/O error, a 421 or a protocol violation; a
	// broken connection is never reused.
	broken bool

	established time.Time
	lastUsed    time.Time
	txns        int

	// The context of the Send using the connection; its deadline bounds
	// every I/O deadline and its cancellation interrupts blocked I/O.
	mu       sync.Mutex
	ctx      context.Context
	canceled bool
	unbind   func() // detaches the current Send's context
}

// bind attaches ctx to the connection until the returned function is called.
func (c *conn) bind(ctx context.Context) (unbind func()) {
	c.mu.Lock()
	c.ctx = ctx
	c.canceled = false
	c.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.canceled = true
		_ = c.nc.SetDeadline(time.Unix(1, 0)) // interrupt blocked I/O now
	})
	return func() {
		if !stop() {
			// the cancellation ran (or is running): the connection's state
			// is unknown
			c.mu.Lock()
			c.broken = true
			c.mu.Unlock()
		}
		c.mu.Lock()
		c.ctx = nil
		c.mu.Unlock()
	}
}

// deadline returns now+d bounded by the bound context's deadline.
func (c *conn) deadline(d time.Duration) time.Time {
	t := time.Now().Add(d)
	if c.ctx != nil {
		if cd, ok := c.ctx.Deadline(); ok && cd.Before(t) {
			t = cd
		}
	}
	return t
}

func (c *conn) setReadTimeout(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.canceled {
		return
	}
	_ = c.nc.SetReadDeadline(c.deadline(d))
}

func (c *conn) setWriteTimeout(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.canceled {
		return
	}
	_ = c.nc.SetWriteDeadline(c.deadline(d))
}

// deadlineWriter sets a fresh write deadline before every write to the
// network, so that each block of a long message gets the full data block
// timeout while a stalled next hop is still detected.
type deadlineWriter struct {
	c       *conn
	timeout time.Duration
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.c.setWriteTimeout(w.timeout)
	return w.c.nc.Write(p)
}

// cmd queues a command line (CRLF appended) in the write buffer.
func (c *conn) cmd(line string) error {
	_, err := c.w.WriteString(line + "\r\n")
	return err
}

// flush writes the buffered data, each network write within timeout.
func (c *conn) flush(timeout time.Duration) error {
	c.dw.timeout = timeout
	return c.w.Flush()
}

// read reads one reply within timeout.
func (c *conn) read(timeout time.Duration) (reply, error) {
	c.setReadTimeout(timeout)
	return readReply(c.r)
}

// supports reports whether the next hop announced keyword in its EHLO reply.
func (c *conn) supports(keyword string) bool {
	_, ok := c.ext[keyword]
	return ok
}

// parseEHLO records the extensions of an EHLO/LHLO reply (amavis
// ehlo_response_parse). Blank lines (smtp-sink) and junk are ignored.
func (c *conn) parseEHLO(r reply) {
	c.ext = map[string]string{}
	for _, l := range r.lines[1:] {
		kw, arg, _ := strings.Cut(strings.TrimSpace(l), " ")
		if kw == "" {
			continue
		}
		if k, v, ok := strings.Cut(kw, "="); ok { // old AUTH=LOGIN style
			kw, arg = k, v
		}
		if !validKeyword(kw) {
			continue
		}
		c.ext[strings.ToUpper(kw)] = strings.TrimSpace(arg)
	}
}

func validKeyword(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (c == '-' && i > 0)) {
			return false
		}
	}
	return s != ""
}

func (c *conn) close() error {
	c.broken = true
	return c.nc.Close()
}

// quit sends QUIT, waits at most timeout for the reply and closes.
func (c *conn) quit(timeout time.Duration) {
	if !c.broken {
		_ = c.cmd("QUIT")
		if c.flush(timeout) == nil {
			_, _ = c.read(timeout)
		}
	}
	_ = c.close()
}

// ioErrText describes an I/O error briefly, the way amavis's texts do
// ("Connection reset by peer" rather than Go's full operation chain).
func ioErrText(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "connection closed by MTA"
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	var se interface{ Unwrap() error }
	for errors.As(err, &se) {
		inner := se.Unwrap()
		if inner == nil {
			break
		}
		err = inner
	}
	s := err.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}
