package deliver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/idna"

	"github.com/mavis-filter/mavis/internal/mail"
)

// Connection cache parameters (amavis: a session is kept while messages
// keep coming and run down after a short idle time).
const (
	// DefaultIdleTimeout is how long an unused cached connection is kept.
	DefaultIdleTimeout = 15 * time.Second
	// maxIdlePerMethod bounds the idle connections kept per method.
	maxIdlePerMethod = 16
)

// Request is one delivery: a message and the recipients to send it to over
// one method.
type Request struct {
	Method Method
	LogID  string // amavis log id, quoted in failure texts as "id=<LogID>"
	// Envelope gives MailFrom and the MAIL parameters to pass on (BODY, RET,
	// ENVID, SMTPUTF8). Envelope.Rcpts is not used: see Rcpts.
	Envelope mail.Envelope
	// Rcpts are the recipients to deliver to; their Params (NOTIFY, ORCPT)
	// are passed on. Send sets Remote and QueuedAs on each.
	Rcpts []*mail.Recipient
	// Client is sent with XFORWARD when the next hop offers it.
	Client mail.ClientInfo
	// Prepend is header text put before the message (e.g. our Received:
	// and X-Spam-* fields), CRLF or LF line ends.
	Prepend []byte
	// Body is the original message (header and body), CRLF or LF line ends,
	// not dot-stuffed. It is streamed, never buffered whole.
	Body io.Reader
	// LocalName is the EHLO/LHLO name (amavis $localhost_name); "localhost"
	// when empty.
	LocalName string
	// PerRecipientCapable tells that the caller can report per-recipient
	// outcomes upstream (LMTP input, amavis $dsn_per_recip_capable). When
	// false (SMTP input, notifications) a recipient tempfailed by the next
	// hop at RCPT aborts the transaction before the message is sent, so that
	// the upstream MTA's retry does not duplicate the mail for the others.
	PerRecipientCapable bool
}

// Result is the outcome of a delivery.
type Result struct {
	// PerRcpt has one amavis-formatted reply per Request.Rcpts entry, in
	// order, e.g. "250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok:
	// queued as 4XyZ". 2xx: delivered; 4xx: tempfail; 5xx: rejected.
	PerRcpt []mail.Reply
	// Data is the overall reply as amavis logs it: a local failure's reply,
	// else the first 4xx, else the first 5xx, else the first recipient's.
	Data mail.Reply
	// QueuedAs lists the next hop's queue ids, unique, in order.
	QueuedAs []string
	// DSNPassedOn is true when the next hop offered DSN, so the DSN
	// parameters were passed on with the delivered recipients (amavis
	// dsn_passed_on; a success DSN is then the next hop's job).
	DSNPassedOn bool
	// Err is the local failure (connect, timeout, broken connection,
	// unreadable body), a *SessionError, nil when the session went well. Its
	// reply was given to every recipient it affected.
	Err error
}

// SessionError is a local failure of an outgoing session: what amavis turns
// into "451 4.5.0 From MTA(...) during <section> (<msg>): id=..." or
// "450 4.4.2 Timed out during <section>, MTA(...), id=...".
type SessionError struct {
	Section string // fwd-connect, fwd-mail-from, fwd-rcpt-to, fwd-data-contents, ...
	MTA     string // "smtp:[127.0.0.1]:10025"; empty before the session was set up
	Timeout bool
	Msg     string // amavis-style description
	Err     error  // the underlying error, if any

	dead bool // a reused connection was found dead before any reply: retry
}

