// Package rspamd is a client for rspamd's scanning protocol: the message is
// POSTed to the normal worker's /checkv2 with the envelope in rspamd's
// request headers (From, Rcpt per recipient, IP, Helo, Hostname, Queue-Id,
// User, MTA-Name, Settings-ID, Pass), and the JSON reply gives the score, the
// required score, the action and the symbols with their scores.
//
// It is our own code: Shopify/go-rspamd is archived and the other Go clients
// are parts of larger programs (maddy's is GPL) — go-libraries.md §1 item
// 10, §2.10; the protocol is one HTTP request.
//
// As amavis's RspamdClient does, the header fields are filled from the
// envelope (addresses in angle brackets), a message above the body size
// limit (the scanner's mail_body_size_limit; rspamd has no default) is
// truncated, the score and the required score are multiplied by the score
// factor, symbol names have '=' and ',' replaced by '_', and an action that
// means spam ("add header", "rewrite subject", "reject", "discard",
// "quarantine") gives IsSpam.
package rspamd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mavis-filter/mavis/internal/check/spam"
)

// Defaults.
const (
	DefaultName     = "RspamdClient"
	DefaultURL      = "http://127.0.0.1:11333/checkv2"
	DefaultTimeout  = 60 * time.Second // amavis's RspamdClient (rspamd's normal worker: 60 s)
	DefaultMaxReply = 4 << 20
)

// Config configures a Client. The zero value works: rspamd's normal worker
// on 127.0.0.1:11333, 60 s per check, no size limit.
type Config struct {
	// Name is the scanner name in results and logs (default "RspamdClient").
	Name string
	// URL is the /checkv2 endpoint (http or https). A unix socket is given
	// as "unix:/path/to/socket" (the HTTP path is then /checkv2).
	URL string
	// Password is sent in the "Password" header (a controller or proxy
	// that requires it). Empty: not sent.
	Password string
	// BasicAuthUser and BasicAuthPassword set HTTP basic authentication
	// (amavis's credentials option, for a proxy in front of rspamd).
	BasicAuthUser, BasicAuthPassword string
	// SettingsID selects rspamd settings ("Settings-ID").
	SettingsID string
	// MTAName is sent as "MTA-Name" (amavis mta_name): lets rspamd trust
	// Authentication-Results written by that MTA.
	MTAName string
	// PassAll sends "Pass: all" (run every rule, no early exit).
	PassAll bool
	// BodySizeLimit is the scanner's mail_body_size_limit (bytes of body;
	// the header section is always sent, up to 32 KiB). 0: no limit.
	BodySizeLimit int64
	// Oversize says what happens above BodySizeLimit: spam.Truncate (as
	// amavis) or spam.Skip (Result.Skipped "too big").
	Oversize spam.Oversize
	// ScoreFactor multiplies score and required score (amavis score_factor,
	// typically tag2_level/15). 0 means 1.
	ScoreFactor float64
	// Timeout bounds one check in addition to the context. 0: DefaultTimeout.
	Timeout time.Duration
	// MaxReply bounds the JSON reply. 0: DefaultMaxReply.
	MaxReply int64
	// HTTPClient is used when set (TLS settings, proxies); its own Timeout
	// applies too. Nil: a private client with keep-alive connections.
	HTTPClient *http.Client
	// Logger receives debug lines; nil: slog.Default().
	Logger *slog.Logger
}

// Client checks messages with rspamd. It is safe for concurrent use.
type Client struct {
	cfg  Config
	url  string
	http *http.Client
	log  *slog.Logger
}

