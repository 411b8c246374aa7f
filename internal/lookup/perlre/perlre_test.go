package perlre

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestTranslate(t *testing.T) {
	tests := []struct {
		pat, flags, want string
	}{
		{`^\.(exe|com)$`, "i", `(?i)^\.(exe|com)(?:\n?\z)`},
		{`^a$`, "m", `(?m)^a$`},
		{`a\Z`, "", `a(?:\n?\z)`},
		{`a\z\A`, "", `a\z\A`},
		{` a b # comment` + "\n" + `c `, "x", `abc`},
		{`[ a]`, "x", `[ a]`},
		{`a\ b`, "x", `a b`},
		{`(?x) a b`, "", `ab`},
		{`(?x: a ) b`, "", `(?:a) b`},
		{`(?^i:abc)`, "", `(?i-ms:abc)`},
		{`(?^:a$)`, "m", `(?m)(?-ims:a(?:\n?\z))`},
		{`(?i)abc(?-i)d`, "", `(?i)abc(?-i)d`},
		{`(?#banned)\.exe$`, "", `\.exe(?:\n?\z)`},
		{`\Qa.b*\E+`, "", `a\.b\*+`},
		{`\h\v\e`, "", `[\t \x{A0}][\n\x0B\f\r\x{85}\x{2028}\x{2029}]\x1B`},
		{`\x41\x{263a}\101\cA`, "", `\x{41}\x{263A}\x{41}\x{1}`},
		{`\o{101}\N{U+263A}\N`, "", `\x{41}\x{263A}[^\n]`},
		{`[\d\-_\]\h]`, "", `[\d\-_\]\t \x{A0}]`},
		{`[]a]`, "", `[\]a]`},
		{`[^]a]`, "", `[^\]a]`},
		{`[[:alpha:]x]`, "", `[[:alpha:]x]`},
		{`[a[b]`, "", `[a\[b]`},
		{`[\101\b]`, "", `[\x{41}\x08]`},
		{`a{2,3}?b{,3}c{x`, "", `a{2,3}?b\{,3\}c\{x`},
		{`(?<name>a)(?P<n2>b)(?'n3'c)`, "", `(?P<name>a)(?P<n2>b)(?P<n3>c)`},
		{`\y\/\@\#`, "", `y/@#`},
		{`\p{L}\pL\P{Lu}`, "", `\p{L}\pL\P{Lu}`},
		{`a*?b+?c??`, "", `a*?b+?c??`},
		{`\bword\B`, "", `\bword\B`},
		{`.`, "s", `(?s).`},
		{`(a)\10`, "", `(a)\x{8}`},
	}
	for _, tc := range tests {
		got, err := Translate(tc.pat, tc.flags)
		if err != nil {
			t.Errorf("Translate(%q, %q): %v", tc.pat, tc.flags, err)
			continue
		}
		if got.RE2 != tc.want {
			t.Errorf("Translate(%q, %q) = %q, want %q", tc.pat, tc.flags, got.RE2, tc.want)
		}
		if _, err := regexp.Compile(got.RE2); err != nil {
			t.Errorf("Translate(%q) gave uncompilable %q: %v", tc.pat, got.RE2, err)
		}
	}
}

