package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
)

// ErrNotFound is returned when a quarantined message or msgs row does not
// exist.
var ErrNotFound = errors.New("store: no such record")

// StoreQuarantine is amavis's sql: quarantine method (mail_via_sql with
// Amavis::IO::SQL): it writes the message read from r into table quarantine
// as chunks of exactly QuarantineChunkSize octets (the last one shorter),
// chunk_ind 1, 2, …, all in one transaction: either the whole message is
// stored or nothing is. It returns the number of octets stored.
//
// One difference: amavis writes no chunk at all for an empty message (it
// never has one: the quarantined copy always starts with X-Envelope-*
// header fields); mavis stores one empty chunk so that an empty message
// reads back as empty instead of "not found".
//
// When r is an io.Seeker, a lost connection is retried once from r's
// starting position on a fresh connection.
func (s *Store) StoreQuarantine(ctx context.Context, ptag int64, mailID string, r io.Reader) (int64, error) {
	if mailID == "" {
		return 0, errors.New("store: quarantine: mail_id undefined")
	}
	seeker, canSeek := r.(io.Seeker)
	var start int64
	if canSeek {
		var err error
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			canSeek = false
		}
	}
	var total int64
	attempt := 0
	err := s.with(ctx, canSeek, func(c *conn) error {
		attempt++
		if attempt > 1 {
			if _, err := seeker.Seek(start, io.SeekStart); err != nil {
				return fmt.Errorf("rewinding message: %w", err)
			}
		}
		total = 0
		ins, err := s.q(c, "ins_quar")
		if err != nil {
			return err
		}
		tx, err := c.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // no-op after Commit
		stmt, err := tx.PrepareContext(ctx, ins)
		if err != nil {
			return err
		}
		defer stmt.Close()
		key := bin(c.t.dialect, mailID)
		buf := make([]byte, s.chunk)
		for ind := 1; ; ind++ {
			n, rerr := io.ReadFull(r, buf)
			if n > 0 || (ind == 1 && rerr == io.EOF) {
				if _, err := stmt.ExecContext(ctx, ptag, key, ind, buf[:n]); err != nil {
					return fmt.Errorf("sql inserting mail text failed: %w", err)
				}
				total += int64(n)
			}
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				break
			}
			if rerr != nil {
				return &readError{rerr}
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return tx.Commit()
	})
	if err != nil {
		return 0, fmt.Errorf("store: quarantine %s: %w", mailID, err)
	}
	return total, nil
}

// readError marks a failure to read the message (not the database's).
type readError struct{ err error }

func (e *readError) Error() string { return "reading message: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// QuarantineResponse is the per-recipient response amavis gives for the
// sql: quarantine method, with ", id=<log id>" appended.
func QuarantineResponse(mailID, logID string, err error) string {
	if err == nil {
		return "250 2.6.0 Ok, Stored to sql db as mail_id " + mailID + ", id=" + logID
	}
	return "451 4.5.0 Storing to sql db as mail_id " + mailID + " failed: " + err.Error() + ", id=" + logID
}

// CopyQuarantine writes the message stored under (ptag, mailID) to w, chunk
// by chunk in chunk_ind order (sel_quar), for release. No chunk at all is
// ErrNotFound.
func (s *Store) CopyQuarantine(ctx context.Context, ptag int64, mailID string, w io.Writer) (int64, error) {
	var total int64
	wrote := false
	err := s.with(ctx, true, func(c *conn) error {
		if wrote { // a retry after a partial write would duplicate text
			return errors.New("connection lost while reading the message")
		}
		q, err := s.q(c, "sel_quar")
		if err != nil {
			return err
		}
		rows, err := c.db.QueryContext(ctx, q, ptag, bin(c.t.dialect, mailID))
		if err != nil {
			return err
		}
		defer rows.Close()
		found := false
		for rows.Next() {
			var chunk []byte
			if err := rows.Scan(&chunk); err != nil {
				return err
			}
			found = true
			wrote = true
			n, err := w.Write(chunk)
			total += int64(n)
			if err != nil {
				return &readError{err}
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if !found {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return total, fmt.Errorf("store: quarantine %s[%d]: %w", mailID, ptag, err)
	}
	return total, nil
}

// ReadQuarantine returns the whole message stored under (ptag, mailID).
func (s *Store) ReadQuarantine(ctx context.Context, ptag int64, mailID string) ([]byte, error) {
	var b bytes.Buffer
	if _, err := s.CopyQuarantine(ctx, ptag, mailID, &b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// PartitionTags returns the partition tags of the msgs rows with mailID
// (sel_msg), for a release request that gives no partition_tag: amavis
// proceeds with exactly one match and asks for partition_tag=… when there
// are several.
func (s *Store) PartitionTags(ctx context.Context, mailID string) ([]int64, error) {
	var tags []int64
	err := s.with(ctx, true, func(c *conn) error {
		tags = tags[:0]
		q, err := s.q(c, "sel_msg")
		if err != nil {
			return err
		}
		rows, err := c.db.QueryContext(ctx, q, bin(c.t.dialect, mailID))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t sql.NullInt64 // partition_tag may be NULL: amavis treats it as 0
			if err := rows.Scan(&t); err != nil {
				return err
			}
			tags = append(tags, t.Int64)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: sel_msg %s: %w", mailID, err)
	}
	return tags, nil
}