var _ spam.Scanner = (*Client)(nil)

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if cfg.BodySizeLimit < 0 {
		return nil, fmt.Errorf("rspamd: negative body size limit %d", cfg.BodySizeLimit)
	}
	if cfg.ScoreFactor == 0 {
		cfg.ScoreFactor = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxReply <= 0 {
		cfg.MaxReply = DefaultMaxReply
	}
	for _, v := range []string{cfg.Password, cfg.SettingsID, cfg.MTAName} {
		if strings.ContainsAny(v, "\r\n") {
			return nil, errors.New("rspamd: header value contains a line break")
		}
	}
	c := &Client{cfg: cfg, http: cfg.HTTPClient, log: cfg.Logger}
	if c.log == nil {
		c.log = slog.Default()
	}
	target := cfg.URL
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	if sock, ok := strings.CutPrefix(cfg.URL, "unix:"); ok {
		target = "http://rspamd/checkv2"
		var d net.Dialer
		dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", sock)
		}
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("rspamd: bad URL %q", cfg.URL)
	}
	c.url = target
	if c.http == nil {
		tr := &http.Transport{
			Proxy:                 nil, // rspamd is ours: never through an environment proxy
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       30 * time.Second,
			ResponseHeaderTimeout: 0, // bounded by the request context
			DisableCompression:    true,
		}
		var d net.Dialer
		tr.DialContext = d.DialContext
		if dial != nil {
			tr.DialContext = dial
		}
		c.http = &http.Client{Transport: tr}
	}
	return c, nil
}

// Name is the configured scanner name.
func (c *Client) Name() string { return c.cfg.Name }

// CloseIdleConnections closes kept-alive connections of the private client.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// reply is the part of rspamd's /checkv2 JSON we use.
type reply struct {
	IsSkipped     bool              `json:"is_skipped"`
	Score         *float64          `json:"score"`
	RequiredScore float64           `json:"required_score"`
	Action        string            `json:"action"`
	Symbols       map[string]symbol `json:"symbols"`
	Error         string            `json:"error"`
}

type symbol struct {
	Name  string  `json:"name"`
	Score float64 `json:"score"`
}

// spamActions are the rspamd actions amavis maps to the verdict Spam.
var spamActions = map[string]bool{
	"add header": true, "rewrite subject": true, "reject": true,
	"discard": true, "quarantine": true,
}

// Check sends the message to rspamd and returns its verdict.
func (c *Client) Check(ctx context.Context, req *spam.Request) (*spam.Result, error) {
	start := time.Now()
	if req == nil || req.Message == nil || req.Size < 0 {
		return nil, errors.New("rspamd: empty request")
	}
	res := &spam.Result{Scanner: c.cfg.Name}
	limit := int64(-1)
	if c.cfg.BodySizeLimit > 0 {
		limit = c.cfg.BodySizeLimit
	}
	hdrSize, err := spam.HeaderSize(req.Message, req.Size)
	if err != nil {
		return nil, fmt.Errorf("rspamd: %w", err)
	}
	sendLen := req.Size
	if t := spam.TruncateSize(req.Size, hdrSize, limit, spam.RspamdHeaderCap, 0); t > 0 {
		if c.cfg.Oversize == spam.Skip {
			res.Skipped = "too big"
			res.Elapsed = time.Since(start)
			c.log.DebugContext(ctx, "rspamd: message not sent, above body size limit",
				"log_id", req.LogID, "scanner", c.cfg.Name, "size", req.Size, "limit", c.cfg.BodySizeLimit)
			return res, nil
		}
		sendLen, res.Truncated = t, t
	}

	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url,
		io.NewSectionReader(req.Message, 0, sendLen))
	if err != nil {
		return nil, fmt.Errorf("rspamd: %w", err)
	}
	hreq.ContentLength = sendLen
	hreq.Header.Set("Content-Type", "application/octet-stream")
	hreq.Header.Set("User-Agent", "mavis")
	setMeta(hreq.Header, "Helo", req.ClientHelo)
	setMeta(hreq.Header, "Hostname", req.ClientName)
	setMeta(hreq.Header, "IP", req.ClientIP)
	setMeta(hreq.Header, "MTA-Name", c.cfg.MTAName)
	setMeta(hreq.Header, "From", spam.QuoteAddr(req.MailFrom))
	setMeta(hreq.Header, "Queue-Id", req.QueueID)
	setMeta(hreq.Header, "User", req.AuthUser)
	setMeta(hreq.Header, "Settings-ID", c.cfg.SettingsID)
	setMeta(hreq.Header, "Password", c.cfg.Password)
	if c.cfg.PassAll {
		hreq.Header.Set("Pass", "all")
	}
	for _, r := range req.Rcpts {
		if v := clean(spam.QuoteAddr(r)); v != "" {
			hreq.Header.Add("Rcpt", v)
		}
	}
	if c.cfg.BasicAuthUser != "" || c.cfg.BasicAuthPassword != "" {
		hreq.SetBasicAuth(c.cfg.BasicAuthUser, c.cfg.BasicAuthPassword)
	}

	resp, err := c.http.Do(hreq)
	if err != nil {
		return nil, c.ctxError(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxReply+1))
	if err != nil {
		return nil, c.ctxError(ctx, fmt.Errorf("reading reply: %w", err))
	}
	if int64(len(body)) > c.cfg.MaxReply {
		return nil, fmt.Errorf("rspamd: reply larger than %d bytes", c.cfg.MaxReply)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("rspamd: %s: %s", resp.Status, trimForError(string(body)))
	}
	rp, err := parseReply(body)
	if err != nil {
		return nil, err
	}
	res.Score = *rp.Score * c.cfg.ScoreFactor
	res.Required = rp.RequiredScore * c.cfg.ScoreFactor
	res.Action = rp.Action
	res.IsSpam = spamActions[rp.Action]
	res.Tests = symbolsToTests(rp.Symbols)
	if rp.IsSkipped {
		// rspamd stopped early (GTUBE, a pre-filter, settings): its score
		// and action still stand, as in amavis, which only logs "skipped/".
		c.log.DebugContext(ctx, "rspamd: rspamd skipped further checks", "log_id", req.LogID,
			"scanner", c.cfg.Name, "action", rp.Action)
	}
	res.Elapsed = time.Since(start)
	c.log.DebugContext(ctx, "rspamd: checked", "log_id", req.LogID, "scanner", c.cfg.Name,
		"score", res.Score, "required", res.Required, "action", res.Action,
		"tests", spam.FormatTests(res.Tests, true), "elapsed", res.Elapsed)
	return res, nil
}

