package notify

import (
	"strings"
	"testing"
)

func testMacros() Macros {
	return Macros{
		"s": func([]string) Value { return S("<a@b.example>") },
		"V": func([]string) Value { return L([]string{"Eicar", "Worm.X"}) },
		"E": func([]string) Value { return L(nil) },
		"F": func([]string) Value { return Value{} },
		"n": func([]string) Value { return S("123-01") },
		"Z": func([]string) Value { return Value{} },
		"ccat": func(a []string) Value {
			if len(a) > 0 && a[0] == "major" {
				return S("8")
			}
			return S("Banned")
		},
		"upper": func(a []string) Value { return S(strings.ToUpper(strings.Join(a, "+"))) },
	}
}

func TestExpand(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text\n", "plain text\n"},
		{"%s and %n", "<a@b.example> and 123-01"},
		{"100%% sure, %unknown", "100% sure, nknown"},
		{"%#V %#E %#F %#s", "2 0 0 1"},
		{"%V", "Eicar, Worm.X"},
		{"[? %#V |none|one|two]", "two"},
		{"[? %#V |none|one]", "one"}, // beyond the last: the last
		{"[? 5 |only]", ""},          // a single alternative
		{"[? %#E |none|some]", "none"},
		{"[? x |empty|nonempty]", "nonempty"},
		{"[?   |empty|nonempty]", "empty"},
		{"[? [:ccat|major] |0|1|2|3|4|5|6|7|BANNED|VIRUS]", "BANNED"},
		{"[%V|<%V>|, ]", "<Eicar>, <Worm.X>"},
		{"[%E|<%E>|, ]", ""},
		{"[%Z|(%Z)|]", "()"}, // an undefined scalar iterates once
		{"[V|%x;|]", "Eicar;Worm.X;"},
		{"a # comment\nb", "a b"},
		{"[? %#E |#|line]\nnext", "next"}, // '#' from a selector eats the newline
		{"x\\ny # c\\n still comment\nz", "x\ny z"},
		{"join\\\nlines", "joinlines"},
		{"tab\\there \\101\\x", "tab\there Ax"},
		{"[:upper|a|b]", "A+B"},
		{`[~abc123|["^([a-z]+)(\\d+)$"]|["%2-%1"]|no]`, "123-abc"},
		{"[~abc|^x|yes|no]", "no"},
		{"[~abc|^x|yes]", ""},
		{"[~abc|(|yes|no]", "no"}, // invalid regexp: no match
		{"[=g|hello %1]%#g [@g|world]", "1 hello world"},
		{"[=e|]%#e", "0"},
		{"[\"[? 1 |a|b] %s\"]", "[? 1 |a|b] %s"},
		{"_SCORE_ _NOPE(x)_ _lower_", "  _lower_"},
		{"unclosed [? 1 |a", "unclosed "},
		{"stray ] and | here", "stray ] and | here"},
		{"[:wrap|20||  |one two three four five six seven eight]", "one two three four\n  five six seven\n  eight"},
	}
	for _, tt := range tests {
		got, err := Expand(tt.in, testMacros())
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
		}
		if tt.in == "[:wrap|20||  |one two three four five six seven eight]" {
			m := testMacros()
			in := &Info{}
			m["wrap"] = in.macros(nil)["wrap"]
			got, _ = Expand(tt.in, m)
		}
		if got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExpandRunaway(t *testing.T) {
	// a macro that calls itself forever must stop
	out, err := Expand(`[=loop|["x[@loop]"]][@loop]`, testMacros())
	if err != ErrTooComplex {
		t.Fatalf("err = %v (output %d bytes)", err, len(out))
	}
	out, err = Expand("[=a|%1%1%1%1%1%1%1%1][@a|[@a|[@a|[@a|[@a|[@a|[@a|[@a|[@a|xxxxxxxxxxxxxxxx]]]]]]]]]", testMacros())
	if err != ErrTooComplex && len(out) > maxOutput+1<<20 {
		t.Fatalf("output %d bytes, err %v", len(out), err)
	}
}

