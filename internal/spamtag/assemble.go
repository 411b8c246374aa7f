package spamtag

import (
	"math"
	"strconv"
	"time"

	"github.com/mavis-filter/mavis/internal/check/spam"
)

// Assembly holds what adds up to one recipient's spam level (§4.1). Each
// part is optional; the zero Assembly gives an unscored recipient.
type Assembly struct {
	// IPRepu is the Redis IP reputation penalty (AM.IP_BAD_<ip>=<score>).
	IPRepu *IPRepu
	// AV are the virus scanners' reports that amavis turned into spam
	// scores (@virus_name_to_spam_score_maps gave a score for every name
	// the scanner reported), one entry per scanner, in scanner order.
	AV []AVSpam
	// WBL is the soft white/blacklisting boost (SoftBoost); 0 = none.
	WBL float64
	// Scanner is the spam scanners' combined result (spam.Combine); nil
	// when no scanner gave a verdict. A skipped result adds nothing.
	Scanner *spam.Result
	// PenPals is the pen pals adjustment (PenPalsScore, <= 0); 0 = none.
	PenPals float64
	// BounceKilled is set when the bounce killer applies; BounceKiller is
	// then $bounce_killer_score (AM.BOUNCE).
	BounceKilled bool
	BounceKiller float64
}

// IPRepu is a Redis IP reputation hit.
type IPRepu struct {
	IP    string
	Score float64 // already capped at ip_repu_score_limit by the caller
}

// AVSpam is one virus scanner's names that map to spam scores.
type AVSpam struct {
	Names  []string
	Scores []float64 // Scores[i] belongs to Names[i]
}

// Assemble adds up a recipient's spam level and test list in amavis's order.
// amavis prepends (unshift) its own pseudo tests and appends scanner
// results as they arrive, in this sequence: IP reputation (prepended), AV:
// names (appended), soft white/blacklisting AM.WBL (prepended), spam
// scanners (appended), pen pals AM.PENPAL (prepended), bounce killer
// AM.BOUNCE (prepended). The resulting list is
//
//	AM.BOUNCE, AM.PENPAL, AM.WBL, AM.IP_BAD_…, AV:…, scanner tests.
//
// An AV scanner adds the highest score of its names to the level (not the
// sum) and one AV:<name>=<score> test per name, each name once.
func Assemble(a Assembly) Input {
	var in Input
	scored := false
	var front, back []spam.Test
	add := func(v float64) {
		in.Score += v
		scored = true
	}
	if a.IPRepu != nil {
		add(a.IPRepu.Score)
		// amavis: sprintf('AM.IP_BAD_%s=%.1f'), not trimmed
		front = append(front, spam.Test{
			Name:    "AM.IP_BAD_" + a.IPRepu.IP + "=" + strconv.FormatFloat(a.IPRepu.Score, 'f', 1, 64),
			NoScore: true,
		})
	}
	for _, av := range a.AV {
		seen := map[string]bool{}
		var tests []spam.Test
		best := math.Inf(-1)
		for i, name := range av.Names {
			if i >= len(av.Scores) || seen[name] {
				continue
			}
			seen[name] = true
			tests = append(tests, spam.Test{Name: "AV:" + name, Score: av.Scores[i]})
			best = max(best, av.Scores[i])
		}
		if len(tests) == 0 {
			continue
		}
		add(best)
		back = append(back, tests...)
	}
	if a.WBL != 0 {
		add(a.WBL)
		front = append([]spam.Test{{Name: "AM.WBL", Score: round3(a.WBL)}}, front...)
	}
	if r := a.Scanner; r != nil && r.Skipped == "" {
		add(r.Score)
		back = append(back, r.Tests...)
		in.Autolearn = r.Autolearn
	}
	if a.PenPals != 0 {
		add(a.PenPals)
		front = append([]spam.Test{{Name: "AM.PENPAL", Score: round3(a.PenPals)}}, front...)
	}
	if a.BounceKilled {
		add(a.BounceKiller)
		front = append([]spam.Test{{Name: "AM.BOUNCE", Score: a.BounceKiller}}, front...)
	}
	in.Unscored = !scored
	in.Tests = append(front, back...)
	return in
}

// SenderScores are the soft white/blacklisting lookups for one sender (the
// envelope sender, then each From: address, duplicates removed).
type SenderScores struct {
	// SQL are the numeric wblist.wb values found for this sender, one per
	// matching users.id in order, up to the first non-numeric entry.
	SQL []float64
	// Maps are the by-sender results of every @score_sender_maps table
	// that matched the recipient (get_all), undefined results left out.
	Maps []float64
}

// SoftBoost combines soft white/blacklisting as amavis's white_black_list:
// numeric SQL values are added for every sender; @score_sender_maps is
// consulted sender by sender only while no boost has been found (by SQL or
// a previous sender), its non-zero values summed. A negative boost is soft
// whitelisting (MILD_WHITELIST banks use -1.8 or -10), a positive one soft
// blacklisting. The boost goes to Assembly.WBL; ok is false when there is
// none (or it is 0), and no AM.WBL test is written.
func SoftBoost(senders []SenderScores) (boost float64, ok bool) {
	defined := false
	for _, s := range senders {
		for _, v := range s.SQL {
			boost += v
			defined = true
		}
		if defined {
			continue
		}
		for _, v := range s.Maps {
			if v != 0 && !math.IsNaN(v) {
				boost += v
				defined = true
			}
		}
	}
	return boost, boost != 0
}

// PenPalsScore is amavis's pen pals adjustment for a reply to mail the
// recipient sent age ago: -bonus / 2^(age/halflife). It is 0 when pen pals
// are off (bonus or halflife not positive).
func PenPalsScore(age, halflife time.Duration, bonus float64) float64 {
	if bonus <= 0 || halflife <= 0 {
		return 0
	}
	weight := math.Exp(-(age.Seconds() / halflife.Seconds()) * math.Ln2)
	return -weight * bonus
}
