package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Options configure a Store. The zero value plus MyHome gives the embedded
// default: a SQLite file under MYHOME with the schema created.
type Options struct {
	// DSNs is @storage_sql_dsn: tried in order at (re)connect; the first that
	// answers is used as long as it works, then the search starts over.
	// Empty: the embedded SQLite database EmbeddedPath(MyHome).
	DSNs []DSN
	// MyHome is amavis's $MYHOME (mavis's state directory), for the
	// embedded default.
	MyHome string
	// CreateSchema creates missing tables and indexes (IF NOT EXISTS) after
	// each connect. Always on for the embedded default and for SQLite files.
	CreateSchema bool

	// Allow8bitAddress is $sql_allow_8bit_address: false replaces every octet
	// outside printable ASCII in maddr.email by '?' (amavis's default); true
	// stores the address octets unchanged (varbinary/bytea columns).
	Allow8bitAddress bool
	// LocalpartIsCaseSensitive is $localpart_is_case_sensitive: false (the
	// default) lower-cases the local part in maddr.email.
	LocalpartIsCaseSensitive bool
	// TimestampFmtMySQL is $timestamp_fmt_mysql: write msgs.time_iso as
	// "YYYYMMDDHHMMSS" on MySQL (for a TIMESTAMP column).
	TimestampFmtMySQL bool
	// QuarantineChunkSize is $sql_quarantine_chunksize_max (16384).
	QuarantineChunkSize int
	// Clauses overrides entries of amavis's %sql_clause (sel_adr, ins_adr,
	// ins_msg, upd_msg, ins_rcp, ins_quar, sel_msg, sel_quar, sel_penpals,
	// sel_penpals_msgid) written with "?" placeholders; an empty string
	// disables that operation, as in amavis.
	Clauses map[string]string

	// ConnectTimeout bounds one connection attempt (DefaultConnectTimeout);
	// the caller's context deadline bounds everything.
	ConnectTimeout time.Duration
	// MaxOpenConns limits the pool per database (default 8; SQLite 1).
	// SQLite allows one writer at a time: with more connections, writers
	// that find the lock taken poll for it with growing sleeps
	// (busy_timeout), which under concurrent load costs far more than
	// waiting in line for the one connection.
	MaxOpenConns int
	Logger       *slog.Logger
}

// EmbeddedPath is the embedded default database file under MYHOME.
func EmbeddedPath(myHome string) string {
	return filepath.Join(myHome, "sql", "mavis-storage.sqlite")
}

// Store is amavis's SQL storage (@storage_sql_dsn): logging (maddr, msgs,
// msgrcpt), the SQL quarantine and the pen pals queries. It is safe for
// concurrent use; several Stores (in several mavisd processes or machines)
// may share one MariaDB/PostgreSQL database.
type Store struct {
	opts     Options
	log      *slog.Logger
	targets  []target
	clauses  map[string]string
	chunk    int
	embedded bool

	connLock chan struct{} // held while (re)connecting; honours contexts
	cur      *conn         // guarded by connLock

	lastWatermark atomic.Int64 // maddr.id high-water mark of the previous Purge

	Counters Counters
}

// conn is one open database (a database/sql pool).
type conn struct {
	t  target
	db *sql.DB

	mu    sync.Mutex
	stmts map[string]*sql.Stmt // prepared statements by query text

	w *writer // SQLite: the group-commit writer; nil elsewhere
}

// close stops the writer and closes the database.
func (c *conn) close() error {
	if c.w != nil {
		c.w.close()
	}
	return c.db.Close()
}

