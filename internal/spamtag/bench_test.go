package spamtag

import (
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/check/spam"
)

// TestLargeInputs: huge test lists and subjects still give valid fields.
func TestLargeInputs(t *testing.T) {
	var tests []spam.Test
	for i := range 30000 {
		tests = append(tests, spam.Test{Name: strings.Repeat("R", i%40+1), Score: float64(i)})
	}
	tests = append(tests, spam.Test{Name: strings.Repeat("X", 70000), NoScore: true})
	in := Input{Score: 1e6, Tests: tests, Autolearn: strings.Repeat("a", 5000)}
	lv := Levels{Tag2: At(6.31)}
	fs := HeaderFields(in, lv, Evaluate(in, lv), DefaultLevelChar)
	if len(fs) != 4 {
		t.Fatalf("%d fields", len(fs))
	}
	for _, f := range fs {
		checkField(t, f)
	}
	for _, subj := range []string{
		strings.Repeat("\xc3\xa9", 60000),
		strings.Repeat("a ", 60000),
		strings.Repeat(" ", 60000) + "x",
		strings.Repeat("=?utf-8?q?a?= ", 5000),
		strings.Repeat("\n ", 30000) + "x",
		strings.Repeat("x", 70000),
	} {
		for _, u8 := range []bool{false, true} {
			checkField(t, EditSubject([]byte("Subject: "+subj+"\r\n"), "***SPAM*** ", u8))
		}
	}
}

func BenchmarkHeaderFields(b *testing.B) {
	in := Assemble(Assembly{Scanner: &spam.Result{Score: 999.998, Autolearn: "disabled", Tests: []spam.Test{
		{Name: "GTUBE", Score: 1000}, {Name: "NO_RECEIVED", Score: -0.001}, {Name: "NO_RELAYS", Score: -0.001}}}})
	lv := Levels{Tag: At(2), Tag2: At(6.31), Kill: At(6.31), DSNCutoff: At(10)}
	b.ReportAllocs()
	for b.Loop() {
		HeaderFields(in, lv, Evaluate(in, lv), DefaultLevelChar)
	}
}

func BenchmarkEditSubject(b *testing.B) {
	for _, c := range []struct{ name, raw string }{
		{"ascii", "Subject: Test spam mail (GTUBE)\r\n"},
		{"encoded", "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln_=E2=80=93_Angebot_der_Woche?=\r\n"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				EditSubject([]byte(c.raw), "***SPAM*** ", false)
			}
		})
	}
}
