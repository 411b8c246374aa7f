package deliver

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/mavis-filter/mavis/internal/mail"
)

// maxPipelined is the number of commands sent before their replies are
// read. Reading in groups keeps a next hop's unread replies from filling
// the socket buffers while we are still writing (RFC 2920 deadlock).
const maxPipelined = 100

// expect is a reply we are waiting for.
type expect struct {
	section string
	timeout time.Duration
	what    string // the command, for "No response to <what>"
	handle  func(r reply) *SessionError
}

// txn is one mail transaction on a connection.
type txn struct {
	s          *sender
	cn         *conn
	ctx        context.Context
	idx        []int // recipients of this transaction
	reused     bool
	pipelining bool

	pend     []expect
	gotReply bool // the next hop answered something in this transaction

	mailFailed bool
	accepted   []int // RCPT accepted, in order
	deferred   []int // 452 too many recipients
	tempfail   int   // other 4xx to RCPT
	skip       *mail.Reply
	dataReply  *reply
	inData     bool // DATA accepted and the dot not yet sent
	dataSent   bool
}

func (t *txn) fail(section, msg string, err error) *SessionError {
	return &SessionError{Section: section, MTA: t.s.mta, Msg: msg, Err: err}
}

func (t *txn) ioFail(err error, section, what string, writing bool) *SessionError {
	t.cn.broken = true
	f := ioFailure(t.ctx, err, section, t.s.mta, what, writing)
	if t.reused && !t.gotReply && !t.inData && !t.dataSent && t.ctx.Err() == nil {
		f.dead = true
	}
	return f
}

// queue writes a command and arranges for its reply; without pipelining
// (or when the group is full) the reply is read at once.
func (t *txn) queue(line string, e expect) *SessionError {
	if err := t.cn.cmd(line); err != nil {
		return t.ioFail(err, e.section, e.what, true)
	}
	t.pend = append(t.pend, e)
	if !t.pipelining || len(t.pend) >= maxPipelined {
		return t.drain()
	}
	return nil
}

// drain sends what is buffered and reads the pending replies in order.
func (t *txn) drain() *SessionError {
	if len(t.pend) == 0 {
		return nil
	}
	last := t.pend[len(t.pend)-1]
	if err := t.cn.flush(last.timeout); err != nil {
		return t.ioFail(err, last.section, last.what, true)
	}
	for len(t.pend) > 0 {
		e := t.pend[0]
		t.pend = t.pend[1:]
		r, err := t.cn.read(e.timeout)
		if err != nil {
			return t.ioFail(err, e.section, e.what, false)
		}
		if r.code == 421 {
			// the next hop is closing the connection
			t.cn.broken = true
			if t.reused && !t.gotReply {
				return &SessionError{Section: e.section, MTA: t.s.mta, dead: true,
					Msg: "Negative SMTP response to " + e.what + ": " + r.String()}
			}
		}
		t.gotReply = true
		if e.handle != nil {
			if f := e.handle(r); f != nil {
				return f
			}
		}
	}
	return nil
}

