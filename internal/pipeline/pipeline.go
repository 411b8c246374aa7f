package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mavis-filter/mavis/internal/decode"
	"github.com/mavis-filter/mavis/internal/deliver"
	"github.com/mavis-filter/mavis/internal/logging"
	"github.com/mavis-filter/mavis/internal/lookup"
	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/notify"
	"github.com/mavis-filter/mavis/internal/policy"
)

// Settings is the part of the configuration snapshot the pipeline uses. A
// message is processed with the snapshot taken when it started.
type Settings struct {
	Product       string         // "mavis", shown in Received:
	MyHostname    string         // myhostname
	LocalhostName string         // localhost_name: our EHLO name
	Forward       deliver.Method // forward_method
	// Resolve returns the settings for one recipient (lookups in the
	// *_maps tables). nil: DefaultRcptPolicy for everybody.
	Resolve func(ctx context.Context, addr string) (*RcptPolicy, error)
	// Originating marks mail from our own users (policy bank originating).
	Originating bool
	SoftBounce  bool
	// PolicyBank is the path of loaded policy banks, for the log line.
	PolicyBank string
	Checks     Checks
	Actions    Actions
	// PartitionTag is sql_partition_tag: a number, or "iso8601_week".
	PartitionTag string
	PenPals      PenPals
	// BounceKillerScore is bounce_killer_score (0: off).
	BounceKillerScore float64
}

// DefaultRcptPolicy is amavis's default for a recipient nothing is
// configured for: every check on, no lovers, default destinies.
func DefaultRcptPolicy() *RcptPolicy {
	return &RcptPolicy{Destinies: policy.DefaultDestinies()}
}

func (s *Settings) resolve(ctx context.Context, addr string) (*RcptPolicy, error) {
	if s.Resolve == nil {
		return DefaultRcptPolicy(), nil
	}
	return s.Resolve(ctx, addr)
}

// Forwarder delivers a message to the next hop (internal/deliver.Client).
type Forwarder interface {
	Send(ctx context.Context, req *deliver.Request) (*deliver.Result, error)
}

