package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"
)

// Destiny is amavis's per-recipient destiny (D_PASS, D_DISCARD, D_BOUNCE,
// D_REJECT), as far as msgrcpt.ds needs it.
type Destiny int

// Destinies; the values are amavis's constants.
const (
	DestinyPass     Destiny = 1  // D_PASS
	DestinyDiscard  Destiny = 0  // D_DISCARD
	DestinyBounce   Destiny = -1 // D_BOUNCE
	DestinyReject   Destiny = -2 // D_REJECT
	DestinyTempfail Destiny = -4 // D_TEMPFAIL
)

// Content category letters as amavis writes them to msgs.content and
// msgrcpt.content.
const (
	ContentVirus     = "V"
	ContentBanned    = "B"
	ContentUnchecked = "U"
	ContentSpam      = "S" // spam at or above kill level
	ContentSpammy    = "Y" // spam at or above tag2 level
	ContentBadMIME   = "M" // CC_BADH,2
	ContentBadHeader = "H"
	ContentOversized = "O"
	ContentMTAError  = "T"
	ContentClean     = "C"
	ContentCatchall  = "?"
)

// Quarantine type letters for msgs.quar_type.
const (
	QuarFile    = "F"
	QuarGzip    = "Z"
	QuarBSMTP   = "B"
	QuarSQL     = "Q"
	QuarMailbox = "M" // via SMTP
	QuarLMTP    = "L"
)

// Message is what SavePreliminary and SaveFinal write about one message;
// the pipeline fills it. Fields marked "final" are only needed by SaveFinal.
type Message struct {
	// PartitionTag is $sql_partition_tag for this message (0 by default;
	// e.g. ISOWeek(rx time) for weekly partitions).
	PartitionTag int64
	MailID       string // msgs.mail_id (12 chars)
	SecretID     string // msgs.secret_id
	LogID        string // msgs.am_id, the log id "12345-01"
	RxTime       time.Time
	Sender       string // envelope sender without brackets; "" for <>
	Policy       string // policy bank path (%p), msgs.policy
	ClientAddr   string // SMTP client IP
	Size         int64  // message size in octets
	Host         string // $myhostname (UTF-8 form), msgs.host

	Recipients []Recipient

	// final
	Content     string // ccat letter of the message (Content* constants)
	QuarType    string // first quarantine type (Quar* letter), "" none
	QuarLoc     string // first quarantine location, relative to QUARANTINEDIR
	DSNSent     string // "Y" sent, "N" not, "q" quenched
	MessageID   string // raw Message-ID header body
	From        string // raw From header body (MIME-decoded here)
	Subject     string // raw Subject header body (MIME-decoded here)
	Originating bool

	// SenderMaddrID is maddr.id of the sender, set by SavePreliminary
	// (0: none). Pen pals need it.
	SenderMaddrID int64
}

// Recipient is one envelope recipient of a Message.
type Recipient struct {
	Addr string // address without brackets

	// final
	IsLocal      bool
	Content      string  // ccat letter for this recipient
	Destiny      Destiny // final destiny
	SMTPResponse string  // the response given for this recipient
	Done         bool    // recipient was dealt with (amavis recip_done)
	Blacklisted  bool    // sender blacklisted by this recipient
	Whitelisted  bool    // sender whitelisted by this recipient
	SpamLevel    float64 // per-recipient total score (bspam_level)

	// MaddrID is maddr.id of the recipient, set by SavePreliminary (0: none).
	MaddrID int64
}

// ErrDuplicateMailID is returned by SavePreliminary when (partition_tag,
// mail_id) exists already: the caller generates another mail_id and calls
// again (amavis retries up to 5 times).
var ErrDuplicateMailID = errors.New("store: mail_id not unique")