// run performs the transaction.
func (t *txn) run() *SessionError {
	s, cn, req := t.s, t.cn, t.s.req
	tm := s.c.t
	env := req.Envelope

	eightbit := cn.supports("8BITMIME")
	utf8cap := eightbit && cn.supports("SMTPUTF8")
	dsn := cn.supports("DSN")
	s.res.DSNPassedOn = dsn
	smtputf8 := env.Params.SMTPUTF8

	// Addresses as they go on the wire; IDN domains become ACE when the
	// next hop cannot take UTF-8 (amavis mail_addr_idn_to_ascii).
	sender := env.MailFrom
	addrs := make(map[int]string, len(t.idx))
	orcpt := make(map[int]string)
	for _, i := range t.idx {
		addrs[i] = req.Rcpts[i].Addr
	}
	if !(smtputf8 && utf8cap) {
		if a, ok := idnToASCII(sender); ok {
			s.c.log.Debug("sender IDN encoded to ACE", "from", sender, "to", a)
			sender = a
		}
		for _, i := range t.idx {
			if a, ok := idnToASCII(addrs[i]); ok {
				s.c.log.Debug("recipient IDN encoded to ACE", "from", addrs[i], "to", a)
				if req.Rcpts[i].Params.ORcpt == "" {
					orcpt[i] = "utf-8;" + utf8AddrXtext(addrs[i])
				}
				addrs[i] = a
			}
		}
	}
	if smtputf8 && !utf8cap {
		nonASCII := !isASCII(sender)
		for _, i := range t.idx {
			nonASCII = nonASCII || !isASCII(addrs[i])
		}
		if !nonASCII {
			// RFC 6531 3.4: not needed for ASCII addresses, whatever the header
			smtputf8 = false
		}
	}

	body := strings.ToUpper(env.Params.Body)
	switch {
	case body != "" && body != "7BIT" && !eightbit:
		s.c.log.Warn("requested BODY type, but MTA does not announce 8bit-MIMEtransport capability",
			"id", req.LogID, "body", body, "mta", s.mta)
		t.failAll(mail.Reply{Code: 550, Enh: "5.6.3", Text: "Conversion to 7BIT required but not supported"})
		return nil
	case smtputf8 && !utf8cap && !isASCII(sender):
		t.failAll(mail.Reply{Code: 550, Enh: "5.6.7", Text: "Non-ASCII addresses not permitted for sender"})
		return nil
	}
	from, err := smtpPath(sender)
	if err != nil {
		s.c.log.Warn("bad sender address", "id", req.LogID, "error", err)
		t.failAll(mail.Reply{Code: 501, Enh: "5.1.7", Text: "Bad sender address syntax"})
		return nil
	}

	// RSET first when the connection may hold a transaction.
	if cn.dirty {
		if f := t.queue("RSET", expect{section: "fwd-rset", timeout: tm.RSET, what: "RSET",
			handle: func(r reply) *SessionError {
				if r.class() != 2 {
					cn.broken = true
					return &SessionError{Section: "fwd-rset", MTA: s.mta, dead: t.reused,
						Msg: "Negative SMTP response to RSET: " + r.String()}
				}
				cn.dirty = false
				return nil
			}}); f != nil {
			return f
		}
	}

	// XFORWARD, pipelined with MAIL as Postfix's own client does.
	if arg, ok := cn.ext["XFORWARD"]; ok {
		for _, line := range xforwardLines(req.Client, arg) {
			if f := t.queue(line, expect{section: "fwd-xforward", timeout: tm.Mail, what: "XFORWARD",
				handle: func(r reply) *SessionError {
					if r.class() != 2 {
						s.c.log.Info("Negative SMTP resp. to XFORWARD", "id", req.LogID, "reply", r.String())
					}
					return nil
				}}); f != nil {
				return f
			}
		}
	}

	// MAIL FROM
	var params []string
	if eightbit && (body == "7BIT" || body == "8BITMIME") {
		params = append(params, "BODY="+body)
	}
	if smtputf8 && utf8cap {
		params = append(params, "SMTPUTF8")
	}
	if dsn {
		if ret := strings.ToUpper(env.Params.Ret); ret == "FULL" || ret == "HDRS" {
			params = append(params, "RET="+ret)
		}
		if envid := env.Params.EnvID; envid != "" {
			if validParamValue(envid, false) {
				params = append(params, "ENVID="+envid)
			} else {
				s.c.log.Warn("Prohibited character in ENVID", "id", req.LogID, "envid", envid)
			}
		}
	}
	mailSection := "fwd-mail-from"
	rcptSection := "fwd-rcpt-to"
	dataSection := "fwd-data-cmd"
	if t.pipelining {
		mailSection, rcptSection, dataSection = "fwd-mail-pip", "fwd-rcpt-pip", "fwd-data-chkpnt"
	}
	cn.dirty = true
	cn.txns++
	if f := t.queue(joinCmd("MAIL FROM:"+from, params), expect{section: mailSection, timeout: tm.Mail, what: "MAIL",
		handle: func(r reply) *SessionError {
			if r.class() == 2 {
				return nil
			}
			t.mailFailed = true
			rep := enhance(&r, s.mta, ".1.0", "MAIL FROM")
			for _, i := range t.idx {
				if !s.done[i] {
					s.setReply(i, rep, &r)
				}
			}
			return nil
		}}); f != nil {
		return f
	}

	// RCPT TO
	utf8ok := smtputf8 && utf8cap
	for _, i := range t.idx {
		if s.done[i] {
			continue // MAIL failed (without pipelining)
		}
		if t.skip != nil {
			s.setReply(i, *t.skip, nil)
			t.deferred = append(t.deferred, i)
			continue
		}
		addr := addrs[i]
		if smtputf8 && !utf8cap && !isASCII(addr) {
			s.setReply(i, mail.Reply{Code: 553, Enh: "5.6.7", Text: "Non-ASCII addresses not permitted for recipient"}, nil)
			continue
		}
		path, err := smtpPath(addr)
		if err != nil || addr == "" {
			s.c.log.Warn("bad recipient address", "id", req.LogID, "addr", addr, "error", err)
			s.setReply(i, mail.Reply{Code: 501, Enh: "5.1.3", Text: "Bad recipient address syntax"}, nil)
			continue
		}
		var rp []string
		if dsn {
			p := req.Rcpts[i].Params
			if notify := notifyParam(p.Notify); notify != "" && env.MailFrom != "" {
				rp = append(rp, "NOTIFY="+notify)
			}
			o := p.ORcpt
			if o == "" {
				o = orcpt[i]
			}
			if o != "" {
				if validORcpt(o, utf8ok) {
					rp = append(rp, "ORCPT="+o)
				} else {
					s.c.log.Warn("invalid ORCPT not passed on", "id", req.LogID, "orcpt", o)
				}
			}
		}
		if f := t.queue(joinCmd("RCPT TO:"+path, rp), expect{section: rcptSection, timeout: tm.Rcpt, what: "RCPT (" + path + ")",
			handle: func(r reply) *SessionError {
				if s.done[i] {
					return nil // MAIL failed: keep its diagnostics
				}
				rep := enhance(&r, s.mta, ".1.0", "RCPT TO")
				switch {
				case r.class() == 2:
					t.accepted = append(t.accepted, i)
				case r.code == 452:
					// too many recipients: the rest go in another transaction
					t.deferred = append(t.deferred, i)
					s.setReply(i, rep, &r)
					if t.skip == nil {
						sk := enhance(&r, s.mta, ".5.3", "RCPT TO")
						t.skip = &sk
					}
				default:
					if r.class() == 4 {
						t.tempfail++
					}
					s.setReply(i, rep, &r)
				}
				return nil
			}}); f != nil {
			return f
		}
	}

	if !t.pipelining {
		if t.mailFailed || len(t.accepted) == 0 {
			return nil // nothing to send; RSET next time
		}
		if t.tempfail > 0 && !req.PerRecipientCapable {
			// SMTP input: going on would duplicate mail on the upstream retry
			s.c.log.Info("mail_via_smtp: DATA skipped, tempfailed recips", "id", req.LogID, "count", t.tempfail)
			rep := t.firstTempfail()
			for _, i := range t.accepted {
				s.setReply(i, rep, nil)
			}
			return nil
		}
	}

	// DATA
	if f := t.queue("DATA", expect{section: dataSection, timeout: tm.DataInit, what: "DATA",
		handle: func(r reply) *SessionError {
			t.dataReply = &r
			return nil
		}}); f != nil {
		return f
	}
	if f := t.drain(); f != nil {
		return f
	}
	dr := t.dataReply
	if dr.class() != 3 {
		rep := enhance(dr, s.mta, ".5.0", "DATA")
		for _, i := range t.accepted {
			if !s.done[i] {
				s.setReply(i, rep, dr)
			}
		}
		return nil
	}
	t.inData = true
	if t.mailFailed || len(t.accepted) == 0 {
		// RFC 2920: DATA was accepted although nothing is valid: a lone dot
		s.c.log.Debug("DATA accepted but no valid recips, send dummy", "id", req.LogID)
		if err := cn.cmd("."); err == nil {
			err = cn.flush(tm.DataDone)
		}
		if err != nil {
			return t.ioFail(err, "fwd-dummydata-end", "data-dot", true)
		}
		t.inData = false
		if _, err := cn.read(tm.DataDone); err != nil {
			return t.ioFail(err, "fwd-dummydata-end", "data-dot", false)
		}
		return nil
	}
	if t.tempfail > 0 && !req.PerRecipientCapable {
		s.c.log.Info("Too late, DATA accepted but tempfailed recips, bail out", "id", req.LogID)
		return t.fail("fwd-data-chkpnt", "Bail out, DATA accepted but tempfailed recips, not an LMTP input", nil)
	}
	if f := t.sendData(); f != nil {
		return f
	}

	// The reply(ies) to the dot: one for SMTP, one per accepted recipient
	// for LMTP.
	const section = "fwd-rundown-1"
	allOK := true
	var rep reply
	for n, i := range t.accepted {
		if n == 0 || cn.lmtp {
			r, err := cn.read(tm.DataDone)
			if err != nil {
				return t.ioFail(err, section, "data-dot", false)
			}
			rep = r
			t.gotReply = true
			if r.class() != 2 {
				allOK = false
				s.c.log.Info("Negative SMTP response to data-dot", "id", req.LogID,
					"rcpt", req.Rcpts[i].Addr, "reply", r.String())
			}
			if r.code == 421 {
				cn.broken = true
			}
		}
		s.setReply(i, enhance(&rep, s.mta, ".6.0", "data-dot"), &rep)
	}
	cn.dirty = !allOK
	return nil
}