func (e *SessionError) Error() string {
	s := fmt.Sprintf("MTA(%s) during %s: %s", e.MTA, e.Section, e.Msg)
	if e.Timeout {
		s = fmt.Sprintf("MTA(%s): timed out during %s", e.MTA, e.Section)
	}
	if e.Err != nil && !strings.Contains(e.Msg, e.Err.Error()) {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *SessionError) Unwrap() error { return e.Err }

// Reply is the reply amavis gives the affected recipients.
func (e *SessionError) Reply(logID string) mail.Reply {
	if e.Timeout {
		return mail.Reply{Code: 450, Enh: "4.4.2",
			Text: fmt.Sprintf("Timed out during %s, MTA(%s), id=%s", e.Section, e.MTA, logID)}
	}
	return mail.Reply{Code: 451, Enh: "4.5.0",
		Text: fmt.Sprintf("From MTA(%s) during %s (%s): id=%s", e.MTA, e.Section, e.Msg, logID)}
}

// Client delivers messages. It is safe for concurrent use and holds the
// connection cache.
type Client struct {
	t           Timeouts
	cache       bool
	log         *slog.Logger
	idleTimeout time.Duration

	mu     sync.Mutex
	idle   map[string][]*conn
	closed bool

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// NewClient returns a client with the given per-phase timeouts (zero fields
// take DefaultTimeouts' values). With cacheEnable (amavis
// $smtp_connection_cache_enable) connections are kept after a successful
// delivery and reused for the next message to the same method; idle ones
// are closed after DefaultIdleTimeout by a background goroutine that Close
// stops.
func NewClient(t Timeouts, cacheEnable bool, logger *slog.Logger) *Client {
	return newClient(t, cacheEnable, logger, DefaultIdleTimeout)
}

func newClient(t Timeouts, cacheEnable bool, logger *slog.Logger, idle time.Duration) *Client {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		t:           t.withDefaults(),
		cache:       cacheEnable,
		log:         logger,
		idleTimeout: idle,
		idle:        map[string][]*conn{},
	}
	if cacheEnable {
		c.stop = make(chan struct{})
		c.done = make(chan struct{})
		go c.reaper()
	}
	return c
}

// Close stops the reaper and closes the cached connections (with QUIT).
// Sends still running finish normally; their connections are not cached.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		if c.stop != nil {
			close(c.stop)
			<-c.done
		}
		c.reap(true)
	})
	return nil
}

func (c *Client) reaper() {
	defer close(c.done)
	tick := time.NewTicker(max(c.idleTimeout/3, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
			c.reap(false)
		}
	}
}

// reap closes idle connections older than the idle timeout, or all.
func (c *Client) reap(all bool) {
	var victims []*conn
	c.mu.Lock()
	for key, list := range c.idle {
		keep := list[:0]
		for _, cn := range list {
			if all || time.Since(cn.lastUsed) >= c.idleTimeout {
				victims = append(victims, cn)
			} else {
				keep = append(keep, cn)
			}
		}
		if len(keep) == 0 {
			delete(c.idle, key)
		} else {
			c.idle[key] = keep
		}
	}
	c.mu.Unlock()
	for _, cn := range victims {
		c.log.Debug("smtp session rundown", "mta", cn.mtaID, "transactions", cn.txns,
			"idle", time.Since(cn.lastUsed).Round(time.Millisecond))
		cn.quit(min(c.t.Quit, 2*time.Second))
	}
}

// takeIdle returns a cached connection for the method, if one is fresh.
func (c *Client) takeIdle(key string) *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := c.idle[key]
	defer func() {
		if len(list) == 0 {
			delete(c.idle, key)
		} else {
			c.idle[key] = list
		}
	}()
	for len(list) > 0 {
		cn := list[len(list)-1]
		list = list[:len(list)-1]
		if time.Since(cn.lastUsed) < c.idleTimeout {
			return cn
		}
		_ = cn.close()
	}
	return nil
}

// purge drops all idle connections of a method (after one was found dead,
// e.g. because the next hop restarted).
func (c *Client) purge(key string) {
	c.mu.Lock()
	list := c.idle[key]
	delete(c.idle, key)
	c.mu.Unlock()
	for _, cn := range list {
		_ = cn.close()
	}
}

