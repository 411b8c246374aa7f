package notify

import (
	"regexp"
	"strings"

	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/policy"
)

// Verdict is the DSN decision for one recipient.
type Verdict int

// DSN decisions, amavis's order of tests in delivery_status_notification.
const (
	// NoDSN: nothing to report and nothing suppressed (a tempfail, a reject
	// the MTA reports itself, a success nobody asked to hear about).
	NoDSN Verdict = iota
	// Suppressed: a DSN would be due, but policy says not to send it
	// (counts towards "DISCARD(bounce.suppressed)" and msgs.dsn_sent='q').
	Suppressed
	// Report: the recipient goes into the DSN.
	Report
)

func (v Verdict) String() string {
	switch v {
	case Suppressed:
		return "suppressed"
	case Report:
		return "report"
	}
	return "none"
}

// DSNMessage is the message-level input of the DSN decision.
type DSNMessage struct {
	Sender string // envelope sender; "" = null sender
	// PerRecipientCapable is amavis's dsn_per_recip_capable: the front end
	// can pass per-recipient rejects back (LMTP, milter).
	PerRecipientCapable bool
	// AllRejected: every recipient has destiny D_REJECT and a 5xx reply.
	AllRejected bool
	// DSNPassedOn: the next hop accepted NOTIFY (it sends success DSNs).
	DSNPassedOn bool
	// BySenderCutoff is spam_dsn_cutoff_level_bysender_maps' value for the
	// sender (the crediblefrom variant for credible senders), nil if none.
	BySenderCutoff *float64
	// Bulk is the bulk/list/auto-reply reason (see BulkReason), "" if none.
	Bulk string
	// OSFingerprint is the p0f guess of the client's OS, "" if unknown;
	// DKIMEnvSender is set when the envelope sender's domain signed.
	OSFingerprint string
	DKIMEnvSender bool
}

// DSNRcpt is the per-recipient input of the DSN decision.
type DSNRcpt struct {
	Reply          mail.Reply
	Destiny        policy.Destiny
	Done           Done
	Notify         []string // NOTIFY values; nil = not given (FAILURE,DELAY)
	WarnSender     bool     // warnsender_by_ccat for a relayed recipient
	SuppressReason string   // dsn_suppress_reason
	SpamLevel      float64
	Cutoff         *float64 // by-recipient DSN cutoff level, nil if undefined
	Blacklisted    bool
	Whitelisted    bool
	CCatMajor      policy.CCat // the recipient's main category
}

// DecideDSN applies amavis's rules, in amavis's order, to one recipient and
// says whether it is reported, suppressed or neither, with the reason.
func DecideDSN(m DSNMessage, r DSNRcpt) (Verdict, string) {
	class := r.Reply.Class()
	onFailure, onSuccess, onDelay, never := r.Notify == nil, false, r.Notify == nil, false
	for _, n := range r.Notify {
		switch strings.ToUpper(n) {
		case "FAILURE":
			onFailure = true
		case "SUCCESS":
			onSuccess = true
		case "DELAY":
			onDelay = true
		case "NEVER":
			never = true
		}
	}
	if never || m.Sender == "" {
		onFailure, onSuccess, onDelay = false, false, false
	}
	warn := onDelay && class == 2 && r.Done == Relayed && r.WarnSender
	switch {
	case class == 4:
		return NoDSN, "temporary failure, not reported"
	case class == 5 && r.Destiny == policy.DReject && (m.PerRecipientCapable || m.AllRejected):
		return NoDSN, "rejected, status propagated back"
	case class == 5 && !onFailure:
		if never {
			return Suppressed, "NOTIFY=NEVER"
		}
		if m.Sender == "" {
			return Suppressed, "null sender"
		}
		return Suppressed, "NOTIFY without FAILURE"
	case class == 2 && !onSuccess && !warn:
		if r.Destiny == policy.DDiscard {
			return NoDSN, "discarded"
		}
		return NoDSN, "delivered, no DSN requested"
	case class == 2 && onSuccess && m.DSNPassedOn && !warn:
		return NoDSN, "DSN parameters passed on"
	case never || m.Sender == "":
		if never {
			return Suppressed, "NOTIFY=NEVER"
		}
		return Suppressed, "null sender"
	case r.Destiny == policy.DDiscard:
		return Suppressed, "destiny DISCARD"
	case r.SuppressReason != "":
		return Suppressed, "suppress reason: " + r.SuppressReason
	case m.BySenderCutoff != nil && r.SpamLevel >= *m.BySenderCutoff:
		return Suppressed, "spam level exceeds by-sender cutoff"
	case r.Cutoff != nil && (r.SpamLevel >= *r.Cutoff || r.Blacklisted && !r.Whitelisted):
		return Suppressed, "spam level exceeds by-recipient cutoff"
	case m.Bulk != "" && r.CCatMajor > policy.CCClean:
		return Suppressed, "bulk mail (" + m.Bulk + ")"
	case windowsScore(m, r.SpamLevel):
		return Suppressed, "mail from " + m.OSFingerprint
	}
	return Report, ""
}

