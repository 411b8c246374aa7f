package smtpd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/mavis-filter/mavis/internal/mail"
)

// amavis log levels as slog levels (see the package documentation).
const (
	lvl1 = slog.Level(-1)
	lvl2 = slog.Level(-2)
	lvl3 = slog.Level(-3)
	lvl4 = slog.Level(-4)
)

// Reply texts used in more than one place.
const (
	replyShutdown    = "421 4.3.2 Service shutting down, closing channel"
	replyIdleTimeout = "421 4.3.2 Service shutting down, closing channel, during waiting for input from client"
	replyDataTimeout = "421 4.3.2 Service shutting down, timed out during waiting for input from client"
)

// phase tells Shutdown whether a session may be interrupted.
type phase uint8

const (
	phaseCommand phase = iota // waiting for or handling a command: interruptible
	phaseMessage              // receiving or processing a message: finish it
)

var (
	errShutdown    = errors.New("smtpd: shutting down")
	errLineTooLong = errors.New("smtpd: command line too long")
)

const (
	readBufSize  = 64 << 10
	spoolBufSize = 32 << 10
	maxOutBuf    = 16 << 10
)

// session is one client connection.
type session struct {
	srv    *Server
	opts   *Options
	conn   net.Conn
	br     *bufio.Reader
	out    []byte // replies not yet sent
	logger *slog.Logger

	info      mail.ConnInfo
	heloName  string // "[127.0.0.1]"
	sessionID string
	seq       int // messages begun in this session

	lmtp       bool
	pipelining bool
	proto      string // SMTP, ESMTP or LMTP

	// transaction
	inTx      bool
	logID     string
	senderRaw string // the path as written, without brackets
	sender    string // unquoted
	params    mail.MailParams
	rcpts     []*mail.Recipient
	gotRcpt   int
	client    mail.ClientInfo
	xforward  map[string]string
	msgLogger *slog.Logger

	line   []byte
	spoolW *bufio.Writer

	mu       sync.Mutex // guards stopIdle, phase and the read deadline
	stopIdle bool
	phase    phase
}

// sessConn re-arms the idle timeout before every read and refuses to read
// commands once a shutdown asked idle sessions to go.
type sessConn struct{ s *session }

func (c sessConn) Read(p []byte) (int, error) {
	s := c.s
	s.mu.Lock()
	if s.stopIdle && s.phase == phaseCommand {
		s.mu.Unlock()
		return 0, errShutdown
	}
	s.conn.SetReadDeadline(time.Now().Add(s.opts.IdleTimeout))
	s.mu.Unlock()
	return s.conn.Read(p)
}

func newSession(srv *Server, conn net.Conn, opts *Options, info mail.ConnInfo, lmtp bool) *session {
	s := &session{
		srv:       srv,
		opts:      opts,
		conn:      conn,
		info:      info,
		lmtp:      lmtp,
		proto:     "SMTP",
		heloName:  "[localhost]",
		sessionID: srv.ids.Session(),
		xforward:  map[string]string{},
	}
	if lmtp {
		s.proto = "LMTP"
	}
	if info.LocalIP != "" {
		s.heloName = "[" + info.LocalIP + "]"
	}
	if br, ok := srv.readers.Get().(*bufio.Reader); ok {
		br.Reset(sessConn{s})
		s.br = br
	} else {
		s.br = bufio.NewReaderSize(sessConn{s}, readBufSize)
	}
	s.logger = srv.logger.With("log_id", s.sessionID)
	s.msgLogger = s.logger
	return s
}

// release gives the session's buffers back to the server for the next
// session; the session must not be used any more.
func (s *session) release() {
	if s.br != nil {
		s.br.Reset(nil)
		s.srv.readers.Put(s.br)
		s.br = nil
	}
	if s.spoolW != nil {
		s.spoolW.Reset(nil)
		s.srv.spoolWriters.Put(s.spoolW)
		s.spoolW = nil
	}
}

