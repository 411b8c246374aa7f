package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/policy"
	"github.com/mavis-filter/mavis/internal/store"
)

// Recorder writes amavis's SQL log (msgs, msgrcpt, maddr) and the SQL
// quarantine: a *store.Store.
type Recorder interface {
	SavePreliminary(ctx context.Context, m *store.Message) error
	SaveFinal(ctx context.Context, m *store.Message) error
	StoreQuarantine(ctx context.Context, ptag int64, mailID string, r io.Reader) (int64, error)
	PenPalsFind(ctx context.Context, q store.PenPalsQuery) (store.PenPalsMatch, error)
	BounceKill(in store.BounceInput) store.BounceVerdict
}

// PenPals are the pen pals settings (penpals_bonus_score, penpals_halflife,
// penpals_threshold_low/high). Bonus 0 disables them.
type PenPals struct {
	Bonus     float64
	Halflife  time.Duration
	Low, High *float64
}

// PartitionTag computes sql_partition_tag for a message received at t: a
// number, or "iso8601_week" / "iso8601_yearweek" (amavis's usual subs).
func PartitionTag(spec string, t time.Time) int64 {
	switch strings.ToLower(strings.TrimSpace(spec)) {
	case "", "undef":
		return 0
	case "iso8601_week", "week":
		return store.ISOWeek(t.Local())
	case "iso8601_yearweek", "yearweek":
		return store.ISOYearWeek(t.Local())
	}
	n, err := strconv.ParseInt(spec, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// recordPreliminary writes the msgs row before checking, as amavis's
// save_info_preliminary. A mail_id already in the table gets a fresh one
// (up to 5 tries, as amavis). Any other failure tempfails the message:
// nothing is lost, Postfix retries.
func (p *Pipeline) recordPreliminary(ctx context.Context, m *mail.Message, s *Settings) (*store.Message, error) {
	if p.Recorder == nil {
		return nil, nil
	}
	sm := &store.Message{
		PartitionTag: PartitionTag(s.PartitionTag, m.Received),
		LogID:        m.LogID, RxTime: m.Received, Sender: m.Envelope.MailFrom,
		Policy: s.PolicyBank, ClientAddr: m.Client.Addr, Size: m.Size, Host: s.MyHostname,
	}
	if sm.ClientAddr == "" {
		sm.ClientAddr = m.Conn.RemoteIP
	}
	if sm.RxTime.IsZero() {
		sm.RxTime = p.now()
	}
	for _, r := range m.Envelope.Rcpts {
		sm.Recipients = append(sm.Recipients, store.Recipient{Addr: r.Addr})
	}
	var err error
	for try := 0; try < 5; try++ {
		sm.MailID, sm.SecretID = m.MailID, m.SecretID
		if err = p.Recorder.SavePreliminary(ctx, sm); !errors.Is(err, store.ErrDuplicateMailID) {
			break
		}
		m.MailID, m.SecretID = mail.NewMailID()
	}
	if err != nil {
		return nil, fmt.Errorf("sql log: %w", err)
	}
	return sm, nil
}

// recordFinal completes the SQL log after the message was dealt with. The
// mail is already delivered or dropped, so a failure is only logged.
func (p *Pipeline) recordFinal(ctx context.Context, m *mail.Message, sm *store.Message, a *Analysis, res []rcptOutcome, quarLoc, quarType string, dsn string) error {
	if sm == nil {
		return nil
	}
	sm.Content = a.Category.SQLLetter()
	sm.QuarType, sm.QuarLoc, sm.DSNSent = quarType, quarLoc, dsn
	if m.Header != nil {
		sm.MessageID, sm.From, sm.Subject = m.Header.Get("Message-ID"), m.Header.Get("From"), m.Header.Get("Subject")
	}
	for i := range sm.Recipients {
		r, o := &a.Rcpts[i], res[i]
		sr := &sm.Recipients[i]
		sr.IsLocal = r.Local
		c := r.Cats.Main()
		if r.Decision.Blocked {
			c = r.Decision.Blocking
		}
		if o.byMTA && o.reply.Class() != 2 {
			c = policy.Category{Major: policy.CCMTA, Minor: map[bool]int{true: 2, false: 1}[o.reply.Class() == 5]}
		}
		sr.Content = c.SQLLetter()
		sr.Destiny = storeDestiny(o.destiny)
		sr.SMTPResponse = o.reply.String()
		sr.Done = true
		if a.Spam != nil {
			sr.SpamLevel = a.Spam.Score
		}
	}
	// The mail is already dealt with: retry a few times (amavis tries 5
	// times) before giving up on the log record.
	var err error
	for try := 0; try < 3; try++ {
		if err = p.Recorder.SaveFinal(ctx, sm); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(try+1) * 500 * time.Millisecond):
		}
	}
	return err
}

func storeDestiny(d policy.Destiny) store.Destiny {
	switch d {
	case policy.DPass:
		return store.DestinyPass
	case policy.DDiscard:
		return store.DestinyDiscard
	case policy.DBounce:
		return store.DestinyBounce
	case policy.DReject:
		return store.DestinyReject
	}
	return store.DestinyTempfail
}
