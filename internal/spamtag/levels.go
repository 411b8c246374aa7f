package spamtag

import (
	"math"
	"strconv"

	"github.com/mavis-filter/mavis/internal/check/spam"
	"github.com/mavis-filter/mavis/internal/policy"
)

// Level is one spam level setting (sa_tag_level_deflt, a
// spam_tag2_level_maps result, ...). The zero Level is undef. (amavis also
// treats an empty string as undef for the tag level; the configuration
// reader maps it to the zero Level.)
type Level struct {
	V   float64
	Set bool
	// Text is the value as configured when it came as a string (a lookup
	// table's right-hand side, '5.0'); amavis writes it as is into
	// tagged_above= and required=. Empty: V rendered as Perl prints a
	// number (5 for 5.0).
	Text string
}

// At is a defined level.
func At(v float64) Level { return Level{V: v, Set: true} }

// Undef is the undefined level.
func Undef() Level { return Level{} }

// String renders the level as amavis writes it with %s: the configured
// text, else the number as Perl prints it; "" when undef.
func (l Level) String() string {
	if !l.Set {
		return ""
	}
	if l.Text != "" {
		return l.Text
	}
	return spam.FormatScore(l.V)
}

// reached reports score >= level for a defined level.
func (l Level) reached(score float64) bool { return l.Set && score >= l.V }

// Levels are one recipient's spam levels, each looked up by recipient in
// its amavis map (Debian defaults: tag 2, tag2 6.31, kill 6.31, dsn cutoff
// 10; upstream all undef).
type Levels struct {
	Tag  Level // spam_tag_level_maps: X-Spam-* fields at or above; undef = always
	Tag2 Level // spam_tag2_level_maps: CC_SPAMMY, X-Spam-Flag: YES, subject tag
	Tag3 Level // spam_tag3_level_maps: CC_SPAMMY,1
	Kill Level // spam_kill_level_maps: CC_SPAM

	// DSNCutoff is spam_dsn_cutoff_level_maps by recipient (or the
	// crediblefrom variant when the sender is credible: the caller picks);
	// DSNCutoffBySender the ..._bysender_maps value looked up by sender.
	DSNCutoff         Level
	DSNCutoffBySender Level
	// QuarantineCutoff is spam_quarantine_cutoff_level_maps,
	// NotifyAdminCutoff spam_notifyadmin_cutoff_level_maps.
	QuarantineCutoff  Level
	NotifyAdminCutoff Level
}

// Input is one recipient's spam situation.
type Input struct {
	// Score is the recipient's spam level (amavis spam_level): the scanner
	// score plus the pseudo tests' scores, see Assemble.
	Score float64
	// Unscored is set when nothing gave the recipient a spam level (no
	// scanner ran or all failed, no pseudo test): amavis then writes
	// score=x and compares as 0.
	Unscored bool
	// Tests is the test list of X-Spam-Status in amavis's order (pseudo
	// tests first, then AV:, then the scanners').
	Tests []spam.Test
	// Autolearn is SpamAssassin's AUTOLEARN tag; "" is written as
	// "unavailable".
	Autolearn string
	// Whitelisted and Blacklisted are the hard white/blacklist results for
	// this recipient (both may be set).
	Whitelisted, Blacklisted bool
	// Bypassed: @bypass_spam_checks_maps is true for this recipient: no
	// spam categories and no spam header fields.
	Bypassed bool
}

// level is the spam level as amavis compares it (undef counts as 0).
func (in Input) level() float64 {
	if in.Unscored || math.IsNaN(in.Score) {
		return 0
	}
	return in.Score
}

// RcptSpam is what the levels make of one recipient's spam level.
type RcptSpam struct {
	// Categories are the content categories amavis adds to the recipient,
	// in its order: CC_CLEAN,1 (tag), CC_SPAMMY (tag2), CC_SPAMMY,1 (tag3),
	// CC_SPAM (kill). Add each to the recipient's policy.Categories.
	Categories []policy.Category
	DoTag      bool // at or above tag level: X-Spam-* fields
	DoTag2     bool // at or above tag2 (or tag3): spammy, X-Spam-Flag: YES
	DoTag3     bool
	DoKill     bool // at or above kill level: CC_SPAM
	// DSNSuppressed: a DSN (bounce) to the sender must not be sent for this
	// recipient: the level is at or above the by-sender cutoff, or at or
	// above the by-recipient cutoff, or the sender is blacklisted and not
	// whitelisted while a by-recipient cutoff is set.
	DSNSuppressed bool
	// QuarantineSuppressed: no spam quarantine on behalf of this recipient
	// (the level is at or above spam_quarantine_cutoff_level, or the sender
	// is blacklisted and not whitelisted). It applies only when the
	// recipient's main category is CC_SPAM or CC_SPAMMY.
	QuarantineSuppressed bool
	// AdminNotifySuppressed is the same for spam admin notifications
	// (spam_notifyadmin_cutoff_level_maps).
	AdminNotifySuppressed bool
}

// Evaluate compares a recipient's spam level with its levels as amavis's
// decide_mail_destiny does:
//
//   - tag: not bypassed and (blacklisted, or tag level undef, or
//     level - (whitelisted ? 10 : 0) >= tag);
//   - tag2, tag3, kill: not bypassed, not whitelisted, and (blacklisted or
//     the level defined and reached); tag3 implies tag2.
func Evaluate(in Input, lv Levels) RcptSpam {
	var r RcptSpam
	score := in.level()
	if !in.Bypassed {
		wlAdj := 0.0
		if in.Whitelisted {
			wlAdj = -10
		}
		r.DoTag = in.Blacklisted || !lv.Tag.Set || score+wlAdj >= lv.Tag.V
		hit := func(l Level) bool {
			return !in.Whitelisted && (in.Blacklisted || l.reached(score))
		}
		r.DoTag2, r.DoTag3, r.DoKill = hit(lv.Tag2), hit(lv.Tag3), hit(lv.Kill)
		r.DoTag2 = r.DoTag2 || r.DoTag3
	}
	if r.DoTag {
		r.Categories = append(r.Categories, policy.Category{Major: policy.CCClean, Minor: 1})
	}
	if r.DoTag2 {
		r.Categories = append(r.Categories, policy.Category{Major: policy.CCSpammy})
	}
	if r.DoTag3 {
		r.Categories = append(r.Categories, policy.Category{Major: policy.CCSpammy, Minor: 1})
	}
	if r.DoKill {
		r.Categories = append(r.Categories, policy.Category{Major: policy.CCSpam})
	}
	blackOnly := in.Blacklisted && !in.Whitelisted
	r.DSNSuppressed = lv.DSNCutoffBySender.reached(score) ||
		(lv.DSNCutoff.Set && (score >= lv.DSNCutoff.V || blackOnly))
	cutoff := func(l Level) bool { return l.Set && (blackOnly || score >= l.V) }
	r.QuarantineSuppressed = cutoff(lv.QuarantineCutoff)
	r.AdminNotifySuppressed = cutoff(lv.NotifyAdminCutoff)
	return r
}

// round3 is Perl's 0+sprintf("%.3f", v): rounded to three decimals.
func round3(v float64) float64 {
	f, err := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 3, 64), 64)
	if err != nil {
		return v
	}
	return f
}

// fmt3 renders v as amavis writes scores: three decimals, trailing zeros
// dropped (0+sprintf("%.3f")): 2.197, 1000, -0.5, 0.
func fmt3(v float64) string { return spam.FormatScore(round3(v)) }
