package clamd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults for Config's zero fields.
const (
	DefaultConnectTimeout  = 10 * time.Second // amavis: 10 s for connect
	DefaultReadTimeout     = 150 * time.Second
	DefaultStreamMaxLength = 25 << 20 // Debian's clamd.conf StreamMaxLength 25M
	DefaultChunkSize       = 64 << 10
	DefaultMaxIdle         = 4
	DefaultIdleTimeout     = 20 * time.Second // below clamd's IdleTimeout (30 s)
	DefaultMaxInFlight     = 8                // amavis keeps up to 8 requests in flight
)

// Config configures a Client. Zero fields take the defaults above.
type Config struct {
	// Network is "unix" or "tcp"; Address the socket path or host:port.
	// Use ParseAddress for amavis-style specs.
	Network, Address string
	// ConnectTimeout bounds connecting (and the IDSESSION handshake).
	ConnectTimeout time.Duration
	// ReadTimeout bounds every single read or write: how long clamd may stay
	// silent. Keep it above clamd's MaxScanTime for large objects. The
	// context's deadline bounds the whole scan in any case.
	ReadTimeout time.Duration
	// StreamMaxLength must not exceed clamd's StreamMaxLength: longer objects
	// are streamed up to this length only (Reply.Truncated).
	StreamMaxLength int64
	// ChunkSize is the INSTREAM chunk size.
	ChunkSize int
	// MaxIdle is the number of idle IDSESSION connections kept; negative
	// disables reuse (a new connection per scan).
	MaxIdle int
	// IdleTimeout: idle sessions older than this are not reused. Keep it below
	// clamd's IdleTimeout.
	IdleTimeout time.Duration
	// MaxInFlight bounds the requests sent and not yet answered on a session.
	MaxInFlight int
}

func (c Config) withDefaults() Config {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.StreamMaxLength <= 0 {
		c.StreamMaxLength = DefaultStreamMaxLength
	}
	if c.ChunkSize <= 0 {
		c.ChunkSize = DefaultChunkSize
	}
	if c.MaxIdle == 0 {
		c.MaxIdle = DefaultMaxIdle
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	return c
}

// Client talks to one clamd. It is safe for concurrent use; every scan uses
// its own connection (a pooled IDSESSION one for streams).
type Client struct {
	cfg Config

	mu     sync.Mutex
	idle   []*session
	closed bool

	dials atomic.Int64 // connections opened, for tests and metrics
}

// New returns a Client for cfg. It does not connect.
func New(cfg Config) (*Client, error) {
	switch cfg.Network {
	case "unix", "tcp":
	default:
		return nil, fmt.Errorf("clamd: network %q: want unix or tcp", cfg.Network)
	}
	if cfg.Address == "" {
		return nil, errors.New("clamd: empty address")
	}
	return &Client{cfg: cfg.withDefaults()}, nil
}

// Config returns the client's configuration with defaults applied.
func (c *Client) Config() Config { return c.cfg }

// String names the clamd the client talks to.
func (c *Client) String() string { return c.cfg.Network + ":" + c.cfg.Address }

// Close closes the idle sessions. Scans in progress finish on their
// connections, which are then closed.
func (c *Client) Close() error {
	c.mu.Lock()
	idle := c.idle
	c.idle, c.closed = nil, true
	c.mu.Unlock()
	for _, s := range idle {
		s.end()
	}
	return nil
}

// IdleSessions reports how many sessions wait in the pool (for tests and
// metrics).
func (c *Client) IdleSessions() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.idle)
}

// Dials reports how many connections the client opened so far.
func (c *Client) Dials() int64 { return c.dials.Load() }

// dial connects to clamd.
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	c.dials.Add(1)
	d := net.Dialer{Timeout: c.cfg.ConnectTimeout}
	conn, err := d.DialContext(ctx, c.cfg.Network, c.cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("clamd: connect %s: %w", c, err)
	}
	return conn, nil
}

// session is an IDSESSION connection.
type session struct {
	conn     net.Conn
	r        *bufio.Reader
	nextID   int       // id clamd gives the next request
	lastUsed time.Time // when it went back to the pool
	reused   bool      // taken from the pool (may have been closed by clamd)
}

// getSession returns a pooled session or a new one.
func (c *Client) getSession(ctx context.Context) (*session, error) {
	now := time.Now()
	c.mu.Lock()
	for len(c.idle) > 0 {
		s := c.idle[len(c.idle)-1]
		c.idle = c.idle[:len(c.idle)-1]
		if now.Sub(s.lastUsed) < c.cfg.IdleTimeout {
			c.mu.Unlock()
			s.reused = true
			return s, nil
		}
		c.mu.Unlock()
		s.end()
		c.mu.Lock()
	}
	c.mu.Unlock()
	return c.newSession(ctx)
}

func (c *Client) newSession(ctx context.Context) (*session, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	_ = conn.SetWriteDeadline(earliest(ctx, c.cfg.ConnectTimeout))
	if _, err := io.WriteString(conn, "zIDSESSION\x00"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clamd: %s: IDSESSION: %w", c, err)
	}
	return &session{conn: conn, r: bufio.NewReaderSize(conn, 4096), nextID: 1}, nil
}

