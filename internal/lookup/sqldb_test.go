package lookup

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mavis-filter/mavis/internal/store"
)

// The SQL tests run against the real MariaDB (127.0.0.1:3306, root, no
// password) and PostgreSQL (127.0.0.1:5432, postgres, trust) of the test
// machine, each in a database of its own that is dropped afterwards, and
// against SQLite in a temporary file. A server that is not reachable skips
// its tests, unless MAVIS_REQUIRE_INTEGRATION is set.

type testDB struct {
	name  string // "mariadb", "postgres", "sqlite"
	dsn   DSN    // lookup DSN (read-only for SQLite)
	admin *sql.DB
}

func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("MAVIS_REQUIRE_INTEGRATION") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

func randomName() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "mavis_lookup_test_" + hex.EncodeToString(b[:])
}

func execScript(t *testing.T, db *sql.DB, file string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range strings.Split(string(data), ";\n") {
		var lines []string
		for _, l := range strings.Split(st, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "--") {
				lines = append(lines, l)
			}
		}
		st = strings.TrimSpace(strings.Join(lines, "\n"))
		if st == "" {
			continue
		}
		if _, err := db.Exec(st); err != nil {
			t.Fatalf("%s: %v\n%s", file, err, st)
		}
	}
}

// execSchema creates amavis's tables exactly as `mavis sql schema` prints
// them for the dialect, so lookups are tested on the schema users create.
func execSchema(t *testing.T, db *sql.DB, dialect string) {
	t.Helper()
	stmts, err := store.SchemaStatements(dialect)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		if _, err := db.Exec(st); err != nil {
			t.Fatalf("schema %s: %v\n%s", dialect, err, st)
		}
	}
}

func mariaDB(t *testing.T) testDB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	root, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/?timeout=3s")
	if err != nil {
		t.Fatal(err)
	}
	if err := root.PingContext(ctx); err != nil {
		root.Close()
		unavailable(t, "MariaDB at 127.0.0.1:3306 not reachable: %v", err)
	}
	name := randomName()
	if _, err := root.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		root.Exec("DROP DATABASE IF EXISTS " + name)
		root.Close()
	})
	admin, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/"+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	execSchema(t, admin, "mysql")
	execScript(t, admin, "data.sql")
	dsn, err := ParseDSN("DBI:mysql:database="+name+";host=127.0.0.1;port=3306", "root", "")
	if err != nil {
		t.Fatal(err)
	}
	return testDB{name: "mariadb", dsn: dsn, admin: admin}
}

func postgres(t *testing.T) testDB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	root, err := sql.Open("pgx", "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3")
	if err != nil {
		t.Fatal(err)
	}
	if err := root.PingContext(ctx); err != nil {
		root.Close()
		unavailable(t, "PostgreSQL at 127.0.0.1:5432 not reachable: %v", err)
	}
	name := randomName()
	if _, err := root.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("pgx", "host=127.0.0.1 port=5432 user=postgres dbname="+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Close()
		root.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		root.Close()
	})
	execSchema(t, admin, "pg")
	execScript(t, admin, "data.sql")
	dsn, err := ParseDSN("DBI:Pg:dbname="+name+";host=127.0.0.1;port=5432", "postgres", "")
	if err != nil {
		t.Fatal(err)
	}
	return testDB{name: "postgres", dsn: dsn, admin: admin}
}

func sqliteDB(t *testing.T) testDB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lookup.sqlite")
	admin, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	execSchema(t, admin, "sqlite")
	execScript(t, admin, "data.sql")
	dsn, err := ParseDSN("DBI:SQLite:dbname="+path, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return testDB{name: "sqlite", dsn: dsn, admin: admin}
}

