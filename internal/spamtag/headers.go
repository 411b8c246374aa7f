package spamtag

import (
	"strings"

	"github.com/mavis-filter/mavis/internal/check/spam"
	"github.com/mavis-filter/mavis/internal/mail"
)

// Names of the spam header fields, in the order amavis adds them.
const (
	FieldFlag   = "X-Spam-Flag"
	FieldScore  = "X-Spam-Score"
	FieldLevel  = "X-Spam-Level"
	FieldStatus = "X-Spam-Status"
	FieldReport = "X-Spam-Report"
)

// RemovedFields returns the incoming fields amavis deletes (all of each
// name) when remove_existing_spam_headers_maps is true for a recipient and
// spam checking is loaded.
func RemovedFields() []string {
	return []string{"X-Spam-Status", "X-Spam-Level", "X-Spam-Flag", "X-Spam-Score",
		"X-Spam-Report", "X-Spam-Checker-Version", "X-Spam-Tests"}
}

// DefaultLevelChar is amavis's $sa_spam_level_char.
const DefaultLevelChar = "*"

// maxBar is the longest X-Spam-Level bar.
const maxBar = 64

// HeaderFields returns the spam header fields amavis adds for a recipient
// with spam result r (from Evaluate), in amavis's order: X-Spam-Flag,
// X-Spam-Score, X-Spam-Level (omitted when levelChar is empty: amavis's
// $sa_spam_level_char undef), X-Spam-Status — each a complete field with
// CRLF line ends, folded as amavis folds it. It returns nil unless r.DoTag.
//
// The caller adds them only for local recipients (@local_domains_maps) and
// only the names %allowed_added_header_fields allows (all four by default),
// and puts them where amavis does (§4.4: after X-Amavis-Alert, before the
// edited Subject and amavis's Received).
func HeaderFields(in Input, lv Levels, r RcptSpam, levelChar string) []mail.Field {
	if !r.DoTag || in.Bypassed {
		return nil
	}
	flag := "NO"
	if r.DoTag2 {
		flag = "YES"
	}
	out := []mail.Field{
		buildField(FieldFlag, flag, unstructured, false),
		buildField(FieldScore, ScoreValue(in), unstructured, false),
	}
	if levelChar != "" {
		out = append(out, buildField(FieldLevel, LevelBar(in, levelChar), unstructured, false))
	}
	out = append(out, buildField(FieldStatus, statusBody(in, lv, r), structured, false))
	return out
}

// ScoreValue is the X-Spam-Score value: the level to three decimals, at
// least 64 when blacklisted, at most 0 when whitelisted.
func ScoreValue(in Input) string {
	score := in.level()
	if in.Blacklisted {
		score = max(64, score)
	}
	if in.Whitelisted {
		score = min(0, score)
	}
	return fmt3(score)
}

// LevelBar is the X-Spam-Level value: char repeated int(level) times, at
// most 64; 64 when blacklisted, none when whitelisted or bypassed.
func LevelBar(in Input, char string) string {
	var n float64
	switch {
	case in.Whitelisted || in.Bypassed:
		n = 0
	case in.Blacklisted:
		n = maxBar
	case in.Unscored:
		n = 0
	default:
		n = min(in.level(), maxBar)
	}
	if n < 1 {
		return ""
	}
	return strings.Repeat(char, int(n))
}

// StatusValue is the X-Spam-Status value unfolded:
// "No, score=2.197 tagged_above=2 required=6.31 tests=[A=1, B=2] autolearn=ham".
func StatusValue(in Input, lv Levels, r RcptSpam) string {
	s := statusBody(in, lv, r)
	return strings.ReplaceAll(s, "\n", "")
}

// statusBody is the X-Spam-Status body with amavis's fold points ("\n"
// before each space that may start a continuation line).
func statusBody(in Input, lv Levels, r RcptSpam) string {
	var b strings.Builder
	if r.DoTag2 {
		b.WriteString("Yes")
	} else {
		b.WriteString("No")
	}
	b.WriteString(",\n score=")
	if in.Unscored {
		b.WriteString("x")
	} else {
		b.WriteString(fmt3(in.level()))
	}
	b.WriteString("\n ")
	if lv.Tag.Set {
		b.WriteString("tagged_above=" + lv.Tag.String() + "\n ")
	}
	if lv.Tag2.Set {
		b.WriteString("required=" + lv.Tag2.String() + "\n ")
	}
	if in.Blacklisted {
		b.WriteString("BLACKLISTED\n ")
	}
	if in.Whitelisted {
		b.WriteString("WHITELISTED\n ")
	}
	b.WriteString("tests=[")
	// amavis joins the tests with "," and allows a fold after every comma,
	// also one inside a test name
	b.WriteString(strings.ReplaceAll(joinTests(in.Tests), ",", ",\n "))
	b.WriteString("]\n autolearn=")
	if in.Autolearn != "" {
		b.WriteString(safeText(in.Autolearn))
	} else {
		b.WriteString("unavailable")
	}
	return b.String()
}

