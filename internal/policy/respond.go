package policy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mavis-filter/mavis/internal/mail"
)

// RcptState is what one_response_for_all needs to know about a recipient.
type RcptState struct {
	Destiny Destiny
	Reply   mail.Reply
	Done    bool
	// ByMTA is set when Reply came from the next hop (forwarding), which
	// amavis prefers over its own rejects when picking the reply.
	ByMTA bool
}

// OneResponseForAll forms the single SMTP reply for all recipients, as
// amavis's one_response_for_all: the first 4xx; else, when all were
// discarded, the first discard reply; else, when every recipient was
// discarded or rejected (5xx, not bounce) with at least one reject, a
// reject reply (next-hop rejects preferred); else the first genuine pass
// reply (or "250 2.5.0 Ok, id=…") with a ", but N REJECT, and …" suffix.
// ndnNeeded says whether a non-delivery notification must be sent: some
// recipient bounced, or was rejected and the front end cannot report
// per-recipient results (SMTP; LMTP can). suppressed marks bounces whose DSN
// was suppressed.
func OneResponseForAll(logID string, rcpts []RcptState, perRcptCapable, suppressed bool) (reply mail.Reply, ndnNeeded bool) {
	if len(rcpts) == 0 {
		return mail.Reply{Code: 250, Enh: "2.5.0", Text: "Ok, id=" + logID}, false
	}
	for _, r := range rcpts {
		if r.Reply.Class() == 4 {
			return r.Reply, false
		}
	}
	for _, r := range rcpts {
		if r.Done && (r.Reply.Class() < 2 || r.Reply.Class() > 5) {
			return mail.Reply{Code: 451, Enh: "4.5.0", Text: fmt.Sprintf("Bad SMTP response code??? %q", r.Reply.String())}, false
		}
	}
	allDiscard := true
	for _, r := range rcpts {
		if r.Destiny != DDiscard {
			allDiscard = false
			break
		}
	}
	if allDiscard {
		return rcpts[0].Reply, false
	}
	var rej *mail.Reply
	rejByMTA := false
	all := true
	for i := range rcpts {
		r := &rcpts[i]
		switch {
		case r.Destiny == DDiscard:
		case r.Reply.Class() == 5 && r.Destiny != DBounce:
			if rej == nil || (r.ByMTA && !rejByMTA) {
				rej, rejByMTA = &r.Reply, r.ByMTA
			}
		default:
			all = false
		}
		if !all {
			break
		}
	}
	if all && rej != nil {
		return *rej, false
	}
	var pass *mail.Reply
	var nRej, nBounce, nDrop int
	for i := range rcpts {
		r := &rcpts[i]
		if r.Reply.Class() == 2 && r.Destiny == DPass && pass == nil {
			pass = &r.Reply
		}
		if r.Destiny == DDiscard {
			nDrop++
		}
		if r.Reply.Class() == 5 {
			if r.Destiny == DBounce {
				nBounce++
			} else {
				nRej++
			}
		}
	}
	if pass != nil {
		reply = *pass
	} else {
		reply = mail.Reply{Code: 250, Enh: "2.5.0", Text: "Ok, id=" + logID}
	}
	if n := nRej + nBounce + nDrop; n > 0 {
		var parts []string
		add := func(cnt int, name string) {
			switch {
			case cnt == 0:
			case cnt == len(rcpts):
				parts = append(parts, name)
			default:
				parts = append(parts, fmt.Sprintf("%d %s", cnt, name))
			}
		}
		add(nRej, "REJECT")
		if suppressed {
			add(nBounce, "DISCARD(bounce.suppressed)")
		} else {
			add(nBounce, "BOUNCE")
		}
		add(nDrop, "DISCARD")
		suffix := ", "
		if n < len(rcpts) {
			suffix += "but "
		}
		reply.Text += suffix + strings.Join(parts, ", and ")
	}
	return reply, nBounce > 0 || (nRej > 0 && !perRcptCapable)
}

var (
	codeRe = regexp.MustCompile(`^[2-5][0-9]{2}$`)
	enhRe  = regexp.MustCompile(`^[245]\.[0-9]{1,3}\.[0-9]{1,3}$`)
)

// MTAFailure turns a failed forwarding reply for one recipient into amavis's
// CC_MTA reply: the destiny (D_REJECT for 5xx, D_TEMPFAIL for 4xx, unless the
// configured destiny for CC_MTA says otherwise) and the text
// "<code> <enh>[ Discarded] id=<log_id> - <reason>, <next-hop text>".
// configured is the CC_MTA destiny from the settings (amavis: D_TEMPFAIL for
// MTA,1 and D_REJECT for MTA,2; D_PASS is impossible and is replaced).
func MTAFailure(logID string, fwd mail.Reply, configured Destiny, softBounce bool) (Destiny, mail.Reply) {
	minor := 0
	switch fwd.Class() {
	case 5:
		minor = 2
	case 4:
		minor = 1
	}
	d := configured
	if d == DPass {
		if fwd.Class() == 5 {
			d = DReject
		} else {
			d = DTempfail
		}
	}
	r := fwd
	if fwd.Class() == 5 {
		switch {
		case d == DDiscard:
			r = withClass(r, 2, 250)
		case softBounce:
			r = withClass(r, 4, 450)
		}
	}
	reason := "id=" + logID + " - Unable to relay message back to MTA"
	switch minor {
	case 1:
		reason = "id=" + logID + " - Temporary MTA failure on relaying"
	case 2:
		reason = "id=" + logID + " - Rejected by next-hop MTA on relaying"
	}
	dis := ""
	if d == DDiscard {
		dis = " Discarded"
	}
	// amavis: "$1$dis $smtp_reason, $2" where $1 = "code[ enh]".
	r.Text = strings.TrimPrefix(dis+" "+reason+", "+fwd.Text, " ")
	if r.Enh == "" {
		r.Text = strings.TrimPrefix(r.Text, " ")
	}
	return d, r
}

// withClass rewrites the code's first digit as amavis's
// s{^\d(\d\d) \d(\.\d\.\d)}{250 2$2}: the whole code becomes code and the
// enhanced code's class becomes class.
func withClass(r mail.Reply, class, code int) mail.Reply {
	r.Code = code
	if i := strings.IndexByte(r.Enh, '.'); i > 0 {
		r.Enh = fmt.Sprintf("%d%s", class, r.Enh[i:])
	}
	return r
}

// ParseReply splits "250 2.0.0 text" into a Reply. The enhanced code is
// optional.
func ParseReply(s string) (mail.Reply, bool) {
	code, rest, _ := strings.Cut(s, " ")
	if !codeRe.MatchString(code) {
		return mail.Reply{}, false
	}
	r := mail.Reply{}
	fmt.Sscanf(code, "%d", &r.Code)
	enh, text, _ := strings.Cut(rest, " ")
	if enhRe.MatchString(enh) {
		r.Enh, r.Text = enh, text
	} else {
		r.Text = rest
	}
	return r, true
}