// forEachDB runs fn against every database, each in a subtest.
func forEachDB(t *testing.T, fn func(t *testing.T, tdb testDB, db *DB)) {
	for _, mk := range []struct {
		name string
		f    func(*testing.T) testDB
	}{{"mariadb", mariaDB}, {"postgres", postgres}, {"sqlite", sqliteDB}} {
		t.Run(mk.name, func(t *testing.T) {
			tdb := mk.f(t)
			db, err := OpenDB([]DSN{tdb.dsn}, DBOptions{QueryTimeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			fn(t, tdb, db)
		})
	}
}

func TestParseDSN(t *testing.T) {
	tests := []struct {
		dsn, user, pass string
		driver, source  string
	}{
		{"DBI:mysql:database=mail;host=127.0.0.1;port=3306", "u", "s3cret", DriverMySQL,
			"u:s3cret@tcp(127.0.0.1:3306)/mail?timeout=5s&charset=utf8mb4"},
		{"DBI:mysql:database=mail;host=db.example", "u", "", DriverMySQL,
			"u@tcp(db.example:3306)/mail?timeout=5s&charset=utf8mb4"},
		{"DBI:mysql:mail", "u", "", DriverMySQL,
			"u@unix(/run/mysqld/mysqld.sock)/mail?timeout=5s&charset=utf8mb4"},
		{"dbi:mysql:db=mail;mysql_socket=/tmp/m.sock", "u", "", DriverMySQL,
			"u@unix(/tmp/m.sock)/mail?timeout=5s&charset=utf8mb4"},
		{"DBI:Pg:dbname=mail;host=host1", "amavis", "it's", DriverPgx,
			`host='host1' dbname='mail' user='amavis' password='it\'s' connect_timeout='5'`},
		{"DBI:SQLite:dbname=/var/lib/amavis/mail prefs.sqlite", "", "", DriverSQLite,
			"file:/var/lib/amavis/mail%20prefs.sqlite?_pragma=busy_timeout%285000%29&mode=ro"},
		{"postgres://amavis@db/mail", "", "", DriverPgx, "postgres://amavis@db/mail?connect_timeout=5"},
		{"sqlite:/tmp/x.db", "", "", DriverSQLite, "file:/tmp/x.db?_pragma=busy_timeout%285000%29&mode=ro"},
	}
	for _, tc := range tests {
		d, err := ParseDSN(tc.dsn, tc.user, tc.pass)
		if err != nil {
			t.Errorf("ParseDSN(%q): %v", tc.dsn, err)
			continue
		}
		if d.Driver != tc.driver || d.DataSource != tc.source {
			t.Errorf("ParseDSN(%q) = %s %q, want %s %q", tc.dsn, d.Driver, d.DataSource, tc.driver, tc.source)
		}
		if tc.pass != "" && strings.Contains(d.Display, tc.pass) {
			t.Errorf("Display %q shows the password", d.Display)
		}
	}
	for _, bad := range []string{"DBI:Oracle:x", "mysql:x", "DBI:mysql", "DBI:SQLite:"} {
		if _, err := ParseDSN(bad, "", ""); err == nil {
			t.Errorf("ParseDSN(%q): no error", bad)
		}
	}
}

func TestExpandClause(t *testing.T) {
	keys := Rules{Delimiter: "+"}.SQLKeys("John+x@Example.com", true, false)
	q, args, err := expandClause(`SELECT '%k?', "a?" FROM t WHERE e IN (%k) AND r=? AND d=%d AND l=%L AND x='it''s ?'`,
		DriverPgx, &keys, true, false, []any{int64(7)})
	if err != nil {
		t.Fatal(err)
	}
	want := `SELECT '%k?', "a?" FROM t WHERE e IN ($1,$2,$3,$4,$5,$6,$7,$8,$9) AND r=$10 AND d=$11 AND l=$12 AND x='it''s ?'`
	if q != want {
		t.Errorf("query\n got %s\nwant %s", q, want)
	}
	if len(args) != 12 || args[0] != "John+x@Example.com" || args[9] != int64(7) || args[10] != "example.com" || args[11] != "1" {
		t.Errorf("args %q", args)
	}
	q, _, err = expandClause("a IN (%k) AND b=?", DriverMySQL, &keys, false, false, []any{1})
	if err != nil || q != "a IN (?,?,?,?,?,?,?,?,?) AND b=?" {
		t.Errorf("mysql: %q %v", q, err)
	}
	if _, _, err := expandClause("a=? AND b=?", DriverMySQL, &keys, false, false, []any{1}); err == nil {
		t.Error("too few arguments accepted")
	}
	if _, _, err := expandClause("a='open", DriverMySQL, &keys, false, false, nil); err == nil {
		t.Error("unterminated literal accepted")
	}
}

// seed 001: a MySQL table of virtual domains decides which recipients are
// local, through $sql_select_policy with %k.
func TestSQLSeed001LocalDomains(t *testing.T) {
	forEachDB(t, func(t *testing.T, tdb testDB, db *DB) {
		clause := `SELECT name FROM virtual_domains WHERE CONCAT("@",name) IN (%k)` // seed 001, verbatim
		if tdb.name == "postgres" {
			clause = `SELECT name FROM virtual_domains WHERE CONCAT('@',name) IN (%k)` // "@" is an identifier in SQL
		}
		rules := Rules{Delimiter: "+"}
		static := NewACL([]string{".mydomain.test"}, rules)
		q := NewPolicyQuery(db, clause, rules, static)
		local := NewMaps("local_domains", ImpliedTables(q)["local_domains_maps"], static)
		ctx := WithCache(context.Background(), NewCache())
		for addr, want := range map[string]bool{
			"john@example.com":         true,
			"John+Tag@EXAMPLE.com":     true,
			"someone@example.org":      true,
			"john@sub.example.com":     false, // the seed's table has no subdomain rows
			"john@example.net":         false,
			"admin@mail.mydomain.test": true, // static table after SQL
			"":                         false,
		} {
			got, r, err := local.Bool(ctx, addr)
			if err != nil {
				t.Fatalf("%q: %v", addr, err)
			}
			if got != want {
				t.Errorf("%q local = %v (%+v), want %v", addr, got, r, want)
			}
		}
	})
}

func TestSQLPolicy(t *testing.T) {
	forEachDB(t, func(t *testing.T, tdb testDB, db *DB) {
		rules := Rules{Delimiter: "+"}
		static := NewACL([]string{".example.com", "example.org"}, rules)
		q := NewPolicyQuery(db, DefaultSelectPolicy, rules, static)
		imp := ImpliedTables(q)
		ctx := WithCache(context.Background(), NewCache())

		level := func(maps, addr string) (float64, bool) {
			t.Helper()
			m := NewMaps(maps, imp[maps], Const{Value: 6.31})
			r, err := m.Lookup(ctx, addr)
			if err != nil {
				t.Fatalf("%s %s: %v", maps, addr, err)
			}
			f, _ := Number(r.Value)
			return f, r.Index == 0
		}
		tests := []struct {
			addr, maps string
			want       float64
			fromSQL    bool
		}{
			{"u3@z.example.com", "spam_tag2_level_maps", 9, true},
			{"u3@z.example.com", "spam_kill_level_maps", 20, true},
			{"u1@example.org", "spam_tag2_level_maps", 5.6, true}, // NULL in its row, the '@.' catch-all fills in
			{"u1@example.org", "spam_kill_level_maps", 6.7, true},
			{"u2@example.org", "spam_tag2_level_maps", 4.9, true},
			{"U2@Example.ORG", "spam_tag2_level_maps", 4.9, true},
			{"userc@x.example.com", "spam_tag2_level_maps", 6.0, true}, // bare user key: local
			{"userc@elsewhere.test", "spam_tag2_level_maps", 5.6, true},
			{"userb+bar@x.example.com", "spam_tag2_level_maps", 6.3, true},
			{"u3@z.example.com", "spam_tag_level_maps", -999, true},
			{"u3@z.example.com", "spam_dsn_cutoff_level_maps", 6.31, false}, // NULL everywhere: static default
		}
		for _, tc := range tests {
			got, fromSQL := level(tc.maps, tc.addr)
			if got != tc.want || fromSQL != tc.fromSQL {
				t.Errorf("%s %s = %v (sql %v), want %v (sql %v)", tc.addr, tc.maps, got, fromSQL, tc.want, tc.fromSQL)
			}
		}

		// one message, two recipients, score 5.0: per-user levels decide
		score := 5.0
		spammy := map[string]bool{}
		for _, rcpt := range []string{"u1@example.org", "u2@example.org"} {
			tag2, _ := level("spam_tag2_level_maps", rcpt)
			spammy[rcpt] = score >= tag2
		}
		if spammy["u1@example.org"] || !spammy["u2@example.org"] {
			t.Errorf("verdicts %v, want only u2 spammy", spammy)
		}

		boolean := func(maps, addr string) (bool, bool) {
			t.Helper()
			r, err := NewMaps(maps, imp[maps]).Lookup(ctx, addr)
			if err != nil {
				t.Fatal(err)
			}
			return r.Found && Truthy(r.Value), r.Found
		}
		for _, tc := range []struct {
			maps, addr   string
			value, found bool
		}{
			{"spam_lovers_maps", "u1@y.example.com", true, true},      // policy 2 'Uncensored'
			{"spam_lovers_maps", "u1+foo@y.example.com", false, true}, // its own row (priority 9) says N
			{"spam_lovers_maps", "x@q.a.b.example.com", true, true},   // @.a.b.example.com, policy 61
			{"spam_lovers_maps", "u3@z.example.com", false, false},
			{"bypass_spam_checks_maps", "u1@example.org", false, true},
			{"bypass_spam_checks_maps", "nobody@unknown.test", false, true}, // ' ' in the catch-all is false
			{"virus_lovers_maps", "u1@y.example.com", true, true},
			{"local_domains_maps", "u1@example.org", true, true},        // a users row without 'local' column
			{"local_domains_maps", "nobody@unknown.test", false, false}, // only '@.' matched: local undef
		} {
			v, found := boolean(tc.maps, tc.addr)
			if v != tc.value || found != tc.found {
				t.Errorf("%s %s = %v (found %v), want %v (found %v)", tc.maps, tc.addr, v, found, tc.value, tc.found)
			}
		}

		settings, err := PolicySettings(ctx, q, "u2@example.org")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"local": true, "spam_tag_level": -999.0, "spam_tag2_level": 4.9, "spam_kill_level": 4.9,
			"spam_subject_tag2": "[SPAM-6] ", "spam_quarantine_to": "spam-quarantine",
			"message_size_limit": 1000000.0, "bypass_spam_checks": false,
		}
		for k, v := range want {
			if settings[k] != v {
				t.Errorf("PolicySettings[%s] = %#v, want %#v", k, settings[k], v)
			}
		}
		if len(settings) != len(want) {
			t.Errorf("PolicySettings = %v", settings)
		}

		ids, err := UserIDs(ctx, q, "u1@example.org")
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ids) != "[18 14]" {
			t.Errorf("UserIDs = %v, want [18 14]", ids)
		}
	})
}