// Counters are amavis's SNMP-like counters for what this package does.
type Counters struct {
	SqlAddrSenderAttempts, SqlAddrSenderHits, SqlAddrSenderMisses atomic.Int64
	SqlAddrRecipAttempts, SqlAddrRecipHits, SqlAddrRecipMisses    atomic.Int64

	PenPalsAttempts, PenPalsAttemptsRid, PenPalsAttemptsMid atomic.Int64
	PenPalsHits, PenPalsHitsRid, PenPalsHitsMid             atomic.Int64
	PenPalsHitsMidRid, PenPalsMisses                        atomic.Int64

	InMsgsBounce, InMsgsBounceKilled, InMsgsBounceUnverifiable     atomic.Int64
	InMsgsBounceRescuedByPenPals, InMsgsBounceRescuedByOriginating atomic.Int64
	InMsgsBounceRescuedByDomain                                    atomic.Int64
}

// Snapshot returns the counters by amavis name.
func (c *Counters) Snapshot() map[string]int64 {
	return map[string]int64{
		"SqlAddrSenderAttempts": c.SqlAddrSenderAttempts.Load(), "SqlAddrSenderHits": c.SqlAddrSenderHits.Load(),
		"SqlAddrSenderMisses": c.SqlAddrSenderMisses.Load(), "SqlAddrRecipAttempts": c.SqlAddrRecipAttempts.Load(),
		"SqlAddrRecipHits": c.SqlAddrRecipHits.Load(), "SqlAddrRecipMisses": c.SqlAddrRecipMisses.Load(),
		"PenPalsAttempts": c.PenPalsAttempts.Load(), "PenPalsAttemptsRid": c.PenPalsAttemptsRid.Load(),
		"PenPalsAttemptsMid": c.PenPalsAttemptsMid.Load(), "PenPalsHits": c.PenPalsHits.Load(),
		"PenPalsHitsRid": c.PenPalsHitsRid.Load(), "PenPalsHitsMid": c.PenPalsHitsMid.Load(),
		"PenPalsHitsMidRid": c.PenPalsHitsMidRid.Load(), "PenPalsMisses": c.PenPalsMisses.Load(),
		"InMsgsBounce": c.InMsgsBounce.Load(), "InMsgsBounceKilled": c.InMsgsBounceKilled.Load(),
		"InMsgsBounceUnverifiable":         c.InMsgsBounceUnverifiable.Load(),
		"InMsgsBounceRescuedByPenPals":     c.InMsgsBounceRescuedByPenPals.Load(),
		"InMsgsBounceRescuedByOriginating": c.InMsgsBounceRescuedByOriginating.Load(),
		"InMsgsBounceRescuedByDomain":      c.InMsgsBounceRescuedByDomain.Load(),
	}
}

