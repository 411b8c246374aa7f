package store

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
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

// parseDSN converts an amavis DSN (DBI form) or a native Go DSN:
//
//	DBI:mysql:database=D;host=H;port=P;mysql_socket=S   (also DBI:MariaDB:, db=, dbname=, DBI:mysql:D)
//	DBI:Pg:dbname=D;host=H;port=P;sslmode=M            (also database=, db=)
//	DBI:SQLite:dbname=/path                             (also database=, db=)
//	postgres://… or postgresql://…                      (pgx URL, user/password override)
//	mysql://user:pass@host:port/db                      (converted)
//	user:pass@tcp(host:port)/db?params                  (go-sql-driver/mysql form)
//	sqlite:/path, file:/path?…                          (SQLite)
func parseDSN(d DSN, timeout time.Duration) (target, error) {
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	s := strings.TrimSpace(d.DSN)
	low := strings.ToLower(s)
	switch {
	case strings.HasPrefix(low, "postgres://"), strings.HasPrefix(low, "postgresql://"):
		u, err := url.Parse(s)
		if err != nil {
			return target{}, fmt.Errorf("store: DSN: %w", err)
		}
		if d.User != "" {
			if d.Password != "" {
				u.User = url.UserPassword(d.User, d.Password)
			} else {
				u.User = url.User(d.User)
			}
		}
		q := u.Query()
		if q.Get("connect_timeout") == "" {
			q.Set("connect_timeout", strconv.Itoa(secs(timeout)))
		}
		u.RawQuery = q.Encode()
		return target{driver: "pgx", dialect: DialectPg, source: u.String(), display: "Pg:" + u.Redacted()}, nil
	case strings.HasPrefix(low, "mysql://"):
		u, err := url.Parse(s)
		if err != nil {
			return target{}, fmt.Errorf("store: DSN: %w", err)
		}
		p := map[string]string{"database": strings.TrimPrefix(u.Path, "/"), "host": u.Hostname(), "port": u.Port()}
		user, pass := d.User, d.Password
		if u.User != nil && user == "" {
			user = u.User.Username()
			pass, _ = u.User.Password()
		}
		return mysqlTarget(p, user, pass, timeout)
	case strings.HasPrefix(low, "sqlite:"):
		return sqliteTarget(s[len("sqlite:"):])
	case strings.HasPrefix(low, "file:"):
		return sqliteTarget(s)
	case strings.HasPrefix(low, "dbi:"):
		return parseDBI(s, d.User, d.Password, timeout)
	case strings.Contains(s, "@tcp(") || strings.Contains(s, "@unix("):
		c, err := mysql.ParseDSN(s)
		if err != nil {
			return target{}, fmt.Errorf("store: DSN: %w", err)
		}
		if d.User != "" {
			c.User, c.Passwd = d.User, d.Password
		}
		return mysqlConfigTarget(c, timeout), nil
	}
	return target{}, fmt.Errorf("store: DSN %q: want DBI:mysql:…, DBI:Pg:…, DBI:SQLite:…, postgres://, mysql:// or sqlite:", redactDSN(s))
}

func secs(d time.Duration) int {
	n := int((d + time.Second - 1) / time.Second)
	if n < 1 {
		n = 1
	}
	return n
}

// redactDSN keeps a DSN out of error texts when it may hold a password.
func redactDSN(s string) string {
	if strings.Contains(s, "@") || strings.Contains(strings.ToLower(s), "password") {
		return "(redacted)"
	}
	return s
}

func parseDBI(s, user, pass string, timeout time.Duration) (target, error) {
	rest := s[4:]
	i := strings.IndexByte(rest, ':')
	if i < 0 {
		return target{}, fmt.Errorf("store: DSN %q: missing driver", redactDSN(s))
	}
	driver, args := rest[:i], rest[i+1:]
	if j := strings.IndexByte(driver, '('); j >= 0 { // DBI:mysql(RaiseError=>1):…
		driver = driver[:j]
	}
	p := map[string]string{}
	for n, kv := range strings.Split(args, ";") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			if n == 0 {
				p["database"] = kv
				continue
			}
			return target{}, fmt.Errorf("store: DSN %q: bad parameter %q", redactDSN(s), kv)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		switch k {
		case "db", "dbname":
			k = "database"
		case "hostname":
			k = "host"
		}
		p[k] = strings.TrimSpace(v)
	}
	switch strings.ToLower(driver) {
	case "mysql", "mariadb":
		return mysqlTarget(p, user, pass, timeout)
	case "pg", "pgpp":
		return pgTarget(p, user, pass, timeout), nil
	case "sqlite", "sqlite3":
		if p["database"] == "" {
			return target{}, fmt.Errorf("store: DSN %q: missing dbname", s)
		}
		return sqliteTarget(p["database"])
	}
	return target{}, fmt.Errorf("store: DSN %q: unsupported driver %q (mysql, MariaDB, Pg, SQLite)", redactDSN(s), driver)
}

