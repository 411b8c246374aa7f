package lookup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	"github.com/mavis-filter/mavis/internal/sqldsn"
)

// Database drivers a DSN can name.
const (
	DriverMySQL  = "mysql"
	DriverPgx    = "pgx"
	DriverSQLite = "sqlite"
)

// DSN is one entry of @lookup_sql_dsn, converted for a Go driver.
type DSN struct {
	Driver     string // DriverMySQL, DriverPgx or DriverSQLite
	DataSource string // the Go driver's data source name (holds the password)
	Display    string // for logs: driver and server, no password
}

func (d DSN) String() string { return d.Display }

// DefaultConnectTimeout bounds connecting to a lookup database.
const DefaultConnectTimeout = 5 * time.Second

// ParseDSN converts an amavis DSN triple (['DBI:mysql:database=mail;
// host=127.0.0.1;port=3306', 'user', 'password']) into a DSN; the accepted
// forms are internal/sqldsn's. SQLite lookup databases are opened read-only:
// a missing file is an error, never an empty database.
func ParseDSN(dsn, user, password string) (DSN, error) {
	t, err := sqldsn.Parse(dsn, user, password, DefaultConnectTimeout)
	if err != nil {
		return DSN{}, fmt.Errorf("lookup: %w", err)
	}
	switch t.Kind {
	case sqldsn.MySQL:
		return DSN{Driver: DriverMySQL, DataSource: t.DataSource, Display: t.Display}, nil
	case sqldsn.Pg:
		return DSN{Driver: DriverPgx, DataSource: t.DataSource, Display: t.Display}, nil
	}
	u := &url.URL{Scheme: "file", Opaque: (&url.URL{Path: t.Path}).EscapedPath()}
	q := t.Query
	if q.Get("mode") == "" {
		q.Set("mode", "ro")
	}
	q.Add("_pragma", "busy_timeout(5000)")
	u.RawQuery = q.Encode()
	return DSN{Driver: DriverSQLite, DataSource: u.String(), Display: t.Display}, nil
}

// DBOptions tune a lookup database.
type DBOptions struct {
	// QueryTimeout bounds one query including connecting (default 10s);
	// the caller's context may be shorter.
	QueryTimeout time.Duration
	// MaxOpenConns caps connections per DSN (default 4).
	MaxOpenConns int
	Logger       *slog.Logger
}

// DB is the lookup database of @lookup_sql_dsn: several DSNs tried in
// order; the first that answers is used as long as it works, and after a
// failure the search starts again from the first. Safe for concurrent use.
type DB struct {
	dsns []DSN
	dbs  []*sql.DB
	opt  DBOptions
	log  *slog.Logger

	mu  sync.Mutex
	cur int
}

// OpenDB prepares connections to dsns (no connection is made yet).
func OpenDB(dsns []DSN, opt DBOptions) (*DB, error) {
	if len(dsns) == 0 {
		return nil, errors.New("lookup database: no DSN")
	}
	if opt.QueryTimeout <= 0 {
		opt.QueryTimeout = 10 * time.Second
	}
	if opt.MaxOpenConns <= 0 {
		opt.MaxOpenConns = 4
	}
	d := &DB{dsns: dsns, opt: opt, log: opt.Logger}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	for _, dsn := range dsns {
		db, err := sql.Open(dsn.Driver, dsn.DataSource)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("lookup database %s: %w", dsn, err)
		}
		db.SetMaxOpenConns(opt.MaxOpenConns)
		db.SetMaxIdleConns(opt.MaxOpenConns)
		db.SetConnMaxIdleTime(5 * time.Minute)
		d.dbs = append(d.dbs, db)
	}
	return d, nil
}