// interrupt is called by Shutdown: an idle session is woken to say 421.
func (s *session) interrupt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopIdle = true
	if s.phase == phaseCommand {
		s.conn.SetReadDeadline(time.Now())
	}
}

func (s *session) setPhase(p phase) {
	s.mu.Lock()
	s.phase = p
	s.mu.Unlock()
}

func (s *session) stopRequested() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopIdle
}

// reply queues a reply; it is sent at once when flush is set or the client
// is not pipelining. The result is false when the connection failed.
func (s *session) reply(flush bool, text string) bool {
	s.out = appendReply(s.out, text)
	if flush || !s.pipelining || len(s.out) > maxOutBuf {
		return s.flush()
	}
	return true
}

func (s *session) flush() bool {
	if len(s.out) == 0 {
		return true
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.opts.IdleTimeout))
	_, err := s.conn.Write(s.out)
	s.out = s.out[:0]
	if err != nil {
		s.msgLogger.Log(context.Background(), lvl1, "flush failed: "+err.Error())
		return false
	}
	return true
}

// lineBuffered reports whether a complete command line waits in the input
// buffer (then replies may stay queued: RFC 2920).
func (s *session) lineBuffered() bool {
	n := s.br.Buffered()
	if n == 0 {
		return false
	}
	b, _ := s.br.Peek(n)
	return bytes.IndexByte(b, '\n') >= 0
}

// serve runs the session until QUIT, a broken connection, a timeout or a
// shutdown.
func (s *session) serve(ctx context.Context) {
	banner := expandBanner(s.opts.GreetingBanner, s.macros())
	if !s.reply(true, "220 "+banner) {
		return
	}
	for {
		if s.stopRequested() {
			s.reply(true, replyShutdown)
			return
		}
		line, err := s.readCommand()
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				if !s.reply(false, "500 5.5.2 Error: line too long") {
					return
				}
				if !s.lineBuffered() && !s.flush() {
					return
				}
				continue
			}
			s.endOnReadError(err, false)
			return
		}
		if s.msgLogger.Enabled(ctx, lvl4) {
			s.msgLogger.Log(ctx, lvl4, s.proto+"< "+sanitizeReply(line))
		}
		if quit := s.command(ctx, line); quit {
			return
		}
		if !s.lineBuffered() && !s.flush() {
			return
		}
	}
}

// endOnReadError ends a session whose read failed: a shutdown or an idle
// timeout is announced with 421, a broken connection just logged.
func (s *session) endOnReadError(err error, inData bool) {
	switch {
	case errors.Is(err, errShutdown) || (errors.Is(err, os.ErrDeadlineExceeded) && s.stopRequested() && !inData):
		s.reply(true, replyShutdown)
	case errors.Is(err, os.ErrDeadlineExceeded):
		if inData {
			s.msgLogger.Log(context.Background(), slog.LevelWarn, s.proto+" ABORTING: timed out during waiting for input from client")
			s.reply(true, replyDataTimeout)
		} else {
			s.msgLogger.Log(context.Background(), slog.LevelWarn, "Requesting process rundown, task exceeded allowed time during waiting for input from client")
			s.reply(true, replyIdleTimeout)
		}
	case inData:
		s.msgLogger.Log(context.Background(), lvl3, s.proto+" ABORTING: Connection broken during data transfer")
	default:
		s.msgLogger.Log(context.Background(), lvl3, s.proto+": notice: client broke the connection without a QUIT ("+err.Error()+")")
	}
}

// readCommand reads one command line ended by CRLF (a bare LF does not end
// it, as in amavis), without the CRLF. A line longer than MaxLineLength is
// read to its end and reported as errLineTooLong.
func (s *session) readCommand() (string, error) {
	s.line = s.line[:0]
	tooLong, prevCR := false, false
	for {
		frag, err := s.br.ReadSlice('\n')
		if !tooLong {
			if len(s.line)+len(frag) > s.opts.MaxLineLength+2 {
				tooLong = true
				s.line = s.line[:0]
			} else {
				s.line = append(s.line, frag...)
			}
		}
		if err == bufio.ErrBufferFull {
			prevCR = len(frag) > 0 && frag[len(frag)-1] == '\r'
			continue
		}
		if err != nil {
			return "", err
		}
		n := len(frag)
		if (n >= 2 && frag[n-2] == '\r') || (n == 1 && prevCR) {
			break
		}
		prevCR = false
	}
	if tooLong {
		return "", errLineTooLong
	}
	return string(s.line[:len(s.line)-2]), nil
}

