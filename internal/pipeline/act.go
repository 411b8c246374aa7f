package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/mavis-filter/mavis/internal/deliver"
	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/notify"
	"github.com/mavis-filter/mavis/internal/policy"
	"github.com/mavis-filter/mavis/internal/quarantine"
	"github.com/mavis-filter/mavis/internal/store"
)

// Actions are the quarantine and notification settings of a snapshot.
type Actions struct {
	// QuarantineDir is QUARANTINEDIR ("" disables local quarantine);
	// SubdirLevels is quarantine_subdir_levels.
	QuarantineDir string
	SubdirLevels  int
	// QuarantineMethod is the method per major category, e.g.
	// CC_VIRUS: "local:virus-%m"; a missing entry means no quarantine.
	QuarantineMethod map[policy.CCat]string
	// Notify is notify_method.
	Notify deliver.Method
	// HdrFromAdmin, MailFromAdmin, HdrFromSender are hdrfrom_notify_admin,
	// mailfrom_notify_admin and hdrfrom_notify_sender ("" = defaults).
	HdrFromAdmin, MailFromAdmin, HdrFromSender string
	DSNBcc                                     string
	Templates                                  notify.Templates
	// DSNCutoff is sa_dsn_cutoff_level (nil = undef).
	DSNCutoff *float64
	// HdrFromRecip and MailFromRecip are hdrfrom_notify_recip and
	// mailfrom_notify_recip; WarnOffsite is warn_offsite.
	HdrFromRecip, MailFromRecip string
	WarnOffsite                 bool
}

// quarantineMessage stores a quarantine copy for every recipient whose
// main category has a quarantine method and a quarantine_to, one file per
// method, fsync'd before it returns. It returns the locations (relative to
// QUARANTINEDIR) per recipient index.
func (p *Pipeline) quarantineMessage(ctx context.Context, lg *slog.Logger, m *mail.Message, s *Settings, a *Analysis) (map[int][]string, map[string]string, error) {
	out := map[int][]string{}
	types := map[string]string{} // location -> amavis quar_type letter
	type group struct {
		method, to string
		idx        []int
	}
	var groups []*group
	for i := range a.Rcpts {
		r := &a.Rcpts[i]
		c := quarantineCategory(r)
		if (c == policy.CCSpam || c == policy.CCSpammy) && r.Spam != nil && r.Spam.QuarantineSuppressed {
			lg.Info("spam quarantine skipped: score above spam_quarantine_cutoff_level", "recipient", r.Addr)
			continue
		}
		method := s.Actions.QuarantineMethod[c]
		to := r.Policy.QuarantineTo[c]
		if method == "" || to == "" || c == policy.CCClean {
			continue
		}
		if s.Actions.QuarantineDir == "" && !strings.HasPrefix(method, "sql:") {
			continue
		}
		if strings.Contains(to, "@") {
			lg.Info("quarantine to a mailbox address is not supported, not quarantined", "quarantine_to", to)
			continue
		}
		var g *group
		for _, x := range groups {
			if x.method == method && x.to == to {
				g = x
			}
		}
		if g == nil {
			g = &group{method: method, to: to}
			groups = append(groups, g)
		}
		g.idx = append(g.idx, i)
	}
	for _, g := range groups {
		var blocked []string
		var extra bytes.Buffer
		for _, i := range g.idx {
			if a.Rcpts[i].Decision.Blocked {
				blocked = append(blocked, a.Rcpts[i].Addr)
			}
		}
		extra.Write(quarantineFields(s, a, &a.Rcpts[g.idx[0]]))
		req := quarantine.Request{
			Dir: s.Actions.QuarantineDir, SubdirLevels: s.Actions.SubdirLevels,
			Method: g.method, To: g.to, MailID: m.MailID, LogID: m.LogID, Received: m.Received,
			Sender: m.Envelope.MailFrom, Recipients: m.RecipientAddrs(), Blocked: blocked,
			Extra: extra.Bytes(), Body: m.Body.Reader(),
		}
		if strings.HasPrefix(g.method, "sql:") {
			// amavis's SQL quarantine: the same copy, in quarantine table
			// chunks, in the storage_sql_dsn database.
			if p.Recorder == nil {
				return nil, nil, fmt.Errorf("quarantine %s: no SQL storage", g.method)
			}
			ptag := PartitionTag(s.PartitionTag, m.Received)
			// amavis's SQL copy: LF line ends, no Return-Path/Delivered-To
			// (those come from its local delivery).
			pr, pw := io.Pipe()
			go func() { pw.CloseWithError(quarantine.WriteCopy(ctx, pw, &req, false)) }()
			_, err := p.Recorder.StoreQuarantine(ctx, ptag, m.MailID, pr)
			pr.CloseWithError(errors.New("quarantine copy abandoned"))
			if err != nil {
				return nil, nil, fmt.Errorf("quarantine %s: %w", g.method, err)
			}
			loc := store.SQLQuarantineLocation(m.MailID, ptag)
			types[loc] = "Q"
			lg.Info(fmt.Sprintf("sql quarantine: <%s> -> %s, %s", m.Envelope.MailFrom, g.to, loc))
			for _, i := range g.idx {
				out[i] = append(out[i], loc)
			}
			continue
		}
		loc, err := quarantine.Store(ctx, req)
		if err != nil {
			return nil, nil, fmt.Errorf("quarantine %s: %w", g.method, err)
		}
		types[loc.Rel] = loc.Type
		lg.Info(fmt.Sprintf("local delivery: <%s> -> %s, mbx=%s", m.Envelope.MailFrom, g.to, loc.Path))
		for _, i := range g.idx {
			out[i] = append(out[i], loc.Rel)
		}
	}
	return out, types, nil
}

