package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testDB is one scratch database on a real server (or a SQLite file).
type testDB struct {
	dialect string
	dsn     DSN
}

func requireIntegration() bool { return os.Getenv("MAVIS_REQUIRE_INTEGRATION") != "" }

func randName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "mavis_store_test_" + hex.EncodeToString(b[:])
}

// unavailable skips (or fails when MAVIS_REQUIRE_INTEGRATION is set).
func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if requireIntegration() {
		t.Fatalf("%s unavailable (MAVIS_REQUIRE_INTEGRATION set): %v", what, err)
	}
	t.Skipf("%s unavailable: %v", what, err)
}

// newTestDB creates an empty database for dialect and drops it at cleanup.
func newTestDB(t testing.TB, dialect string) testDB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	switch dialect {
	case DialectSQLite:
		p := filepath.Join(t.TempDir(), "store.sqlite")
		return testDB{dialect: dialect, dsn: DSN{DSN: "DBI:SQLite:dbname=" + p}}
	case DialectMySQL:
		admin, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/?timeout=5s")
		if err == nil {
			err = admin.PingContext(ctx)
		}
		if err != nil {
			unavailable(t, "MariaDB at 127.0.0.1:3306", err)
		}
		name := randName()
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatalf("create database: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
				t.Errorf("drop database %s: %v", name, err)
			}
			admin.Close()
		})
		return testDB{dialect: dialect, dsn: DSN{DSN: "DBI:mysql:database=" + name + ";host=127.0.0.1;port=3306", User: "root"}}
	case DialectPg:
		admin, err := sql.Open("pgx", "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5")
		if err == nil {
			err = admin.PingContext(ctx)
		}
		if err != nil {
			unavailable(t, "PostgreSQL at 127.0.0.1:5432", err)
		}
		name := randName()
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatalf("create database: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
				t.Errorf("drop database %s: %v", name, err)
			}
			admin.Close()
		})
		return testDB{dialect: dialect, dsn: DSN{DSN: "DBI:Pg:dbname=" + name + ";host=127.0.0.1;port=5432", User: "postgres"}}
	}
	t.Fatalf("unknown dialect %q", dialect)
	return testDB{}
}

// open opens a Store on the test database with the schema created.
func (d testDB) open(t testing.TB, mod func(*Options)) *Store {
	t.Helper()
	o := Options{DSNs: []DSN{d.dsn}, CreateSchema: true}
	if mod != nil {
		mod(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Open(ctx, o)
	if err != nil {
		t.Fatalf("Open %s: %v", d.dialect, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping %s: %v", d.dialect, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var dialects = []string{DialectSQLite, DialectMySQL, DialectPg}

func tctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func dbName(dbi string) string {
	for _, kv := range strings.Split(dbi[strings.LastIndexByte(dbi[:strings.IndexByte(dbi, '=')], ':')+1:], ";") {
		if k, v, ok := strings.Cut(kv, "="); ok && (k == "database" || k == "dbname") {
			return v
		}
	}
	return ""
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
