package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/mavis-filter/mavis/internal/sqldsn"
)

// DSN is one entry of @storage_sql_dsn: amavis's triple [dsn, user,
// password].
type DSN struct {
	DSN      string // "DBI:mysql:database=mail;host=127.0.0.1;port=3306", "postgres://…", …
	User     string
	Password string
}

// target is a DSN converted for a Go database/sql driver.
type target struct {
	driver  string // "mysql", "pgx" or "sqlite"
	dialect string // DialectMySQL, DialectPg, DialectSQLite
	source  string // the driver's data source name (may hold the password)
	display string // for logs: no password
	path    string // SQLite: the database file
}

// DefaultConnectTimeout bounds establishing one database connection.
const DefaultConnectTimeout = 5 * time.Second

// parseDSN converts an amavis DSN (DBI form) or a native Go DSN (the forms
// of internal/sqldsn). SQLite files are opened read-write (created when
// missing) with WAL, a busy timeout and IMMEDIATE transactions (a writer
// takes the lock at BEGIN, so concurrent writers wait instead of failing with
// SQLITE_BUSY on lock upgrade).
func parseDSN(d DSN, timeout time.Duration) (target, error) {
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	t, err := sqldsn.Parse(d.DSN, d.User, d.Password, timeout)
	if err != nil {
		return target{}, fmt.Errorf("store: %w", err)
	}
	switch t.Kind {
	case sqldsn.MySQL:
		return target{driver: "mysql", dialect: DialectMySQL, source: t.DataSource, display: t.Display}, nil
	case sqldsn.Pg:
		return target{driver: "pgx", dialect: DialectPg, source: t.DataSource, display: t.Display}, nil
	}
	q := t.Query
	has := func(name string) bool {
		for _, v := range q["_pragma"] {
			if strings.HasPrefix(strings.ToLower(v), name) {
				return true
			}
		}
		return false
	}
	if !has("busy_timeout") {
		q.Add("_pragma", "busy_timeout(10000)")
	}
	if !has("journal_mode") {
		q.Add("_pragma", "journal_mode(WAL)")
	}
	if !has("synchronous") {
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	return target{driver: "sqlite", dialect: DialectSQLite, source: "file:" + t.Path + "?" + q.Encode(),
		display: t.Display, path: t.Path}, nil
}
