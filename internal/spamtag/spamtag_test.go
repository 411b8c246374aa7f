package spamtag

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mavis-filter/mavis/internal/check/spam"
	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/policy"
)

// Seed 000: tag 1.0, tag2 5.0, kill 6.31, DSN cutoff 10.
var seed000 = Levels{Tag: At(1.0), Tag2: At(5.0), Kill: At(6.31), DSNCutoff: At(10)}

// Seed 001: tag undef ("the lowest possible level - so that headers are
// always added"), tag2 and kill as Debian.
var seed001 = Levels{Tag: Undef(), Tag2: At(6.31), Kill: At(6.31), DSNCutoff: At(10)}

var (
	clean1  = policy.Category{Major: policy.CCClean, Minor: 1}
	spammy  = policy.Category{Major: policy.CCSpammy}
	spammy3 = policy.Category{Major: policy.CCSpammy, Minor: 1}
	spamCat = policy.Category{Major: policy.CCSpam}
)

func rawFields(fs []mail.Field) string {
	var b strings.Builder
	for _, f := range fs {
		b.Write(f.Raw)
	}
	return b.String()
}

func TestEvaluateAndHeaders(t *testing.T) {
	gtube := []spam.Test{{Name: "GTUBE", Score: 1000}, {Name: "NO_RECEIVED", Score: -0.001}}
	for _, c := range []struct {
		name    string
		in      Input
		lv      Levels
		cats    []policy.Category
		dsn     bool
		headers string
	}{
		{name: "seed000 below tag", in: Input{Score: 0.5}, lv: seed000},
		{name: "seed000 at tag", in: Input{Score: 1.0, Autolearn: "no"}, lv: seed000,
			cats: []policy.Category{clean1},
			headers: "X-Spam-Flag: NO\r\nX-Spam-Score: 1\r\nX-Spam-Level: *\r\n" +
				"X-Spam-Status: No, score=1 tagged_above=1 required=5 tests=[] autolearn=no\r\n"},
		{name: "seed000 tag2", in: Input{Score: 5.0, Tests: []spam.Test{{Name: "BAYES_99", Score: 3.5}, {Name: "URIBL_BLACK", Score: 1.5}}},
			lv: seed000, cats: []policy.Category{clean1, spammy},
			headers: "X-Spam-Flag: YES\r\nX-Spam-Score: 5\r\nX-Spam-Level: *****\r\n" +
				"X-Spam-Status: Yes, score=5 tagged_above=1 required=5 tests=[BAYES_99=3.5,\r\n" +
				" URIBL_BLACK=1.5] autolearn=unavailable\r\n"},
		{name: "seed000 kill", in: Input{Score: 6.31}, lv: seed000,
			cats: []policy.Category{clean1, spammy, spamCat},
			headers: "X-Spam-Flag: YES\r\nX-Spam-Score: 6.31\r\nX-Spam-Level: ******\r\n" +
				"X-Spam-Status: Yes, score=6.31 tagged_above=1 required=5 tests=[]\r\n autolearn=unavailable\r\n"},
		{name: "seed000 just below DSN cutoff", in: Input{Score: 9.9994}, lv: seed000,
			cats: []policy.Category{clean1, spammy, spamCat},
			headers: "X-Spam-Flag: YES\r\nX-Spam-Score: 9.999\r\nX-Spam-Level: *********\r\n" +
				"X-Spam-Status: Yes, score=9.999 tagged_above=1 required=5 tests=[]\r\n autolearn=unavailable\r\n"},
		{name: "seed000 DSN cutoff", in: Input{Score: 10}, lv: seed000,
			cats: []policy.Category{clean1, spammy, spamCat}, dsn: true,
			headers: "X-Spam-Flag: YES\r\nX-Spam-Score: 10\r\nX-Spam-Level: **********\r\n" +
				"X-Spam-Status: Yes, score=10 tagged_above=1 required=5 tests=[]\r\n autolearn=unavailable\r\n"},
		{name: "seed001 undef tag, negative score", in: Input{Score: -5}, lv: seed001,
			cats: []policy.Category{clean1},
			headers: "X-Spam-Flag: NO\r\nX-Spam-Score: -5\r\nX-Spam-Level:\r\n" +
				"X-Spam-Status: No, score=-5 required=6.31 tests=[] autolearn=unavailable\r\n"},
		{name: "seed001 unscored", in: Input{Unscored: true}, lv: seed001,
			cats: []policy.Category{clean1},
			headers: "X-Spam-Flag: NO\r\nX-Spam-Score: 0\r\nX-Spam-Level:\r\n" +
				"X-Spam-Status: No, score=x required=6.31 tests=[] autolearn=unavailable\r\n"},
		{name: "GTUBE stars capped at 64", in: Input{Score: 999.999, Tests: gtube, Autolearn: "disabled"},
			lv:   Levels{Tag: At(-9999), Tag2: At(6.31), Kill: At(6.31)},
			cats: []policy.Category{clean1, spammy, spamCat},
			headers: "X-Spam-Flag: YES\r\nX-Spam-Score: 999.999\r\nX-Spam-Level: " + strings.Repeat("*", 64) + "\r\n" +
				"X-Spam-Status: Yes, score=999.999 tagged_above=-9999 required=6.31\r\n" +
				" tests=[GTUBE=1000, NO_RECEIVED=-0.001] autolearn=disabled\r\n"},
		{name: "whitelisted below tag-10", in: Input{Score: 3, Whitelisted: true}, lv: seed000},
		{name: "whitelisted spam", in: Input{Score: 25, Whitelisted: true}, lv: seed000,
			cats: []policy.Category{clean1}, dsn: true,
			headers: "X-Spam-Flag: NO\r\nX-Spam-Score: 0\r\nX-Spam-Level:\r\n" +
				"X-Spam-Status: No, score=25 tagged_above=1 required=5 WHITELISTED tests=[]\r\n autolearn=unavailable\r\n"},
		{name: "whitelisted negative", in: Input{Score: -12.5, Whitelisted: true}, lv: seed001,
			cats: []policy.Category{clean1},
			headers: "X-Spam-Flag: NO\r\nX-Spam-Score: -12.5\r\nX-Spam-Level:\r\n" +
				"X-Spam-Status: No, score=-12.5 required=6.31 WHITELISTED tests=[]\r\n autolearn=unavailable\r\n"},
		// blacklisting hits every level, tag3 too even when undef (amavis)
		{name: "blacklisted ham", in: Input{Score: 0.2, Blacklisted: true}, lv: seed000,
			cats: []policy.Category{clean1, spammy, spammy3, spamCat}, dsn: true,
			headers: "X-Spam-Flag: YES\r\nX-Spam-Score: 64\r\nX-Spam-Level: " + strings.Repeat("*", 64) + "\r\n" +
				"X-Spam-Status: Yes, score=0.2 tagged_above=1 required=5 BLACKLISTED tests=[]\r\n autolearn=unavailable\r\n"},
		{name: "black and white", in: Input{Score: 70, Blacklisted: true, Whitelisted: true}, lv: seed000,
			cats: []policy.Category{clean1}, dsn: true,
			headers: "X-Spam-Flag: NO\r\nX-Spam-Score: 0\r\nX-Spam-Level:\r\n" +
				"X-Spam-Status: No, score=70 tagged_above=1 required=5 BLACKLISTED WHITELISTED\r\n tests=[] autolearn=unavailable\r\n"},
		{name: "black and white, low score", in: Input{Score: 3, Blacklisted: true, Whitelisted: true}, lv: seed000,
			cats: []policy.Category{clean1},
			headers: "X-Spam-Flag: NO\r\nX-Spam-Score: 0\r\nX-Spam-Level:\r\n" +
				"X-Spam-Status: No, score=3 tagged_above=1 required=5 BLACKLISTED WHITELISTED\r\n tests=[] autolearn=unavailable\r\n"},
		{name: "bypassed", in: Input{Score: 50, Bypassed: true}, lv: seed000, dsn: true},
		{name: "tag3 implies tag2", in: Input{Score: 8}, lv: Levels{Tag: At(2), Tag2: At(9), Tag3: At(7.5), Kill: At(12)},
			cats: []policy.Category{clean1, spammy, spammy3},
			headers: "X-Spam-Flag: YES\r\nX-Spam-Score: 8\r\nX-Spam-Level: ********\r\n" +
				"X-Spam-Status: Yes, score=8 tagged_above=2 required=9 tests=[]\r\n autolearn=unavailable\r\n"},
		{name: "levels as configured text", in: Input{Score: 2.0004},
			lv:   Levels{Tag: Level{V: 2, Set: true, Text: "2.0"}, Tag2: Level{V: 5, Set: true, Text: "5.0"}},
			cats: []policy.Category{clean1},
			headers: "X-Spam-Flag: NO\r\nX-Spam-Score: 2\r\nX-Spam-Level: **\r\n" +
				"X-Spam-Status: No, score=2 tagged_above=2.0 required=5.0 tests=[]\r\n autolearn=unavailable\r\n"},
		{name: "all undef", in: Input{Score: 100}, lv: Levels{},
			cats: []policy.Category{clean1},
			headers: "X-Spam-Flag: NO\r\nX-Spam-Score: 100\r\nX-Spam-Level: " + strings.Repeat("*", 64) + "\r\n" +
				"X-Spam-Status: No, score=100 tests=[] autolearn=unavailable\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Evaluate(c.in, c.lv)
			if !slices.Equal(r.Categories, c.cats) {
				t.Errorf("categories %v, want %v", r.Categories, c.cats)
			}
			if r.DSNSuppressed != c.dsn {
				t.Errorf("DSN suppressed %v, want %v", r.DSNSuppressed, c.dsn)
			}
			if got := rawFields(HeaderFields(c.in, c.lv, r, DefaultLevelChar)); got != c.headers {
				t.Errorf("headers\n got %q\nwant %q", got, c.headers)
			}
			// the categories agree with the flags
			var cats policy.Categories
			for _, cat := range r.Categories {
				cats.Add(cat)
			}
			if cats.Has(policy.CCSpammy) != r.DoTag2 || cats.Has(policy.CCSpam) != r.DoKill {
				t.Errorf("flags %+v disagree with categories %v", r, cats)
			}
		})
	}
}

