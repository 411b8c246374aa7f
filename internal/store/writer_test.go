package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// sqliteConn opens a SQLite store and returns its connection (with the
// group-commit writer) and a scratch table.
func sqliteConn(t *testing.T) (*Store, *conn) {
	t.Helper()
	s := newTestDB(t, DialectSQLite).open(t, nil)
	c, err := s.acquire(tctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if c.w == nil {
		t.Fatal("SQLite connection has no writer")
	}
	if _, err := c.db.ExecContext(tctx(t), "CREATE TABLE wt (k TEXT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	return s, c
}

func insertKey(k string) func(context.Context, execer) error {
	return func(ctx context.Context, q execer) error {
		_, err := q.exec(ctx, "INSERT INTO wt (k) VALUES (?)", k)
		return err
	}
}

func keys(t *testing.T, c *conn) map[string]bool {
	t.Helper()
	rows, err := c.db.QueryContext(tctx(t), "SELECT k FROM wt")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		out[k] = true
	}
	return out
}

// blockWriter makes the writer busy until the returned function is called,
// so that what is queued meanwhile is committed as one batch.
func blockWriter(t *testing.T, c *conn) (release func()) {
	t.Helper()
	started, gate := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- c.write(context.Background(), nil, true, func(ctx context.Context, q execer) error {
			close(started)
			<-gate
			return insertKey("blocker")(ctx, q)
		})
	}()
	<-started
	return func() {
		close(gate)
		if err := <-done; err != nil {
			t.Errorf("blocking write: %v", err)
		}
	}
}

// queue starts a write that will wait behind the blocked writer and waits
// until it is queued.
func queue(c *conn, ctx context.Context, fn func(context.Context, execer) error) <-chan error {
	res := make(chan error, 1)
	before := len(c.w.reqs)
	go func() { res <- c.write(ctx, nil, true, fn) }()
	for len(c.w.reqs) == before {
		time.Sleep(time.Millisecond)
	}
	return res
}

// TestWriterBatchSavepoints: writes queued together commit together, and
// one that fails is rolled back alone (with what it wrote before failing).
func TestWriterBatchSavepoints(t *testing.T) {
	_, c := sqliteConn(t)
	release := blockWriter(t, c)
	errBoom := errors.New("boom")
	a := queue(c, context.Background(), insertKey("a"))
	b := queue(c, context.Background(), func(ctx context.Context, q execer) error {
		if err := insertKey("b")(ctx, q); err != nil {
			return err
		}
		return errBoom
	})
	dup := queue(c, context.Background(), insertKey("a")) // unique violation
	d := queue(c, context.Background(), insertKey("d"))
	release()
	if err := <-a; err != nil {
		t.Errorf("a: %v", err)
	}
	if err := <-b; !errors.Is(err, errBoom) {
		t.Errorf("b: %v, want boom", err)
	}
	if err := <-dup; !isUniqueViolation(err) {
		t.Errorf("dup: %v, want a unique violation", err)
	}
	if err := <-d; err != nil {
		t.Errorf("d: %v", err)
	}
	got := keys(t, c)
	want := map[string]bool{"blocker": true, "a": true, "d": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows %v, want %v", got, want)
	}
}

// TestWriterAbandoned: a write whose context ends while it waits in the
// queue returns at once and is never run.
func TestWriterAbandoned(t *testing.T) {
	_, c := sqliteConn(t)
	release := blockWriter(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{}, 1)
	gone := queue(c, ctx, func(ctx context.Context, q execer) error {
		ran <- struct{}{}
		return insertKey("gone")(ctx, q)
	})
	kept := queue(c, context.Background(), insertKey("kept"))
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Errorf("abandoned write: %v, want context.Canceled", err)
	}
	release()
	if err := <-kept; err != nil {
		t.Errorf("kept: %v", err)
	}
	select {
	case <-ran:
		t.Error("the abandoned write ran")
	default:
	}
	if got := keys(t, c); got["gone"] || !got["kept"] {
		t.Errorf("rows %v", got)
	}
}

// TestWriterClosed: writes queued when the database is closed fail with a
// connection error instead of hanging, and so do later ones.
func TestWriterClosed(t *testing.T) {
	s, c := sqliteConn(t)
	release := blockWriter(t, c)
	queued := queue(c, context.Background(), insertKey("late"))
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	time.Sleep(20 * time.Millisecond)
	release()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-queued; err != nil && !isConnError(err) {
		t.Errorf("queued write: %v, want nil or a connection error", err)
	}
	if err := c.write(context.Background(), nil, true, insertKey("after")); !isConnError(err) {
		t.Errorf("write after close: %v, want a connection error", err)
	}
}

// TestConcurrentLoggingSQLite: many messages logged at once (the writer's
// batches) all end up complete, with their maddr ids shared.
func TestConcurrentLoggingSQLite(t *testing.T) {
	s := newTestDB(t, DialectSQLite).open(t, nil)
	ctx := tctx(t)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := testMessage(fmt.Sprintf("c%011d", i), 0, fmt.Sprintf("s%d@conc.example", i%7),
				[]string{"r1@conc.example", fmt.Sprintf("r%d@conc.example", i%5+2)})
			if err := s.SavePreliminary(ctx, m); err != nil {
				errs <- err
				return
			}
			if m.SenderMaddrID == 0 || m.Recipients[0].MaddrID == 0 || m.Recipients[1].MaddrID == 0 {
				errs <- fmt.Errorf("%s: maddr ids not set: %+v", m.MailID, m)
				return
			}
			if err := s.SaveFinal(ctx, m); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	db, _, err := s.DB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var msgs, done, rcpts, addrs int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*), COUNT(content) FROM msgs").Scan(&msgs, &done); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM msgrcpt").Scan(&rcpts); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM maddr").Scan(&addrs); err != nil {
		t.Fatal(err)
	}
	if msgs != n || done != n || rcpts != 2*n || addrs != 7+6 {
		t.Errorf("msgs %d (final %d), msgrcpt %d, maddr %d; want %d, %d, %d, %d", msgs, done, rcpts, addrs, n, n, 2*n, 13)
	}
	hits, misses := s.Counters.SqlAddrSenderHits.Load(), s.Counters.SqlAddrSenderMisses.Load()
	if hits+misses != n || misses != 7 {
		t.Errorf("sender counters: %d hits, %d misses; want %d in all, 7 misses", hits, misses, n)
	}
}