func TestWrapString(t *testing.T) {
	tests := []struct {
		str, prefix, indent   string
		indentSet, structured bool
		max                   int
		want                  string
	}{
		{"short", "", "", true, false, 78, "short"},
		{"aaa bbb ccc ddd", "", "", true, false, 8, "aaa bbb\nccc ddd"},
		{"aaa bbb ccc ddd", "> ", "  ", true, false, 10, "> aaa bbb\n>   ccc\n>   ddd"},
		{"Subject: VIRUS (Rig.Test.EICAR_NDB-1.UNOFFICIAL) in mail FROM [127.0.0.1] <sender@example.net>", "", " ", true, false, 78,
			"Subject: VIRUS (Rig.Test.EICAR_NDB-1.UNOFFICIAL) in mail FROM [127.0.0.1]\n <sender@example.net>"},
		{"averyveryverylongwordthatdoesnotfit next", "", "", true, false, 10, "averyveryverylongwordthatdoesnotfit\nnext"},
		{"X-Envelope-To: <a@b>,\n <c@d>,\n <e@f>", "", "", false, true, 25, "X-Envelope-To: <a@b>,\n <c@d>, <e@f>"},
		{"   ", "", "", true, false, 10, ""},
		{"a\tb", "", "", true, false, 10, "a\tb"},
	}
	for _, tt := range tests {
		got := wrapString(tt.str, tt.max, tt.prefix, tt.indent, tt.indentSet, tt.structured)
		if got != tt.want {
			t.Errorf("wrapString(%q, %d) = %q, want %q", tt.str, tt.max, got, tt.want)
		}
		for _, l := range strings.Split(got, "\n") {
			if len(l) > tt.max && !strings.Contains(l, "averyvery") {
				t.Errorf("line %q longer than %d", l, tt.max)
			}
		}
	}
}

func TestWrapSMTPResp(t *testing.T) {
	got := wrapSMTPResp("554 5.7.0 Bounce, id=1 -\nBANNED: x")
	if strings.Join(got, "|") != "554-5.7.0 Bounce, id=1 -|554 5.7.0 BANNED: x" {
		t.Errorf("got %q", got)
	}
	long := "550 5.1.1 " + strings.Repeat("y", 1200)
	got = wrapSMTPResp(long)
	if len(got) != 3 || !strings.HasPrefix(got[0], "550-5.1.1 y") || !strings.HasPrefix(got[2], "550 5.1.1 y") {
		t.Errorf("long: %d lines", len(got))
	}
	for _, l := range got {
		if len(l) > 510 {
			t.Errorf("line of %d", len(l))
		}
	}
	if got := wrapSMTPResp("250 ok"); len(got) != 1 || got[0] != "250 ok" {
		t.Errorf("plain: %q", got)
	}
}

func TestHeaderField(t *testing.T) {
	if got := headerField("Subject", "Grüße aus Köln", " ", true, false); !strings.HasPrefix(got, "Subject: =?UTF-8?q?") || !isASCII(got) {
		t.Errorf("encoded: %q", got)
	}
	if got := headerField("Subject", "Grüße", " ", true, true); got != "Subject: Grüße\n" {
		t.Errorf("smtputf8: %q", got)
	}
	if got := headerField("X-Bad:Name", "v", " ", true, false); got != "X-Bad?Name: v\n" {
		t.Errorf("name: %q", got)
	}
	long := headerField("X-Long", strings.Repeat("z", 2000), " ", true, false)
	for _, l := range strings.Split(long, "\n") {
		if len(l) > 998 {
			t.Errorf("long line not cut: %d", len(l))
		}
	}
	if !strings.HasSuffix(long, "...\n") {
		t.Errorf("long field: %q", long[len(long)-10:])
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{
		defaultVirusAdminTempl, defaultSenderTempl, defaultVirusSenderTempl, defaultSpamAdminTempl,
		"[? %#V |a|b]", "[%V|<%V>|, ]", "[=x|%1 %2][@x|a|b]", "[~s|(.)|%1|n]", `["[x]"]`, "#\n", "\\101\\",
		"_SCORE(3)_", "[:wrap|5|a|b|c d e f g]",
	} {
		f.Add(s)
	}
	info := eicarInfo(f)
	m := info.macros(nil)
	f.Fuzz(func(t *testing.T, tmpl string) {
		if len(tmpl) > 4096 {
			return
		}
		out, err := Expand(tmpl, m)
		if err == nil && len(out) > maxOutput+1<<20 {
			t.Fatalf("output %d bytes", len(out))
		}
	})
}