// release returns a connection after a Send: to the cache, or QUIT.
func (c *Client) release(cn *conn) {
	if cn == nil {
		return
	}
	if !cn.broken && !c.cache {
		cn.quit(c.t.Quit) // still bound: bounded by the Send's context
	}
	cn.unbind()
	cn.unbind = nil
	if cn.broken || !c.cache {
		_ = cn.close()
		return
	}
	cn.lastUsed = time.Now()
	var victim *conn
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cn.quit(min(c.t.Quit, 2*time.Second))
		return
	}
	key := cn.method.key()
	list := append(c.idle[key], cn)
	if len(list) > maxIdlePerMethod {
		victim, list = list[0], list[1:]
	}
	c.idle[key] = list
	c.mu.Unlock()
	if victim != nil {
		victim.quit(min(c.t.Quit, 2*time.Second))
	}
}

// Send delivers req.Body to req.Rcpts. It returns an error only for an
// invalid request; the delivery outcome, including local failures, is in
// the Result: every recipient gets a reply (see Result).
func (c *Client) Send(ctx context.Context, req *Request) (*Result, error) {
	switch {
	case req == nil:
		return nil, errors.New("deliver: nil request")
	case req.Method.Proto != "smtp" && req.Method.Proto != "lmtp":
		return nil, fmt.Errorf("deliver: method %q: unsupported protocol %q", req.Method.Spec, req.Method.Proto)
	case req.Method.Network != "tcp" && req.Method.Network != "unix":
		return nil, fmt.Errorf("deliver: method %q: unsupported network %q", req.Method.Spec, req.Method.Network)
	case req.Body == nil:
		return nil, errors.New("deliver: nil body")
	}
	for i, r := range req.Rcpts {
		if r == nil {
			return nil, fmt.Errorf("deliver: recipient %d is nil", i)
		}
	}
	s := &sender{
		c:    c,
		req:  req,
		res:  &Result{PerRcpt: make([]mail.Reply, len(req.Rcpts))},
		done: make([]bool, len(req.Rcpts)),
	}
	for _, r := range req.Rcpts {
		r.Remote, r.QueuedAs = mail.Reply{}, ""
	}
	if len(req.Rcpts) > 0 {
		s.run(ctx)
	}
	s.finish()
	return s.res, nil
}

// sender is the state of one Send.
type sender struct {
	c    *Client
	req  *Request
	res  *Result
	done []bool // recipient has its reply
	cn   *conn  // the connection in use (kept across 452 rounds)
	fail *SessionError
	mta  string
}

func (s *sender) setReply(i int, rep mail.Reply, remote *reply) {
	s.res.PerRcpt[i] = rep
	s.done[i] = true
	if remote == nil {
		return
	}
	rc := s.req.Rcpts[i]
	rc.Remote = remote.mail()
	if remote.class() == 2 {
		if q := queuedAs(*remote); q != "" {
			rc.QueuedAs = q
			for _, have := range s.res.QueuedAs {
				if have == q {
					return
				}
			}
			s.res.QueuedAs = append(s.res.QueuedAs, q)
		}
	}
}

// run delivers in as many transactions as 452 replies require.
func (s *sender) run(ctx context.Context) {
	defer func() { s.c.release(s.cn) }()
	pending := make([]int, len(s.req.Rcpts))
	for i := range pending {
		pending[i] = i
	}
	for len(pending) > 0 {
		t, f := s.transaction(ctx, pending)
		if f != nil {
			s.fail = f
			rep := f.Reply(s.req.LogID)
			for _, i := range pending {
				if !s.done[i] {
					s.setReply(i, rep, nil)
				}
			}
			s.c.log.Info("mail_via_smtp: session failed", "id", s.req.LogID, "mta", f.MTA,
				"section", f.Section, "error", f.Error())
			s.res.Err = f
			return
		}
		if !t.dataSent || len(t.deferred) == 0 {
			return
		}
		// "452 too many recipients": deliver the rest in another transaction
		for _, i := range t.deferred {
			s.done[i] = false
			s.req.Rcpts[i].Remote = mail.Reply{}
		}
		pending = t.deferred
	}
}