// SavePreliminary is amavis's save_info_preliminary: it finds or inserts
// the maddr rows of the sender and of every recipient (setting
// m.SenderMaddrID and m.Recipients[i].MaddrID) and inserts the msgs row
// (content NULL: in progress) in its own transaction. A duplicate mail_id
// gives ErrDuplicateMailID; any other error means the database is not
// usable and the caller tempfails the message (amavis dies here too).
func (s *Store) SavePreliminary(ctx context.Context, m *Message) error {
	if m.MailID == "" {
		return errors.New("store: save_info_preliminary: mail_id undefined")
	}
	sid, existed, err := s.FindOrSaveAddr(ctx, m.PartitionTag, m.Sender)
	if err != nil {
		return fmt.Errorf("store: save_info_preliminary %s: sender: %w", m.MailID, err)
	}
	if sid != 0 {
		m.SenderMaddrID = sid
		s.Counters.SqlAddrSenderAttempts.Add(1)
		if existed {
			s.Counters.SqlAddrSenderHits.Add(1)
		} else {
			s.Counters.SqlAddrSenderMisses.Add(1)
		}
	}
	for i := range m.Recipients {
		r := &m.Recipients[i]
		if r.Addr == "" {
			continue
		}
		rid, existed, err := s.FindOrSaveAddr(ctx, m.PartitionTag, r.Addr)
		if err != nil {
			return fmt.Errorf("store: save_info_preliminary %s: recipient: %w", m.MailID, err)
		}
		if rid != 0 {
			r.MaddrID = rid
			s.Counters.SqlAddrRecipAttempts.Add(1)
			if existed {
				s.Counters.SqlAddrRecipHits.Add(1)
			} else {
				s.Counters.SqlAddrRecipMisses.Add(1)
			}
		}
	}
	if sid == 0 {
		return nil // sender not in maddr: amavis does not save the message
	}
	err = s.with(ctx, true, func(c *conn) error {
		q, err := s.q(c, "ins_msg")
		if err != nil {
			return err
		}
		var timeISO any
		switch {
		case c.t.dialect == DialectPg:
			timeISO = m.RxTime.UTC().Truncate(time.Second)
		case c.t.dialect == DialectMySQL && s.opts.TimestampFmtMySQL:
			timeISO = m.RxTime.UTC().Format("20060102150405")
		default:
			timeISO = m.RxTime.UTC().Format("20060102T150405Z")
		}
		_, err = c.exec(ctx, q,
			m.PartitionTag, bin(c.t.dialect, m.MailID), bin(c.t.dialect, m.SecretID),
			truncRunes(m.LogID, 20), m.RxTime.Unix(), timeISO, sid,
			truncRunes(m.Policy, 255), truncRunes(m.ClientAddr, 255),
			max(m.Size, 0), truncRunes(m.Host, 255))
		return err
	})
	if errors.Is(err, ErrDisabled) {
		return nil
	}
	if err != nil {
		if isUniqueViolation(err) {
			return ErrDuplicateMailID
		}
		return fmt.Errorf("store: save_info_preliminary %s: %w", m.MailID, err)
	}
	return nil
}