func TestLevelBar(t *testing.T) {
	for _, c := range []struct {
		in   Input
		char string
		want string
	}{
		{Input{Score: 0.99}, "*", ""},
		{Input{Score: 1}, "*", "*"},
		{Input{Score: 63.9}, "*", strings.Repeat("*", 63)},
		{Input{Score: 64}, "*", strings.Repeat("*", 64)},
		{Input{Score: 1e9}, "*", strings.Repeat("*", 64)},
		{Input{Score: 3.5}, "+-", "+-+-+-"},
		{Input{Score: -3}, "*", ""},
		{Input{Score: math.NaN()}, "*", ""},
		{Input{Score: 30, Whitelisted: true}, "*", ""},
		{Input{Score: -30, Blacklisted: true}, "*", strings.Repeat("*", 64)},
		{Input{Score: 30, Bypassed: true}, "*", ""},
	} {
		if got := LevelBar(c.in, c.char); got != c.want {
			t.Errorf("LevelBar(%+v, %q) = %q, want %q", c.in, c.char, got, c.want)
		}
	}
	// no level character: no X-Spam-Level field
	in := Input{Score: 3}
	fs := HeaderFields(in, seed000, Evaluate(in, seed000), "")
	if len(fs) != 3 || fs[2].Name != FieldStatus {
		t.Errorf("without level char: %q", rawFields(fs))
	}
}

