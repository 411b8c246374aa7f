// Package spamd is a client for SpamAssassin's spamd (the SPAMC/1.5
// protocol): one TCP or unix-socket connection per check, the message sent
// with Content-length (optionally zlib-compressed), the verdict read from
// the "Spam:" reply header and, depending on the command, the test names
// (SYMBOLS), the tests with their scores (REPORT) or SpamAssassin's own
// X-Spam-Status with the autolearn status (HEADERS).
//
// It is our own code. Of the Go spamd clients, teamwork/spamc cannot be had
// (the module proxy answers 403) and baruwa-enterprise/spamd-client v1.0.1
// can be had only by its explicit version, is unmaintained since 2021 and
// MPL-2.0 (go-libraries.md §1 item 10, §2.10). We also need things specific
// to amavis compatibility — its pseudo header and truncation rule, the
// REPORT table and X-Spam-Tests parsing, context-bound deadlines on every
// read and write — and the protocol itself is small.
//
// As amavis's SpamdClient does, the message is prefixed with the synthesized
// header fields Return-Path, X-Envelope-To, X-Amavis-AV-Status (when given),
// X-Amavis-PolicyBank and X-Amavis-MessageSize, and a message above the body
// size limit (amavis's sa_mail_body_size_limit) is truncated — or, with
// Oversize: spam.Skip, not sent at all.
package spamd

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mavis-filter/mavis/internal/check/spam"
)

// Command is the SPAMC command used for a check.
type Command string

// The commands Check can use.
const (
	// Report (REPORT) gives the tests with their scores (one decimal, as in
	// SpamAssassin's report table) and the report text. The default.
	Report Command = "REPORT"
	// Symbols (SYMBOLS) gives the test names only, as amavis's SpamdClient
	// uses it (X-Spam-Status then shows tests=[GTUBE, NO_RECEIVED]).
	Symbols Command = "SYMBOLS"
	// Headers (HEADERS) gives SpamAssassin's rewritten header section: test
	// names and autolearn from its X-Spam-Status, and — when spamd's site
	// config adds "add_header all Tests _TESTSSCORES(,)_" — the exact test
	// scores, and the exact total as their sum: the same tests=[...] and
	// score= as amavis with SpamAssassin in-process.
	Headers Command = "HEADERS"
)

// Defaults.
const (
	DefaultName           = "SpamdClient"
	DefaultTimeout        = 60 * time.Second
	DefaultConnectTimeout = 10 * time.Second // amavis's SpamdClient
	DefaultMaxReply       = 4 << 20
)

// DefaultAddrs are tried in order when Config.Addrs is empty (amavis's
// SpamdClient: 127.0.0.1:783, then [::1]:783).
var DefaultAddrs = []string{"127.0.0.1:783", "[::1]:783"}

// Config configures a Client. The zero value works: spamd on 127.0.0.1:783,
// REPORT, no size limit, 60 s per check.
type Config struct {
	// Name is the scanner name in results and logs (default "SpamdClient").
	Name string
	// Addrs are spamd's addresses, tried in order until one accepts the
	// connection: "host:port" for TCP, an absolute path for a unix socket.
	Addrs []string
	// Command is REPORT (default), SYMBOLS or HEADERS.
	Command Command
	// User is sent as "User:" (SpamAssassin per-user preferences, amavis
	// sa_username) unless the request names one. Empty: no User header.
	User string
	// Compress sends the message zlib-compressed ("Compress: zlib", spamd
	// 3.4+ with Compress::Zlib). The compressed message is built in memory.
	Compress bool
	// BodySizeLimit is amavis's sa_mail_body_size_limit (bytes of body;
	// the header section is always sent, up to 64 KiB). 0: no limit.
	BodySizeLimit int64
	// Oversize says what happens above BodySizeLimit: spam.Truncate (send
	// the first part, as amavis) or spam.Skip (do not check; Result.Skipped
	// is "too big").
	Oversize spam.Oversize
	// ScoreFactor multiplies the score (amavis score_factor). 0 means 1.
	ScoreFactor float64
	// Timeout bounds one whole check (connect, send, SpamAssassin's work,
	// reply) in addition to the context's deadline. 0: DefaultTimeout.
	Timeout time.Duration
	// ConnectTimeout bounds each connection attempt. 0: DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// MaxReply bounds spamd's reply body. 0: DefaultMaxReply.
	MaxReply int64
	// Logger receives debug lines; nil: slog.Default().
	Logger *slog.Logger
}

// Client checks messages with spamd. It is safe for concurrent use; each
// check uses its own connection (spamd serves one request per connection).
type Client struct {
	cfg    Config
	dialer net.Dialer
	log    *slog.Logger
}

