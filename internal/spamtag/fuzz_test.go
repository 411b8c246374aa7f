package spamtag

import (
	"math"
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/check/spam"
)

// FuzzFields checks the fields we write for any test names, autolearn
// tag, score, subject and tag: CRLF only at fold points, lines of at most
// 998 bytes, proper continuation lines, and folding that only inserts
// line breaks.
func FuzzFields(f *testing.F) {
	f.Add("GTUBE=1000;NO_RECEIVED;NO_RELAYS", "disabled", 999.998, uint8(0), " Test spam mail (GTUBE)", "***SPAM*** ")
	f.Add("LONGWORDS,X;"+strings.Repeat("A", 1200), "", -5.0, uint8(3), " a\r\n folded\r\n \r\n subject", "[S] ")
	f.Add("", "ham", 6.31, uint8(12), " =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= \xff\xfe", "\xc3\x9c ")
	f.Add(strings.Repeat("T\r\n;", 50), "a\nb", math.Inf(1), uint8(255), strings.Repeat("\xc3\xa9 ", 600), "x\r\n\r\ny")
	f.Fuzz(func(t *testing.T, names, autolearn string, score float64, flags uint8, subject, tag string) {
		if len(names) > 8<<10 || len(subject) > 8<<10 || len(tag) > 256 {
			return
		}
		var tests []spam.Test
		for i, n := range strings.Split(names, ";") {
			if n != "" {
				tests = append(tests, spam.Test{Name: n, Score: float64(i) - 1.5, NoScore: i%3 == 1})
			}
		}
		in := Input{Score: score, Tests: tests, Autolearn: autolearn,
			Whitelisted: flags&1 != 0, Blacklisted: flags&2 != 0, Unscored: flags&4 != 0}
		lv := Levels{Tag: At(2), Tag2: At(6.31), Kill: At(6.31)}
		if flags&8 != 0 {
			lv.Tag = Undef()
		}
		r := Evaluate(in, lv)
		for _, fl := range HeaderFields(in, lv, r, DefaultLevelChar) {
			checkField(t, fl)
		}
		// folding X-Spam-Status only inserts CRLFs (unless a line had to be cut)
		st := string(buildField(FieldStatus, statusBody(in, lv, r), structured, false).Raw)
		value := StatusValue(in, lv, r)
		if !strings.Contains(st, truncMarker+"\r\n") {
			if got := strings.ReplaceAll(st, "\r\n", ""); got != "X-Spam-Status: "+value {
				t.Fatalf("unfolded %q, want %q", got, "X-Spam-Status: "+value)
			}
		}

		raw := []byte("Subject:" + subject + "\r\n")
		ed := EditSubject(raw, tag, flags&16 != 0)
		if tag != "" { // an empty tag leaves the field as received
			checkField(t, ed)
		}
		checkField(t, NewSubject(tag, flags&32 != 0))

		// a plain ASCII subject and tag: the text is kept, tag in front
		if plainText(subject) && plainText(tag) && !strings.Contains(subject, "=?") && tag != "" &&
			len(subject)+len(tag) < 900 && !strings.Contains(subject, "\r\n \r\n") {
			s := strings.ReplaceAll(subject, "\r\n", "")
			if s != "" && isBlank(s[0]) {
				s = s[1:]
			}
			if len(tag) >= minTagRemoval {
				s = strings.ReplaceAll(s, tag, "")
			}
			want := "Subject: " + tag + s
			if got := strings.ReplaceAll(string(ed.Raw), "\r\n", ""); got != want && !allBlank(s) {
				t.Fatalf("subject %q tag %q: unfolded %q, want %q", subject, tag, got, want)
			}
		}
	})
}

// plainText: printable ASCII and blanks, CRLF only before a blank.
func plainText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' && i+2 < len(s) && s[i+1] == '\n' && isBlank(s[i+2]) {
			i++
			continue
		}
		if c != '\t' && (c < 0x20 || c > 0x7e) {
			return false
		}
	}
	return true
}