func mysqlTarget(p map[string]string, user, pass string, timeout time.Duration) (target, error) {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.DBName = user, pass, p["database"]
	host, port := p["host"], p["port"]
	switch {
	case p["mysql_socket"] != "":
		c.Net, c.Addr = "unix", p["mysql_socket"]
	case (host == "" || host == "localhost") && port == "":
		// DBD::mysql talks to the local server over its Unix socket.
		c.Net, c.Addr = "unix", "/run/mysqld/mysqld.sock"
	default:
		if host == "" {
			host = "127.0.0.1"
		}
		if port == "" {
			port = "3306"
		}
		if _, err := strconv.Atoi(port); err != nil {
			return target{}, fmt.Errorf("store: DSN: bad port %q", port)
		}
		c.Net, c.Addr = "tcp", joinHostPort(host, port)
	}
	if t := p["mysql_connect_timeout"]; t != "" {
		if n, err := strconv.Atoi(t); err == nil && n > 0 {
			timeout = time.Duration(n) * time.Second
		}
	}
	return mysqlConfigTarget(c, timeout), nil
}

func mysqlConfigTarget(c *mysql.Config, timeout time.Duration) target {
	if c.Timeout == 0 {
		c.Timeout = timeout
	}
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	if _, ok := c.Params["charset"]; !ok {
		c.Params["charset"] = "utf8mb4" // amavis: SET NAMES 'utf8mb4'
	}
	return target{driver: "mysql", dialect: DialectMySQL, source: c.FormatDSN(),
		display: "mysql:" + c.Net + "(" + c.Addr + ")/" + c.DBName}
}

func joinHostPort(host, port string) string {
	if strings.IndexByte(host, ':') >= 0 && !strings.HasPrefix(host, "[") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

func pgTarget(p map[string]string, user, pass string, timeout time.Duration) target {
	var b strings.Builder
	add := func(k, v string) {
		if v == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + "='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'")
	}
	add("host", p["host"])
	add("port", p["port"])
	add("dbname", p["database"])
	add("user", user)
	add("password", pass)
	for _, k := range []string{"sslmode", "options", "service", "application_name", "sslrootcert", "sslcert", "sslkey"} {
		add(k, p[k])
	}
	ct := p["connect_timeout"]
	if ct == "" {
		ct = strconv.Itoa(secs(timeout))
	}
	add("connect_timeout", ct)
	host := p["host"]
	if host == "" {
		host = "(socket)"
	}
	return target{driver: "pgx", dialect: DialectPg, source: b.String(),
		display: "Pg:host=" + host + ";port=" + p["port"] + ";dbname=" + p["database"]}
}

// sqliteTarget opens a SQLite file read-write (created when missing) with
// WAL, a busy timeout and IMMEDIATE transactions (a writer takes the lock at
// BEGIN, so concurrent writers wait instead of failing with SQLITE_BUSY on
// lock upgrade).
func sqliteTarget(p string) (target, error) {
	path := p
	query := ""
	if strings.HasPrefix(strings.ToLower(path), "file:") {
		path = path[len("file:"):]
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path, query = path[:i], path[i+1:]
	}
	if path == "" {
		return target{}, fmt.Errorf("store: SQLite DSN: missing file name")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return target{}, fmt.Errorf("store: SQLite DSN: %w", err)
	}
	pragmas := q["_pragma"]
	has := func(name string) bool {
		for _, v := range pragmas {
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
	return target{driver: "sqlite", dialect: DialectSQLite, source: "file:" + path + "?" + q.Encode(),
		display: "SQLite:dbname=" + path, path: path}, nil
}
