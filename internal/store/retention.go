package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Purge selects what a retention run deletes; the zero value deletes
// nothing but orphans (see MaddrMaxID).
type Purge struct {
	// Partitions are partition tags to delete entirely from msgs, msgrcpt,
	// quarantine and maddr (README.sql's fastest method, e.g. old ISO week
	// numbers from OldWeekPartitions).
	Partitions []int64
	// PartitionsBelow, when non-zero, also deletes every partition with a
	// smaller tag (for monotonic tags such as ISOYearWeek).
	PartitionsBelow int64
	// Before deletes msgs rows received before this time (time_num).
	Before time.Time
	// IncompleteBefore deletes msgs rows still without content (crashed or
	// abandoned processing) received before this time; README.sql uses one
	// hour ago.
	IncompleteBefore time.Time
	// MaddrMaxID limits the deletion of unreferenced maddr rows to ids up to
	// this value: a maddr row is written at the start of processing but the
	// msgrcpt row referring to it only at the end, so a fresh row must not be
	// taken for an orphan. 0 uses the highest id seen by this Store's
	// previous Purge (nothing on the first run); -1 means no limit (only
	// when no mail is in flight).
	MaddrMaxID int64
}

// PurgeResult counts the deleted rows.
type PurgeResult struct {
	Msgs, Msgrcpt, Quarantine, Maddr int64
	// MaddrWatermark is the highest maddr.id when the run started; give it
	// as MaddrMaxID to the next run when not reusing this Store.
	MaddrWatermark int64
}

// Purge deletes old rows as README.sql-mysql/-pg's housekeeping queries do:
// whole partitions, msgs by age, then msgrcpt and quarantine rows without a
// msgs row, then maddr rows no msgs/msgrcpt refers to. Run it periodically
// (mavisd) or once (mavis CLI). Each statement is its own transaction.
func (s *Store) Purge(ctx context.Context, p Purge) (PurgeResult, error) {
	var res PurgeResult
	err := s.with(ctx, true, func(c *conn) error {
		res = PurgeResult{}
		if err := c.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(id),0) FROM maddr").Scan(&res.MaddrWatermark); err != nil {
			return fmt.Errorf("maddr watermark: %w", err)
		}
		exec := func(n *int64, q string, args ...any) error {
			r, err := c.db.ExecContext(ctx, rebind(c.t.dialect, q), args...)
			if err != nil {
				return fmt.Errorf("%s: %w", strings.SplitN(q, " WHERE", 2)[0], err)
			}
			k, _ := r.RowsAffected()
			*n += k
			return nil
		}
		counts := []*int64{&res.Msgs, &res.Msgrcpt, &res.Quarantine, &res.Maddr}
		tables := []string{"msgs", "msgrcpt", "quarantine", "maddr"}
		if len(p.Partitions) > 0 {
			in := "?" + strings.Repeat(",?", len(p.Partitions)-1)
			args := make([]any, len(p.Partitions))
			for i, t := range p.Partitions {
				args[i] = t
			}
			for i, t := range tables {
				if err := exec(counts[i], "DELETE FROM "+t+" WHERE partition_tag IN ("+in+")", args...); err != nil {
					return err
				}
			}
		}
		if p.PartitionsBelow != 0 {
			for i, t := range tables {
				if err := exec(counts[i], "DELETE FROM "+t+" WHERE partition_tag < ?", p.PartitionsBelow); err != nil {
					return err
				}
			}
		}
		if !p.Before.IsZero() {
			if err := exec(&res.Msgs, "DELETE FROM msgs WHERE time_num < ?", p.Before.Unix()); err != nil {
				return err
			}
		}
		if !p.IncompleteBefore.IsZero() {
			if err := exec(&res.Msgs, "DELETE FROM msgs WHERE time_num < ? AND content IS NULL", p.IncompleteBefore.Unix()); err != nil {
				return err
			}
		}
		if err := exec(&res.Msgrcpt, "DELETE FROM msgrcpt WHERE NOT EXISTS (SELECT 1 FROM msgs"+
			" WHERE msgs.partition_tag=msgrcpt.partition_tag AND msgs.mail_id=msgrcpt.mail_id)"); err != nil {
			return err
		}
		if err := exec(&res.Quarantine, "DELETE FROM quarantine WHERE NOT EXISTS (SELECT 1 FROM msgs"+
			" WHERE msgs.partition_tag=quarantine.partition_tag AND msgs.mail_id=quarantine.mail_id)"); err != nil {
			return err
		}
		limit := p.MaddrMaxID
		if limit == 0 {
			limit = s.lastWatermark.Load()
		}
		if limit != 0 {
			q := "DELETE FROM maddr WHERE NOT EXISTS (SELECT 1 FROM msgs WHERE msgs.sid=maddr.id)" +
				" AND NOT EXISTS (SELECT 1 FROM msgrcpt WHERE msgrcpt.rid=maddr.id)"
			var args []any
			if limit > 0 {
				q += " AND maddr.id <= ?"
				args = append(args, limit)
			}
			if err := exec(&res.Maddr, q, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("store: purge: %w", err)
	}
	s.lastWatermark.Store(res.MaddrWatermark)
	return res, nil
}

// OldWeekPartitions returns the ISO week numbers (1..53) that are not among
// the keep most recent weeks up to now, for a $sql_partition_tag of
// ISOWeek(rx time): Purge{Partitions: OldWeekPartitions(time.Now(), 4)}
// keeps the current week and the three before it. keep < 1 keeps 1.
func OldWeekPartitions(now time.Time, keep int) []int64 {
	if keep < 1 {
		keep = 1
	}
	if keep >= 53 {
		return nil
	}
	kept := map[int64]bool{}
	for i := 0; i < keep; i++ {
		kept[ISOWeek(now.AddDate(0, 0, -7*i))] = true
	}
	var out []int64
	for w := int64(1); w <= 53; w++ {
		if !kept[w] {
			out = append(out, w)
		}
	}
	return out
}