// Pipeline processes messages. It is safe for concurrent use.
type Pipeline struct {
	// Settings returns the snapshot for a message (policy banks chosen by
	// its listener, client address and sender).
	Settings  func(m *mail.Message) *Settings
	Forwarder Forwarder
	// Notifier sends notifications and DSNs (notify_method); nil: none are
	// sent (tests).
	Notifier notify.Sender
	// Recorder is the SQL log (storage_sql_dsn, or the embedded SQLite
	// file); nil: no SQL logging.
	Recorder Recorder
	Logger   *slog.Logger
	// WorkDir is where each message gets its private directory for decoded
	// parts (removed after the message); "" uses the system temp dir.
	WorkDir string
	// WorkDirs, when set, hands out reusable private work directories
	// (emptied between messages, as amavis reuses a child's directory)
	// instead of creating and removing one per message.
	WorkDirs *decode.WorkDirs
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// rcptOutcome is the decision and outcome for one recipient.
type rcptOutcome struct {
	destiny policy.Destiny
	reply   mail.Reply
	byMTA   bool
	status  string // amavis action status: Relayed, RelayedTagged, Discarded, Rejected, TempFailed, Bounced
	passed  bool
}

// Process implements smtpd.Handler.
func (p *Pipeline) Process(ctx context.Context, m *mail.Message) (out mail.Outcome) {
	start := p.now()
	lg := p.Logger.With(logging.LogIDKey, m.LogID)
	defer func() {
		if v := recover(); v != nil {
			lg.Error("TROUBLE in check_mail", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			out = tempfailAll(m, "check_mail", fmt.Errorf("panic: %v", v))
		}
	}()
	s := p.Settings(m)
	rcpts := m.Envelope.Rcpts
	if n := m.Header.Count("Received"); n > 100 {
		r := mail.Reply{Code: 554, Enh: "5.4.6", Text: fmt.Sprintf("Reject: Too many hops: %d 'Received:' header fields, id=%s", n, m.LogID)}
		return uniform(m, r)
	}

	// Lookups (SQL included) are cached for the message's lifetime.
	ctx = lookup.WithCache(ctx, lookup.NewCache())
	sm, err := p.recordPreliminary(ctx, m, s)
	if err != nil {
		lg.Error("TROUBLE in check_mail", "err", err)
		return tempfailAll(m, "sql-log", err)
	}

	a, err := p.analyze(ctx, m, s, sm)
	defer a.Close()
	if err != nil {
		lg.Error("TROUBLE in check_mail", "err", err)
		var fe *errFatal
		if errors.As(err, &fe) {
			return tempfailAll(m, fe.section, fe.err)
		}
		return tempfailAll(m, "check", err)
	}

	res := make([]rcptOutcome, len(rcpts))
	var toSend []int
	for i := range rcpts {
		r := &a.Rcpts[i]
		if r.Decision.Blocked {
			rep := policy.BlockedReply(m.LogID, r.Decision, s.SoftBounce, a.details(r))
			st := map[policy.Destiny]string{policy.DDiscard: "Discarded", policy.DReject: "Rejected",
				policy.DBounce: "Bounced", policy.DTempfail: "TempFailed"}[r.Decision.Destiny]
			res[i] = rcptOutcome{destiny: r.Decision.Destiny, reply: rep, status: st}
			continue
		}
		res[i] = rcptOutcome{destiny: policy.DPass}
		toSend = append(toSend, i)
	}

	// Quarantine and admin notification come before forwarding: if either
	// fails, nothing has been delivered yet and the whole message can be
	// tempfailed without duplicates.
	quar, quarTypes, err := p.quarantineMessage(ctx, lg, m, s, a)
	if err != nil {
		lg.Error("TROUBLE in check_mail", "err", err)
		return tempfailAll(m, "quar+notif", err)
	}
	for i, locs := range quar {
		if len(locs) > 0 && a.Rcpts[i].Local && !a.Rcpts[i].Decision.Blocked {
			f := newField("X-Quarantine-ID", "<"+m.MailID+">")
			a.Rcpts[i].Add = append([]HeaderField{f}, a.Rcpts[i].Add...)
		}
	}
	info := p.info(m, s, a, res, quar)
	if err := p.notifyAdmins(ctx, lg, m, s, a, info); err != nil {
		lg.Error("TROUBLE in check_mail", "err", err)
		return tempfailAll(m, "quar+notif", fmt.Errorf("temporarily unable to notify admin: %w", err))
	}
	if err := p.warnRecipients(ctx, lg, m, s, a, info); err != nil {
		lg.Error("TROUBLE in check_mail", "err", err)
		return tempfailAll(m, "quar+notif", fmt.Errorf("temporarily unable to notify recipients: %w", err))
	}

	queuedAs := p.forward(ctx, lg, m, s, a, toSend, res)

	states := make([]policy.RcptState, len(res))
	for i, r := range res {
		states[i] = policy.RcptState{Destiny: r.destiny, Reply: r.reply, Done: true, ByMTA: r.byMTA}
	}
	// A non-delivery notification for bounced recipients (and rejected
	// ones when SMTP cannot report them one by one).
	_, ndn := policy.OneResponseForAll(m.LogID, states, m.Conn.LMTP, false)
	suppressed, dsnSent := false, "N"
	if ndn {
		var err error
		suppressed, err = p.sendDSN(ctx, lg, m, s, a, p.info(m, s, a, res, quar), res)
		if err != nil {
			if len(queuedAs) == 0 && notify.IsTemp(err) {
				lg.Error("TROUBLE in check_mail", "err", err)
				return tempfailAll(m, "prepare-dsn", fmt.Errorf("temporarily unable to send DSN: %w", err))
			}
			// Mail was already delivered to some recipients: tempfailing
			// now would duplicate it; amavis also keeps the result.
			lg.Error("sending the DSN failed", "err", err)
		} else if suppressed {
			dsnSent = "q"
		} else {
			dsnSent = "Y"
		}
	}
	smtpReply, _ := policy.OneResponseForAll(m.LogID, states, m.Conn.LMTP, suppressed)
	out.SMTP = smtpReply
	out.PerRcpt = make([]mail.Reply, len(res))
	for i, r := range res {
		rep := r.reply
		// LMTP: a 5xx for a recipient the filter bounced (a DSN was sent
		// or suppressed) is reported as success, as amavis does.
		if m.Conn.LMTP && rep.Class() == 5 && r.destiny != policy.DReject {
			how := "DSN was sent"
			if suppressed {
				how = "DSN suppressed"
			}
			rep = mail.Reply{Code: 250, Enh: "2.5.0", Text: fmt.Sprintf("Ok <%s>, %s (%s)", rcpts[i].Addr, how, r.reply.String())}
		}
		out.PerRcpt[i] = rep
		rcpts[i].Reply = rep
		rcpts[i].Done = true
	}
	p.logMain(lg, m, s, a, res, queuedAs, quar, start)
	quarLoc, quarType := "", ""
	for i := range res {
		if locs := quar[i]; len(locs) > 0 {
			quarLoc, quarType = locs[0], quarTypes[locs[0]]
			break
		}
	}
	if err := p.recordFinal(ctx, m, sm, a, res, quarLoc, quarType, dsnSent); err != nil {
		lg.Error("sql log: saving the final record failed (mail already dealt with)", "err", err)
	}
	return out
}

// forward delivers the message to the recipients in idx, one transaction
// per group of recipients whose copies are identical, and records each
// recipient's outcome in res. It returns the next hop's queue ids.
func (p *Pipeline) forward(ctx context.Context, lg *slog.Logger, m *mail.Message, s *Settings, a *Analysis, idx []int, res []rcptOutcome) []string {
	queuedAs := []string{}
	type cluster struct {
		key  string
		idx  []int
		head []byte
	}
	var clusters []*cluster
	for _, i := range idx {
		r := &a.Rcpts[i]
		var head bytes.Buffer
		for _, f := range r.Add {
			head.Write(f.Raw)
		}
		key := head.String()
		if r.Subject != nil {
			key += "\x00" + string(r.Subject.Raw)
		}
		key += "\x00" + strings.Join(r.Drop, ",")
		var c *cluster
		for _, x := range clusters {
			if x.key == key {
				c = x
			}
		}
		if c == nil {
			c = &cluster{key: key, head: head.Bytes()}
			clusters = append(clusters, c)
		}
		c.idx = append(c.idx, i)
	}
	env := m.Envelope
	if len(clusters) > 0 && env.Params.Body != "7BIT" {
		// amavis checks and corrects the body type label (RFC 6152).
		env.Params.Body = bodyType(m)
	}
	for _, c := range clusters {
		rcpts := make([]*mail.Recipient, len(c.idx))
		for k, i := range c.idx {
			rcpts[k] = m.Envelope.Rcpts[i]
		}
		req := &deliver.Request{
			Method:    s.Forward,
			LogID:     m.LogID,
			Envelope:  env,
			Rcpts:     rcpts,
			Client:    m.Client,
			Prepend:   c.head,
			Body:      bodyFor(m, a.Rcpts[c.idx[0]].Subject, a.Rcpts[c.idx[0]].Drop),
			LocalName: s.LocalhostName,
			// With SMTP input a tempfailed recipient aborts the whole
			// transaction toward the next hop, so that Postfix's retry does
			// not duplicate the message for the others (as amavis does).
			PerRecipientCapable: m.Conn.LMTP,
		}
		fr, err := p.Forwarder.Send(ctx, req)
		for k, i := range c.idx {
			var rep mail.Reply
			if err != nil || fr == nil || len(fr.PerRcpt) != len(rcpts) {
				if err == nil {
					err = errors.New("no per-recipient result")
				}
				rep = mail.Reply{Code: 451, Enh: "4.5.0", Text: fmt.Sprintf("Error in processing, id=%s, fwd FAILED: %s", m.LogID, oneLine(err.Error()))}
				lg.Warn("forwarding failed", "err", err)
				res[i] = rcptOutcome{destiny: policy.DTempfail, reply: rep, status: "TempFailed"}
				continue
			} else {
				rep = fr.PerRcpt[k]
			}
			r := m.Envelope.Rcpts[i]
			lg.Info(fmt.Sprintf("%s FWD from <%s> -> <%s>, %s", m.MailID, m.Envelope.MailFrom, r.Addr, rep.String()))
			if rep.Class() == 2 {
				st := "Relayed"
				if len(c.head) > 0 && a.Rcpts[i].tagged() {
					st = "RelayedTagged"
				}
				res[i] = rcptOutcome{destiny: policy.DPass, reply: rep, byMTA: true, status: st, passed: true}
				if r.QueuedAs != "" && !slices.Contains(queuedAs, r.QueuedAs) {
					queuedAs = append(queuedAs, r.QueuedAs)
				}
				continue
			}
			configured := policy.DTempfail
			if rep.Class() == 5 {
				configured = policy.DReject
			}
			d, rr := policy.MTAFailure(m.LogID, rep, configured, s.SoftBounce)
			st := "Rejected"
			switch {
			case rr.Class() == 4:
				st = "TempFailed"
			case d == policy.DDiscard:
				st = "Discarded"
			case d == policy.DBounce:
				st = "Bounced"
			}
			res[i] = rcptOutcome{destiny: d, reply: rr, byMTA: true, status: st}
		}
	}
	return queuedAs
}

// bodyType is the BODY= to declare to the next hop, as amavis labels it
// (RFC 6152): a message with any 8-bit octet keeps the label it arrived
// with (unlabelled stays unlabelled: relabelling could break DKIM in
// transit); an all-ASCII message is labelled 7BIT. The spool noted 8-bit
// octets while the message arrived.
func bodyType(m *mail.Message) string {
	if m.Body.HasEightBit() {
		return m.Envelope.Params.Body
	}
	return "7BIT"
}

// tagged reports whether the recipient's copy carries tags beyond the
// Received field (amavis's RelayedTagged vs RelayedUntagged).
func (r *RcptResult) tagged() bool {
	if r.Subject != nil {
		return true
	}
	for _, f := range r.Add {
		if f.Name != "Received" {
			return true
		}
	}
	return false
}

// bodyFor returns the message to send: the original, or, when the Subject
// is replaced or fields are dropped (existing X-Spam-* fields), the edited
// header section followed by the original body.
func bodyFor(m *mail.Message, subject *HeaderField, drop []string) io.Reader {
	if m.Header == nil || subject == nil && !hasAny(m.Header, drop) {
		return m.Body.Reader()
	}
	var head bytes.Buffer
	done := subject == nil
	for _, f := range m.Header.Fields {
		if slices.ContainsFunc(drop, func(d string) bool { return strings.EqualFold(d, f.Name) }) {
			continue
		}
		if !done && strings.EqualFold(f.Name, "Subject") {
			head.Write(subject.Raw)
			done = true
			continue
		}
		head.Write(f.Raw)
	}
	if !done {
		head.Write(subject.Raw)
	}
	r := m.Body.Reader()
	if m.Header.Len == 0 {
		return &head
	}
	head.WriteString("\r\n")
	return io.MultiReader(&head, io.NewSectionReader(r, m.Header.Len, r.Size()-m.Header.Len))
}

// hits is the main log line's score (amavis's [:SCORE]): the spam level to
// three decimals with trailing zeros trimmed, "min..max" when recipients'
// levels differ by 0.1 or more, "-" when no spam check ran.
func hits(a *Analysis) string {
	var lo, hi float64
	seen := false
	for _, r := range a.Rcpts {
		if r.SpamInput == nil {
			continue
		}
		sc := r.SpamInput.Score
		if !seen || sc < lo {
			lo = sc
		}
		if !seen || sc > hi {
			hi = sc
		}
		seen = true
	}
	if !seen {
		return "-"
	}
	f := func(v float64) string {
		s := strconv.FormatFloat(v, 'f', 3, 64)
		s = strings.TrimRight(s, "0")
		return strings.TrimSuffix(s, ".")
	}
	if hi-lo < 0.1 {
		return f(lo)
	}
	return f(lo) + ".." + f(hi)
}

func hasAny(h *mail.Header, names []string) bool {
	for _, n := range names {
		if h.Count(n) > 0 {
			return true
		}
	}
	return false
}

func (p *Pipeline) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// tempfailAll answers every recipient with amavis's internal-failure reply.
func tempfailAll(m *mail.Message, section string, err error) mail.Outcome {
	text := fmt.Sprintf("Error in processing, id=%s, %s FAILED: %s", m.LogID, section, oneLine(err.Error()))
	if errors.Is(err, context.DeadlineExceeded) {
		text = fmt.Sprintf("Error in processing, id=%s, %s FAILED: timed out", m.LogID, section)
	}
	return uniform(m, mail.Reply{Code: 451, Enh: "4.5.0", Text: text})
}

func uniform(m *mail.Message, r mail.Reply) mail.Outcome {
	out := mail.Outcome{SMTP: r, PerRcpt: make([]mail.Reply, len(m.Envelope.Rcpts))}
	for i := range out.PerRcpt {
		out.PerRcpt[i] = r
	}
	return out
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// direction is amavis's Inbound/Outbound/Internal/OpenRelay for a recipient.
func direction(local, originating bool) string {
	switch {
	case local && !originating:
		return "Inbound"
	case local && originating:
		return "Internal"
	case originating:
		return "Outbound"
	}
	return "OpenRelay"
}

func (p *Pipeline) logMain(lg *slog.Logger, m *mail.Message, s *Settings, a *Analysis, res []rcptOutcome, queuedAs []string, quar map[int][]string, start time.Time) {
	base := logging.Entry{
		PolicyBank: s.PolicyBank,
		Local:      s.Originating,
		ClientIP:   m.Client.Addr,
		ClientPort: m.Client.Port,
		Originator: m.Client.Addr,
		Sender:     m.Envelope.MailFrom,
		QueueID:    m.Client.Ident,
		MessageID:  m.Header.Get("Message-ID"),
		ResentID:   m.Header.Get("Resent-Message-ID"),
		MailID:     m.MailID,
		Hits:       hits(a),
		Size:       m.Size,
		ElapsedMS:  p.now().Sub(start).Milliseconds(),
	}
	if base.ClientIP == "" {
		base.Originator = m.Conn.RemoteIP
	}
	var passed, blocked []string
	var passActs, blockActs []string
	var locs []string
	for i := range res {
		for _, l := range quar[i] {
			if !slices.Contains(locs, l) {
				locs = append(locs, l)
			}
		}
	}
	base.Quarantine = strings.Join(locs, ", ")
	blockCat := ""
	for i, r := range res {
		act := r.status + direction(a.Rcpts[i].Local, s.Originating)
		if r.passed {
			passed = append(passed, m.Envelope.Rcpts[i].Addr)
			if !slices.Contains(passActs, act) {
				passActs = append(passActs, act)
			}
			continue
		}
		blocked = append(blocked, m.Envelope.Rcpts[i].Addr)
		if !slices.Contains(blockActs, act) {
			blockActs = append(blockActs, act)
		}
		if blockCat == "" {
			if r.byMTA {
				blockCat = "MTA-BLOCKED"
			} else {
				blockCat = a.Rcpts[i].CCat
			}
		}
	}
	if len(locs) > 0 {
		passActs = append(passActs, "Quarantined")
		blockActs = append(blockActs, "Quarantined")
	}
	if len(passed) > 0 {
		e := base
		e.Passed, e.CCat, e.Actions, e.Rcpts, e.QueuedAs = true, a.CCat, passActs, passed, queuedAs
		lg.Info(logging.MainLine(e))
	}
	if len(blocked) > 0 {
		e := base
		e.Passed, e.CCat, e.Actions, e.Rcpts = false, blockCat, blockActs, blocked
		lg.Info(logging.MainLine(e))
	}
}
