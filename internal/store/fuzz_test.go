package store

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseMessageID(f *testing.F) {
	for _, s := range []string{"<a@b>", " <a@b> (c) <c@d>", "garbage", `<"q>x"@h>`, "<x@[1.2", "((", "<<>>", "\"<"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, id := range ParseMessageID(s) {
			if !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, ">") {
				t.Fatalf("%q: id %q", s, id)
			}
		}
	})
}

func FuzzHeaderText(f *testing.F) {
	for _, s := range []string{"plain", "=?UTF-8?B?w6k=?=", "=?x?Q?=FF?= \xff", "a\r\n b", "=?UTF-8?Q?", "\xe9\xe9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := HeaderText(s, 255)
		if !utf8.ValidString(out) || utf8.RuneCountInString(out) > 255 {
			t.Fatalf("%q -> %q", s, out)
		}
	})
}

func FuzzNormalizeAddr(f *testing.F) {
	for _, s := range []string{"a@b.c", "", "@", "x@[1.2.3.4]", "\xff@\xc3\xbc.de", "a@b@c..", "a@..."} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, allow bool) {
		e, d := NormalizeAddr(s, false, allow)
		if len(e) > 255 || len(d) > 255 || !utf8.ValidString(d) {
			t.Fatalf("%q -> %q %q", s, e, d)
		}
		if !allow && sanitize7bit(e) != e {
			t.Fatalf("%q -> 8-bit %q", s, e)
		}
	})
}

func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{"DBI:mysql:database=m;host=h;port=1", "DBI:Pg:dbname=x", "DBI:SQLite:dbname=/x", "postgres://a@b/c", "mysql://x", "u@tcp(h)/d", "file:x?_pragma=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseDSN(DSN{DSN: s, User: "u", Password: "p"}, 0)
	})
}