func TestSQLWhiteBlackList(t *testing.T) {
	forEachDB(t, func(t *testing.T, tdb testDB, db *DB) {
		rules := Rules{Delimiter: "+"}
		static := NewACL([]string{".example.com", "example.org"}, rules)
		pq := NewPolicyQuery(db, DefaultSelectPolicy, rules, static)
		wq := NewWBListQuery(db, DefaultSelectWhiteBlackList, rules, static)
		ctx := WithCache(context.Background(), NewCache())
		rcpt := "u1@example.org"
		ids, err := UserIDs(ctx, pq, rcpt)
		if err != nil {
			t.Fatal(err)
		}
		scoreSender := NewMaps("score_sender",
			NewHash(map[string]any{".": NewHash(map[string]any{"nobody@nowhere.test": "-1.5", "x@example.net": "9"}, rules)}, rules))
		base := WBInput{
			Recipient: rcpt, UserIDs: ids, WBQuery: wq,
			WhitelistSender: NewMaps("whitelist_sender", NewACL([]string{"nowhere.test"}, rules)),
			ScoreSender:     scoreSender,
		}
		tests := []struct {
			senders      []string
			white, black bool
			test         string
		}{
			{[]string{"owner-postfix-users@postfix.org"}, true, false, ""},
			{[]string{"MakeMoney@Example.com"}, false, true, ""}, // rid 18 says B before '@.' (rid 14) says W
			{[]string{"random@example.com"}, true, false, ""},    // only the catch-all user's entry
			{[]string{"x@example.net"}, false, true, "AM.WBL=9"}, // SQL hard answer; no SQL soft score, so score_sender_maps
			{[]string{"soft@example.com"}, true, false, "AM.WBL=3"},
			{[]string{"nice@example.com"}, true, false, "AM.WBL=-2.5"},
			{[]string{"neutral@example.com"}, false, false, ""}, // blank stops the search
			{[]string{"nobody@nowhere.test"}, true, false, "AM.WBL=-1.5"},
			{[]string{"", "soft@example.com", "soft@example.com"}, true, false, "AM.WBL=3"},
			{[]string{"stranger@unknown.test"}, false, false, ""},
		}
		for _, tc := range tests {
			in := base
			in.Senders = tc.senders
			res, err := WhiteBlackList(ctx, in)
			if err != nil {
				t.Fatalf("%v: %v", tc.senders, err)
			}
			if res.Whitelisted != tc.white || res.Blacklisted != tc.black || res.Test() != tc.test {
				t.Errorf("%v: white %v black %v test %q, want %v %v %q\n%s", tc.senders,
					res.Whitelisted, res.Blacklisted, res.Test(), tc.white, tc.black, tc.test, strings.Join(res.Log, "\n"))
			}
		}
	})
}

