package store

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSchemaDialects(t *testing.T) {
	for _, d := range []string{"mysql", "MariaDB", "pg", "postgres", "sqlite", "sqlite3"} {
		s, err := Schema(d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		stmts, _ := SchemaStatements(d)
		tables := 0
		for _, st := range stmts {
			if strings.HasPrefix(st, "CREATE TABLE IF NOT EXISTS ") {
				tables++
			}
			if strings.Contains(st, "--") {
				t.Errorf("%s: comment left in statement %q", d, st)
			}
		}
		if tables != 8 {
			t.Errorf("%s: %d tables", d, tables)
		}
		for _, want := range []string{"partition_tag", "CONSTRAINT part_email UNIQUE (partition_tag,email)", "mavis extra", "msgs_idx_time_num", "msgrcpt_idx_rid"} {
			if !strings.Contains(s, want) {
				t.Errorf("%s: schema lacks %q", d, want)
			}
		}
	}
	if _, err := Schema("oracle"); err == nil {
		t.Error("oracle accepted")
	}
}

func TestNormalizeAddr(t *testing.T) {
	tests := []struct {
		in            string
		cs, allow8    bool
		email, domain string
	}{
		{"", false, false, "", ""},
		{"User.Name+Ext@Sub.Example.COM", false, false, "user.name+ext@sub.example.com", "com.example.sub"},
		{"User@Example.COM", true, false, "User@example.com", "com.example"},
		{"trailing@example.com..", false, false, "trailing@example.com", "com.example"},
		{"postmaster", false, false, "postmaster@", ""},
		{`"a@b"@example.org`, false, false, `"a@b"@example.org`, "org.example"},
		{"x@[192.0.2.1]", false, false, "x@[192.0.2.1]", "1].2.0.[192"}, // amavis reverses literals too
		{"m\xfcller@m\xc3\xbcnchen.de", false, false, "m?ller@xn--mnchen-3ya.de", "de.xn--mnchen-3ya"},
		{"m\xfcller@m\xc3\xbcnchen.de", false, true, "m\xfcller@xn--mnchen-3ya.de", "de.xn--mnchen-3ya"},
		{"a\tb@x.y", false, false, "a?b@x.y", "y.x"},
		{strings.Repeat("a", 300) + "@x.y", false, false, strings.Repeat("a", 255), "y.x"},
	}
	for _, tc := range tests {
		e, d := NormalizeAddr(tc.in, tc.cs, tc.allow8)
		if e != tc.email || d != tc.domain {
			t.Errorf("NormalizeAddr(%q,%v,%v) = %q, %q; want %q, %q", tc.in, tc.cs, tc.allow8, e, d, tc.email, tc.domain)
		}
	}
}

func TestParseMessageID(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"<a@b>", []string{"<a@b>"}},
		{" <a@b> (c) <c@d>\r\n <a@b>", []string{"<a@b>", "<c@d>"}},
		{"garbage@host", []string{"<garbage@host>"}},
		{"<broken", []string{"<broken>"}},
		{`<"q>x"@h>`, []string{`<"q_x"@h>`}}, // no ">" inside quotes: garbage, sanitized
		{"<x@[1.2.3.4]>", []string{"<x@[1.2.3.4]>"}},
	}
	for _, tc := range tests {
		got := ParseMessageID(tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseMessageID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHeaderText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"  folded\r\n\tline \r\n", "folded\tline"},
		{"=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus =?ISO-8859-1?Q?K=F6ln?=", "Grüße aus Köln"},
		{"=?KOI8-R?B?8NLJ18XU?=", "Привет"},
		{"caf\xe9", "café"},
		{"ok \xc3\xa9 and \xff", "ok é and ÿ"},
		{"=?bogus?Q?x?=", "=?bogus?Q?x?="},
	}
	for _, tc := range tests {
		if got := HeaderText(tc.in, 255); got != tc.want {
			t.Errorf("HeaderText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := HeaderText(strings.Repeat("é", 300), 255)
	if utf8.RuneCountInString(long) != 255 || !utf8.ValidString(long) {
		t.Errorf("truncation: %d runes", utf8.RuneCountInString(long))
	}
}

func TestDeliveryStatus(t *testing.T) {
	tests := []struct {
		d    Destiny
		resp string
		done bool
		want string
	}{
		{DestinyPass, "250 2.0.0 Ok", true, "P"},
		{DestinyPass, "", false, "P"},
		{DestinyPass, "451 4.5.0 fail", true, "T"},
		{DestinyDiscard, "250 2.7.0 Ok, discarded", true, "D"},
		{DestinyBounce, "554 5.7.0 Reject", true, "B"},
		{DestinyReject, "554 5.7.0 Reject", true, "R"},
		{DestinyPass, "550 5.1.1 unknown", true, "R"},
		{DestinyReject, "250 odd", true, "?"},
	}
	for _, tc := range tests {
		if got := DeliveryStatus(tc.d, tc.resp, tc.done); got != tc.want {
			t.Errorf("DeliveryStatus(%d,%q,%v) = %q, want %q", tc.d, tc.resp, tc.done, got, tc.want)
		}
	}
}

func TestISO(t *testing.T) {
	tests := []struct {
		t              time.Time
		week, yw, wday int64
	}{
		{time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 1, 202401, 1},
		{time.Date(2021, 1, 3, 0, 0, 0, 0, time.UTC), 53, 202053, 7},
		{time.Date(2024, 12, 30, 0, 0, 0, 0, time.UTC), 1, 202501, 1},
		{time.Date(2024, 6, 5, 0, 0, 0, 0, time.UTC), 23, 202423, 3},
	}
	for _, tc := range tests {
		if ISOWeek(tc.t) != tc.week || ISOYearWeek(tc.t) != tc.yw || ISOWeekday(tc.t) != tc.wday {
			t.Errorf("%v: %d %d %d", tc.t, ISOWeek(tc.t), ISOYearWeek(tc.t), ISOWeekday(tc.t))
		}
	}
}

func TestPenPalsMath(t *testing.T) {
	hl := 7 * 24 * time.Hour
	for _, tc := range []struct {
		age  time.Duration
		want float64
	}{{0, -4}, {hl, -2}, {2 * hl, -1}, {hl / 2, -4 / math.Sqrt2}} {
		if got := PenPalsAdjustment(tc.age, 4, hl); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("age %v: %v, want %v", tc.age, got, tc.want)
		}
	}
	if PenPalsAdjustment(time.Hour, 0, hl) != 0 || PenPalsAdjustment(time.Hour, 3, 0) != 0 {
		t.Error("disabled pen pals adjust")
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{0, "0 0:00:00"}, {250 * time.Second, "0 0:04:10"}, {27*time.Hour + 61*time.Second, "1 3:01:01"}, {-90 * time.Second, "-0 0:01:30"}} {
		if got := FormatInterval(tc.d); got != tc.want {
			t.Errorf("FormatInterval(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	low, high := 1.0, 10.0
	if r := PenPalsSkip(5, hl, false, 0.5, 0.5, &low, nil, false, false, false); r != "low score" {
		t.Errorf("low: %q", r)
	}
	if r := PenPalsSkip(5, hl, false, 0.5, 0.5, &low, nil, true, false, false); r != "" {
		t.Errorf("bounce ignores thresholds: %q", r)
	}
	if r := PenPalsSkip(5, hl, false, 20, 20, &low, &high, false, false, false); r != "high score" {
		t.Errorf("high: %q", r)
	}
	if r := PenPalsSkip(5, hl, false, 5, 5, &low, &high, false, false, true); r != "local sender from outside" {
		t.Errorf("local: %q", r)
	}
	if r := PenPalsSkip(5, hl, true, 5, 5, nil, nil, false, false, false); r != "virus" {
		t.Errorf("virus: %q", r)
	}
}

func TestExpandPenPalsMsgID(t *testing.T) {
	q, args := expandPenPalsMsgID(defaultClauses()["sel_penpals_msgid"], 7, 9, []string{"<a@b>", "<\xff@c>"})
	if !strings.Contains(q, "message_id IN (?,?)") || strings.Count(q, "?") != 4 {
		t.Errorf("query %q", q)
	}
	if !reflect.DeepEqual(args, []any{int64(7), "<a@b>", "<?@c>", int64(9)}) {
		t.Errorf("args %v", args)
	}
	if got := rebind(DialectPg, q); !strings.Contains(got, "sid=$1") || !strings.Contains(got, "IN ($2,$3)") || !strings.Contains(got, "rid=$4") || !strings.Contains(got, "content!='V'") {
		t.Errorf("rebind %q", got)
	}
}

func TestBounceKill(t *testing.T) {
	var c Counters
	tests := []struct {
		in   BounceInput
		want BounceVerdict
	}{
		{BounceInput{}, BounceVerdict{}},
		{BounceInput{IsBounce: true, PenPalsEnabled: true, PenPals: PenPalsMatch{Found: true, Age: time.Hour}}, BounceVerdict{Rescued: "by penpals"}},
		{BounceInput{IsBounce: true, PenPalsEnabled: true, PenPals: PenPalsMatch{Found: true, Age: 9 * 24 * time.Hour}}, BounceVerdict{Killed: true}},
		{BounceInput{IsBounce: true, PenPalsEnabled: true, Originating: true}, BounceVerdict{Rescued: "by originating"}},
		{BounceInput{IsBounce: true, PenPalsEnabled: true, MsgIDDomainLocal: true}, BounceVerdict{Rescued: "by domain"}},
		{BounceInput{IsBounce: true}, BounceVerdict{Rescued: "by: pen pals disabled"}},
		{BounceInput{Unverifiable: true}, BounceVerdict{}},
	}
	for i, tc := range tests {
		if got := bounceKill(tc.in, &c); got != tc.want {
			t.Errorf("%d: %+v, want %+v", i, got, tc.want)
		}
	}
	s := c.Snapshot()
	if s["InMsgsBounce"] != 6 || s["InMsgsBounceKilled"] != 1 || s["InMsgsBounceUnverifiable"] != 1 || s["InMsgsBounceRescuedByPenPals"] != 1 {
		t.Errorf("counters %v", s)
	}
	for in, want := range map[string]string{"<123.abc@mail.example.com>": "@mail.example.com", "<x@y >": "@y", "<x@y> ": "", "<nodomain>": "", "": ""} {
		if got := MessageIDDomain(in); got != want {
			t.Errorf("MessageIDDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQuarantineLocation(t *testing.T) {
	if SQLQuarantineLocation("abcdefghijkl", 0) != "abcdefghijkl" || SQLQuarantineLocation("abcdefghijkl", 25) != "abcdefghijkl[25]" {
		t.Error("SQLQuarantineLocation")
	}
	id, p, ok := ParseSQLQuarantineLocation("aX3C4f6btXgX[25]")
	if id != "aX3C4f6btXgX" || p != 25 || !ok {
		t.Errorf("parse: %q %d %v", id, p, ok)
	}
	if id, _, ok := ParseSQLQuarantineLocation("aX3C4f6btXgX"); ok || id != "aX3C4f6btXgX" {
		t.Error("parse without tag")
	}
	if QuarantineResponse("abc", "1-01", nil) != "250 2.6.0 Ok, Stored to sql db as mail_id abc, id=1-01" {
		t.Error(QuarantineResponse("abc", "1-01", nil))
	}
}

func TestParseDSN(t *testing.T) {
	tests := []struct {
		dsn, user, pass  string
		driver, contains string
	}{
		{"DBI:mysql:database=mail;host=127.0.0.1;port=3306", "amavis", "pw", "mysql", "amavis:pw@tcp(127.0.0.1:3306)/mail"},
		{"DBI:mysql:database=mail;host=localhost", "u", "", "mysql", "@unix(/run/mysqld/mysqld.sock)/mail"},
		{"DBI:MariaDB:db=mail;host=db1;port=3307", "u", "", "mysql", "@tcp(db1:3307)/mail"},
		{"DBI:mysql:mail", "u", "", "mysql", "/mail"},
		{"DBI:Pg:dbname=mail;host=10.0.0.5;port=5433", "vscan", "p'w", "pgx", `password='p\'w'`},
		{"DBI:Pg:database=mail_log", "vscan", "", "pgx", "dbname='mail_log'"},
		{"DBI:SQLite:dbname=/var/lib/amavis/mail.sqlite", "", "", "sqlite", "file:/var/lib/amavis/mail.sqlite?"},
		{"postgres://x@h:5432/db?sslmode=disable", "", "", "pgx", "connect_timeout="},
		{"mysql://u:p@h:3306/db", "", "", "mysql", "u:p@tcp(h:3306)/db"},
		{"u:p@tcp(h:3306)/db?parseTime=false", "", "", "mysql", "u:p@tcp(h:3306)/db"},
		{"sqlite:/tmp/x.db", "", "", "sqlite", "_txlock=immediate"},
	}
	for _, tc := range tests {
		tg, err := parseDSN(DSN{tc.dsn, tc.user, tc.pass}, 0)
		if err != nil {
			t.Errorf("%s: %v", tc.dsn, err)
			continue
		}
		if tg.driver != tc.driver || !strings.Contains(tg.source, tc.contains) {
			t.Errorf("%s: %s %q", tc.dsn, tg.driver, tg.source)
		}
		if tc.pass != "" && strings.Contains(tg.display, tc.pass) {
			t.Errorf("%s: password in display %q", tc.dsn, tg.display)
		}
	}
	for _, bad := range []string{"DBI:Oracle:x", "DBI:mysql", "nonsense", "DBI:SQLite:", "DBI:mysql:database=x;host=h;port=abc"} {
		if _, err := parseDSN(DSN{DSN: bad}, 0); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRebind(t *testing.T) {
	if got := rebind(DialectPg, "SELECT '?' , \"?\", ? FROM t WHERE a=?"); got != "SELECT '?' , \"?\", $1 FROM t WHERE a=$2" {
		t.Errorf("%q", got)
	}
	if got := rebind(DialectMySQL, "a=?"); got != "a=?" {
		t.Errorf("%q", got)
	}
}
