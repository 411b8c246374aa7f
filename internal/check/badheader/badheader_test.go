package badheader

import (
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/mail"
)

func parse(t *testing.T, s string) *mail.Header {
	t.Helper()
	h, err := mail.ParseHeader(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

const okHead = "From: a@example.net\r\nDate: Sat, 01 Jun 2024 12:00:00 +0000\r\n"

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		head     string
		smtputf8 bool
		mime     []string
		minor    int
		want     []string // substrings, in order
	}{
		{"clean", okHead + "Subject: hi\r\n\r\n", false, nil, 0, nil},
		{"missing date", "From: a@b\r\n\r\n", false, nil, MinorMissing, []string{`Missing required header field: "Date"`}},
		{"missing both", "Subject: x\r\n\r\n", false, nil, MinorMissing, []string{`"Date"`, `"From"`}},
		{"duplicate subject", okHead + "Subject: a\r\nSubject: b\r\n\r\n", false, nil, MinorMultiple, []string{`Duplicate header field: "Subject"`}},
		{"triple to", okHead + "To: a\r\nTo: b\r\nTo: c\r\n\r\n", false, nil, MinorMultiple, []string{`Header field occurs more than once: "To" occurs 3 times`}},
		{"duplicate mime-version (rig sample)", okHead + "MIME-Version: 1.0\r\nMIME-Version: 1.0\r\n\r\n", false, nil, MinorMultiple, []string{`Duplicate header field: "MIME-Version"`}},
		{"8bit latin1", okHead + "Subject: caf\xe9\r\n\r\n", false, nil, Minor8bit, []string{`Non-encoded non-ASCII data (and not UTF-8) (char E9 hex): Subject: caf\x{E9}`}},
		{"utf8 without smtputf8 is fine by default", okHead + "Subject: caf\xc3\xa9\r\n\r\n", false, nil, 0, nil},
		{"utf8 with smtputf8", okHead + "Subject: caf\xc3\xa9\r\n\r\n", true, nil, 0, nil},
		{"nul char", okHead + "Subject: a\x00b\r\n\r\n", false, nil, MinorControl, []string{"Improper use of control character (char 00 hex)"}},
		{"whitespace continuation", okHead + "Subject: a\r\n   \r\n b\r\n\r\n", false, nil, MinorEmpty, []string{"Improper folded header field made up entirely of whitespace"}},
		{"long line", okHead + "X-Long: " + strings.Repeat("x", 1000) + "\r\n\r\n", false, nil, MinorLong, []string{"Header line longer than 998 characters: X-Long: xxxx"}},
		{"invalid syntax", okHead + "this is not a header\r\n\r\n", false, nil, MinorSyntax, []string{"Invalid header field syntax: this is not a header"}},
		{"non-ascii name", okHead + "X-F\xc3\xb6o: bar\r\n\r\n", false, nil, MinorSyntax, []string{"Invalid header field name, contains non-ASCII char (char C3 hex)"}},
		{"mime error", okHead + "\r\n", false, []string{"missing closing boundary"}, MinorMIME, []string{"MIME error: missing closing boundary"}},
		{"max wins", "Subject: a\x00\r\n\r\n", false, nil, MinorMissing, []string{"control character", `"Date"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(parse(t, tt.head), tt.smtputf8, tt.mime, DefaultTests())
			if r.Minor != tt.minor {
				t.Errorf("minor %d want %d (%q)", r.Minor, tt.minor, r.Bad)
			}
			if len(tt.want) == 0 && r.Found() {
				t.Errorf("unexpected problems %q", r.Bad)
			}
			all := strings.Join(r.Bad, "\n")
			pos := 0
			for _, w := range tt.want {
				i := strings.Index(all[pos:], w)
				if i < 0 {
					t.Errorf("problems %q lack %q (in order)", r.Bad, w)
					break
				}
				pos += i
			}
		})
	}
}

func TestCheckDisabled(t *testing.T) {
	r := Check(parse(t, "Subject: caf\xe9\r\n\r\n"), false, []string{"x"}, Tests{})
	if r.Found() {
		t.Errorf("all tests off, still found %q", r.Bad)
	}
	r = Check(parse(t, okHead+"Subject: caf\xc3\xa9\r\n\r\n"), false, nil, Tests{EightBit: true, UTF8: true})
	if r.Minor != Minor8bit || !strings.Contains(r.Bad[0], "Non-encoded UTF-8 string in non-EAI mail") {
		t.Errorf("utf8 test: %+v", r)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte(okHead+"Subject: caf\xe9\r\n\r\n"), false)
	f.Add([]byte("X\x00: \r\n \r\n\r\n"), true)
	f.Fuzz(func(t *testing.T, b []byte, u bool) {
		h, err := mail.ParseHeader(strings.NewReader(string(b)))
		if err != nil {
			t.Skip()
		}
		r := Check(h, u, nil, DefaultTests())
		if len(r.Bad) > maxProblems+len(singletons) {
			t.Fatalf("%d problems", len(r.Bad))
		}
		for _, p := range r.Bad {
			for i := 0; i < len(p); i++ {
				if p[i] < 0x20 || p[i] > 0x7e {
					t.Fatalf("unsanitized byte in %q", p)
				}
			}
		}
	})
}