func TestSQLEightBitAddress(t *testing.T) {
	forEachDB(t, func(t *testing.T, tdb testDB, db *DB) {
		rules := Rules{}
		ctx := context.Background()
		for _, allow := range []bool{false, true} {
			q := NewPolicyQuery(db, DefaultSelectPolicy, rules, nil)
			q.Allow8bit = allow
			r, err := NewField(q, "spam_tag2_level", FieldNumber).Lookup(ctx, "jörg@example.org")
			if err != nil {
				t.Fatal(err)
			}
			// without $sql_allow_8bit_address the key is j??rg@example.org
			// and only the catch-all matches
			want := 5.6
			if allow {
				want = 4.9
			}
			if r.Value != want {
				t.Errorf("allow8bit %v: %v (%s), want %v", allow, r.Value, r.Key, want)
			}
		}
	})
}

func TestSQLInjectionIsInert(t *testing.T) {
	forEachDB(t, func(t *testing.T, tdb testDB, db *DB) {
		q := NewPolicyQuery(db, DefaultSelectPolicy, Rules{}, nil)
		ctx := context.Background()
		for _, addr := range []string{
			`x') OR 1=1 -- @example.org`,
			`'; DROP TABLE users; --@example.org`,
			`"; DELETE FROM users; "@x`,
			`%k?@example.org`,
		} {
			rows, err := q.Rows(ctx, addr)
			if err != nil {
				t.Fatalf("%q: %v", addr, err)
			}
			for _, r := range rows {
				if e := r["email"]; e != "@." {
					t.Errorf("%q matched row %v", addr, e)
				}
			}
		}
		var n int
		if err := tdb.admin.QueryRow("SELECT COUNT(*) FROM users").Scan(&n); err != nil || n == 0 {
			t.Fatalf("users table damaged: n=%d err=%v", n, err)
		}
	})
}