// failAll gives every recipient of the transaction the same local reply.
func (t *txn) failAll(rep mail.Reply) {
	for _, i := range t.idx {
		if !t.s.done[i] {
			t.s.setReply(i, rep, nil)
		}
	}
}

// firstTempfail returns the first 4xx reply among the recipients.
func (t *txn) firstTempfail() mail.Reply {
	for _, i := range t.idx {
		if r := t.s.res.PerRcpt[i]; t.s.done[i] && r.Class() == 4 {
			return r
		}
	}
	return mail.Reply{Code: 451, Enh: "4.5.0", Text: "tempfailed recipients, id=" + t.s.req.LogID}
}

// sendData streams the prepended header and the message, then the dot.
// Any failure here leaves the DATA phase unterminated: the caller drops the
// connection, so the next hop discards the partial message.
func (t *txn) sendData() *SessionError {
	cn, req, tm := t.cn, t.s.req, t.s.c.t
	cn.dw.timeout = tm.DataBlock
	dw := newDataWriter(cn.w)
	if len(req.Prepend) > 0 {
		if _, err := dw.Write(req.Prepend); err != nil {
			return t.ioFail(err, "fwd-data-hdr", "data", true)
		}
	}
	if cn.buf == nil {
		cn.buf = make([]byte, 32*1024)
	}
	buf := cn.buf
	for {
		if err := t.ctx.Err(); err != nil {
			t.cn.broken = true
			return ctxFailure(err, "fwd-data-contents", t.s.mta)
		}
		n, rerr := req.Body.Read(buf)
		if n > 0 {
			if _, err := dw.Write(buf[:n]); err != nil {
				return t.ioFail(err, "fwd-data-contents", "data", true)
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			t.cn.broken = true
			return t.fail("fwd-data-contents", "Error reading: "+rerr.Error(), rerr)
		}
	}
	if dw.nuls > 0 {
		t.s.c.log.Info("smtp forwarding: SANITIZED NULL byte(s)", "id", req.LogID, "count", dw.nuls)
	}
	if err := dw.end(); err != nil {
		return t.ioFail(err, "fwd-data-end", "data-dot", true)
	}
	if err := cn.flush(tm.DataBlock); err != nil {
		return t.ioFail(err, "fwd-data-end", "data-dot", true)
	}
	t.inData = false
	t.dataSent = true
	return nil
}

func joinCmd(cmd string, params []string) string {
	if len(params) == 0 {
		return cmd
	}
	return cmd + " " + strings.Join(params, " ")
}

// notifyParam renders NOTIFY= from the received values, dropping junk.
func notifyParam(vals []string) string {
	var out []string
	for _, v := range vals {
		switch v = strings.ToUpper(strings.TrimSpace(v)); v {
		case "NEVER", "SUCCESS", "FAILURE", "DELAY":
			out = append(out, v)
		}
	}
	return strings.Join(out, ",")
}