// putSession returns a healthy session to the pool.
func (c *Client) putSession(s *session) {
	_ = s.conn.SetDeadline(time.Time{})
	s.lastUsed = time.Now()
	s.reused = false
	c.mu.Lock()
	if c.closed || c.cfg.MaxIdle < 0 || len(c.idle) >= c.cfg.MaxIdle {
		c.mu.Unlock()
		s.end()
		return
	}
	c.idle = append(c.idle, s)
	c.mu.Unlock()
}

// end closes a session politely (zEND, then close), never blocking long.
func (s *session) end() {
	_ = s.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = io.WriteString(s.conn, "zEND\x00")
	_ = s.conn.Close()
}

// readReply reads one \0-terminated reply.
func readReply(r *bufio.Reader) (string, error) {
	var buf []byte
	for {
		frag, err := r.ReadSlice(0)
		if len(buf)+len(frag) > maxReplyLen {
			return "", fmt.Errorf("%w: reply longer than %d bytes", ErrProtocol, maxReplyLen)
		}
		buf = append(buf, frag...)
		switch {
		case err == nil:
			return string(buf[:len(buf)-1]), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0:
			return string(buf), nil // clamd closed after an unterminated reply
		default:
			return "", err
		}
	}
}

// earliest is now+d or ctx's deadline, whichever comes first.
func earliest(ctx context.Context, d time.Duration) time.Time {
	t := time.Now().Add(d)
	if dl, ok := ctx.Deadline(); ok && dl.Before(t) {
		return dl
	}
	return t
}

// deadliner arms per-operation deadlines on a connection and makes context
// cancellation break blocked reads and writes. Once cancelled, deadlines are
// never pushed back.
type deadliner struct {
	conn    net.Conn
	ctx     context.Context
	timeout time.Duration

	mu        sync.Mutex
	cancelled bool
	stop      func() bool
}

func newDeadliner(ctx context.Context, conn net.Conn, timeout time.Duration) *deadliner {
	d := &deadliner{conn: conn, ctx: ctx, timeout: timeout}
	d.stop = context.AfterFunc(ctx, func() {
		d.mu.Lock()
		d.cancelled = true
		_ = conn.SetDeadline(time.Unix(1, 0))
		d.mu.Unlock()
	})
	return d
}

func (d *deadliner) read() {
	d.mu.Lock()
	if !d.cancelled {
		_ = d.conn.SetReadDeadline(earliest(d.ctx, d.timeout))
	}
	d.mu.Unlock()
}

func (d *deadliner) write() {
	d.mu.Lock()
	if !d.cancelled {
		_ = d.conn.SetWriteDeadline(earliest(d.ctx, d.timeout))
	}
	d.mu.Unlock()
}

// grace gives a last read (after a failed write) a short deadline.
func (d *deadliner) grace(t time.Duration) {
	d.mu.Lock()
	if !d.cancelled {
		_ = d.conn.SetReadDeadline(earliest(d.ctx, t))
	}
	d.mu.Unlock()
}

// release detaches the context. It reports false if the context fired.
func (d *deadliner) release() bool {
	return d.stop()
}

// wrapErr prefers the context's error when the context ended.
func wrapErr(ctx context.Context, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("clamd: %s: %w (%v)", what, ctxErr, err)
	}
	// the connection deadline may fire a moment before the context's timer
	var ne net.Error
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) && errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("clamd: %s: %w (%v)", what, context.DeadlineExceeded, err)
	}
	return fmt.Errorf("clamd: %s: %w", what, err)
}

// isStale reports errors that mean clamd had closed a pooled connection.
func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

// command sends a single command on a fresh connection and reads replies
// until clamd closes it.
func (c *Client) command(ctx context.Context, cmd string, max int) ([]string, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	d := newDeadliner(ctx, conn, c.cfg.ReadTimeout)
	defer d.release()
	d.write()
	if _, err := io.WriteString(conn, "z"+cmd+"\x00"); err != nil {
		return nil, wrapErr(ctx, "send "+cmd, err)
	}
	r := bufio.NewReaderSize(conn, 4096)
	var lines []string
	for {
		d.read()
		line, err := readReply(r)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return lines, nil
			}
			return lines, wrapErr(ctx, "read "+cmd+" reply", err)
		}
		lines = append(lines, line)
		if len(lines) > max {
			return lines, fmt.Errorf("%w: more than %d replies to %s", ErrProtocol, max, cmd)
		}
	}
}

// Ping sends PING and wants PONG.
func (c *Client) Ping(ctx context.Context) error {
	lines, err := c.command(ctx, "PING", 1)
	if err != nil {
		return err
	}
	if len(lines) != 1 || lines[0] != "PONG" {
		return fmt.Errorf("%w: PING answered %q", ErrProtocol, lines)
	}
	return nil
}

// Version returns clamd's VERSION answer ("ClamAV 1.4.6/27000/...").
func (c *Client) Version(ctx context.Context) (string, error) {
	lines, err := c.command(ctx, "VERSION", 1)
	if err != nil {
		return "", err
	}
	if len(lines) != 1 || lines[0] == "" {
		return "", fmt.Errorf("%w: VERSION answered %q", ErrProtocol, lines)
	}
	return lines[0], nil
}