// finish computes the overall reply.
func (s *sender) finish() {
	if s.fail != nil {
		s.res.Data = s.fail.Reply(s.req.LogID)
		return
	}
	var first, first4, first5 *mail.Reply
	for i := range s.res.PerRcpt {
		r := &s.res.PerRcpt[i]
		if first == nil {
			first = r
		}
		if r.Class() == 4 && first4 == nil {
			first4 = r
		}
		if r.Class() != 2 && r.Class() != 4 && first5 == nil {
			first5 = r
		}
	}
	switch {
	case first4 != nil:
		s.res.Data = *first4
	case first5 != nil:
		s.res.Data = *first5
	case first != nil:
		s.res.Data = *first
	default:
		s.res.Data = mail.Reply{Code: 250, Enh: "2.5.0", Text: "Ok, nothing to do, id=" + s.req.LogID}
	}
}

// transaction runs one mail transaction for the pending recipients on a
// connection, retrying once on a fresh connection when a cached one turns
// out dead before the next hop answered anything.
func (s *sender) transaction(ctx context.Context, pending []int) (*txn, *SessionError) {
	for attempt := 0; ; attempt++ {
		reused := false
		if s.cn == nil && attempt == 0 && s.c.cache {
			if cn := s.c.takeIdle(s.req.Method.key()); cn != nil {
				cn.unbind = cn.bind(ctx)
				s.cn = cn
				s.c.log.Debug("smtp session reuse", "mta", cn.mtaID, "transactions", cn.txns)
			}
		}
		if s.cn != nil {
			reused = true
		} else {
			cn, f := s.c.dial(ctx, s.req)
			if f != nil {
				return nil, f
			}
			s.cn = cn
		}
		s.mta = s.cn.mtaID
		t := &txn{s: s, cn: s.cn, ctx: ctx, idx: pending, reused: reused, pipelining: s.cn.supports("PIPELINING")}
		f := t.run()
		if f == nil {
			return t, nil
		}
		if t.inData || s.cn.broken || f.dead {
			_ = s.cn.close()
		} else {
			s.cn.quit(min(s.c.t.Quit, time.Second))
		}
		s.c.release(s.cn)
		s.cn = nil
		if f.dead && attempt == 0 {
			s.c.log.Info("cached smtp session found dead, retrying on a new connection",
				"id", s.req.LogID, "mta", f.MTA, "error", f.Error())
			s.c.purge(s.req.Method.key())
			// nobody answered anything: no recipient has a reply yet
			for _, i := range pending {
				s.done[i] = false
			}
			continue
		}
		return t, f
	}
}

