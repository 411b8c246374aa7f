package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/mavis-filter/mavis/internal/deliver"
	"github.com/mavis-filter/mavis/internal/logging"
	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/policy"
)

// Settings is the part of the configuration snapshot the pipeline uses. A
// message is processed with the snapshot taken when it started.
type Settings struct {
	Product       string         // "mavis", shown in Received:
	MyHostname    string         // myhostname
	LocalhostName string         // localhost_name: our EHLO name
	Forward       deliver.Method // forward_method
	// IsLocal tells whether a recipient is in local_domains_maps.
	IsLocal func(addr string) bool
	// Originating marks mail from our own users (policy bank originating).
	Originating bool
	SoftBounce  bool
	// PolicyBank is the path of loaded policy banks, for the log line.
	PolicyBank string
}

// Forwarder delivers a message to the next hop (internal/deliver.Client).
type Forwarder interface {
	Send(ctx context.Context, req *deliver.Request) (*deliver.Result, error)
}

// Pipeline processes messages. It is safe for concurrent use.
type Pipeline struct {
	Settings  func() *Settings
	Forwarder Forwarder
	Logger    *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// rcptResult is the decision and outcome for one recipient.
type rcptResult struct {
	destiny policy.Destiny
	reply   mail.Reply
	byMTA   bool
	status  string // amavis action status: Relayed, Discarded, Rejected, TempFailed, Bounced …
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
	s := p.Settings()
	rcpts := m.Envelope.Rcpts
	res := make([]rcptResult, len(rcpts))

	a, err := p.Analyze(ctx, m, s)
	if err != nil {
		lg.Warn("checking failed", "err", err)
		return tempfailAll(m, "check", err)
	}
	var prepend []byte
	for _, f := range a.Add {
		prepend = append(prepend, f.Raw...)
	}
	req := &deliver.Request{
		Method:    s.Forward,
		LogID:     m.LogID,
		Envelope:  m.Envelope,
		Rcpts:     rcpts,
		Client:    m.Client,
		Prepend:   prepend,
		Body:      m.Body.Reader(),
		LocalName: s.LocalhostName,
		// With SMTP input a tempfailed recipient aborts the whole
		// transaction toward the next hop, so that Postfix's retry does not
		// duplicate the message for the others (amavis does the same).
		PerRecipientCapable: m.Conn.LMTP,
	}
	fr, err := p.Forwarder.Send(ctx, req)
	if err != nil && (fr == nil || len(fr.PerRcpt) != len(rcpts)) {
		lg.Warn("forwarding failed", "err", err)
		return tempfailAll(m, "fwd", err)
	}
	queuedAs := []string{}
	for i, r := range rcpts {
		rep := fr.PerRcpt[i]
		lg.Info(fmt.Sprintf("%s FWD from <%s> -> <%s>, %s", m.MailID, m.Envelope.MailFrom, r.Addr, rep.String()))
		if rep.Class() == 2 {
			res[i] = rcptResult{destiny: policy.DPass, reply: rep, byMTA: true, status: "Relayed"}
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
		res[i] = rcptResult{destiny: d, reply: rr, byMTA: true, status: st}
	}
	states := make([]policy.RcptState, len(res))
	for i, r := range res {
		states[i] = policy.RcptState{Destiny: r.destiny, Reply: r.reply, Done: true, ByMTA: r.byMTA}
	}
	smtpReply, _ := policy.OneResponseForAll(m.LogID, states, m.Conn.LMTP, false)
	out.SMTP = smtpReply
	out.PerRcpt = make([]mail.Reply, len(res))
	for i, r := range res {
		out.PerRcpt[i] = r.reply
		rcpts[i].Reply = r.reply
		rcpts[i].Done = true
	}
	p.logMain(lg, m, s, res, queuedAs, start)
	return out
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
	r := mail.Reply{Code: 451, Enh: "4.5.0", Text: text}
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

func (p *Pipeline) logMain(lg *slog.Logger, m *mail.Message, s *Settings, res []rcptResult, queuedAs []string, start time.Time) {
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
		Hits:       "-",
		Size:       m.Size,
		ElapsedMS:  p.now().Sub(start).Milliseconds(),
	}
	if base.ClientIP == "" {
		base.Originator = m.Conn.RemoteIP
	}
	var passed, blocked []string
	var passActs, blockActs []string
	blockCat := "CLEAN"
	for i, r := range res {
		local := s.IsLocal != nil && s.IsLocal(m.Envelope.Rcpts[i].Addr)
		act := r.status + direction(local, s.Originating)
		if r.destiny == policy.DPass && r.reply.Class() == 2 {
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
		if r.byMTA {
			blockCat = "MTA-BLOCKED"
		}
	}
	if len(passed) > 0 {
		e := base
		e.Passed, e.CCat, e.Actions, e.Rcpts, e.QueuedAs = true, "CLEAN", passActs, passed, queuedAs
		lg.Info(logging.MainLine(e))
	}
	if len(blocked) > 0 {
		e := base
		e.Passed, e.CCat, e.Actions, e.Rcpts = false, blockCat, blockActs, blocked
		lg.Info(logging.MainLine(e))
	}
}
