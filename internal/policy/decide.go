package policy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mavis-filter/mavis/internal/mail"
)

// Categories is a recipient's (or the message's) set of content categories,
// kept sorted most important first, as amavis's contents_category list. A
// minor category also implies its major; CC_CLEAN is always present.
type Categories []Category

// Add inserts c (and its major when c has a minor).
func (cs *Categories) Add(c Category) {
	add := func(c Category) {
		for _, x := range *cs {
			if x == c {
				return
			}
		}
		*cs = append(*cs, c)
	}
	add(c)
	if c.Minor != 0 {
		add(Category{Major: c.Major})
	}
	add(Category{Major: CCClean})
	sort.SliceStable(*cs, func(i, j int) bool {
		a, b := (*cs)[i], (*cs)[j]
		if a.Major != b.Major {
			return a.Major > b.Major
		}
		return a.Minor > b.Minor
	})
}

// Main is the most important category (amavis's "main" ccat).
func (cs Categories) Main() Category {
	if len(cs) == 0 {
		return Category{Major: CCClean}
	}
	return cs[0]
}

// Has reports whether a major category is present.
func (cs Categories) Has(major CCat) bool {
	for _, c := range cs {
		if c.Major == major {
			return true
		}
	}
	return false
}

// Destinies are the final_*_destiny settings that apply to a recipient.
// The zero value is not useful; start from DefaultDestinies.
type Destinies struct {
	Virus, Banned, Unchecked, Spam, BadHeader, Oversized Destiny
}

// DefaultDestinies are amavis's defaults (also Debian's): virus and banned
// discarded, the rest passed, oversized bounced.
func DefaultDestinies() Destinies {
	return Destinies{Virus: DDiscard, Banned: DDiscard, Unchecked: DPass, Spam: DPass, BadHeader: DPass, Oversized: DBounce}
}

// For returns the destiny configured for a category and whether the
// category has an entry at all (CC_SPAMMY and CC_CLEAN never block).
func (d Destinies) For(c Category) (Destiny, bool) {
	switch c.Major {
	case CCVirus:
		return d.Virus, true
	case CCBanned:
		return d.Banned, true
	case CCUnchecked:
		return d.Unchecked, true
	case CCSpam:
		return d.Spam, true
	case CCBadH:
		return d.BadHeader, true
	case CCOversized:
		return d.Oversized, true
	case CCMTA:
		if c.Minor == 2 {
			return DReject, true
		}
		return DTempfail, true
	}
	return DPass, false
}

// Decision is the outcome for one recipient.
type Decision struct {
	Destiny  Destiny
	Blocking Category // meaningful when Blocked
	Blocked  bool
}

// Decide applies amavis's decision algorithm (§3.3) to one recipient: walk
// the categories most important first; a category whose destiny is not
// D_PASS blocks, unless the recipient is a "lover" of it; a D_BOUNCE for a
// bad header is turned into a pass for mail that must not be bounced
// (null sender, bulk/list/auto mail: badhMercy). The first blocking
// category wins.
func Decide(cats Categories, d Destinies, lover func(CCat) bool, badhMercy bool) Decision {
	for _, c := range cats {
		dest, ok := d.For(c)
		if !ok || dest == DPass {
			continue
		}
		if lover != nil && lover(c.Major) {
			continue
		}
		if c.Major == CCBadH && dest == DBounce && badhMercy {
			continue
		}
		return Decision{Destiny: dest, Blocking: c, Blocked: true}
	}
	return Decision{Destiny: DPass}
}

// Details fill the reason texts: virus names (%V) and banned parts (%F).
type Details struct {
	Viruses []string
	Banned  []string
}

// Reason is amavis's %smtp_reason_by_ccat text for a blocking category,
// e.g. "id=12345-01 - INFECTED: Eicar-Signature".
func Reason(logID string, c Category, det Details) string {
	p := "id=" + logID + " - "
	switch c.Major {
	case CCVirus:
		return p + "INFECTED: " + strings.Join(det.Viruses, ", ")
	case CCBanned:
		return p + "BANNED: " + strings.Join(det.Banned, ", ")
	case CCUnchecked:
		switch c.Minor {
		case 1:
			return p + "UNCHECKED: encrypted"
		case 2:
			return p + "UNCHECKED: over limits"
		case 3:
			return p + "UNCHECKED: ambiguous content"
		}
		return p + "UNCHECKED"
	case CCSpam:
		return p + "spam"
	case CCSpammy:
		if c.Minor == 1 {
			return p + "spammy (tag3)"
		}
		return p + "spammy"
	case CCBadH:
		if c.Minor >= 1 && c.Minor <= 8 {
			return p + "BAD HEADER: " + [...]string{"", "MIME error", "nonencoded 8-bit character",
				"contains invalid control character", "line made up entirely of whitespace",
				"line longer than RFC 5322 limit", "syntax error", "missing required header field",
				"duplicate header field"}[c.Minor]
		}
		return p + "BAD HEADER"
	case CCOversized:
		return p + "Message size exceeds recipient's size limit"
	case CCMTA:
		switch c.Minor {
		case 1:
			return p + "Temporary MTA failure on relaying"
		case 2:
			return p + "Rejected by next-hop MTA on relaying"
		}
		return p + "Unable to relay message back to MTA"
	case CCClean:
		return p + "CLEAN"
	}
	return p + "OTHER"
}

// BlockedReply forms the reply for a blocked recipient (amavis §3.5):
// "<code> <enh> <Verb>[ (soft_bounce)], <reason>", e.g.
// "250 2.7.0 Ok, discarded, id=12345-01 - INFECTED: Eicar-Signature" or
// "554 5.7.0 Reject, id=12345-01 - BANNED: …".
func BlockedReply(logID string, dec Decision, softBounce bool, det Details) mail.Reply {
	c := dec.Blocking
	r := mail.Reply{Code: 554, Enh: "5.7.0"}
	switch {
	case c.Major == CCBadH && c.Minor == 2:
		r.Enh = "5.6.3"
	case c.Major == CCBadH:
		r.Enh = "5.6.0"
	case c.Major == CCOversized:
		r.Code, r.Enh = 552, "5.3.4"
	case c.Major == CCMTA:
		r.Code, r.Enh = 550, "5.3.5"
	}
	soft := ""
	switch {
	case dec.Destiny == DTempfail:
		r = withClass(r, 4, 450)
	case softBounce:
		r = withClass(r, 4, 450)
		soft = " (soft_bounce)"
	case dec.Destiny == DDiscard:
		r = withClass(r, 2, 250)
	}
	verb := map[Destiny]string{DPass: "Ok", DDiscard: "Ok, discarded", DReject: "Reject",
		DBounce: "Bounce", DTempfail: "Temporary failure"}[dec.Destiny]
	if verb == "" {
		verb = fmt.Sprintf("Not ok (%d)", int(dec.Destiny))
	}
	reason := Reason(logID, c, det)
	if len(reason) > 453 {
		reason = reason[:450] + "..."
	}
	r.Text = verb + soft + ", " + reason
	return r
}