func (s *session) macros() map[string]string {
	protocol := "ESMTP"
	if s.lmtp {
		protocol = "LMTP"
	}
	return map[string]string{
		"helo-name":    s.heloName,
		"myhostname":   s.opts.MyHostname,
		"version":      s.opts.Version,
		"version-id":   "",
		"version-date": "",
		"product":      s.opts.Product,
		"protocol":     protocol,
	}
}

// resetTx forgets the transaction and the XFORWARD attributes.
func (s *session) resetTx() {
	s.inTx = false
	s.senderRaw, s.sender = "", ""
	s.params = mail.MailParams{}
	s.rcpts = nil
	s.gotRcpt = 0
	s.client = mail.ClientInfo{}
	clear(s.xforward)
	s.msgLogger = s.logger
}

// command handles one command line; quit reports the end of the session.
func (s *session) command(ctx context.Context, line string) (quit bool) {
	verb, args, ok := splitCommand(line)
	if !ok {
		s.penalize("500 5.5.2 Error: bad syntax", line)
		return false
	}
	switch verb {
	case "NOOP":
		return !s.reply(true, "250 2.0.0 Ok NOOP")
	case "QUIT":
		if args != "" {
			s.penalize("501 5.5.4 Error: QUIT does not accept arguments", line)
			return false
		}
		s.reply(true, "221 2.0.0 "+expandBanner(s.opts.QuitBanner, s.macros()))
		return true
	case "RSET", "HELO", "EHLO", "LHLO", "STARTTLS":
		s.resetTx()
		switch {
		case (verb == "RSET" || verb == "STARTTLS") && args != "":
			s.penalize("501 5.5.4 Error: "+verb+" does not accept arguments", line)
		case verb == "RSET":
			s.reply(false, "250 2.0.0 Ok RSET")
		case verb == "STARTTLS":
			s.reply(true, "502 5.5.1 Error: command not available")
		case verb == "HELO":
			s.pipelining, s.lmtp, s.proto = false, false, "SMTP"
			s.info.Helo = args
			s.reply(false, "250 "+s.heloName)
		default: // EHLO, LHLO
			s.pipelining = true
			s.lmtp = verb == "LHLO"
			s.proto = "ESMTP"
			if s.lmtp {
				s.proto = "LMTP"
			}
			s.info.Helo = args
			resp := "250 " + s.heloName
			for _, k := range s.opts.ehloKeywords() {
				resp += "\n" + k
			}
			s.reply(true, resp)
		}
	case "XFORWARD":
		if s.inTx {
			s.penalize("503 5.5.1 Error: XFORWARD not allowed within transaction", line)
			return false
		}
		if e := applyXForward(s.xforward, args); e != "" {
			s.penalize(e, line)
			return false
		}
		s.reply(true, "250 2.5.0 Ok XFORWARD")
	case "HELP":
		s.reply(false, "214 2.0.0 See "+s.opts.Product+" home page at:\n"+s.opts.HelpURL)
	case "VRFY":
		if args == "" {
			s.penalize("501 5.5.2 Syntax: VRFY address", line)
		} else {
			s.reply(true, "252 2.0.0 Argument not checked")
		}
	case "MAIL":
		s.mailFrom(args, line)
	case "RCPT":
		s.rcptTo(args, line)
	case "DATA":
		return s.data(ctx, args, line)
	case "EXPN", "TURN", "ETRN", "SEND", "SOML", "SAML":
		s.reply(true, "502 5.5.1 Error: command "+verb+" not implemented")
	default:
		s.penalize("500 5.5.2 Error: command "+verb+" not recognized", line)
	}
	return false
}