// stmt returns a prepared statement for query, prepared once per database
// (database/sql prepares it again on each pool connection as needed), or
// nil when statements are not cached for the dialect. SQLite would parse
// and plan the statement anew on every execution (a large part of its cost
// for our one-row statements) and the MySQL driver would prepare, execute
// and close it in three round trips; pgx caches prepared statements
// itself and is left to do so (a pooler in transaction mode can turn that
// off in the DSN).
func (c *conn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if c.t.dialect == DialectPg {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.stmts[query]; st != nil {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.stmts == nil {
		c.stmts = map[string]*sql.Stmt{}
	}
	c.stmts[query] = st
	return st, nil
}

// exec runs a statement on the pool (in its own transaction).
func (c *conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.db.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// queryRow runs a query returning at most one row on the pool.
func (c *conn) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.stmt(ctx, query)
	if err != nil || st == nil {
		// an error prepares again in QueryRowContext and is reported by Scan
		return c.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// prepare prepares queries for use in a transaction. It must be called
// before the transaction begins: preparing needs a pool connection, and
// with SQLite's pool of one the transaction holds it.
func (c *conn) prepare(ctx context.Context, queries ...string) error {
	for _, q := range queries {
		if _, err := c.stmt(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// ErrDisabled is returned by an operation whose %sql_clause entry is empty.
var ErrDisabled = errors.New("store: operation disabled by empty sql_clause")

// Open prepares a Store. It checks the DSNs and, for SQLite, creates the
// file and schema; it connects to MariaDB/PostgreSQL lazily, so mavisd starts
// while the database is down and the first message then tempfails (amavis
// connects on first use as well). Use Ping to check connectivity.
func Open(ctx context.Context, opts Options) (*Store, error) {
	s := &Store{opts: opts, log: opts.Logger, connLock: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.chunk = opts.QuarantineChunkSize
	if s.chunk <= 0 {
		s.chunk = 16384
	}
	dsns := opts.DSNs
	if len(dsns) == 0 {
		if opts.MyHome == "" {
			return nil, errors.New("store: no storage DSN and no MYHOME for the embedded database")
		}
		p := EmbeddedPath(opts.MyHome)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return nil, fmt.Errorf("store: embedded database: %w", err)
		}
		dsns = []DSN{{DSN: "sqlite:" + p}}
		s.embedded = true
	}
	for _, d := range dsns {
		t, err := parseDSN(d, opts.ConnectTimeout)
		if err != nil {
			return nil, err
		}
		s.targets = append(s.targets, t)
	}
	s.clauses = defaultClauses()
	for k, v := range opts.Clauses {
		if _, ok := s.clauses[k]; ok {
			s.clauses[k] = v
		}
	}
	// SQLite needs no server: connect (create) now so that a bad path is a
	// start-up error, not a per-message one.
	if s.targets[0].dialect == DialectSQLite {
		if _, err := s.acquire(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Close closes the open database.
func (s *Store) Close() error {
	select {
	case s.connLock <- struct{}{}:
	case <-time.After(10 * time.Second):
		return errors.New("store: close: connection lock busy")
	}
	defer func() { <-s.connLock }()
	if s.cur != nil {
		err := s.cur.close()
		s.cur = nil
		return err
	}
	return nil
}

// Embedded reports whether the Store uses the embedded default database.
func (s *Store) Embedded() bool { return s.embedded }

// Current returns the DSN in use (for logs, no password) and its dialect;
// empty when not connected.
func (s *Store) Current() (display, dialect string) {
	select {
	case s.connLock <- struct{}{}:
		defer func() { <-s.connLock }()
	default:
		return "", ""
	}
	if s.cur == nil {
		return "", ""
	}
	return s.cur.t.display, s.cur.t.dialect
}

// Ping connects if needed and checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.with(ctx, true, func(c *conn) error { return c.db.PingContext(ctx) })
}

// DB returns the current database handle and its dialect, connecting if
// needed (for tests and tools such as a schema installer). With SQLite the
// pool has a single connection: close rows before calling the Store again.
func (s *Store) DB(ctx context.Context) (*sql.DB, string, error) {
	c, err := s.acquire(ctx)
	if err != nil {
		return nil, "", err
	}
	return c.db, c.t.dialect, nil
}

// acquire returns the open database, connecting to the first DSN that
// answers when there is none.
func (s *Store) acquire(ctx context.Context) (*conn, error) {
	select {
	case s.connLock <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("store: waiting to connect: %w", ctx.Err())
	}
	defer func() { <-s.connLock }()
	if s.cur != nil {
		return s.cur, nil
	}
	var errs []error
	for _, t := range s.targets {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		c, err := s.connect(ctx, t)
		if err != nil {
			s.log.Warn("sql storage: unable to connect", "dsn", t.display, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", t.display, err))
			continue
		}
		s.cur = c
		s.log.Debug("sql storage: connected", "dsn", t.display)
		return c, nil
	}
	return nil, fmt.Errorf("store: unable to connect to any storage database: %w", errors.Join(errs...))
}

func (s *Store) connect(ctx context.Context, t target) (*conn, error) {
	db, err := sql.Open(t.driver, t.source)
	if err != nil {
		return nil, err
	}
	n := s.opts.MaxOpenConns
	if n <= 0 {
		n = 8
		if t.dialect == DialectSQLite {
			n = 1
		}
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	timeout := s.opts.ConnectTimeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, err
	}
	if s.opts.CreateSchema || t.dialect == DialectSQLite {
		if err := createSchema(ctx, db, t.dialect); err != nil {
			db.Close()
			return nil, err
		}
	}
	c := &conn{t: t, db: db}
	if t.dialect == DialectSQLite {
		c.w = newWriter(c)
	}
	return c, nil
}

func createSchema(ctx context.Context, db *sql.DB, dialect string) error {
	stmts, err := SchemaStatements(dialect)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if _, err := db.ExecContext(ctx, st); err != nil {
			return fmt.Errorf("store: creating schema: %w", err)
		}
	}
	return nil
}

// drop forgets c after a connection-level failure so that the next call
// searches the DSN list again (amavis: disconnect, reconnect on next use).
func (s *Store) drop(c *conn, cause error) {
	select {
	case s.connLock <- struct{}{}:
	default:
		// someone is reconnecting right now; they will replace it anyway
		return
	}
	defer func() { <-s.connLock }()
	if s.cur == c {
		s.cur = nil
		s.log.Warn("sql storage: connection lost, will reconnect", "dsn", c.t.display, "err", cause)
		go c.close()
	}
}

// with runs fn on the current database. A connection-level failure drops
// the database; when retry is set and the context allows, fn runs once more
// on a fresh connection (possibly to the next DSN), as amavis retries a
// statement once after "server has gone away".
func (s *Store) with(ctx context.Context, retry bool, fn func(*conn) error) error {
	for attempt := 0; ; attempt++ {
		c, err := s.acquire(ctx)
		if err != nil {
			return err
		}
		err = fn(c)
		if err == nil {
			return nil
		}
		if !isConnError(err) {
			return err
		}
		s.drop(c, err)
		if !retry || attempt > 0 || ctx.Err() != nil {
			return err
		}
	}
}

// isConnError reports whether err means the connection (not the statement)
// failed.
func isConnError(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	if strings.Contains(err.Error(), "sql: database is closed") { // pool dropped under us
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1053, 1927, 2006, 2013: // shutdown, connection killed, gone away, lost
			return true
		}
	}
	return false
}

// isUniqueViolation reports a duplicate key.
func isUniqueViolation(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var ce interface{ Code() int }
	if errors.As(err, &ce) {
		c := ce.Code()
		return c == 2067 || c == 1555 || c&0xff == 19 // SQLITE_CONSTRAINT_UNIQUE/PRIMARYKEY/CONSTRAINT
	}
	return false
}

// q returns a clause for c's dialect: "?" placeholders become $1, $2, … for
// PostgreSQL (outside quoted literals).
func (s *Store) q(c *conn, name string) (string, error) {
	cl := s.clauses[name]
	if strings.TrimSpace(cl) == "" {
		return "", fmt.Errorf("%w: %s", ErrDisabled, name)
	}
	return rebind(c.t.dialect, cl), nil
}

func rebind(dialect, q string) string {
	if dialect != DialectPg || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		ch := q[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"':
			quote = ch
		case ch == '?':
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(ch)
	}
	return b.String()
}

// bin passes an octet string for a varbinary/bytea/blob column: []byte for
// PostgreSQL (bytea) and MySQL (varbinary, no charset conversion), a string
// for SQLite (stored as TEXT so that it compares equal to what the sqlite3
// shell and lookups write).
func bin(dialect, s string) any {
	if dialect == DialectSQLite {
		return s
	}
	return []byte(s)
}

// defaultClauses are amavis's %sql_clause defaults for the storage part;
// the pen pals selects get LIMIT 1 (amavis reads only the first row).
func defaultClauses() map[string]string {
	return map[string]string{
		"sel_adr": "SELECT id FROM maddr WHERE partition_tag=? AND email=?",
		"ins_adr": "INSERT INTO maddr (partition_tag, email, domain) VALUES (?,?,?)",
		"ins_msg": "INSERT INTO msgs (partition_tag, mail_id, secret_id, am_id," +
			" time_num, time_iso, sid, policy, client_addr, size, host)" +
			" VALUES (?,?,?,?,?,?,?,?,?,?,?)",
		"upd_msg": "UPDATE msgs SET content=?, quar_type=?, quar_loc=?, dsn_sent=?," +
			" spam_level=?, message_id=?, from_addr=?, subject=?, client_addr=?," +
			" originating=?" +
			" WHERE partition_tag=? AND mail_id=?",
		"ins_rcp": "INSERT INTO msgrcpt (partition_tag, mail_id, rseqnum, rid, is_local," +
			" content, ds, rs, bl, wl, bspam_level, smtp_resp)" +
			" VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
		"ins_quar": "INSERT INTO quarantine (partition_tag, mail_id, chunk_ind, mail_text)" +
			" VALUES (?,?,?,?)",
		"sel_msg": "SELECT partition_tag FROM msgs WHERE mail_id=?",
		"sel_quar": "SELECT mail_text FROM quarantine" +
			" WHERE partition_tag=? AND mail_id=?" +
			" ORDER BY chunk_ind",
		"sel_penpals": "SELECT msgs.time_num, msgs.mail_id, subject" +
			" FROM msgs JOIN msgrcpt USING (partition_tag,mail_id)" +
			" WHERE sid=? AND rid=? AND msgs.content!='V' AND ds='P'" +
			" ORDER BY msgs.time_num DESC LIMIT 1",
		"sel_penpals_msgid": "SELECT msgs.time_num, msgs.mail_id, subject, message_id, rid" +
			" FROM msgs JOIN msgrcpt USING (partition_tag,mail_id)" +
			" WHERE sid=? AND msgs.content!='V' AND ds='P' AND message_id IN (%m)" +
			" AND rid!=sid" +
			" ORDER BY rid=? DESC, msgs.time_num DESC LIMIT 1",
	}
}