// Ping asks the worker's /ping for "pong".
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	u := strings.TrimSuffix(c.url, "/checkv2")
	u = strings.TrimSuffix(u, "/") + "/ping"
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("rspamd: %w", err)
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		return c.ctxError(ctx, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(strings.TrimSpace(string(b)), "pong") {
		return fmt.Errorf("rspamd: ping: %s %q", resp.Status, trimForError(string(b)))
	}
	return nil
}

// parseReply decodes and checks the JSON reply.
func parseReply(body []byte) (*reply, error) {
	var rp reply
	if err := json.Unmarshal(body, &rp); err != nil {
		return nil, fmt.Errorf("rspamd: bad JSON reply: %w", err)
	}
	if rp.Error != "" {
		return nil, fmt.Errorf("rspamd: error: %s", trimForError(rp.Error))
	}
	if rp.Score == nil {
		return nil, errors.New("rspamd: reply without score")
	}
	return &rp, nil
}

// symbolsToTests turns rspamd's symbols into tests sorted by name; '=' and
// ',' in names become '_' (amavis's RspamdClient does the same).
func symbolsToTests(symbols map[string]symbol) []spam.Test {
	tests := make([]spam.Test, 0, len(symbols))
	for key, s := range symbols {
		name := s.Name
		if name == "" {
			name = key
		}
		name = strings.Map(func(r rune) rune {
			switch {
			case r == '=' || r == ',':
				return '_'
			case r <= ' ' || r == 0x7f:
				return '_'
			}
			return r
		}, name)
		tests = append(tests, spam.Test{Name: name, Score: s.Score})
	}
	slices.SortFunc(tests, func(a, b spam.Test) int { return strings.Compare(a.Name, b.Name) })
	return tests
}

// setMeta sets an rspamd request header when the value is not empty.
func setMeta(h http.Header, name, value string) {
	if v := clean(value); v != "" {
		h.Set(name, v)
	}
}

// clean drops characters that cannot appear in an HTTP header value.
func clean(v string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, v))
}

func (c *Client) ctxError(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("rspamd: %w (%v)", cerr, err)
	}
	return fmt.Errorf("rspamd: %w", err)
}

func trimForError(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