// dial connects, reads the greeting and says EHLO (LHLO for LMTP, HELO as
// a fallback): amavis's section fwd-connect.
func (c *Client) dial(ctx context.Context, req *Request) (*conn, *SessionError) {
	m := req.Method
	const section = "fwd-connect"
	if err := ctx.Err(); err != nil {
		return nil, ctxFailure(err, section, "")
	}
	d := net.Dialer{Timeout: c.t.Connect}
	nc, err := d.DialContext(ctx, m.Network, m.Address)
	if err != nil {
		c.log.Warn("connect failed", "id", req.LogID, "method", m.Spec, "error", err)
		if cerr := ctx.Err(); cerr != nil {
			return nil, ctxFailure(cerr, section, "")
		}
		return nil, &SessionError{Section: section, Err: err,
			Msg: fmt.Sprintf("All attempts (1) failed connecting to %s", m.Spec)}
	}
	cn := &conn{nc: nc, method: m, r: bufio.NewReaderSize(nc, 4096), established: time.Now()}
	cn.dw = &deadlineWriter{c: cn}
	cn.w = bufio.NewWriterSize(cn.dw, 32*1024)
	cn.lmtp = m.Proto == "lmtp"
	cn.unbind = cn.bind(ctx)
	fail := func(f *SessionError) (*conn, *SessionError) {
		cn.unbind()
		_ = cn.close()
		return nil, f
	}
	r, err := cn.read(c.t.Greeting)
	if err != nil {
		return fail(ioFailure(ctx, err, section, "", "greeting", false))
	}
	if r.class() != 2 {
		return fail(&SessionError{Section: section, Msg: "Negative greeting: " + r.String()})
	}
	name := localName(req.LocalName)
	verb := "EHLO"
	if cn.lmtp {
		verb = "LHLO"
	}
	if err := cn.cmd(verb + " " + name); err == nil {
		err = cn.flush(c.t.EHLO)
	}
	if err != nil {
		return fail(ioFailure(ctx, err, section, "", verb, true))
	}
	r, err = cn.read(c.t.EHLO)
	if err != nil {
		return fail(ioFailure(ctx, err, section, "", verb, false))
	}
	switch {
	case r.class() == 2:
		cn.parseEHLO(r)
	case cn.lmtp:
		return fail(&SessionError{Section: section, Msg: "Negative SMTP resp. to LHLO: " + r.String()})
	default:
		c.log.Debug("negative SMTP resp. to EHLO, will try HELO", "reply", r.String())
		if err := cn.cmd("HELO " + name); err == nil {
			err = cn.flush(c.t.EHLO)
		}
		if err != nil {
			return fail(ioFailure(ctx, err, section, "", "HELO", true))
		}
		r, err = cn.read(c.t.EHLO)
		if err != nil {
			return fail(ioFailure(ctx, err, section, "", "HELO", false))
		}
		if r.class() != 2 {
			return fail(&SessionError{Section: section, Msg: "Negative response to HELO: " + r.String()})
		}
		cn.ext = map[string]string{}
	}
	cn.mtaID = m.MTAID()
	return cn, nil
}

// localName returns a usable EHLO argument.
func localName(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\r\n\x00") {
		return "localhost"
	}
	if !isASCII(s) {
		if ace, err := idna.Lookup.ToASCII(s); err == nil && isASCII(ace) {
			return ace
		}
		return "localhost"
	}
	return s
}

// ctxFailure describes the end of the caller's context.
func ctxFailure(err error, section, mta string) *SessionError {
	if errors.Is(err, context.DeadlineExceeded) {
		return &SessionError{Section: section, MTA: mta, Timeout: true, Err: err, Msg: "timed out"}
	}
	return &SessionError{Section: section, MTA: mta, Err: err, Msg: "aborted: " + err.Error()}
}

// ioFailure describes an I/O error while talking to the next hop.
func ioFailure(ctx context.Context, err error, section, mta, what string, writing bool) *SessionError {
	if cerr := ctx.Err(); cerr != nil {
		return ctxFailure(cerr, section, mta)
	}
	if dl, ok := ctx.Deadline(); ok && isTimeout(err) && !time.Now().Before(dl) {
		// the I/O deadline was the context's: report it as such
		return ctxFailure(context.DeadlineExceeded, section, mta)
	}
	switch {
	case isTimeout(err):
		return &SessionError{Section: section, MTA: mta, Timeout: true, Err: err, Msg: "timed out"}
	case errors.Is(err, errBadReply):
		return &SessionError{Section: section, MTA: mta, Err: err, Msg: "Bad response to " + what}
	case writing:
		return &SessionError{Section: section, MTA: mta, Err: err, Msg: "Error writing to socket: " + ioErrText(err)}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return &SessionError{Section: section, MTA: mta, Err: err, Msg: "No response to " + what}
	default:
		return &SessionError{Section: section, MTA: mta, Err: err, Msg: "Error reading from socket: " + ioErrText(err)}
	}
}