var winXP = regexp.MustCompile(`^Windows XP`)
var win2000SP = regexp.MustCompile(`^Windows XP[^(]*\b2000 SP`)

// windowsScore is amavis's hard-coded p0f rule: no DSNs for mail from
// Windows clients (often bots) with a spam level of 5 (XP) or 8.
func windowsScore(m DSNMessage, level float64) bool {
	if !strings.HasPrefix(m.OSFingerprint, "Windows") || m.DKIMEnvSender {
		return false
	}
	limit := 8.0
	if winXP.MatchString(m.OSFingerprint) && !win2000SP.MatchString(m.OSFingerprint) {
		limit = 5
	}
	return level >= limit
}

var (
	mlistSender = regexp.MustCompile(`(?i)^(?:[^@]+-(?:request|bounces|owner|admin)|owner-[^@]+)(?:@|$)`)
	mlistFrom   = regexp.MustCompile(`(?i)^(?:[^@]+-(?:request|bounces|owner)|owner-[^@]+)(?:@|$)`)
	autoSender  = regexp.MustCompile(`(?i)^(?:mailer-daemon|double-bounce|mailer|autoreply)(?:@|$)`)
	bulkFrom    = regexp.MustCompile(`(?i)^(?:[^@]+-relay|postmaster|uucp)(?:@|$)`)
	precList    = regexp.MustCompile(`(?i)^(list)`)
	precAuto    = regexp.MustCompile(`(?i)^(auto.?reply)\b`)
	precBulk    = regexp.MustCompile(`(?i)^(bulk|junk)\b`)
	comment     = regexp.MustCompile(`\([^)]*\)`)
	angleAddr   = regexp.MustCompile(`<(.*)>[^>]*$`)
)

// BulkReason tells whether a message is bulk mail, a mailing list post or
// an automatic reply, as amavis's is_bulk (DSNs for those are suppressed
// unless the message is clean, and a bad-header bounce becomes a pass).
// from is the first From: address (without brackets). The result is the
// reason amavis logs ("ml:<list-id>", "Auto-Submitted:auto-replied",
// "sender=<>", "bulk", "From:postmaster@..."), or "" for ordinary mail.
func BulkReason(sender, from string, h *mail.Header) string {
	has := func(name string) (string, bool) {
		if h == nil || h.Count(name) == 0 {
			return "", false
		}
		return h.Get(name), true
	}
	var mlist, auto, bulk string
	haveMlist, haveAuto, haveBulk := false, false, false
	for _, f := range []string{"List-Id", "List-Post", "List-Unsubscribe", "Mailing-List"} {
		if v, ok := has(f); ok {
			mlist, haveMlist = v, true
			break
		}
	}
	if !haveMlist {
		switch {
		case mlistSender.MatchString(sender):
			mlist, haveMlist = "sender="+sender, true
		case from != "" && mlistFrom.MatchString(from):
			mlist, haveMlist = "From:"+from, true
		}
	}
	if haveMlist {
		if m := angleAddr.FindStringSubmatch(mlist); m != nil {
			mlist = m[1]
		}
		mlist = strings.Join(strings.Fields(mlist), " ")
		if len(mlist) >= 7 && strings.EqualFold(mlist[:7], "mailto:") {
			mlist = mlist[7:]
		}
		mlist = "ml:" + mlist
	}
	if v, ok := has("Precedence"); ok {
		v = strings.TrimLeft(v, " \t")
		if m := precList.FindStringSubmatch(v); m != nil && !haveMlist {
			mlist, haveMlist = m[1], true
		}
		if m := precAuto.FindStringSubmatch(v); m != nil {
			auto, haveAuto = m[1], true
		}
		if m := precBulk.FindStringSubmatch(v); m != nil {
			bulk, haveBulk = m[1], true
		}
	}
	if !haveAuto {
		if v, ok := has("Auto-Submitted"); ok {
			v = strings.Trim(comment.ReplaceAllString(v, ""), " \t")
			if !strings.EqualFold(v, "no") {
				auto, haveAuto = "Auto-Submitted:"+v, true
			}
		} else if sender == "" {
			auto, haveAuto = "sender=<>", true
		} else if autoSender.MatchString(sender) {
			auto, haveAuto = "sender="+sender, true
		} else if from != "" && autoSender.MatchString(from) {
			auto, haveAuto = "From:"+from, true
		}
	}
	switch {
	case haveMlist:
		bulk, haveBulk = mlist, true
	case haveAuto:
		bulk, haveBulk = auto, true
	case haveBulk:
	case from != "" && bulkFrom.MatchString(from):
		bulk, haveBulk = "From:"+from, true
	}
	if haveBulk && bulk == "" {
		bulk = "1"
	}
	return bulk
}