// Close closes all connections.
func (d *DB) Close() error {
	var errs []error
	for _, db := range d.dbs {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	return errors.Join(errs...)
}

// DSNs returns the configured DSNs.
func (d *DB) DSNs() []DSN { return d.dsns }

// Row is one result row: lower-cased column names to values (nil for
// NULL, string for text and binary columns, int64, float64, bool,
// time.Time). With duplicate column names the last one wins, as in amavis
// (so "SELECT users.*, policy.*, users.id" yields users.id as "id").
type Row map[string]any

// statement is a query built for one SQL dialect.
type statement func(driver string) (query string, args []any, err error)

// query runs the statement on the first DSN that answers and returns the
// rows (at most maxRows; 0 = all).
func (d *DB) query(ctx context.Context, st statement, maxRows int) ([]Row, error) {
	d.mu.Lock()
	start := d.cur
	d.mu.Unlock()
	order := make([]int, 0, len(d.dbs))
	order = append(order, start)
	for i := range d.dbs {
		if i != start {
			order = append(order, i)
		}
	}
	var errs []error
	for _, i := range order {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		q, args, err := st(d.dsns[i].Driver)
		if err != nil {
			return nil, err
		}
		rows, err := d.queryOne(ctx, i, q, args, maxRows)
		if err == nil {
			if i != start {
				d.mu.Lock()
				d.cur = i
				d.mu.Unlock()
				d.log.Info("lookup database: now using "+d.dsns[i].Display, "dsn", d.dsns[i].Display)
			}
			return rows, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", d.dsns[i], err))
		if isServerError(err) {
			// the server answered: the query itself is wrong, another
			// server would not do better
			break
		}
		d.log.Warn("lookup database unavailable", "dsn", d.dsns[i].Display, "err", err)
	}
	return nil, fmt.Errorf("lookup database: %w", errors.Join(errs...))
}

func (d *DB) queryOne(ctx context.Context, i int, q string, args []any, maxRows int) ([]Row, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opt.QueryTimeout)
	defer cancel()
	rows, err := d.dbs[i].QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	for j := range cols {
		cols[j] = strings.ToLower(cols[j])
	}
	// single-precision columns (MySQL FLOAT, PostgreSQL real): read the
	// decimal the user stored (4.9, not 4.900000095367432), as amavis gets
	// it from DBI as text
	single := make([]bool, len(cols))
	if d := d.dsns[i].Driver; d != DriverSQLite {
		if cts, err := rows.ColumnTypes(); err == nil {
			for j, ct := range cts {
				switch strings.ToUpper(ct.DatabaseTypeName()) {
				case "FLOAT4", "FLOAT", "REAL":
					single[j] = true
				}
			}
		}
	}
	var out []Row
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for j := range vals {
		ptrs[j] = &vals[j]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		r := make(Row, len(cols))
		for j, c := range cols {
			v := normalizeSQLValue(vals[j])
			if f, ok := v.(float64); ok && single[j] {
				v = normalizeSQLValue(float32(f))
			}
			r[c] = v
		}
		out = append(out, r)
		if maxRows > 0 && len(out) >= maxRows {
			break
		}
		if len(out) >= maxSQLRows {
			return nil, fmt.Errorf("query returned more than %d rows", maxSQLRows)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// maxSQLRows bounds the rows one lookup reads.
const maxSQLRows = 10000

func normalizeSQLValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case float32:
		// float4 columns: keep the decimal the user stored (6.31, not
		// 6.309999942779541)
		f, err := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
		if err != nil {
			return float64(x)
		}
		return f
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case uint64:
		return float64(x)
	}
	return v
}

// isServerError reports whether err came from a database server that
// answered (a bad query, a missing table), as opposed to one that could
// not be reached.
func isServerError(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		// 1040 too many connections, 1045 access denied, 1049 unknown
		// database, 1203 max user connections: another server may do
		return me.Number != 1040 && me.Number != 1045 && me.Number != 1049 && me.Number != 1203
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// class 08 connection exception, 28 invalid authorization, 3D
		// invalid catalog, 53 insufficient resources, 57 operator
		// intervention (shutdown)
		switch {
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "28"),
			strings.HasPrefix(pe.Code, "3D"), strings.HasPrefix(pe.Code, "53"),
			strings.HasPrefix(pe.Code, "57"):
			return false
		}
		return true
	}
	return false
}