// joinTests renders tests as amavis keeps them: "NAME=score" (or "NAME"
// when the scanner gave no score) joined by ",".
func joinTests(tests []spam.Test) string {
	var b strings.Builder
	for i, t := range tests {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(safeText(t.Name))
		if !t.NoScore {
			b.WriteByte('=')
			b.WriteString(spam.FormatScore(t.Score))
		}
	}
	return b.String()
}

// safeText replaces control characters, which amavis would copy into the
// header field (a bare CR or LF there corrupts the header), by '?'.
func safeText(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// ReportField is the X-Spam-Report field amavis adds for spammy mail when
// %allowed_added_header_fields allows it (off by default): the scanner's
// report on continuation lines, control characters other than LF escaped
// as amavis's sanitize_str does. It returns false for an empty report.
func ReportField(report string) (mail.Field, bool) {
	if report == "" {
		return mail.Field{}, false
	}
	report = strings.ReplaceAll(report, "\r\n", "\n")
	return buildField(FieldReport, "\n"+sanitizeKeepLF(report), prefolded, false), true
}

// sanitizeKeepLF is amavis's sanitize_str($s, 1): controls except LF, DEL
// and backslash written as escapes (\t, \r, \\, else \xNN).
func sanitizeKeepLF(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n':
			b.WriteByte(c)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < 0x20 || c == 0x7f:
			b.WriteString(`\x`)
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// QuarantineFields are the spam fields amavis writes into a quarantined
// copy, whatever the recipient's locality and tag level: X-Spam-Flag,
// X-Spam-Score, X-Spam-Level and the quarantine form of X-Spam-Status,
// "Yes|No, score=<n|x> tag=<x> tag2=<x> kill=<x> tests=[...] autolearn=...",
// where undefined levels and an unscored message show "x". in may be the
// zero Input with Unscored set (no spam check ran, e.g. a virus).
func QuarantineFields(in Input, lv Levels, r RcptSpam, levelChar string) []mail.Field {
	flag := "NO"
	if r.DoTag2 {
		flag = "YES"
	}
	lvl := func(l Level) string {
		if !l.Set || in.Unscored {
			return "x"
		}
		return l.String()
	}
	var b strings.Builder
	if r.DoTag2 {
		b.WriteString("Yes")
	} else {
		b.WriteString("No")
	}
	b.WriteString(",\n score=")
	if in.Unscored {
		b.WriteString("x")
	} else {
		b.WriteString(fmt3(in.level()))
	}
	b.WriteString("\n tag=" + lvl(lv.Tag) + "\n tag2=" + lvl(lv.Tag2) + "\n kill=" + lvl(lv.Kill) + "\n ")
	if in.Blacklisted {
		b.WriteString("BLACKLISTED\n ")
	}
	if in.Whitelisted {
		b.WriteString("WHITELISTED\n ")
	}
	b.WriteString("tests=[" + strings.ReplaceAll(joinTests(in.Tests), ",", ",\n ") + "]\n autolearn=")
	if in.Autolearn != "" {
		b.WriteString(safeText(in.Autolearn))
	} else {
		b.WriteString("unavailable")
	}
	// X-Spam-Score and X-Spam-Level show 0 and no stars for an unscored
	// message (only X-Spam-Status says "x"), as amavis writes them.
	out := []mail.Field{
		buildField(FieldFlag, flag, unstructured, false),
		buildField(FieldScore, ScoreValue(in), unstructured, false),
	}
	if levelChar != "" {
		out = append(out, buildField(FieldLevel, LevelBar(in, levelChar), unstructured, false))
	}
	return append(out, buildField(FieldStatus, b.String(), structured, false))
}

// Fold returns an unstructured header field folded as amavis folds the
// fields it adds (lines of at most 78 columns where possible), CRLF.
func Fold(name, value string) mail.Field {
	return buildField(name, safeText(value), unstructured, false)
}
