package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
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
	type addr struct {
		naddr, domain string
		skip          bool // an empty recipient address: no maddr row
		id            int64
		existed       bool
	}
	norm := func(a string) addr {
		n, d := NormalizeAddr(a, s.opts.LocalpartIsCaseSensitive, s.opts.Allow8bitAddress)
		return addr{naddr: n, domain: d}
	}
	type prelim struct {
		sender addr
		rcpts  []addr // one per m.Recipients; naddr "" for an empty address
	}
	in := prelim{sender: norm(m.Sender), rcpts: make([]addr, len(m.Recipients))}
	for i, r := range m.Recipients {
		if r.Addr == "" {
			in.rcpts[i].skip = true
		} else {
			in.rcpts[i] = norm(r.Addr)
		}
	}
	ptag, rx, size := m.PartitionTag, m.RxTime, max(m.Size, 0)
	mailID, secretID, logID := m.MailID, m.SecretID, truncRunes(m.LogID, 20)
	policy, client, host := truncRunes(m.Policy, 255), truncRunes(m.ClientAddr, 255), truncRunes(m.Host, 255)

	var done prelim
	err := s.with(ctx, true, func(c *conn) error {
		sel, ins, insMsg := s.clause(c, "sel_adr"), s.clause(c, "ins_adr"), s.clause(c, "ins_msg")
		var timeISO any
		switch {
		case c.t.dialect == DialectPg:
			timeISO = rx.UTC().Truncate(time.Second)
		case c.t.dialect == DialectMySQL && s.opts.TimestampFmtMySQL:
			timeISO = rx.UTC().Format("20060102150405")
		default:
			timeISO = rx.UTC().Format("20060102T150405Z")
		}
		var out prelim
		err := c.write(ctx, nonEmpty(sel, ins, insMsg), false, func(ctx context.Context, q execer) error {
			res := prelim{sender: in.sender, rcpts: slices.Clone(in.rcpts)}
			var err error
			a := &res.sender
			if a.id, a.existed, err = findOrSaveAddr(ctx, q, sel, ins, ptag, bin(c.t.dialect, a.naddr), a.naddr, a.domain); err != nil {
				return &addrError{"sender", err}
			}
			for i := range res.rcpts {
				a := &res.rcpts[i]
				if a.skip {
					continue
				}
				if a.id, a.existed, err = findOrSaveAddr(ctx, q, sel, ins, ptag, bin(c.t.dialect, a.naddr), a.naddr, a.domain); err != nil {
					return &addrError{"recipient", err}
				}
			}
			// no sender row: amavis does not save the message; nor with
			// ins_msg disabled
			if res.sender.id != 0 && insMsg != "" {
				if _, err := q.exec(ctx, insMsg,
					ptag, bin(c.t.dialect, mailID), bin(c.t.dialect, secretID),
					logID, rx.Unix(), timeISO, res.sender.id,
					policy, client, size, host); err != nil {
					return err
				}
			}
			out = res
			return nil
		})
		if err == nil {
			done = out
		}
		return err
	})
	if err != nil {
		var ae *addrError
		switch {
		case errors.As(err, &ae):
			return fmt.Errorf("store: save_info_preliminary %s: %s: %w", m.MailID, ae.who, ae.err)
		case isUniqueViolation(err):
			return ErrDuplicateMailID
		}
		return fmt.Errorf("store: save_info_preliminary %s: %w", m.MailID, err)
	}
	if a := done.sender; a.id != 0 {
		m.SenderMaddrID = a.id
		s.Counters.SqlAddrSenderAttempts.Add(1)
		if a.existed {
			s.Counters.SqlAddrSenderHits.Add(1)
		} else {
			s.Counters.SqlAddrSenderMisses.Add(1)
		}
	}
	for i, a := range done.rcpts {
		if a.id == 0 {
			continue
		}
		m.Recipients[i].MaddrID = a.id
		s.Counters.SqlAddrRecipAttempts.Add(1)
		if a.existed {
			s.Counters.SqlAddrRecipHits.Add(1)
		} else {
			s.Counters.SqlAddrRecipMisses.Add(1)
		}
	}
	return nil
}

// addrError tells which address of SavePreliminary failed.
type addrError struct {
	who string
	err error
}

func (e *addrError) Error() string { return e.who + ": " + e.err.Error() }
func (e *addrError) Unwrap() error { return e.err }

// clause is s.q without the error: "" when the clause is disabled.
func (s *Store) clause(c *conn, name string) string {
	q, err := s.q(c, name)
	if err != nil {
		return ""
	}
	return q
}

