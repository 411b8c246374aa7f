// Package sqldsn turns the DSNs amavis users write (@lookup_sql_dsn,
// @storage_sql_dsn: Perl DBI strings with a user and password) and the
// native Go forms into what Go's database/sql drivers need. internal/lookup
// and internal/store share it; each decides how to open SQLite (read-only
// for lookups, read-write with WAL for the log).
//
// Accepted:
//
//	DBI:mysql:database=D;host=H;port=P;mysql_socket=S   (also DBI:MariaDB:, db=, dbname=, DBI:mysql:D)
//	DBI:Pg:dbname=D;host=H;port=P;sslmode=M            (also database=, db=)
//	DBI:SQLite:dbname=/path                             (also database=, db=, DBI:SQLite:/path)
//	postgres://… or postgresql://…                      (pgx URL, user/password override)
//	mysql://user:pass@host:port/db                      (converted)
//	user:pass@tcp(host:port)/db?params                  (go-sql-driver/mysql form)
//	sqlite:/path, file:/path?…                          (SQLite)
//
// MySQL with no host (or "localhost") and no port uses the Unix socket
// /run/mysqld/mysqld.sock, as DBD::mysql does.
package sqldsn

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Kinds of database.
const (
	MySQL  = "mysql"
	Pg     = "pg"
	SQLite = "sqlite"
)

// Target is a parsed DSN.
type Target struct {
	Kind string // MySQL, Pg or SQLite
	// DataSource is the driver's data source name for MySQL ("mysql"
	// driver) and PostgreSQL ("pgx" driver); it may hold the password.
	DataSource string
	// Display describes the target for logs, without the password.
	Display string
	// Path and Query are a SQLite database's file and URI parameters; the
	// caller adds its own pragmas and builds the "file:" URI.
	Path  string
	Query url.Values
}

// Parse converts dsn with the given user and password (amavis's triple).
// timeout is the connect timeout written into MySQL and PostgreSQL DSNs.
func Parse(dsn, user, pass string, timeout time.Duration) (Target, error) {
	s := strings.TrimSpace(dsn)
	low := strings.ToLower(s)
	switch {
	case strings.HasPrefix(low, "postgres://"), strings.HasPrefix(low, "postgresql://"):
		u, err := url.Parse(s)
		if err != nil {
			return Target{}, fmt.Errorf("DSN: %w", err)
		}
		if user != "" {
			if pass != "" {
				u.User = url.UserPassword(user, pass)
			} else {
				u.User = url.User(user)
			}
		}
		q := u.Query()
		if q.Get("connect_timeout") == "" {
			q.Set("connect_timeout", strconv.Itoa(secs(timeout)))
		}
		u.RawQuery = q.Encode()
		return Target{Kind: Pg, DataSource: u.String(), Display: "Pg:" + u.Redacted()}, nil
	case strings.HasPrefix(low, "mysql://"):
		u, err := url.Parse(s)
		if err != nil {
			return Target{}, fmt.Errorf("DSN: %w", err)
		}
		p := map[string]string{"database": strings.TrimPrefix(u.Path, "/"), "host": u.Hostname(), "port": u.Port()}
		if u.User != nil && user == "" {
			user = u.User.Username()
			pass, _ = u.User.Password()
		}
		return mysqlTarget(p, user, pass, timeout)
	case strings.HasPrefix(low, "sqlite:"), strings.HasPrefix(low, "file:"):
		return sqliteTarget(s[strings.IndexByte(s, ':')+1:])
	case strings.HasPrefix(low, "dbi:"):
		return parseDBI(s, user, pass, timeout)
	case strings.Contains(s, "@tcp(") || strings.Contains(s, "@unix("):
		c, err := mysql.ParseDSN(s)
		if err != nil {
			return Target{}, fmt.Errorf("DSN: %w", err)
		}
		if user != "" {
			c.User, c.Passwd = user, pass
		}
		return mysqlConfigTarget(c, timeout), nil
	}
	return Target{}, fmt.Errorf("DSN %q: want DBI:mysql:…, DBI:Pg:…, DBI:SQLite:…, postgres://, mysql:// or sqlite:", Redact(s))
}

func parseDBI(s, user, pass string, timeout time.Duration) (Target, error) {
	rest := s[4:]
	i := strings.IndexByte(rest, ':')
	if i < 0 {
		return Target{}, fmt.Errorf("DSN %q: missing driver", Redact(s))
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
			return Target{}, fmt.Errorf("DSN %q: bad parameter %q", Redact(s), kv)
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
			return Target{}, fmt.Errorf("DSN %q: missing dbname", Redact(s))
		}
		return sqliteTarget(p["database"])
	}
	return Target{}, fmt.Errorf("DSN %q: unsupported driver %q (mysql, MariaDB, Pg, SQLite)", Redact(s), driver)
}

func mysqlTarget(p map[string]string, user, pass string, timeout time.Duration) (Target, error) {
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
			return Target{}, fmt.Errorf("DSN: bad port %q", port)
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

func mysqlConfigTarget(c *mysql.Config, timeout time.Duration) Target {
	if c.Timeout == 0 {
		c.Timeout = timeout
	}
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	if _, ok := c.Params["charset"]; !ok {
		c.Params["charset"] = "utf8mb4" // amavis: SET NAMES 'utf8mb4'
	}
	return Target{Kind: MySQL, DataSource: c.FormatDSN(), Display: "mysql:" + c.Net + "(" + c.Addr + ")/" + c.DBName}
}

func joinHostPort(host, port string) string {
	if strings.IndexByte(host, ':') >= 0 && !strings.HasPrefix(host, "[") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

func pgTarget(p map[string]string, user, pass string, timeout time.Duration) Target {
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
	return Target{Kind: Pg, DataSource: b.String(), Display: "Pg:host=" + host + ";port=" + p["port"] + ";dbname=" + p["database"]}
}

// sqliteTarget splits "path?params" ("//" before the path tolerated, as in
// sqlite:///path).
func sqliteTarget(p string) (Target, error) {
	path, query, _ := strings.Cut(strings.TrimPrefix(p, "//"), "?")
	if path == "" {
		return Target{}, fmt.Errorf("SQLite DSN: missing file name")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return Target{}, fmt.Errorf("SQLite DSN: %w", err)
	}
	return Target{Kind: SQLite, Path: path, Query: q, Display: "SQLite:dbname=" + path}, nil
}

func secs(d time.Duration) int {
	n := int((d + time.Second - 1) / time.Second)
	if n < 1 {
		n = 1
	}
	return n
}

// Redact keeps a DSN out of error texts when it may hold a password.
func Redact(s string) string {
	if strings.Contains(s, "@") || strings.Contains(strings.ToLower(s), "password") {
		return "(redacted)"
	}
	return s
}