// quarantineCategory is the recipient's category that chooses the
// quarantine: the blocking one, else its main one.
func quarantineCategory(r *RcptResult) policy.CCat {
	if r.Decision.Blocked {
		return r.Decision.Blocking.Major
	}
	return r.Cats.Main().Major
}

// info fills the notification macros for a message.
func (p *Pipeline) info(m *mail.Message, s *Settings, a *Analysis, res []rcptOutcome, quar map[int][]string) *notify.Info {
	in := &notify.Info{
		LogID: m.LogID, MailID: m.MailID, Received: m.Received, Hostname: s.MyHostname,
		PolicyBank: s.PolicyBank, Sender: m.Envelope.MailFrom, Params: m.Envelope.Params,
		Header: m.Header, Client: m.Client, Conn: m.Conn, Originating: s.Originating,
		Size: m.Size, QueueID: m.Client.Ident, Main: a.Category, BadHeaders: a.BadHeader.Bad,
		SpamScore: "-", Originator: m.Client.Addr,
	}
	if in.Client.Addr == "" {
		// No XFORWARD: the MTA's address is the best guess, as amavis.
		in.Client.Addr, in.Originator = m.Conn.RemoteIP, m.Conn.RemoteIP
	}
	if in.Received.IsZero() {
		in.Received = p.now()
	}
	if a.Virus != nil {
		in.VirusNames = a.Virus.Viruses
		in.Scanners = a.Virus.DetectedBy
		in.ScannerOutput = a.Virus.Output
	}
	if r := firstBanned(a.Rcpts); r != nil {
		in.Banned = r.Banned[0].Reason
	}
	if a.Spam != nil {
		in.SpamScore = fmt.Sprintf("%.1f", a.Spam.Score)
	}
	seen := map[string]bool{}
	for _, locs := range quar {
		for _, l := range locs {
			if !seen[l] {
				seen[l] = true
				in.Quarantined = append(in.Quarantined, l)
			}
		}
	}
	slices.Sort(in.Quarantined)
	for i, r := range a.Rcpts {
		rc := m.Envelope.Rcpts[i]
		nr := notify.Rcpt{Addr: r.Addr, ORcpt: rc.Params.ORcpt, Notify: rc.Params.Notify,
			Destiny: res[i].destiny, Reply: res[i].reply, Category: r.Cats.Main()}
		if r.Decision.Blocked {
			b := r.Decision.Blocking
			nr.Blocking = &b
			nr.Done = notify.DoneHere
			if in.Blocking == nil {
				in.Blocking = &b
			}
		} else if res[i].byMTA {
			nr.Done = notify.Relayed
			nr.RemoteMTA = s.Forward.MTAID()
			nr.RemoteReply = rc.Remote.String()
		}
		if lv := r.Policy.SpamLevels.DSNCutoff; lv.Set {
			v := lv.V
			nr.DSNCutoff = &v
		} else if s.Actions.DSNCutoff != nil {
			nr.DSNCutoff = s.Actions.DSNCutoff
		}
		if r.SpamInput != nil {
			nr.SpamLevel = r.SpamInput.Score
			nr.Blacklisted, nr.Whitelisted = r.SpamInput.Blacklisted, r.SpamInput.Whitelisted
		}
		for _, h := range r.Banned {
			if h.DiscardDSN {
				nr.SuppressReason = "BANNED:DISCARD suggested by rule"
			}
		}
		if a.FakeSender && r.Cats.Has(policy.CCVirus) {
			// viruses_that_fake_sender_maps: no backscatter to a sender
			// the virus most likely forged.
			nr.SuppressReason = "INFECTED"
		}
		in.Rcpts = append(in.Rcpts, nr)
	}
	return in
}