func nonEmpty(qs ...string) []string {
	out := make([]string, 0, len(qs))
	for _, q := range qs {
		if q != "" {
			out = append(out, q)
		}
	}
	return out
}

// FindOrSaveAddr is amavis's find_or_save_addr: it returns maddr.id for
// addr in partition ptag, inserting the row when missing (SELECT, INSERT,
// SELECT again: a concurrent insert by another process is found on the
// second SELECT, so several mavisd instances can share one database).
// existed tells whether the row was there before. The address is
// normalised as amavis does (see NormalizeAddr). id 0 means the sel_adr
// (or, for a new address, the ins_adr) clause is disabled.
func (s *Store) FindOrSaveAddr(ctx context.Context, ptag int64, addr string) (id int64, existed bool, err error) {
	naddr, invDomain := NormalizeAddr(addr, s.opts.LocalpartIsCaseSensitive, s.opts.Allow8bitAddress)
	err = s.with(ctx, true, func(c *conn) error {
		sel, ins := s.clause(c, "sel_adr"), s.clause(c, "ins_adr")
		var rid int64
		var rex bool
		err := c.write(ctx, nonEmpty(sel, ins), false, func(ctx context.Context, q execer) error {
			var err error
			rid, rex, err = findOrSaveAddr(ctx, q, sel, ins, ptag, bin(c.t.dialect, naddr), naddr, invDomain)
			return err
		})
		if err == nil {
			id, existed = rid, rex
		}
		return err
	})
	return id, existed, err
}

// findOrSaveAddr runs find_or_save_addr's statements on q; sel or ins ""
// (disabled) gives id 0.
func findOrSaveAddr(ctx context.Context, q execer, sel, ins string, ptag int64, email any, naddr, invDomain string) (id int64, existed bool, err error) {
	if sel == "" {
		return 0, false, nil
	}
	err = q.queryRow(ctx, sel, ptag, email).Scan(&id)
	if err == nil {
		return id, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, false, err
	}
	if ins == "" {
		return 0, false, nil
	}
	_, insErr := q.exec(ctx, ins, ptag, email, invDomain)
	if insErr != nil && isConnError(insErr) {
		return 0, false, insErr
	}
	// select again regardless of the INSERT's outcome: a race with
	// another process leaves the row there (and no need for last_insert_id)
	err = q.queryRow(ctx, sel, ptag, email).Scan(&id)
	switch {
	case err == nil:
		return id, insErr != nil, nil
	case errors.Is(err, sql.ErrNoRows):
		if insErr != nil {
			return 0, false, fmt.Errorf("failed to insert addr %q: %w", naddr, insErr)
		}
		return 0, false, fmt.Errorf("failed to insert addr %q: not found after insert", naddr)
	}
	return 0, false, err
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
	// the rows, computed here: the statements may run after SaveFinal
	// returned (see conn.write)
	type rcptRow struct {
		seq                int
		rid                int64
		local, content, ds string
		bl, wl             string
		level              float64
		resp               string
	}
	var rows []rcptRow
	for i, r := range m.Recipients {
		if r.MaddrID == 0 {
			continue
		}
		rows = append(rows, rcptRow{seq: i + 1, rid: r.MaddrID, local: yn(r.IsLocal), content: blankIfEmpty(r.Content),
			ds: DeliveryStatus(r.Destiny, r.SMTPResponse, r.Done), bl: yn(r.Blacklisted), wl: yn(r.Whitelisted),
			level: finite(r.SpamLevel), resp: truncBytes(sanitize7bit(r.SMTPResponse), 255)})
	}
	ptag, client := m.PartitionTag, truncRunes(m.ClientAddr, 255)
	err := s.with(ctx, true, func(c *conn) error {
		insRcp, err := s.q(c, "ins_rcp")
		if err != nil {
			return err
		}
		updMsg, err := s.q(c, "upd_msg")
		if err != nil {
			return err
		}
		mailID := bin(c.t.dialect, m.MailID)
		return c.write(ctx, []string{insRcp, updMsg}, true, func(ctx context.Context, q execer) error {
			for _, r := range rows {
				if _, err := q.exec(ctx, insRcp, ptag, mailID, r.seq, r.rid, r.local, r.content,
					r.ds, " ", r.bl, r.wl, r.level, r.resp); err != nil {
					return fmt.Errorf("ins_rcp: %w", err)
				}
			}
			if _, err := q.exec(ctx, updMsg, content, qtype, quarLoc, dsn, finite(minLevel), msgID, from, subj,
				client, orig, ptag, mailID); err != nil {
				return fmt.Errorf("upd_msg: %w", err)
			}
			return nil
		})
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