// penalize sends an error reply and logs it with the offending line, as
// amavis does for client errors (level 0).
func (s *session) penalize(resp, line string) {
	s.penalizeFlush(true, resp, line)
}

// penalizeFlush is penalize with amavis's flush flag.
func (s *session) penalizeFlush(flush bool, resp, line string) {
	s.msgLogger.Info(fmt.Sprintf("%s: %s; smtp_resp: %s", s.proto, resp, sanitizeReply(line)))
	s.reply(flush, resp)
}

func (s *session) mailFrom(args, line string) {
	if s.inTx {
		s.penalize("503 5.5.1 Error: nested MAIL command", line)
		return
	}
	path, opt, ok := parsePath(args, true)
	if !ok {
		s.penalizeFlush(false, "501 5.5.2 Syntax: MAIL FROM:<address>", line)
		return
	}
	params, e := parseMailParams(opt)
	if e != "" {
		s.penalizeFlush(false, e, line)
		return
	}
	s.seq++
	s.logID = mail.ForMessage(s.sessionID, s.seq)
	s.msgLogger = s.srv.logger.With("log_id", s.logID)
	s.inTx = true
	s.senderRaw = path[1 : len(path)-1]
	s.sender = unquoteAddr(path)
	s.params = params
	s.client = clientInfo(s.xforward)
	clear(s.xforward)
	if q := quoteAddr(s.sender); q != path {
		s.msgLogger.Log(context.Background(), lvl2, sanitizeReply("address modified (sender): "+path+" -> "+q))
	}
	s.reply(false, "250 2.1.0 Sender "+path+" OK")
}

func (s *session) rcptTo(args, line string) {
	if !s.inTx {
		s.rcpts, s.gotRcpt = nil, 0
		s.penalize("503 5.5.1 Need MAIL command before RCPT", line)
		return
	}
	s.gotRcpt++
	path, opt, ok := parsePath(args, false)
	if !ok {
		s.penalizeFlush(false, "501 5.5.2 Syntax: RCPT TO:<address>", line)
		return
	}
	params, e := parseRcptParams(opt)
	addr := unquoteAddr(path)
	if q := quoteAddr(addr); q != path && params.ORcpt == "" && e == "" {
		// RFC 3461: keep the recipient as the client wrote it
		s.msgLogger.Log(context.Background(), lvl2, sanitizeReply("address modified (recip): "+path+" -> "+q+", setting orcpt"))
		params.ORcpt = "rfc822;" + xtextEncode(path[1:len(path)-1])
	}
	if e == "" && s.opts.MessageSizeLimit > 0 && s.params.Size > s.opts.MessageSizeLimit {
		e = fmt.Sprintf("552 5.3.4 Declared message size (%d B) exceeds size limit for recipient %s", s.params.Size, path)
		s.msgLogger.Info(sanitizeReply(fmt.Sprintf("%s REJECT 'RCPT TO': %s", s.proto, e)))
		s.reply(false, e)
		return
	}
	if e == "" && s.gotRcpt > s.opts.RecipientLimit {
		e = "452 4.5.3 Too many recipients"
	}
	if e != "" {
		if e[0] == '5' {
			s.penalizeFlush(false, e, line)
		} else {
			s.reply(false, e)
		}
		return
	}
	s.rcpts = append(s.rcpts, &mail.Recipient{Addr: addr, Raw: path[1 : len(path)-1], Params: params})
	s.reply(false, "250 2.1.5 Recipient "+path+" OK")
}