func TestSQLCachePerMessage(t *testing.T) {
	forEachDB(t, func(t *testing.T, tdb testDB, db *DB) {
		if _, err := tdb.admin.Exec("INSERT INTO cache_probe (email) VALUES ('a@example.com')"); err != nil {
			t.Fatal(err)
		}
		q := &Query{Name: "probe", Clause: "SELECT email FROM cache_probe WHERE email IN (%k)", DB: db}
		f := NewField(q, "email", FieldString)
		msg1 := WithCache(context.Background(), NewCache())
		if r, err := f.Lookup(msg1, "a@example.com"); err != nil || !r.Found {
			t.Fatalf("first lookup: %+v %v", r, err)
		}
		if _, err := tdb.admin.Exec("DELETE FROM cache_probe"); err != nil {
			t.Fatal(err)
		}
		// same message: answered from the cache, no query
		if r, err := f.Lookup(msg1, "a@example.com"); err != nil || !r.Found {
			t.Fatalf("cached lookup: %+v %v", r, err)
		}
		if h := CacheFrom(msg1).Hits(); h != 1 {
			t.Errorf("cache hits %d, want 1", h)
		}
		// next message: a fresh cache sees the change
		msg2 := WithCache(context.Background(), NewCache())
		if r, err := f.Lookup(msg2, "a@example.com"); err != nil || r.Found {
			t.Fatalf("new message: %+v %v", r, err)
		}
	})
}