func TestScoreValue(t *testing.T) {
	for _, c := range []struct {
		in   Input
		want string
	}{
		{Input{Score: 2.1974}, "2.197"},
		{Input{Score: 2.1976}, "2.198"},
		{Input{Score: -0.0001}, "0"},
		{Input{Score: 999.998}, "999.998"},
		{Input{Score: 1e21}, "1e+21"},
		{Input{Score: 10, Blacklisted: true}, "64"},
		{Input{Score: 100, Blacklisted: true}, "100"},
		{Input{Score: 5, Whitelisted: true}, "0"},
		{Input{Score: -5, Whitelisted: true}, "-5"},
		{Input{Unscored: true, Score: 3}, "0"},
	} {
		if got := ScoreValue(c.in); got != c.want {
			t.Errorf("ScoreValue(%+v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCutoffs(t *testing.T) {
	lv := Levels{Tag2: At(5), Kill: At(6.31), DSNCutoff: At(10), DSNCutoffBySender: At(15),
		QuarantineCutoff: At(20), NotifyAdminCutoff: At(8)}
	for _, c := range []struct {
		in                Input
		lv                Levels
		dsn, quar, notify bool
	}{
		{Input{Score: 7}, lv, false, false, false},
		{Input{Score: 9}, lv, false, false, true},
		{Input{Score: 12}, lv, true, false, true},
		{Input{Score: 25}, lv, true, true, true},
		{Input{Score: 1, Blacklisted: true}, lv, true, true, true},
		{Input{Score: 1, Blacklisted: true, Whitelisted: true}, lv, false, false, false},
		// the by-sender cutoff alone
		{Input{Score: 16}, Levels{DSNCutoffBySender: At(15)}, true, false, false},
		{Input{Score: 1, Blacklisted: true}, Levels{DSNCutoffBySender: At(15)}, false, false, false},
		// no cutoffs: nothing suppressed
		{Input{Score: 1000, Blacklisted: true}, Levels{}, false, false, false},
	} {
		r := Evaluate(c.in, c.lv)
		if r.DSNSuppressed != c.dsn || r.QuarantineSuppressed != c.quar || r.AdminNotifySuppressed != c.notify {
			t.Errorf("%+v: dsn %v quarantine %v notify %v, want %v %v %v", c.in,
				r.DSNSuppressed, r.QuarantineSuppressed, r.AdminNotifySuppressed, c.dsn, c.quar, c.notify)
		}
	}
}

func TestStatusFoldingLongList(t *testing.T) {
	// a long test list: every line within 78 columns, folds after commas
	// and between the status parts only
	var tests []spam.Test
	for _, n := range []string{"BAYES_99", "BAYES_999", "DKIM_ADSP_NXDOMAIN", "FORGED_MUA_OUTLOOK",
		"HTML_MESSAGE", "MIME_HTML_ONLY", "MSGID_FROM_MTA_ID", "RCVD_IN_BL_SPAMCOP_NET",
		"RCVD_IN_SBL_CSS", "UNDISC_RECIPS", "URIBL_ABUSE_SURBL", "URIBL_BLACK", "WORK_AT_HOME"} {
		tests = append(tests, spam.Test{Name: n, Score: 1.25})
	}
	in := Input{Score: 16.25, Tests: tests, Autolearn: "spam"}
	lv := Levels{Tag: At(-9999), Tag2: At(6.31), Kill: At(6.31)}
	fs := HeaderFields(in, lv, Evaluate(in, lv), "*")
	st := string(fs[3].Raw)
	want := "X-Spam-Status: Yes, score=16.25 tagged_above=-9999 required=6.31\r\n" +
		" tests=[BAYES_99=1.25, BAYES_999=1.25, DKIM_ADSP_NXDOMAIN=1.25,\r\n" +
		" FORGED_MUA_OUTLOOK=1.25, HTML_MESSAGE=1.25, MIME_HTML_ONLY=1.25,\r\n" +
		" MSGID_FROM_MTA_ID=1.25, RCVD_IN_BL_SPAMCOP_NET=1.25, RCVD_IN_SBL_CSS=1.25,\r\n" +
		" UNDISC_RECIPS=1.25, URIBL_ABUSE_SURBL=1.25, URIBL_BLACK=1.25,\r\n" +
		" WORK_AT_HOME=1.25] autolearn=spam\r\n"
	if st != want {
		t.Errorf("got\n%s\nwant\n%s", st, want)
	}
	checkField(t, fs[3])
	if got, want := StatusValue(in, lv, Evaluate(in, lv)), strings.ReplaceAll(strings.TrimPrefix(want, "X-Spam-Status: "), "\r\n", ""); got != want {
		t.Errorf("StatusValue %q, want %q", got, want)
	}
}

func TestAssemble(t *testing.T) {
	scanner := &spam.Result{Score: 5.5, Autolearn: "no",
		Tests: []spam.Test{{Name: "BAYES_50", Score: 0.8}, {Name: "URIBL_BLACK", Score: 4.7}}}
	in := Assemble(Assembly{
		IPRepu: &IPRepu{IP: "192.0.2.7", Score: 3},
		AV: []AVSpam{{Names: []string{"Sanesecurity.Junk.1", "Sanesecurity.Phish.2", "Sanesecurity.Junk.1"},
			Scores: []float64{0.1, 4.5, 0.1}}},
		WBL:          -10,
		Scanner:      scanner,
		PenPals:      PenPalsScore(12*time.Hour, 24*time.Hour, 2),
		BounceKilled: true, BounceKiller: 100,
	})
	wantScore := 3 + 4.5 - 10 + 5.5 - math.Sqrt(2) + 100
	if math.Abs(in.Score-wantScore) > 1e-9 || in.Unscored || in.Autolearn != "no" {
		t.Errorf("score %v (unscored %v, autolearn %q), want %v", in.Score, in.Unscored, in.Autolearn, wantScore)
	}
	want := "AM.BOUNCE=100,AM.PENPAL=-1.414,AM.WBL=-10,AM.IP_BAD_192.0.2.7=3.0," +
		"AV:Sanesecurity.Junk.1=0.1,AV:Sanesecurity.Phish.2=4.5,BAYES_50=0.8,URIBL_BLACK=4.7"
	if got := joinTests(in.Tests); got != want {
		t.Errorf("tests\n got %s\nwant %s", got, want)
	}

	// nothing at all: unscored; a failed or skipped scanner adds nothing
	if in := Assemble(Assembly{}); !in.Unscored || in.Score != 0 || len(in.Tests) != 0 {
		t.Errorf("empty assembly: %+v", in)
	}
	if in := Assemble(Assembly{Scanner: &spam.Result{Skipped: "too big"}}); !in.Unscored {
		t.Errorf("skipped scanner: %+v", in)
	}
	// a scanner that ran with score 0 makes the level defined
	if in := Assemble(Assembly{Scanner: &spam.Result{}}); in.Unscored {
		t.Errorf("scanned with score 0 reported unscored")
	}
	// seed 002's MILD_WHITELIST bank alone
	in = Assemble(Assembly{WBL: -1.8, Scanner: &spam.Result{Score: 3, Tests: []spam.Test{{Name: "X", NoScore: true}}}})
	lv := Levels{Tag: At(2), Tag2: At(6.31)}
	if st := StatusValue(in, lv, Evaluate(in, lv)); st != "No, score=1.2 tagged_above=2 required=6.31 tests=[AM.WBL=-1.8, X] autolearn=unavailable" {
		t.Errorf("MILD_WHITELIST status %q", st)
	}
	if r := Evaluate(in, lv); r.DoTag {
		t.Error("3 - 1.8 is below tag level 2, but tagged")
	}
}

func TestSoftBoost(t *testing.T) {
	for _, c := range []struct {
		name    string
		senders []SenderScores
		want    float64
		ok      bool
	}{
		{"none", nil, 0, false},
		{"maps only", []SenderScores{{Maps: []float64{-10}}}, -10, true},
		{"all matching tables summed", []SenderScores{{Maps: []float64{-1.8, 0, 5}}}, 3.2, true},
		{"first sender with a boost wins", []SenderScores{{Maps: []float64{-1.8}}, {Maps: []float64{-10}}}, -1.8, true},
		{"zeros do not count", []SenderScores{{Maps: []float64{0}}, {Maps: []float64{-10}}}, -10, true},
		{"SQL for every sender", []SenderScores{{SQL: []float64{2}, Maps: []float64{-10}}, {SQL: []float64{3}}}, 5, true},
		{"SQL zero stops the maps", []SenderScores{{SQL: []float64{0}, Maps: []float64{-10}}, {Maps: []float64{-3}}}, 0, false},
		{"cancelling out", []SenderScores{{Maps: []float64{4, -4}}}, 0, false},
	} {
		got, ok := SoftBoost(c.senders)
		if math.Abs(got-c.want) > 1e-9 || ok != c.ok {
			t.Errorf("%s: %v %v, want %v %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestPenPalsScore(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		age, hl time.Duration
		bonus   float64
		want    float64
	}{
		{0, 7 * day, 1, -1},
		{7 * day, 7 * day, 1, -0.5},
		{14 * day, 7 * day, 2, -0.5},
		{day, 0, 1, 0},
		{day, day, 0, 0},
	} {
		if got := PenPalsScore(c.age, c.hl, c.bonus); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("PenPalsScore(%v, %v, %v) = %v, want %v", c.age, c.hl, c.bonus, got, c.want)
		}
	}
}

func TestExpandTag(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	v := TagVars{Hostname: "mx.example.org", RxTime: time.Date(2024, 6, 1, 12, 0, 5, 0, loc),
		LogID: "12345-01", MailID: "aBcD3fGh", SubjPrefix: "[ext] "}
	in := Input{Score: 7.12345}
	r := Evaluate(in, seed000)
	for _, c := range []struct{ tag, want string }{
		{"***SPAM*** ", "***SPAM*** "},
		{"***SPAM(_SCORE_/_REQD_)*** ", "***SPAM(7.123/5)*** "},
		{"_YESNO_ _YESNOCAPS_", "Yes YES"},
		{"_HOSTNAME_ _LOGID_ _MAILID_ _SUBJPREFIX_", "mx.example.org 12345-01 aBcD3fGh [ext] "},
		{"_DATE_", "Sat,  1 Jun 2024 12:00:05 +0100 (CET)"},
		{"_U_", "20240601T110005Z"},
		{"_UNKNOWN_ _score_ _SCORE", "_UNKNOWN_ _score_ _SCORE"},
		{"_SCORE_REQD_", "7.123REQD_"},
		{"__SCORE__", "_7.123_"},
	} {
		if got := ExpandTag(c.tag, in, seed000, r, v); got != c.want {
			t.Errorf("ExpandTag(%q) = %q, want %q", c.tag, got, c.want)
		}
	}
	// undefined tag2 level, not spammy, unscored
	in = Input{Unscored: true}
	if got := ExpandTag("_SCORE_ _REQD_ _YESNO_", in, seed001.withTag2(Undef()), Evaluate(in, seed001), v); got != "0 - No" {
		t.Errorf("undef: %q", got)
	}
}

func (l Levels) withTag2(v Level) Levels { l.Tag2 = v; return l }

func TestChooseTag(t *testing.T) {
	tags := map[policy.Category]string{
		{Major: policy.CCVirus}:            DefaultVirusSubjectTag,
		{Major: policy.CCUnchecked}:        DefaultUncheckedSubjectTag,
		{Major: policy.CCSpammy, Minor: 1}: "***SPAM3*** ",
		{Major: policy.CCSpammy}:           "***SPAM*** ",
		{Major: policy.CCClean, Minor: 1}:  "",
	}
	lookup := func(c policy.Category) string { return tags[c] }
	for _, c := range []struct {
		add  []policy.Category
		want string
	}{
		{nil, ""},
		{[]policy.Category{clean1}, ""},
		{[]policy.Category{clean1, spammy}, "***SPAM*** "},
		{[]policy.Category{clean1, spammy, spamCat}, "***SPAM*** "},
		{[]policy.Category{clean1, spammy, spammy3, spamCat}, "***SPAM3*** "},
		{[]policy.Category{clean1, spammy, {Major: policy.CCVirus}}, DefaultVirusSubjectTag},
		{[]policy.Category{{Major: policy.CCBanned}, spammy}, "***SPAM*** "},
	} {
		var cats policy.Categories
		for _, a := range c.add {
			cats.Add(a)
		}
		if got := ChooseTag(cats, lookup); got != c.want {
			t.Errorf("%v: %q, want %q", cats, got, c.want)
		}
	}
	// seed 001: $sa_spam_subject_tag = undef: never a tag
	var cats policy.Categories
	cats.Add(spammy)
	if got := ChooseTag(cats, func(policy.Category) string { return "" }); got != "" {
		t.Errorf("undef tag gave %q", got)
	}
}

func TestEditSubject(t *testing.T) {
	for _, c := range []struct {
		raw, tag string
		u8       bool
		want     string
	}{
		{"Subject: Test spam mail (GTUBE)\r\n", "***SPAM*** ", false, "Subject: ***SPAM*** Test spam mail (GTUBE)\r\n"},
		{"Subject: ***SPAM*** Test\r\n", "***SPAM*** ", false, "Subject: ***SPAM*** Test\r\n"},
		{"Subject: Re: ***SPAM*** Test ***SPAM*** \r\n", "***SPAM*** ", false, "Subject: ***SPAM*** Re: Test \r\n"},
		{"SUBJECT : x\r\n", "[S] ", false, "SUBJECT: [S] x\r\n"},
		{"Subject:x\r\n", "[S] ", false, "Subject: [S] x\r\n"},
		{"Subject:  two blanks\r\n", "[S] ", false, "Subject: [S]  two blanks\r\n"},
		{"Subject: *a*\r\n", "*", false, "Subject: **a*\r\n"},
		{"Subject: short\r\n fold\r\n", "[S] ", false, "Subject: [S] short\r\n fold\r\n"},
		{"Subject: Gr\xc3\xbc\xc3\x9fe\r\n", "***SPAM*** ", false, "Subject: ***SPAM*** =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n"},
		{"Subject: Gr\xc3\xbc\xc3\x9fe\r\n", "***SPAM*** ", true, "Subject: ***SPAM*** Gr\xc3\xbc\xc3\x9fe\r\n"},
		{"Subject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\n", "***SPAM*** ", true, "Subject: ***SPAM*** Gr\xc3\xbc\xc3\x9fe\r\n"},
		{"Subject: x\r\n", "", false, "Subject: x\r\n"},
		{"Subject: " + strings.Repeat("word ", 16) + "end\r\n", "***SPAM*** ", false,
			"Subject: ***SPAM*** word word word word word word word word word word word\r\n word word word word word end\r\n"},
	} {
		got := EditSubject([]byte(c.raw), c.tag, c.u8)
		if string(got.Raw) != c.want {
			t.Errorf("EditSubject(%q, %q)\n got %q\nwant %q", c.raw, c.tag, got.Raw, c.want)
		}
		checkField(t, got)
	}
	if got := string(NewSubject("***SPAM*** ", false).Raw); got != "Subject: ***SPAM***\r\n" {
		t.Errorf("NewSubject: %q", got)
	}
	if got := string(NewSubject("***SP\xc3\x84M*** ", false).Raw); got != "Subject: =?UTF-8?Q?***SP=C3=84M***?=\r\n" {
		t.Errorf("NewSubject non-ASCII: %q", got)
	}
}

func TestReportField(t *testing.T) {
	f, ok := ReportField("Content analysis details:   (1000.0 points, 5.0 required)\r\n\r\n pts rule\r\n1000 GTUBE\tBODY: \\x\r\n")
	want := "X-Spam-Report: \r\n Content analysis details:   (1000.0 points, 5.0 required)\r\n pts rule\r\n 1000 GTUBE\\tBODY: \\\\x\r\n"
	if !ok || string(f.Raw) != want {
		t.Errorf("got %q, want %q", f.Raw, want)
	}
	if _, ok := ReportField(""); ok {
		t.Error("empty report gave a field")
	}
}

// checkField asserts what every field we write must be: CRLF line ends
// only, lines of at most 998 bytes, continuation lines starting with a
// blank and not blank throughout, the name and a colon first.
func checkField(t testing.TB, f mail.Field) {
	t.Helper()
	raw := string(f.Raw)
	if !strings.HasPrefix(raw, f.Name+":") {
		t.Fatalf("field %q does not start with %q", raw, f.Name+":")
	}
	if !strings.HasSuffix(raw, "\r\n") {
		t.Fatalf("field %q does not end in CRLF", raw)
	}
	lines := strings.Split(strings.TrimSuffix(raw, "\r\n"), "\r\n")
	for i, l := range lines {
		if strings.ContainsAny(l, "\r\n") {
			t.Fatalf("bare CR or LF in %q", raw)
		}
		if len(l) > maxLineLen {
			t.Fatalf("line %d is %d bytes long", i, len(l))
		}
		if i > 0 && (l == "" || !isBlank(l[0]) || allBlank(l)) {
			t.Fatalf("bad continuation line %q in %q", l, raw)
		}
	}
}
