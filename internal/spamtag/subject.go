package spamtag

import (
	"bytes"
	"mime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding/charmap"

	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/policy"
)

// DefaultVirusSubjectTag and DefaultUncheckedSubjectTag are amavis's
// subject tags for CC_VIRUS and CC_UNCHECKED ($undecipherable_subject_tag).
const (
	DefaultVirusSubjectTag     = "***INFECTED*** "
	DefaultUncheckedSubjectTag = "***UNCHECKED*** "
)

// ChooseTag picks the subject tag for a recipient as amavis does with
// %subject_tag_maps_by_ccat: the recipient's categories are walked most
// important first (then CC_CATCHALL), and the first category whose tag is
// not empty wins. tag returns the recipient's tag for one category ("" for
// no entry, undef or empty): by default CC_VIRUS "***INFECTED*** ",
// CC_UNCHECKED $undecipherable_subject_tag, CC_SPAMMY,1
// @spam_subject_tag3_maps, CC_SPAMMY @spam_subject_tag2_maps
// ($sa_spam_subject_tag, Debian "***SPAM*** "), CC_CLEAN,1
// @spam_subject_tag_maps ($sa_spam_subject_tag1); CC_BANNED and CC_SPAM
// have none. Tags apply to local recipients only; the caller checks.
func ChooseTag(cats []policy.Category, tag func(policy.Category) string) string {
	for _, c := range cats {
		if t := tag(c); t != "" {
			return t
		}
	}
	return tag(policy.Category{Major: policy.CCCatchAll})
}

// TagVars are the message facts a subject tag's placeholders can show.
type TagVars struct {
	Hostname   string    // _HOSTNAME_: $myhostname (ASCII or UTF-8 form, as the message allows)
	RxTime     time.Time // _DATE_ (in RxTime's location), _U_ (UTC)
	LogID      string    // _LOGID_
	MailID     string    // _MAILID_
	SubjPrefix string    // _SUBJPREFIX_: a scanner-supplied prefix, usually ""
}

// tagNames are the placeholders, in amavis's alternation order.
var tagNames = []string{"SCORE", "REQD", "YESNO", "YESNOCAPS", "HOSTNAME",
	"DATE", "U", "LOGID", "MAILID", "SUBJPREFIX"}