// notifyAdmins sends the administrator notification for the message's main
// category to the union of the recipients' admins (virus_admin,
// banned_admin, bad_header_admin, spam_admin). A temporary failure is
// returned: the message must be tempfailed (amavis does the same).
func (p *Pipeline) notifyAdmins(ctx context.Context, lg *slog.Logger, m *mail.Message, s *Settings, a *Analysis, in *notify.Info) error {
	var admins []string
	for i := range a.Rcpts {
		r := &a.Rcpts[i]
		mc := r.Cats.Main().Major
		if (mc == policy.CCSpam || mc == policy.CCSpammy) && r.Spam != nil && r.Spam.AdminNotifySuppressed {
			continue
		}
		for _, ad := range r.Policy.Admins[mc] {
			if ad != "" && !slices.Contains(admins, ad) {
				admins = append(admins, ad)
			}
		}
	}
	if len(admins) == 0 || p.Notifier == nil {
		return nil
	}
	n, err := notify.Admin(in, notify.AdminOptions{Admins: admins, HdrFrom: s.Actions.HdrFromAdmin,
		MailFrom: s.Actions.MailFromAdmin, Templates: s.Actions.Templates, CCats: a.MsgCats})
	if err != nil || n == nil {
		return err
	}
	_, err = notify.Send(ctx, p.Notifier, s.Actions.Notify, n, notify.SendOptions{LogID: m.LogID, LocalName: s.LocalhostName, Log: lg})
	return err
}

// warnRecipients warns the blocked recipients that asked for it
// (warnvirusrecip, warnbannedrecip, warnbadhrecip; local recipients only
// unless warn_offsite). A temporary failure tempfails the message.
func (p *Pipeline) warnRecipients(ctx context.Context, lg *slog.Logger, m *mail.Message, s *Settings, a *Analysis, in *notify.Info) error {
	var to []string
	for i := range a.Rcpts {
		r := &a.Rcpts[i]
		if !r.Decision.Blocked || !r.Policy.WarnRecip[r.Decision.Blocking.Major] {
			continue
		}
		if r.Local || s.Actions.WarnOffsite {
			to = append(to, r.Addr)
		}
	}
	if len(to) == 0 || p.Notifier == nil {
		return nil
	}
	n, err := notify.Recipient(in, notify.RecipOptions{Rcpts: to, HdrFrom: s.Actions.HdrFromRecip,
		MailFrom: s.Actions.MailFromRecip, Templates: s.Actions.Templates})
	if err != nil || n == nil {
		return err
	}
	_, err = notify.Send(ctx, p.Notifier, s.Actions.Notify, n, notify.SendOptions{LogID: m.LogID, LocalName: s.LocalhostName, Log: lg})
	return err
}

// sendDSN sends the non-delivery notification for bounced (and, with SMTP
// input, rejected) recipients. It returns whether some DSN was suppressed.
func (p *Pipeline) sendDSN(ctx context.Context, lg *slog.Logger, m *mail.Message, s *Settings, a *Analysis, in *notify.Info, res []rcptOutcome) (suppressed bool, err error) {
	allRejected := true
	for _, r := range res {
		if r.destiny != policy.DReject || r.reply.Class() != 5 {
			allRejected = false
		}
	}
	n, supp, verdicts, err := notify.DSN(in, notify.DSNOptions{HdrFrom: s.Actions.HdrFromSender, Bcc: s.Actions.DSNBcc,
		Templates: s.Actions.Templates, CCats: a.MsgCats,
		Decision: notify.DSNMessage{PerRecipientCapable: m.Conn.LMTP, AllRejected: allRejected,
			Bulk: notify.BulkReason(m.Envelope.MailFrom, m.Header.Get("From"), m.Header)}})
	if err != nil {
		return supp, err
	}
	for _, v := range verdicts {
		if v.Verdict == notify.Suppressed {
			lg.Info(fmt.Sprintf("DSN: NOTIFICATION suppressed for <%s>: %s", v.Addr, v.Reason))
		}
	}
	if n == nil || p.Notifier == nil {
		return supp, nil
	}
	_, err = notify.Send(ctx, p.Notifier, s.Actions.Notify, n, notify.SendOptions{LogID: m.LogID, LocalName: s.LocalhostName, Log: lg})
	return supp, err
}