// data handles DATA: receives the message, runs the handler, answers.
func (s *session) data(ctx context.Context, args, line string) (quit bool) {
	if args != "" {
		s.penalize("501 5.5.4 Error: DATA does not accept arguments", line)
		return false
	}
	if len(s.rcpts) == 0 {
		switch {
		case !s.inTx:
			s.penalize("503 5.5.1 Need MAIL command before DATA", line)
		case s.gotRcpt == 0:
			s.penalize("503 5.5.1 Need RCPT command before DATA", line)
		case s.lmtp: // RFC 2033 requires 503
			s.reply(true, "503 5.1.1 Error (DATA): no valid recipients")
		default:
			s.reply(true, "554 5.1.1 Error (DATA): no valid recipients")
		}
		return false
	}
	defer s.resetTx()
	s.setPhase(phaseMessage)
	defer s.setPhase(phaseCommand)

	received := time.Now()
	if s.msgLogger.Enabled(ctx, lvl1) {
		s.msgLogger.Log(ctx, lvl1, s.dataLogLine())
	}
	if !s.reply(true, "354 End data with <CR><LF>.<CR><LF>") {
		return true
	}

	spool := mail.NewSpool(s.opts.TempDir, s.opts.SpoolThreshold)
	// The spool goes before the reply is sent, on every path (Close is
	// idempotent; the deferred call covers a broken connection).
	closeSpool := func() {
		if err := spool.Close(); err != nil {
			s.msgLogger.Warn("smtpd: " + err.Error())
		}
	}
	defer closeSpool()
	if s.spoolW == nil {
		if w, ok := s.srv.spoolWriters.Get().(*bufio.Writer); ok {
			s.spoolW = w
		} else {
			s.spoolW = bufio.NewWriterSize(nil, spoolBufSize)
		}
	}
	s.spoolW.Reset(spool)
	dec := newDataDecoder(s.spoolW, s.opts.MessageSizeLimit)
	for {
		if s.br.Buffered() == 0 {
			if _, err := s.br.Peek(1); err != nil {
				s.endOnReadError(err, true)
				return true
			}
		}
		p, _ := s.br.Peek(s.br.Buffered())
		n, done := dec.feed(p)
		s.br.Discard(n)
		if done {
			break
		}
	}
	if err := s.spoolW.Flush(); err != nil && dec.err == nil {
		dec.err = err
	}
	s.spoolW.Reset(nil)

	if dec.oversized || dec.err != nil {
		closeSpool()
	}
	switch {
	case dec.oversized:
		msg := fmt.Sprintf("552 5.3.4 Message size (%d B) exceeds size limit", dec.size)
		s.msgLogger.Info(s.proto + " REJECT: " + msg)
		return !s.reply(true, msg)
	case dec.err != nil:
		msg := "451 4.5.0 Error in processing: " + dec.err.Error()
		s.msgLogger.Error(s.proto + " TROUBLE: " + msg)
		return !s.reply(true, msg)
	}

	hdr, err := mail.ParseHeader(spool.Reader())
	if err != nil {
		closeSpool()
		msg := "451 4.5.0 Error in processing: " + err.Error()
		s.msgLogger.Error(s.proto + " TROUBLE: " + msg)
		return !s.reply(true, msg)
	}
	m := &mail.Message{
		LogID: s.logID,
		Envelope: mail.Envelope{
			MailFrom:    s.sender,
			MailFromRaw: s.senderRaw,
			Params:      s.params,
			Rcpts:       s.rcpts,
		},
		Client:   s.client,
		Conn:     s.info,
		Body:     spool,
		Size:     dec.size,
		Header:   hdr,
		Received: received,
	}
	m.MailID, m.SecretID = mail.NewMailID()
	m.Conn.LMTP = s.lmtp
	m.Conn.Protocol = s.messageProto()

	out := s.process(ctx, m)
	closeSpool()
	if !s.lmtp {
		s.reply(false, out.SMTP.String())
	} else {
		for _, r := range out.PerRcpt {
			s.reply(false, r.String())
		}
	}
	return !s.flush()
}