// ExpandTag replaces the placeholders amavis knows in a subject tag:
// _SCORE_ (the level, three decimals), _REQD_ (the tag2 level, "-" when
// undef), _YESNO_ / _YESNOCAPS_ (Yes/No by tag2), _HOSTNAME_, _DATE_ (RFC
// 2822 local time), _U_ (ISO 8601 UTC), _LOGID_, _MAILID_, _SUBJPREFIX_.
// Anything else is left as it is.
func ExpandTag(tag string, in Input, lv Levels, r RcptSpam, v TagVars) string {
	if !strings.Contains(tag, "_") {
		return tag
	}
	value := func(name string) string {
		switch name {
		case "SCORE":
			return fmt3(in.level())
		case "REQD":
			if !lv.Tag2.Set {
				return "-"
			}
			return fmt3(lv.Tag2.V)
		case "YESNO":
			if r.DoTag2 {
				return "Yes"
			}
			return "No"
		case "YESNOCAPS":
			if r.DoTag2 {
				return "YES"
			}
			return "NO"
		case "HOSTNAME":
			return v.Hostname
		case "DATE":
			return rfc2822Time(v.RxTime)
		case "U":
			return v.RxTime.UTC().Format("20060102T150405Z")
		case "LOGID":
			return v.LogID
		case "MAILID":
			return v.MailID
		case "SUBJPREFIX":
			return v.SubjPrefix
		}
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(tag); {
		if tag[i] == '_' {
			if name, ok := placeholderAt(tag[i+1:]); ok {
				b.WriteString(value(name))
				i += len(name) + 2
				continue
			}
		}
		b.WriteByte(tag[i])
		i++
	}
	return b.String()
}

// placeholderAt finds a placeholder name followed by '_' at the start of s.
func placeholderAt(s string) (string, bool) {
	for _, n := range tagNames {
		if strings.HasPrefix(s, n+"_") {
			return n, true
		}
	}
	return "", false
}

// rfc2822Time is amavis's rfc2822_timestamp: "%a, %e %b %Y %H:%M:%S
// +hhmm (ZONE)" in t's location.
func rfc2822Time(t time.Time) string {
	s := t.Format("Mon, _2 Jan 2006 15:04:05 -0700")
	if zone, _ := t.Zone(); strings.TrimSpace(zone) != "" {
		s += " (" + zone + ")"
	}
	return s
}

// minTagRemoval: an identical tag already in the subject is removed only
// when the tag has at least this many characters.
const minTagRemoval = 3

// EditSubject returns the Subject field amavis writes in place of raw (one
// Subject field of the message as received, name and line ends included)
// for a recipient whose subject tag is tag (expanded, see ExpandTag): the
// subject is decoded (RFC 2047 words; raw 8-bit text as UTF-8, else KOI8-U
// when it looks Cyrillic, else Windows-1252), copies of the tag in it are
// removed (tags of 3 characters or more), the tag is put in front, and the
// field is written again: RFC 2047 Q-encoded (UTF-8) when not ASCII unless
// smtputf8, refolded when longer than 78 bytes. amavis edits every Subject
// field of the message this way. An empty tag returns raw unchanged.
func EditSubject(raw []byte, tag string, smtputf8 bool) mail.Field {
	name, body, ok := splitField(raw)
	if !ok || tag == "" {
		return mail.Field{Name: name, Raw: raw}
	}
	// one leading blank belongs to the field syntax
	if body != "" && isBlank(body[0]) {
		body = body[1:]
	}
	subj := decodeSubject(body)
	tag = validUTF8(tag)
	if utf8.RuneCountInString(tag) >= minTagRemoval {
		subj = strings.ReplaceAll(subj, tag, "")
	}
	return buildField(name, " "+tag+subj, unstructured, smtputf8)
}

// NewSubject is the Subject field amavis inserts for a tagged recipient
// when the message has none: the tag without trailing blanks.
func NewSubject(tag string, smtputf8 bool) mail.Field {
	tag = strings.TrimRight(validUTF8(tag), " \t")
	return buildField("Subject", tag, unstructured, smtputf8)
}

// splitField splits a raw header field into its name and its body (after
// the colon, line ends as LF, the final one removed).
func splitField(raw []byte) (name, body string, ok bool) {
	i := bytes.IndexByte(raw, ':')
	if i <= 0 {
		return "", "", false
	}
	name = strings.TrimRight(string(raw[:i]), " \t")
	if name == "" {
		return "", "", false
	}
	body = strings.ReplaceAll(string(raw[i+1:]), "\r\n", "\n")
	body = strings.TrimSuffix(body, "\n")
	return name, body, true
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// decodeSubject is amavis's safe_decode_mime: text as characters (UTF-8).
func decodeSubject(s string) string {
	hasWords := strings.Contains(s, "=?") && strings.Contains(s[strings.Index(s, "=?"):], "?=")
	if isASCII(s) && !hasWords {
		return s
	}
	if !isASCII(s) {
		s = decode8bit(s)
	}
	if hasWords {
		// the decoder unfolds the field
		flat := strings.NewReplacer("\r", "", "\n", "").Replace(s)
		if d, err := wordDecoder.DecodeHeader(flat); err == nil {
			s = d
		}
	}
	return validUTF8(s)
}

// decode8bit reads raw 8-bit text as amavis guesses it: UTF-8 when valid,
// KOI8-U when it is mostly Cyrillic KOI8 letters, else Windows-1252.
func decode8bit(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	if looksKOI8(s) {
		if d, err := charmap.KOI8U.NewDecoder().String(s); err == nil {
			return d
		}
	}
	if d, err := charmap.Windows1252.NewDecoder().String(s); err == nil {
		return d
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// looksKOI8 is amavis's KOI8 guess: at least 4 bytes, no UTF-8
// continuation-range bytes other than KOI8-U letters, two thirds Cyrillic
// KOI8 letters, at most 5 ASCII letters.
func looksKOI8(s string) bool {
	if len(s) < 4 {
		return false
	}
	cyr, latin := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80 && c <= 0xa2, c == 0xa5, c >= 0xa8 && c <= 0xac,
			c >= 0xae && c <= 0xb2, c == 0xb5, c >= 0xb8 && c <= 0xbc,
			c == 0xbe, c == 0xbf:
			return false
		case c == 0xa3, c == 0xa4, c == 0xa6, c == 0xa7, c == 0xad, c == 0xb3,
			c == 0xb4, c == 0xb6, c == 0xb7, c == 0xbd, c >= 0xc0:
			cyr++
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
			latin++
		}
	}
	return float64(cyr) >= float64(len(s))*2/3 && latin <= 5
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
