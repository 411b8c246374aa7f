package lookup

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// WBInput is what the white/blacklist check of one recipient needs
// (amavis SpamControl white_black_list, §4.3).
type WBInput struct {
	Recipient string
	// Senders are the envelope sender and the From: addresses; duplicates
	// are removed here.
	Senders []string
	// UserIDs are the users.id values of the recipient's policy rows
	// (UserIDs); with WBQuery they select the wblist rows.
	UserIDs []any
	// WBQuery is $sql_select_white_black_list; nil without SQL.
	WBQuery *Query
	// PerRecipBlacklist / PerRecipWhitelist are
	// $per_recip_{black,white}list_sender_lookup_tables: looked up by
	// recipient, the result is a table (or tables) looked up by sender,
	// before BlacklistSender / WhitelistSender (@*_sender_maps).
	PerRecipBlacklist, PerRecipWhitelist Maps
	BlacklistSender, WhitelistSender     Maps
	// ScoreSender is @score_sender_maps: every table matching the
	// recipient yields tables looked up by sender; non-zero results add
	// up (positive is soft-blacklisting). Used only when SQL gave no soft
	// score.
	ScoreSender Maps
}

// WBResult is the outcome for one recipient.
type WBResult struct {
	Blacklisted bool
	Whitelisted bool
	// Boost is the soft white/blacklisting score to add to the spam
	// score; HasBoost tells whether any soft entry matched (amavis's
	// "defined $boost").
	Boost    float64
	HasBoost bool
	// Log holds amavis-style "wbl: …" lines describing the decisions.
	Log []string
}

// Test returns the pseudo-test for X-Spam-Status ("AM.WBL=-3.5"), or ""
// when there is no non-zero boost.
func (r WBResult) Test() string {
	if !r.HasBoost || r.Boost == 0 {
		return ""
	}
	return "AM.WBL=" + FormatScore(r.Boost)
}

// FormatScore formats a score as amavis's 0+sprintf("%.3f", x): at most
// three decimals, no trailing zeros.
func FormatScore(x float64) string {
	s := strconv.FormatFloat(x, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

// WhiteBlackList decides whether the senders are white- or blacklisted by
// the recipient and computes the soft score, in amavis's order: for each
// sender, the SQL wblist of every matching users.id (a number is a soft
// score and the search goes on; blank is neutral and stops; B/N/F
// blacklists; W/Y/T or anything else whitelists), then, if SQL had no
// hard answer, the static black- and whitelists (both may match), then
// @score_sender_maps unless SQL gave a soft score. A database error is
// returned: the caller tempfails.
func WhiteBlackList(ctx context.Context, in WBInput) (WBResult, error) {
	var res WBResult
	senders := uniqueStrings(in.Senders)
	logf := func(format string, args ...any) {
		res.Log = append(res.Log, fmt.Sprintf(format, args...))
	}
	for _, sender := range senders {
		found := false
		if in.WBQuery != nil {
			for _, id := range in.UserIDs {
				r, err := NewField(in.WBQuery, "wb", FieldString, id).Lookup(ctx, sender)
				if err != nil {
					return res, fmt.Errorf("wblist <%s> for <%s>: %w", sender, in.Recipient, err)
				}
				if !r.Found {
					continue
				}
				wb := sqlString(r.Value)
				switch {
				case isWBNumber(wb):
					v := perlNumber(wb)
					res.Boost += v
					res.HasBoost = true
					kind := "black"
					if v < 0 {
						kind = "white"
					}
					logf("wbl: (SQL) soft-%slisted (%s) sender <%s> => <%s> (rid=%v)", kind, FormatScore(v), sender, in.Recipient, id)
				case strings.Trim(wb, " \x00") == "":
					found = true
					logf("wbl: (SQL) recip <%s> is neutral to sender <%s>", in.Recipient, sender)
				case isWBBlack(wb):
					found = true
					res.Blacklisted = true
					logf("wbl: (SQL) recip <%s> blacklisted sender <%s>", in.Recipient, sender)
				default:
					found = true
					res.Whitelisted = true
					if isWBWhite(wb) {
						logf("wbl: (SQL) recip <%s> whitelisted sender <%s>", in.Recipient, sender)
					} else {
						logf("wbl: (SQL) recip <%s> whitelisted sender <%s>, unexpected wb field value: %q", in.Recipient, sender, wb)
					}
				}
				if found {
					break
				}
			}
		}
		if !found {
			bl, err := senderListed(ctx, in.PerRecipBlacklist, in.BlacklistSender, in.Recipient, sender)
			if err != nil {
				return res, fmt.Errorf("blacklist <%s> for <%s>: %w", sender, in.Recipient, err)
			}
			if bl {
				res.Blacklisted = true
				logf("wbl: recip <%s> blacklisted sender <%s>", in.Recipient, sender)
			}
			wl, err := senderListed(ctx, in.PerRecipWhitelist, in.WhitelistSender, in.Recipient, sender)
			if err != nil {
				return res, fmt.Errorf("whitelist <%s> for <%s>: %w", sender, in.Recipient, err)
			}
			if wl {
				res.Whitelisted = true
				logf("wbl: recip <%s> whitelisted sender <%s>", in.Recipient, sender)
			}
		}
		if !res.HasBoost && len(in.ScoreSender.Tables) > 0 {
			rs, err := in.ScoreSender.LookupAll(ctx, in.Recipient)
			if err != nil {
				return res, fmt.Errorf("score_sender_maps for <%s>: %w", in.Recipient, err)
			}
			for _, rr := range rs {
				m := Maps{Name: "score_sender", Tables: Tables(rr.Value)}
				r, err := m.Lookup(ctx, sender)
				if err != nil {
					return res, fmt.Errorf("score_sender_maps <%s> for <%s>: %w", sender, in.Recipient, err)
				}
				if !r.Found {
					continue
				}
				v, _ := Number(r.Value)
				if v == 0 {
					continue
				}
				res.Boost += v
				res.HasBoost = true
				kind := "black"
				if v < 0 {
					kind = "white"
				}
				logf("wbl: soft-%slisted (%s) sender <%s> => <%s>, recip_key=%q", kind, FormatScore(v), sender, in.Recipient, rr.Key)
			}
		}
	}
	return res, nil
}

// senderListed looks the sender up in the per-recipient table (if the
// recipient has one) followed by the global sender maps.
func senderListed(ctx context.Context, perRecip, global Maps, recip, sender string) (bool, error) {
	var tables []Table
	if len(perRecip.Tables) > 0 {
		r, err := perRecip.Lookup(ctx, recip)
		if err != nil {
			return false, err
		}
		if r.Found {
			tables = append(tables, Tables(r.Value)...)
		}
	}
	tables = append(tables, global.Tables...)
	if len(tables) == 0 {
		return false, nil
	}
	ok, _, err := Maps{Name: global.Name, Tables: tables}.Bool(ctx, sender)
	return ok, err
}

// isWBNumber matches amavis's /^ *([+-]?\d+(?:\.\d*)?) *\z/.
func isWBNumber(s string) bool {
	s = strings.Trim(s, " ")
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i == len(s)
}

func isWBBlack(s string) bool {
	t := strings.TrimRight(s, " ")
	return len(t) == 1 && strings.IndexByte("BbNnFf", t[0]) >= 0
}

func isWBWhite(s string) bool {
	t := strings.TrimRight(s, " ")
	return len(t) == 1 && strings.IndexByte("WwYyTt", t[0]) >= 0
}

func uniqueStrings(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