// A database that is down gives an error (the message is tempfailed),
// never "not found", and the lookup is bounded in time.
func TestSQLDatabaseDown(t *testing.T) {
	ctx := context.Background()
	refused := freePort(t)
	for _, tc := range []struct{ name, dsn, user string }{
		{"mysql", fmt.Sprintf("DBI:mysql:database=x;host=127.0.0.1;port=%d", refused), "root"},
		{"pg", fmt.Sprintf("DBI:Pg:dbname=x;host=127.0.0.1;port=%d", refused), "postgres"},
		{"sqlite", "DBI:SQLite:dbname=" + filepath.Join(t.TempDir(), "missing.sqlite"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn, err := ParseDSN(tc.dsn, tc.user, "")
			if err != nil {
				t.Fatal(err)
			}
			db, err := OpenDB([]DSN{dsn}, DBOptions{QueryTimeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			q := NewPolicyQuery(db, DefaultSelectPolicy, Rules{}, nil)
			local := NewMaps("local_domains", ImpliedTables(q)["local_domains_maps"], Const{Value: true})
			r, err := local.Lookup(ctx, "u@example.com")
			if err == nil {
				t.Fatalf("no error from a database that is down: %+v", r)
			}
			if r.Found {
				t.Errorf("result with error: %+v", r)
			}
		})
	}

	// a server that accepts and never answers: bounded by the timeout
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	defer func() {
		ln.Close()
		<-done
		for _, c := range held {
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	for _, tc := range []struct{ name, dsn, user string }{
		{"mysql-hang", fmt.Sprintf("DBI:mysql:database=x;host=127.0.0.1;port=%d", port), "root"},
		{"pg-hang", fmt.Sprintf("DBI:Pg:dbname=x;host=127.0.0.1;port=%d", port), "postgres"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn, _ := ParseDSN(tc.dsn, tc.user, "")
			db, err := OpenDB([]DSN{dsn}, DBOptions{QueryTimeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			q := NewPolicyQuery(db, DefaultSelectPolicy, Rules{}, nil)
			errc := make(chan error, 1)
			go func() {
				_, err := q.Rows(ctx, "u@example.com")
				errc <- err
			}()
			select {
			case err := <-errc:
				if err == nil {
					t.Fatal("no error from a server that never answers")
				}
			case <-time.After(20 * time.Second):
				t.Fatal("lookup not bounded by QueryTimeout")
			}
		})
	}
}

// freePort returns a loopback port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// @lookup_sql_dsn with several servers: the first that answers is used.
func TestSQLFailover(t *testing.T) {
	good := sqliteDB(t)
	bad, err := ParseDSN(fmt.Sprintf("DBI:mysql:database=x;host=127.0.0.1;port=%d", freePort(t)), "root", "")
	if err != nil {
		t.Fatal(err)
	}
	db, err := OpenDB([]DSN{bad, good.dsn}, DBOptions{QueryTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := NewPolicyQuery(db, DefaultSelectPolicy, Rules{}, nil)
	ctx := context.Background()
	r, err := NewField(q, "spam_tag2_level", FieldNumber).Lookup(ctx, "u2@example.org")
	if err != nil || r.Value != 4.9 {
		t.Fatalf("failover lookup: %+v %v", r, err)
	}
	db.mu.Lock()
	cur := db.cur
	db.mu.Unlock()
	if cur != 1 {
		t.Errorf("current DSN %d, want 1 (the one that answered)", cur)
	}
	// a bad query is the query's fault: no failover, an error
	q2 := &Query{Name: "bad", Clause: "SELECT nosuchcolumn FROM users WHERE email IN (%k)", DB: db}
	if _, err := q2.Rows(ctx, "u2@example.org"); err == nil {
		t.Error("bad query: no error")
	}
}
