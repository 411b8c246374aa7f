package sqldsn

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		dsn, user, pass string
		kind, contains  string
	}{
		{"DBI:mysql:database=mail;host=127.0.0.1;port=3306", "amavis", "pw", MySQL, "amavis:pw@tcp(127.0.0.1:3306)/mail?timeout=5s&charset=utf8mb4"},
		{"DBI:mysql:database=mail;host=localhost", "u", "", MySQL, "u@unix(/run/mysqld/mysqld.sock)/mail"},
		{"dbi:mysql:db=mail;mysql_socket=/tmp/m.sock", "u", "", MySQL, "u@unix(/tmp/m.sock)/mail"},
		{"DBI:MariaDB:db=mail;host=::1;port=3307", "u", "", MySQL, "u@tcp([::1]:3307)/mail"},
		{"DBI:mysql:mail", "u", "", MySQL, "/mail"},
		{"DBI:Pg:dbname=mail;host=10.0.0.5;port=5433", "vscan", "p'w", Pg, `password='p\'w'`},
		{"DBI:Pg:database=mail_log", "vscan", "", Pg, "dbname='mail_log'"},
		{"postgres://x@h:5432/db?sslmode=disable", "", "", Pg, "connect_timeout=5"},
		{"mysql://u:p@h:3306/db", "", "", MySQL, "u:p@tcp(h:3306)/db"},
		{"u:p@tcp(h:3306)/db?parseTime=false", "", "", MySQL, "u:p@tcp(h:3306)/db"},
	}
	for _, tc := range tests {
		tg, err := Parse(tc.dsn, tc.user, tc.pass, 5*time.Second)
		if err != nil {
			t.Errorf("%s: %v", tc.dsn, err)
			continue
		}
		if tg.Kind != tc.kind || !strings.Contains(tg.DataSource, tc.contains) {
			t.Errorf("%s: %s %q, want %s containing %q", tc.dsn, tg.Kind, tg.DataSource, tc.kind, tc.contains)
		}
		if tc.pass != "" && strings.Contains(tg.Display, tc.pass) {
			t.Errorf("%s: password in display %q", tc.dsn, tg.Display)
		}
	}
	for _, tc := range []struct{ dsn, path, pragma string }{
		{"DBI:SQLite:dbname=/var/lib/amavis/mail prefs.sqlite", "/var/lib/amavis/mail prefs.sqlite", ""},
		{"sqlite:/tmp/x.db", "/tmp/x.db", ""},
		{"file:/tmp/x.db?_pragma=foreign_keys(1)", "/tmp/x.db", "foreign_keys(1)"},
		{"sqlite:///tmp/y.db", "/tmp/y.db", ""},
	} {
		tg, err := Parse(tc.dsn, "", "", time.Second)
		if err != nil || tg.Kind != SQLite || tg.Path != tc.path || tg.Query.Get("_pragma") != tc.pragma {
			t.Errorf("%s: %+v %v", tc.dsn, tg, err)
		}
	}
	for _, bad := range []string{"DBI:Oracle:x", "DBI:mysql", "nonsense", "mysql:x", "DBI:SQLite:", "DBI:mysql:database=x;host=h;port=abc", "sqlite:"} {
		if _, err := Parse(bad, "", "", time.Second); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := Parse("DBI:Oracle:host=h;password=secret", "", "", time.Second); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("error shows the password: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"DBI:mysql:database=m;host=h;port=1", "DBI:Pg:dbname=x", "DBI:SQLite:dbname=/x", "postgres://a@b/c", "mysql://x", "u@tcp(h)/d", "file:x?_pragma=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := Parse(s, "u", "p", time.Second)
		if err == nil && tg.Kind == "" {
			t.Fatalf("%q: no kind", s)
		}
	})
}