// process runs the handler under child_timeout, turning a panic or an
// unusable outcome into 451 4.5.0.
func (s *session) process(ctx context.Context, m *mail.Message) (out mail.Outcome) {
	pctx, cancel := context.WithTimeout(ctx, s.opts.ChildTimeout)
	defer cancel()
	fail := func(reason string) mail.Outcome {
		r := mail.Reply{Code: 451, Enh: "4.5.0",
			Text: fmt.Sprintf("Error in processing, id=%s, check FAILED: %s", m.LogID, reason)}
		o := mail.Outcome{SMTP: r}
		for range m.Envelope.Rcpts {
			o.PerRcpt = append(o.PerRcpt, r)
		}
		return o
	}
	defer func() {
		if v := recover(); v != nil {
			reason := fmt.Sprintf("panic: %v", v)
			if len(reason) > 200 {
				reason = reason[:200]
			}
			s.msgLogger.Error("TROUBLE in check_mail: "+reason, "stack", string(debug.Stack()))
			out = fail(reason)
		}
	}()
	out = s.srv.handler.Process(pctx, m)
	if s.lmtp {
		ok := len(out.PerRcpt) == len(m.Envelope.Rcpts)
		for _, r := range out.PerRcpt {
			ok = ok && validReply(r)
		}
		if !ok {
			s.msgLogger.Error(fmt.Sprintf("TROUBLE: handler gave %d valid-looking LMTP replies for %d recipients", len(out.PerRcpt), len(m.Envelope.Rcpts)))
			return fail("no valid response")
		}
	} else if !validReply(out.SMTP) {
		s.msgLogger.Error(fmt.Sprintf("TROUBLE: handler gave an invalid SMTP reply %q", out.SMTP.String()))
		return fail("no valid response")
	}
	return out
}

// messageProto is the RFC 3848 protocol name of the current message.
func (s *session) messageProto() string {
	if s.params.SMTPUTF8 && (s.proto == "ESMTP" || s.proto == "LMTP") {
		if s.proto == "ESMTP" {
			return "UTF8SMTP"
		}
		return "UTF8LMTP"
	}
	return s.proto
}

// dataLogLine is amavis's level 1 line at DATA.
func (s *session) dataLogLine() string {
	var b strings.Builder
	b.WriteString(s.proto)
	b.WriteString(" ")
	if s.info.UnixSocket != "" {
		b.WriteString(s.info.UnixSocket)
	} else {
		b.WriteString("[" + s.info.LocalIP + "]:" + s.info.LocalPort)
	}
	b.WriteString(" <" + s.senderRaw + "> -> ")
	for i, r := range s.rcpts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("<" + r.Raw + ">")
	}
	p := s.params
	if p.Size > 0 {
		fmt.Fprintf(&b, " SIZE=%d", p.Size)
	}
	if p.Body != "" {
		b.WriteString(" BODY=" + p.Body)
	}
	if p.SMTPUTF8 {
		b.WriteString(" SMTPUTF8")
	}
	if p.Ret != "" {
		b.WriteString(" RET=" + p.Ret)
	}
	if p.EnvID != "" {
		b.WriteString(" ENVID=" + xtextDecode(p.EnvID))
	}
	return sanitizeReply(b.String())
}

// connInfo describes a connection (addresses unmapped, ports as text).
func connInfo(c net.Conn, lmtp bool) mail.ConnInfo {
	ci := mail.ConnInfo{LMTP: lmtp, Protocol: "SMTP"}
	if lmtp {
		ci.Protocol = "LMTP"
	}
	switch la := c.LocalAddr().(type) {
	case *net.TCPAddr:
		ap := la.AddrPort()
		ci.LocalIP, ci.LocalPort = ap.Addr().Unmap().String(), itoa(int64(ap.Port()))
		if ra, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			rp := ra.AddrPort()
			ci.RemoteIP, ci.RemotePort = rp.Addr().Unmap().String(), itoa(int64(rp.Port()))
		}
	case *net.UnixAddr:
		ci.UnixSocket = la.Name
	default:
		if h, p, err := net.SplitHostPort(c.LocalAddr().String()); err == nil {
			ci.LocalIP, ci.LocalPort = h, p
		}
		if h, p, err := net.SplitHostPort(c.RemoteAddr().String()); err == nil {
			ci.RemoteIP, ci.RemotePort = h, p
		}
	}
	return ci
}

func netipAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("smtpd: peer address %q: %w", s, err)
	}
	return a.Unmap(), nil
}