var _ spam.Scanner = (*Client)(nil)

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if len(cfg.Addrs) == 0 {
		cfg.Addrs = DefaultAddrs
	}
	switch cfg.Command {
	case "":
		cfg.Command = Report
	case Report, Symbols, Headers:
	default:
		return nil, fmt.Errorf("spamd: unsupported command %q (want REPORT, SYMBOLS or HEADERS)", cfg.Command)
	}
	if strings.ContainsAny(cfg.User, "\r\n") {
		return nil, errors.New("spamd: user name contains a line break")
	}
	if cfg.BodySizeLimit < 0 {
		return nil, fmt.Errorf("spamd: negative body size limit %d", cfg.BodySizeLimit)
	}
	if cfg.ScoreFactor == 0 {
		cfg.ScoreFactor = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.MaxReply <= 0 {
		cfg.MaxReply = DefaultMaxReply
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	return &Client{cfg: cfg, dialer: net.Dialer{Timeout: cfg.ConnectTimeout}, log: lg}, nil
}

// Name is the configured scanner name.
func (c *Client) Name() string { return c.cfg.Name }

// Check sends the message to spamd and returns its verdict.
func (c *Client) Check(ctx context.Context, req *spam.Request) (*spam.Result, error) {
	start := time.Now()
	if req == nil || req.Message == nil || req.Size < 0 {
		return nil, errors.New("spamd: empty request")
	}
	res := &spam.Result{Scanner: c.cfg.Name}
	limit := int64(-1)
	if c.cfg.BodySizeLimit > 0 {
		limit = c.cfg.BodySizeLimit
	}
	hdrSize, err := spam.HeaderSize(req.Message, req.Size)
	if err != nil {
		return nil, fmt.Errorf("spamd: %w", err)
	}
	truncateAt := spam.TruncateSize(req.Size, hdrSize, limit, spam.SpamdHeaderCap, 1)
	if truncateAt > 0 && c.cfg.Oversize == spam.Skip {
		res.Skipped = "too big"
		res.Elapsed = time.Since(start)
		c.log.DebugContext(ctx, "spamd: message not sent, above body size limit",
			"log_id", req.LogID, "scanner", c.cfg.Name, "size", req.Size, "limit", c.cfg.BodySizeLimit)
		return res, nil
	}
	prefix := pseudoHeader(req, truncateAt)
	sendLen := int64(len(prefix)) + req.Size
	if truncateAt > 0 && sendLen > truncateAt {
		// amavis counts the pseudo header inside the limit
		sendLen = truncateAt
		res.Truncated = truncateAt
	}
	body := messageReader(prefix, req, sendLen, res.Truncated > 0)

	user := c.cfg.User
	if req.User != "" {
		user = req.User
	}
	if strings.ContainsAny(user, "\r\n") {
		return nil, errors.New("spamd: user name contains a line break")
	}

	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	var payload []byte // the compressed message, when compressing
	if c.cfg.Compress {
		var buf bytes.Buffer
		zw := zlib.NewWriter(&buf)
		if _, err := io.Copy(zw, ctxReader{ctx, body}); err != nil {
			return nil, fmt.Errorf("spamd: compressing message: %w", err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("spamd: compressing message: %w", err)
		}
		payload = buf.Bytes()
	}

	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := bindDeadline(ctx, conn)
	defer stop()

	var hdr strings.Builder
	fmt.Fprintf(&hdr, "%s SPAMC/1.5\r\n", c.cfg.Command)
	if payload != nil {
		fmt.Fprintf(&hdr, "Content-length: %d\r\nCompress: zlib\r\n", len(payload))
	} else {
		fmt.Fprintf(&hdr, "Content-length: %d\r\n", sendLen)
	}
	if user != "" {
		fmt.Fprintf(&hdr, "User: %s\r\n", user)
	}
	hdr.WriteString("\r\n")

	bw := bufio.NewWriterSize(conn, 16<<10)
	werr := func() error {
		if _, err := bw.WriteString(hdr.String()); err != nil {
			return err
		}
		if payload != nil {
			if _, err := bw.Write(payload); err != nil {
				return err
			}
		} else if n, err := io.Copy(bw, body); err != nil {
			return err
		} else if n != sendLen {
			return fmt.Errorf("message is %d bytes, expected %d", n, sendLen)
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		// spamd reads a compressed message up to EOF: half-close, as spamc
		// does (harmless otherwise)
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			return cw.CloseWrite()
		}
		return nil
	}()
	br := bufio.NewReaderSize(conn, 4<<10)
	if werr != nil {
		// spamd may have answered (and closed) early with an error: report it
		if ctx.Err() == nil {
			dl := time.Now().Add(time.Second)
			if cdl, ok := ctx.Deadline(); ok && cdl.Before(dl) {
				dl = cdl
			}
			_ = conn.SetReadDeadline(dl)
			if _, rerr := readReply(br, c.cfg.MaxReply); rerr != nil && !isNetError(rerr) {
				return nil, fmt.Errorf("spamd: %w (while sending: %v)", rerr, werr)
			}
		}
		return nil, c.ioError(ctx, "sending message", werr)
	}
	rp, err := readReply(br, c.cfg.MaxReply)
	if err != nil {
		return nil, c.ioError(ctx, "reading reply", err)
	}
	if !rp.HasSpam {
		return nil, errors.New("spamd: reply without Spam header")
	}
	res.IsSpam = rp.IsSpam
	res.Score = rp.Score * c.cfg.ScoreFactor
	res.Required = rp.Required
	switch c.cfg.Command {
	case Symbols:
		res.Tests = parseSymbols(rp.Body)
	case Report:
		res.Report = string(rp.Body)
		res.Tests = parseReport(rp.Body)
	case Headers:
		info := parseHeaders(rp.Body)
		res.Tests, res.Autolearn = info.Tests, info.Autolearn
		if info.Exact {
			// the "Spam:" score has one decimal; the sum of the exact test
			// scores is SpamAssassin's own score (amavis with SpamAssassin
			// in-process writes score=999.998 where spamd says 1000.0)
			var sum float64
			for _, t := range info.Tests {
				sum += t.Score
			}
			sum = math.Round(sum*1e9) / 1e9
			if math.Abs(sum-rp.Score) <= 0.1+1e-9 {
				res.Score = sum * c.cfg.ScoreFactor
			}
		}
	}
	res.Elapsed = time.Since(start)
	c.log.DebugContext(ctx, "spamd: checked", "log_id", req.LogID, "scanner", c.cfg.Name,
		"score", res.Score, "spam", res.IsSpam, "tests", spam.FormatTests(res.Tests, true),
		"elapsed", res.Elapsed)
	return res, nil
}

// Ping asks spamd for PONG.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	conn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := bindDeadline(ctx, conn)
	defer stop()
	if _, err := io.WriteString(conn, "PING SPAMC/1.5\r\n\r\n"); err != nil {
		return c.ioError(ctx, "sending PING", err)
	}
	rp, err := readReply(bufio.NewReader(conn), 1024)
	if err != nil {
		return c.ioError(ctx, "reading PONG", err)
	}
	if rp.Message != "PONG" {
		return fmt.Errorf("spamd: unexpected answer to PING: %s %d %s", rp.Version, rp.Code, rp.Message)
	}
	return nil
}

// dial connects to the first address that accepts.
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var errs []error
	for _, addr := range c.cfg.Addrs {
		network := "tcp"
		if strings.HasPrefix(addr, "/") {
			network = "unix"
		}
		conn, err := c.dialer.DialContext(ctx, network, addr)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("spamd: cannot connect: %w", errors.Join(errs...))
}

// ioError wraps a network error; when the context ended, that is the cause.
func (c *Client) ioError(ctx context.Context, what string, err error) error {
	cerr := ctx.Err()
	if cerr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		// the connection's deadline is the context's; its timer may not
		// have fired yet
		cerr = context.DeadlineExceeded
	}
	if cerr != nil {
		return fmt.Errorf("spamd: %s: %w (%v)", what, cerr, err)
	}
	return fmt.Errorf("spamd: %s: %w", what, err)
}

