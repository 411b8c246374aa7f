package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// execer runs statements: on the pool, each in its own transaction, or
// inside one transaction (txExecer).
type execer interface {
	exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	queryRow(ctx context.Context, query string, args ...any) *sql.Row
}

// txExecer runs statements inside tx, with the connection's prepared
// statements when they were prepared before the transaction began (see
// conn.prepare: with SQLite's pool of one, preparing inside the
// transaction would wait for the connection the transaction holds).
type txExecer struct {
	c  *conn
	tx *sql.Tx
}

func (t txExecer) cached(query string) *sql.Stmt {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.c.stmts[query]
}

func (t txExecer) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.cached(query); st != nil {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (t txExecer) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.cached(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// write runs fn, which writes with the statements in queries: on SQLite
// through the connection's writer (group commit, see writer); elsewhere in
// a transaction of its own when inTx, else with each statement committed
// on its own (amavis's AutoCommit, which the multi-process maddr race
// handling of FindOrSaveAddr relies on: on PostgreSQL a failed INSERT
// would abort an enclosing transaction).
//
// fn may run after write returned (the caller's context ended while the
// batch was being written): it must not touch memory the caller owns
// without synchronisation, only copies and its own results.
func (c *conn) write(ctx context.Context, queries []string, inTx bool, fn func(context.Context, execer) error) error {
	if c.w != nil {
		return c.w.do(ctx, queries, fn)
	}
	if !inTx {
		return fn(ctx, c)
	}
	if err := c.prepare(ctx, queries...); err != nil {
		return err
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if err := fn(ctx, txExecer{c, tx}); err != nil {
		return err
	}
	return tx.Commit()
}

// writer is SQLite's group commit. SQLite lets one transaction write at a
// time and every commit appends all the pages it changed to the WAL (for
// a msgs row: the table and its eight indexes), so the log writes of
// concurrent messages (SavePreliminary, SaveFinal) are collected by one
// goroutine and written in one transaction, each in its own savepoint: a
// failing one (a duplicate mail_id) is rolled back alone, the others
// commit together. A caller waits for the commit of its batch, so a nil
// error still means "on disk" as far as synchronous=NORMAL goes.
type writer struct {
	c    *conn
	reqs chan *writeReq
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// maxBatch bounds the writes committed together; batchTimeout bounds one
// batch (the callers' deadlines cannot: a statement interrupted inside
// the shared transaction would roll the whole batch back).
const (
	maxBatch     = 64
	batchTimeout = 30 * time.Second
)

var errWriterClosed = fmt.Errorf("store: database closed: %w", sql.ErrConnDone)

type writeReq struct {
	queries []string
	fn      func(context.Context, execer) error
	state   atomic.Int32 // reqQueued → reqTaken (by the writer) or reqAbandoned (by the caller)
	done    chan error   // buffered
}

const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

func newWriter(c *conn) *writer {
	w := &writer{c: c, reqs: make(chan *writeReq, maxBatch), stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// close stops the writer after the batch in progress; queued writes fail
// with errWriterClosed (a connection error: Store.with retries them on a
// new connection).
func (w *writer) close() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

// do queues fn and waits for its batch to commit or for ctx to end.
func (w *writer) do(ctx context.Context, queries []string, fn func(context.Context, execer) error) error {
	r := &writeReq{queries: queries, fn: fn, done: make(chan error, 1)}
	select {
	case w.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.stop:
		return errWriterClosed
	}
	select {
	case err := <-r.done:
		return err
	case <-w.done: // closed: what it took is finished
		select {
		case err := <-r.done:
			return err
		default:
			return errWriterClosed
		}
	case <-ctx.Done():
		// Not started yet: it never will be. Started: it completes (or
		// not) without us, as a statement whose reply was lost would.
		r.state.CompareAndSwap(reqQueued, reqAbandoned)
		return ctx.Err()
	}
}

func (w *writer) run() {
	defer close(w.done)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case r := <-w.reqs:
			batch = append(batch[:0], r)
		case <-w.stop:
			w.failQueued()
			return
		}
		// Whatever queued up while the previous batch was written goes
		// into this one; nothing waits for more to arrive.
	gather:
		for len(batch) < maxBatch {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		w.commit(batch)
		clear(batch)
	}
}

func (w *writer) failQueued() {
	for {
		select {
		case r := <-w.reqs:
			r.done <- errWriterClosed
		default:
			return
		}
	}
}

// commit writes one batch in one transaction.
func (w *writer) commit(batch []*writeReq) {
	live := batch[:0]
	for _, r := range batch {
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	for _, r := range live {
		if err := w.c.prepare(ctx, r.queries...); err != nil {
			finishAll(live, err)
			return
		}
	}
	if len(live) > 1 {
		if err := w.c.prepare(ctx, savepointQueries...); err != nil {
			finishAll(live, err)
			return
		}
	}
	tx, err := w.c.db.BeginTx(ctx, nil)
	if err != nil {
		finishAll(live, err)
		return
	}
	q := txExecer{w.c, tx}
	errs := make([]error, len(live))
	if len(live) == 1 {
		if errs[0] = live[0].fn(ctx, q); errs[0] != nil {
			_ = tx.Rollback()
			live[0].done <- errs[0]
			return
		}
	} else {
		for i, r := range live {
			if _, err := q.exec(ctx, "SAVEPOINT mavis_w"); err != nil {
				_ = tx.Rollback()
				finishAll(live, err)
				return
			}
			errs[i] = r.fn(ctx, q)
			if errs[i] != nil {
				if _, err := q.exec(ctx, "ROLLBACK TO mavis_w"); err != nil {
					_ = tx.Rollback()
					finishAll(live, errors.Join(errs[i], err))
					return
				}
			}
			if _, err := q.exec(ctx, "RELEASE mavis_w"); err != nil {
				_ = tx.Rollback()
				finishAll(live, err)
				return
			}
		}
	}
	cerr := tx.Commit()
	for i, r := range live {
		if errs[i] == nil {
			errs[i] = cerr
		}
		r.done <- errs[i]
	}
}

func finishAll(rs []*writeReq, err error) {
	for _, r := range rs {
		r.done <- err
	}
}

// savepointQueries are prepared with the first batch.
var savepointQueries = []string{"SAVEPOINT mavis_w", "ROLLBACK TO mavis_w", "RELEASE mavis_w"}
