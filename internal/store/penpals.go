package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// PenPalsQuery asks whether the current recipient recently wrote to the
// current sender (amavis penpals_find with sid and rid swapped: the
// recipient is the sender of the earlier mail).
type PenPalsQuery struct {
	SenderMaddrID    int64 // maddr.id of the current message's sender (Message.SenderMaddrID)
	RecipientMaddrID int64 // maddr.id of the current (local) recipient (Recipient.MaddrID)
	// References are the Message-IDs the current message refers to
	// (In-Reply-To, References, and for a bounce the Message-ID of the
	// returned message); with any, sel_penpals_msgid is tried first.
	References []string
	RxTime     time.Time // reception time of the current message
}

// PenPalsMatch is a previous message from the recipient to the sender.
type PenPalsMatch struct {
	Found   bool
	Age     time.Duration // rx time of the current mail minus that of the earlier one (≥ 0)
	MailID  string        // mail_id of the earlier message
	Subject string        // its subject
	// Match is how it was found: "MidRid" (referenced Message-ID and same
	// recipient), "Mid", "Rid" (by recipient only).
	Match string
}

// PenPalsFind runs amavis's pen pals queries: with references,
// sel_penpals_msgid (a message with one of those Message-IDs sent by the
// recipient, preferring ones sent to the current sender); otherwise or when
// that finds nothing, sel_penpals (the latest message the recipient sent to
// the sender). Only passed (ds='P'), non-virus messages count. Counters are
// amavis's PenPals*.
func (s *Store) PenPalsFind(ctx context.Context, q PenPalsQuery) (PenPalsMatch, error) {
	var res PenPalsMatch
	prevSender, prevRcpt := q.RecipientMaddrID, q.SenderMaddrID // swapped, as amavis does
	if len(q.References) > 0 && prevSender != 0 && strings.TrimSpace(s.clauses["sel_penpals_msgid"]) != "" {
		var sendTime int64
		var mailID, subj, mid []byte
		var refRid sql.NullInt64
		found := false
		err := s.with(ctx, true, func(c *conn) error {
			query, args := expandPenPalsMsgID(s.clauses["sel_penpals_msgid"], prevSender, prevRcpt, q.References)
			err := c.db.QueryRowContext(ctx, rebind(c.t.dialect, query), args...).
				Scan(&sendTime, &mailID, &subj, &mid, &refRid)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			found = err == nil
			return err
		})
		if err != nil {
			return res, fmt.Errorf("store: penpals (message-id): %w", err)
		}
		s.Counters.PenPalsAttempts.Add(1)
		s.Counters.PenPalsAttemptsMid.Add(1)
		if !found {
			s.Counters.PenPalsMisses.Add(1)
		} else {
			ridMatch := refRid.Valid && prevRcpt != 0 && refRid.Int64 == prevRcpt
			midMatch := false
			for _, r := range q.References {
				if string(mid) == r {
					midMatch = true
				}
			}
			switch {
			case midMatch && ridMatch:
				res.Match = "MidRid"
				s.Counters.PenPalsHitsMidRid.Add(1)
			case midMatch:
				res.Match = "Mid"
				s.Counters.PenPalsHitsMid.Add(1)
			case ridMatch:
				res.Match = "Rid"
				s.Counters.PenPalsHitsRid.Add(1)
			default:
				res.Match = "none"
			}
			s.Counters.PenPalsHits.Add(1)
			res.Found, res.MailID, res.Subject = true, string(mailID), string(subj)
			res.Age = age(q.RxTime, sendTime)
			return res, nil
		}
	}
	if prevSender == 0 || prevRcpt == 0 || strings.TrimSpace(s.clauses["sel_penpals"]) == "" {
		return res, nil
	}
	var sendTime int64
	var mailID, subj []byte
	found := false
	err := s.with(ctx, true, func(c *conn) error {
		query, err := s.q(c, "sel_penpals")
		if err != nil {
			return err
		}
		err = c.db.QueryRowContext(ctx, query, prevSender, prevRcpt).Scan(&sendTime, &mailID, &subj)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	if err != nil {
		return res, fmt.Errorf("store: penpals: %w", err)
	}
	s.Counters.PenPalsAttempts.Add(1)
	s.Counters.PenPalsAttemptsRid.Add(1)
	if !found {
		s.Counters.PenPalsMisses.Add(1)
		return res, nil
	}
	s.Counters.PenPalsHitsRid.Add(1)
	s.Counters.PenPalsHits.Add(1)
	res = PenPalsMatch{Found: true, MailID: string(mailID), Subject: string(subj), Match: "Rid",
		Age: age(q.RxTime, sendTime)}
	return res, nil
}

func age(rx time.Time, sendTime int64) time.Duration {
	a := rx.Unix() - sendTime
	if a < 0 {
		a = 0
	}
	return time.Duration(a) * time.Second
}

// expandPenPalsMsgID substitutes amavis's way: each "?" takes the next of
// (sid, rid), "%m" becomes one "?" per Message-ID (octets outside printable
// ASCII replaced by '?').
func expandPenPalsMsgID(clause string, sid, rid int64, refs []string) (string, []any) {
	pos := []any{sid, rid}
	var args []any
	var b strings.Builder
	for i := 0; i < len(clause); i++ {
		switch {
		case clause[i] == '%' && i+1 < len(clause) && clause[i+1] == 'm':
			for k, r := range refs {
				if k > 0 {
					b.WriteByte(',')
				}
				b.WriteByte('?')
				args = append(args, sanitize7bit(r))
			}
			i++
		case clause[i] == '?':
			b.WriteByte('?')
			if len(pos) > 0 {
				args = append(args, pos[0])
				pos = pos[1:]
			} else {
				args = append(args, nil)
			}
		default:
			b.WriteByte(clause[i])
		}
	}
	return b.String(), args
}

// PenPalsAdjustment is the score change amavis applies for a pen pal found
// at the given age: -bonus * 2^(-age/halflife) (AM.PENPAL=<adj>). Zero when
// bonus or halflife is not positive.
func PenPalsAdjustment(age time.Duration, bonus float64, halflife time.Duration) float64 {
	if bonus <= 0 || halflife <= 0 {
		return 0
	}
	w := math.Exp(-(age.Seconds() / halflife.Seconds()) * math.Ln2)
	return -w * bonus
}

// FormatInterval is amavis's format_time_interval, "D H:MM:SS", as used in
// "X-Amavis-PenPals: age 0 0:04:10".
func FormatInterval(d time.Duration) string {
	t := d.Seconds()
	sign := ""
	if t < 0 {
		sign, t = "-", -t
	}
	dd := math.Floor(t / 86400)
	t -= dd * 86400
	hh := math.Floor(t / 3600)
	t -= hh * 3600
	mm := math.Floor(t / 60)
	t -= mm * 60
	return fmt.Sprintf("%s%d %d:%02d:%02d", sign, int64(dd), int64(hh), int64(mm), int64(t+0.5))
}

// PenPalsSkip reports why amavis would skip the pen pals lookup for a
// message ("" = do it): not enabled, virus, low score, high score, or an
// outside sender claiming a local domain. maxLevel and minLevel are the max
// and min spam levels over the recipients; thresholdLow/High are
// $penpals_threshold_low/high (nil = undef); isBounce is set when the
// bounce killer found a referenced Message-ID (thresholds do not apply).
func PenPalsSkip(bonus float64, halflife time.Duration, virus bool, maxLevel, minLevel float64,
	thresholdLow, thresholdHigh *float64, isBounce, originating, senderClaimsLocal bool) string {
	switch {
	case virus:
		return "virus"
	case bonus <= 0 || halflife <= 0:
		return "disabled"
	case thresholdLow != nil && !isBounce && maxLevel < *thresholdLow:
		return "low score"
	case thresholdHigh != nil && !isBounce && minLevel-bonus > *thresholdHigh:
		return "high score"
	case senderClaimsLocal && !originating:
		return "local sender from outside"
	}
	return ""
}

// BounceInput describes an inbound message the bounce killer looks at.
type BounceInput struct {
	// IsBounce: the message parsed as a DSN with an attached header section
	// (RFC 3464 or a common nonstandard format).
	IsBounce bool
	// Unverifiable: not a parsable bounce but looks like one (auto-submitted,
	// from postmaster, ANY_BOUNCE_MESSAGE); counted only.
	Unverifiable bool
	Originating  bool
	// MsgIDDomainLocal: the domain of the referenced Message-ID is local
	// (test MessageIDDomain's result with local_domains_maps).
	MsgIDDomainLocal bool
	// PenPalsEnabled: SQL storage (or Redis) is on and penpals_bonus_score
	// and penpals_halflife are positive.
	PenPalsEnabled bool
	// PenPals is the best pen pals match over the local recipients.
	PenPals PenPalsMatch
}

// BounceVerdict is the bounce killer's decision.
type BounceVerdict struct {
	Killed bool
	// Rescued is amavis's log wording: "by penpals", "by originating",
	// "by domain", "by: pen pals disabled"; "" when killed or not a bounce.
	Rescued string
}

// BounceKill decides as amavis does (in this order): rescued by pen pals
// (a match younger than 8 days), by the originating flag, by a local
// domain in the referenced Message-ID, or because pen pals are disabled;
// otherwise killed: the caller adds bounce_killer_score to every recipient
// (AM.BOUNCE=<score>). It counts InMsgsBounce*.
//
// amavis 2.13 never rescues "by penpals" (a shadowed variable hides the
// match); mavis does, as amavis documents the feature.
func (s *Store) BounceKill(in BounceInput) BounceVerdict {
	var c *Counters
	if s != nil {
		c = &s.Counters
	}
	return bounceKill(in, c)
}

func bounceKill(in BounceInput, c *Counters) BounceVerdict {
	count := func(f func(*Counters)) {
		if c != nil {
			f(c)
		}
	}
	if !in.IsBounce {
		if in.Unverifiable {
			count(func(c *Counters) { c.InMsgsBounce.Add(1); c.InMsgsBounceUnverifiable.Add(1) })
		}
		return BounceVerdict{}
	}
	count(func(c *Counters) { c.InMsgsBounce.Add(1) })
	switch {
	case in.PenPals.Found && in.PenPals.Age < 8*24*time.Hour:
		count(func(c *Counters) { c.InMsgsBounceRescuedByPenPals.Add(1) })
		return BounceVerdict{Rescued: "by penpals"}
	case in.Originating:
		count(func(c *Counters) { c.InMsgsBounceRescuedByOriginating.Add(1) })
		return BounceVerdict{Rescued: "by originating"}
	case in.MsgIDDomainLocal:
		count(func(c *Counters) { c.InMsgsBounceRescuedByDomain.Add(1) })
		return BounceVerdict{Rescued: "by domain"}
	case !in.PenPalsEnabled:
		return BounceVerdict{Rescued: "by: pen pals disabled"}
	}
	count(func(c *Counters) { c.InMsgsBounceKilled.Add(1) })
	return BounceVerdict{Killed: true}
}

var msgIDDomainRe = regexp.MustCompile(`(@[^@>() \t][^@>]*?)[ \t]*>?$`)

// MessageIDDomain returns "@domain" of a Message-ID as amavis extracts it
// for the bounce killer's local-domain test, "" when there is none.
func MessageIDDomain(msgID string) string {
	m := msgIDDomainRe.FindStringSubmatch(msgID)
	if m == nil {
		return ""
	}
	return m[1]
}