func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "without a reply")
}

// bindDeadline makes every I/O on conn end at ctx's deadline or when ctx is
// cancelled. The returned function releases the context watch.
func bindDeadline(ctx context.Context, conn net.Conn) func() bool {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	return context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
}

// pseudoHeader builds the header fields amavis prepends for SpamAssassin
// (CRLF line ends, as amavis sends to spamd).
func pseudoHeader(req *spam.Request, truncateAt int64) []byte {
	var b bytes.Buffer
	b.WriteString("Return-Path: ")
	b.WriteString(spam.QuoteAddr(req.MailFrom))
	b.WriteString("\r\n")
	b.WriteString("X-Envelope-To: ")
	for i, r := range req.Rcpts {
		if i > 0 {
			b.WriteString(",\r\n ")
		}
		b.WriteString(spam.QuoteAddr(r))
	}
	b.WriteString("\r\n")
	if len(req.AVTests) > 0 {
		b.WriteString("X-Amavis-AV-Status: ")
		b.WriteString(sanitize(strings.Join(req.AVTests, ",")))
		b.WriteString("\r\n")
	}
	b.WriteString("X-Amavis-PolicyBank: ")
	b.WriteString(sanitize(req.PolicyBank))
	b.WriteString("\r\n")
	b.WriteString("X-Amavis-MessageSize: ")
	b.WriteString(strconv.FormatInt(req.Size, 10))
	if truncateAt > 0 {
		b.WriteString(", TRUNCATED to ")
		b.WriteString(strconv.FormatInt(truncateAt, 10))
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// sanitize keeps a header value on one line of printable characters.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// ctxReader stops reading when ctx is done (compressing a big message
// takes time too, and must stay within the check's deadline).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	return c.r.Read(p)
}

// messageReader returns prefix + message, n bytes in all. When truncated,
// the last byte is a line feed (spamd reads lines; amavis does the same).
func messageReader(prefix []byte, req *spam.Request, n int64, truncated bool) io.Reader {
	all := io.MultiReader(bytes.NewReader(prefix), io.NewSectionReader(req.Message, 0, req.Size))
	if !truncated || n <= 0 {
		return io.LimitReader(all, n)
	}
	return io.MultiReader(io.LimitReader(all, n-1), strings.NewReader("\n"))
}