// FindOrSaveAddr is amavis's find_or_save_addr: it returns maddr.id for
// addr in partition ptag, inserting the row when missing (SELECT, INSERT,
// SELECT again: a concurrent insert by another process is found on the
// second SELECT, so several mavisd instances can share one database).
// existed tells whether the row was there before. The address is
// normalised as amavis does (see NormalizeAddr). id 0 means the sel_adr
// clause is disabled.
func (s *Store) FindOrSaveAddr(ctx context.Context, ptag int64, addr string) (id int64, existed bool, err error) {
	naddr, invDomain := NormalizeAddr(addr, s.opts.LocalpartIsCaseSensitive, s.opts.Allow8bitAddress)
	err = s.with(ctx, true, func(c *conn) error {
		sel, err := s.q(c, "sel_adr")
		if err != nil {
			return err
		}
		email := bin(c.t.dialect, naddr)
		err = c.queryRow(ctx, sel, ptag, email).Scan(&id)
		if err == nil {
			existed = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		ins, err := s.q(c, "ins_adr")
		if err != nil {
			return err
		}
		_, insErr := c.exec(ctx, ins, ptag, email, invDomain)
		if insErr != nil && isConnError(insErr) {
			return insErr
		}
		// select again regardless of the INSERT's outcome: a race with
		// another process leaves the row there (and no need for last_insert_id)
		err = c.queryRow(ctx, sel, ptag, email).Scan(&id)
		switch {
		case err == nil:
			existed = insErr != nil
			return nil
		case errors.Is(err, sql.ErrNoRows):
			if insErr != nil {
				return fmt.Errorf("failed to insert addr %q: %w", naddr, insErr)
			}
			return fmt.Errorf("failed to insert addr %q: not found after insert", naddr)
		}
		return err
	})
	if errors.Is(err, ErrDisabled) {
		return 0, false, nil
	}
	return id, existed, err
}

// DeliveryStatus is msgrcpt.ds as amavis derives it: 4xx → T, bounce with
// 5xx → B, other 5xx → R, pass with 2xx (or not yet done) → P, discard → D,
// else "?".
func DeliveryStatus(d Destiny, resp string, done bool) string {
	switch {
	case strings.HasPrefix(resp, "4"):
		return "T"
	case d == DestinyBounce && strings.HasPrefix(resp, "5"):
		return "B"
	case d != DestinyBounce && strings.HasPrefix(resp, "5"):
		return "R"
	case d == DestinyPass && (strings.HasPrefix(resp, "2") || !done):
		return "P"
	case d == DestinyDiscard:
		return "D"
	}
	return "?"
}

// SaveFinal is amavis's save_info_final: in one transaction it inserts a
// msgrcpt row per recipient (rseqnum from 1; recipients without a maddr id
// are skipped but keep their number) and updates the msgs row with the
// outcome. It needs m.SenderMaddrID from SavePreliminary (without it, as in
// amavis, nothing is written). amavis retries this up to 5 times and then
// logs "info not saved"; the mail itself is already dealt with.
func (s *Store) SaveFinal(ctx context.Context, m *Message) error {
	if m.MailID == "" {
		return errors.New("store: save_info_final: mail_id undefined")
	}
	if m.SenderMaddrID == 0 {
		return nil
	}
	for _, name := range []string{"ins_msg", "upd_msg", "ins_rcp"} {
		if strings.TrimSpace(s.clauses[name]) == "" {
			return nil // updates disabled
		}
	}
	minLevel := 0.0
	for i, r := range m.Recipients {
		if i == 0 || r.SpamLevel < minLevel {
			minLevel = r.SpamLevel
		}
	}
	msgID := truncBytes(sanitize7bit(strings.Join(ParseMessageID(m.MessageID), " ")), 255)
	quarLoc := truncBytes(sanitize7bit(m.QuarLoc), 255)
	from := HeaderText(m.From, 255)
	subj := HeaderText(m.Subject, 255)
	content := blankIfEmpty(m.Content)
	qtype := blankIfEmpty(m.QuarType)
	dsn := m.DSNSent
	if dsn == "" {
		dsn = "N"
	}
	orig := yn(m.Originating)
	err := s.with(ctx, true, func(c *conn) error {
		insRcp, err := s.q(c, "ins_rcp")
		if err != nil {
			return err
		}
		updMsg, err := s.q(c, "upd_msg")
		if err != nil {
			return err
		}
		if err := c.prepare(ctx, insRcp, updMsg); err != nil {
			return err
		}
		tx, err := c.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
		mailID := bin(c.t.dialect, m.MailID)
		for i, r := range m.Recipients {
			if r.MaddrID == 0 {
				continue
			}
			resp := truncBytes(sanitize7bit(r.SMTPResponse), 255)
			if _, err := c.txExec(ctx, tx, insRcp,
				m.PartitionTag, mailID, i+1, r.MaddrID, yn(r.IsLocal), blankIfEmpty(r.Content),
				DeliveryStatus(r.Destiny, r.SMTPResponse, r.Done), " ",
				yn(r.Blacklisted), yn(r.Whitelisted), finite(r.SpamLevel), resp); err != nil {
				return fmt.Errorf("ins_rcp: %w", err)
			}
		}
		if _, err := c.txExec(ctx, tx, updMsg,
			content, qtype, quarLoc, dsn, finite(minLevel), msgID, from, subj,
			truncRunes(m.ClientAddr, 255), orig, m.PartitionTag, mailID); err != nil {
			return fmt.Errorf("upd_msg: %w", err)
		}
		return tx.Commit()
	})
	if err != nil {
		return fmt.Errorf("store: save_info_final %s: %w", m.MailID, err)
	}
	return nil
}

func yn(b bool) string {
	if b {
		return "Y"
	}
	return "N"
}

func blankIfEmpty(s string) string {
	if strings.TrimSpace(s) == "" {
		return " "
	}
	return s
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}