func TestComments(t *testing.T) {
	tr, err := Translate(`(?#rule 1)a(?#two)`, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(tr.Comments, "|") != "rule 1|two" {
		t.Errorf("comments %q", tr.Comments)
	}
}

func TestUnsupported(t *testing.T) {
	for _, pat := range []string{
		`^(?!cid:).*\.exe$`, `ASCII(?! cpio)`, `(?=a)`, `(?<=a)b`, `(?<!a)b`,
		`(a)\1`, `\g{1}`, `\k<n>`, `(?>a)`, `a*+`, `a++`, `a?+`, `a{2}+`,
		`\G`, `a\Kb`, `(?(1)a|b)`, `(?R)`, `(?1)`, `(?|a)`, `\Ua`, `(?{ 1 })`, `(*FAIL)`,
		`\X`, `(?P=n)`,
	} {
		_, err := Translate(pat, "")
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("Translate(%q): err = %v, want ErrUnsupported", pat, err)
		}
	}
	for _, pat := range []string{`(a`, `a)`, `[a`, `\`, `*a`, `(?#x`, `\x{zz}`} {
		if _, err := Compile(pat, ""); err == nil {
			t.Errorf("Compile(%q): no error", pat)
		}
	}
	if _, err := Translate("a", "q"); err == nil {
		t.Error("unknown flag accepted")
	}
}

// Perl semantics the translation must keep, as observed with perl 5.36.
func TestMatchLikePerl(t *testing.T) {
	tests := []struct {
		pat, flags, s string
		match         bool
	}{
		{`\.exe$`, "", "a.exe\n", true},
		{`\.exe$`, "", "a.exe\n\n", false},
		{`\.exe\z`, "", "a.exe\n", false},
		{`^b$`, "m", "a\nb\nc", true},
		{`^b$`, "", "a\nb\nc", false},
		{`a.c`, "", "a\nc", false},
		{`a.c`, "s", "a\nc", true},
		{`ABC`, "i", "abc", true},
		{`(?i)abc(?-i)D`, "", "ABCD", true},
		{`(?i)abc(?-i)D`, "", "ABCd", false},
		{`^(ASCII|text)`, "i", "ascii text", true},
		{`[\h]`, "", "\t", true},
		{`\Qa+b\E`, "", "a+b", true},
		{`\Qa+b\E`, "", "aab", false},
	}
	for _, tc := range tests {
		re, err := Compile(tc.pat, tc.flags)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.pat, err)
			continue
		}
		if got := re.MatchString(tc.s); got != tc.match {
			t.Errorf("%q =~ /%s/%s: %v, want %v", tc.s, tc.pat, tc.flags, got, tc.match)
		}
	}
}

func TestParseQR(t *testing.T) {
	tests := []struct{ lit, pat, flags string }{
		{`qr'^\.(exe|com)$'i`, `^\.(exe|com)$`, "i"},
		{`qr/^.*?: (.*) FOUND$/m`, `^.*?: (.*) FOUND$`, "m"},
		{`qr{a{2}}x`, `a{2}`, "x"},
		{`qr(a(b)c)`, `a(b)c`, ""},
		{`qr/a\/b/`, `a\/b`, ""},
		{`/x/i`, `x`, "i"},
		{`m!a!`, `a`, ""},
	}
	for _, tc := range tests {
		p, f, err := ParseQR(tc.lit)
		if err != nil || p != tc.pat || f != tc.flags {
			t.Errorf("ParseQR(%q) = %q, %q, %v; want %q, %q", tc.lit, p, f, err, tc.pat, tc.flags)
		}
	}
	for _, lit := range []string{`qr'abc`, `abc`, `qr`, `qr/a/z`, `qrxax`} {
		if _, _, err := ParseQR(lit); err == nil {
			t.Errorf("ParseQR(%q): no error", lit)
		}
	}
}

func FuzzTranslate(f *testing.F) {
	for _, s := range []string{
		`^\.(exe|com)$`, `(?x) a # c`, `[\d\-]`, `\Qa\E`, `(?^i:x)`, `a{2,3}?`, `\x{263a}`, `(?#c)`,
		`[[:alpha:]]`, `(?<n>a)`, `\N{U+41}`, `^(?!x)`, `\o{7}`, `[]`, `(?i`, `\c`,
	} {
		f.Add(s, "")
		f.Add(s, "imsx")
	}
	f.Fuzz(func(t *testing.T, pat, flags string) {
		if len(flags) > 8 {
			return
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			tr, err := Translate(pat, flags)
			if err != nil {
				return
			}
			// whatever we translate either compiles or is refused by RE2
			// with an error; it must never panic
			_, _ = regexp.Compile(tr.RE2)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("Translate(%q, %q) hangs", pat, flags)
		}
	})
}
