package spamtag

import (
	"bytes"
	"strings"

	"github.com/mavis-filter/mavis/internal/mail"
)

// Header field limits, RFC 5322 §2.1.1 and amavis's wrap width.
const (
	foldWidth   = 78  // amavis wraps added fields at 78 columns
	maxLineLen  = 998 // longer lines are cut to 995 bytes plus "..."
	truncMarker = "..."
)

// foldMode tells buildField where it may fold a field body, as the
// $structured argument of amavis's header conditioning (EditHeader::hdr).
type foldMode int

const (
	// unstructured: existing folds are undone and the field is refolded at
	// whitespace, but only when it is longer than 78 bytes.
	unstructured foldMode = iota
	// structured: the body marks the allowed fold points with "\n"; the
	// pieces are joined into lines of up to 78 columns.
	structured
	// prefolded: the body's folding is kept (only sanitized).
	prefolded
)

// buildField turns a field name and a body (LF marking folds, no final line
// end) into a complete header field with CRLF line ends, the way amavis
// conditions a field it adds: a space after the colon when the body does
// not start with a blank, RFC 2047 Q-encoding of non-ASCII Subject, From,
// To, Cc, Sender and Comments bodies unless smtputf8, folding by mode,
// lines longer than 998 bytes cut, bare CRs dropped.
func buildField(name, body string, mode foldMode, smtputf8 bool) mail.Field {
	name = sanitizeName(name)
	if !isASCII(body) && !smtputf8 && encodesNonASCII(name) {
		body = encodeBody(body)
	}
	str := name + ":"
	if body != "" && body[0] != ' ' && body[0] != '\t' {
		str += " "
	}
	str += body
	switch mode {
	case prefolded:
		str = cleanFolds(str)
	case structured:
		str = wrapString(str, foldWidth, true)
	default:
		if len(str) > foldWidth {
			str = wrapString(str, foldWidth, false)
		} else {
			// kept as it is, but never with an all-blank continuation line
			// or one without its blank (amavis's forwarding fixes these)
			str = addFoldSpace(dropBlankFolds(str))
		}
	}
	str = truncateLines(str)
	str = strings.TrimRight(str, "\n")
	if strings.Contains(str, "\r") {
		// a bare CR is never written (amavis drops them when it
		// forwards); what was a CR-only line must not become blank
		str = addFoldSpace(dropBlankFolds(strings.ReplaceAll(str, "\r", "")))
	}
	raw := strings.ReplaceAll(str, "\n", "\r\n") + "\r\n"
	return mail.Field{Name: name, Raw: []byte(raw)}
}

// sanitizeName replaces what may not appear in a field name by '?'.
func sanitizeName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if c < 0x21 || c > 0x7e || c == ':' {
			b[i] = '?'
		}
	}
	return string(b)
}

// encodesNonASCII: the fields amavis RFC 2047-encodes when their body is
// not ASCII.
func encodesNonASCII(name string) bool {
	n := strings.ToLower(name)
	n = strings.TrimPrefix(n, "resent-")
	switch n {
	case "from", "sender", "to", "cc":
		return true
	case "subject", "comments":
		return !strings.HasPrefix(strings.ToLower(name), "resent-")
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// encodeBody unfolds a body and Q-encodes (UTF-8) each line that holds
// anything beyond ASCII text, as amavis does for Subject and friends.
func encodeBody(body string) string {
	body = unfoldLF(body)
	body = strings.TrimSuffix(body, "\n")
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		if !plainLine(l) {
			lines[i] = qEncode(l, "UTF-8")
		}
	}
	return strings.Join(lines, "\n")
}

// unfoldLF removes every LF that is followed by a blank.
func unfoldLF(s string) string {
	if !strings.Contains(s, "\n") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' && i+1 < len(s) && (s[i+1] == ' ' || s[i+1] == '\t') {
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// plainLine: ASCII without NUL, CR and LF.
func plainLine(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c == '\r' || c == '\n' || c >= 0x80 {
			return false
		}
	}
	return true
}

// qEncode renders octets as RFC 2047 Q encoded-words the way amavis does:
// a leading run of text ending in a blank and a trailing run starting with a
// blank stay as they are when they are plain; the middle is encoded in words
// of at most 75 characters, separated by a space. (Like amavis, a word may
// end inside a multi-byte character.)
func qEncode(s, charset string) string {
	prefix := "=?" + charset + "?Q?"
	const suffix = "?="
	// head: the longest plain prefix that ends in a blank
	head := ""
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !qPlain(c) {
			break
		}
		if c == ' ' || c == '\t' {
			head = s[:i+1]
		}
	}
	rest := s[len(head):]
	// tail: the shortest rest, i.e. the earliest blank after which
	// everything is plain
	tail := ""
	plainFrom := len(rest) // rest[plainFrom:] is all plain
	for plainFrom > 0 && qPlain(rest[plainFrom-1]) {
		plainFrom--
	}
	for i := plainFrom; i < len(rest); i++ {
		if rest[i] == ' ' || rest[i] == '\t' {
			tail = rest[i:]
			rest = rest[:i]
			break
		}
	}
	var enc strings.Builder
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c == ' ':
			enc.WriteByte('_')
		case c < 0x20 || c >= 0x7f || c == '=' || c == '?' || c == '_':
			enc.WriteByte('=')
			enc.WriteByte("0123456789ABCDEF"[c>>4])
			enc.WriteByte("0123456789ABCDEF"[c&15])
		default:
			enc.WriteByte(c)
		}
	}
	e := enc.String()
	maxLen := 75 - (len(prefix) + len(suffix)) - 2
	var out strings.Builder
	out.WriteString(head)
	// encoded words are separated by a blank, also from what precedes
	needBlank := head == "" || !isBlank(head[len(head)-1])
	for e != "" {
		if needBlank {
			out.WriteByte(' ')
		}
		needBlank = true
		n := qChunk(e, maxLen)
		out.WriteString(prefix)
		out.WriteString(e[:n])
		out.WriteString(suffix)
		e = e[n:]
	}
	out.WriteString(tail)
	return out.String()
}

// qPlain: amavis's [\001-\011\013\014\016-\177].
func qPlain(c byte) bool {
	return c != 0 && c != '\n' && c != '\r' && c < 0x80
}

// qChunk returns the length of the next encoded word's text: the longest
// prefix of at most maxLen+2 bytes that does not end inside an "=XX"
// escape (amavis: /^(.{0,max}[^=](?:[^=]|\z))/).
func qChunk(e string, maxLen int) int {
	for n := min(len(e), maxLen+2); n >= 1; n-- {
		// the match is .{0,max} [^=] ([^=] | \z)
		if n == len(e) {
			if e[n-1] != '=' {
				return n
			}
			continue
		}
		if n >= 2 && e[n-1] != '=' && e[n-2] != '=' {
			return n
		}
	}
	// cannot happen for encoded text; take one byte to make progress
	return 1
}

// cleanFolds is amavis's treatment of a prefolded body: blank lines before
// the first fold and all-blank continuation lines removed, a space put at
// the start of a continuation line that lacks one.
func cleanFolds(str string) string {
	for {
		i := strings.IndexByte(str, '\n')
		if i < 0 || strings.Trim(str[:i], " \t") != "" {
			break
		}
		str = str[:i] + str[i+1:]
	}
	str = dropBlankFolds(str)
	return addFoldSpace(str)
}

// dropBlankFolds removes each LF that is followed only by blanks up to the
// next LF or the end (amavis: s/\n(?=[ \t]*(\n|\z))//g).
func dropBlankFolds(str string) string {
	if !strings.Contains(str, "\n") {
		return str
	}
	var b strings.Builder
	for i := 0; i < len(str); i++ {
		if str[i] == '\n' {
			j := i + 1
			for j < len(str) && (str[j] == ' ' || str[j] == '\t') {
				j++
			}
			if j == len(str) || str[j] == '\n' {
				continue
			}
		}
		b.WriteByte(str[i])
	}
	return b.String()
}

// addFoldSpace inserts a space after each LF not followed by a blank.
func addFoldSpace(str string) string {
	if !strings.Contains(str, "\n") {
		return str
	}
	var b strings.Builder
	for i := 0; i < len(str); i++ {
		b.WriteByte(str[i])
		if str[i] == '\n' && (i+1 == len(str) || (str[i+1] != ' ' && str[i+1] != '\t')) {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// displayedLength is the column after writing s from column ind, a TAB
// advancing to the next multiple of 8 (amavis's displayed_length).
func displayedLength(s string, ind int) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\t' {
			ind += 8 - ind%8
		} else {
			ind++
		}
	}
	return ind
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func allBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isBlank(s[i]) {
			return false
		}
	}
	return true
}

// chunksStructured splits at the fold marks, after amavis's clean-up.
func chunksStructured(str string) []string {
	return strings.Split(cleanFolds(str), "\n")
}

// chunksUnstructured unfolds str and splits it into unbreakable pieces:
// each starts with one blank (the first with whatever precedes the first
// word), holds one word and the blanks after it except the last blank
// before the next word; the final piece keeps all trailing blanks.
func chunksUnstructured(str string) []string {
	str = strings.ReplaceAll(addFoldSpace(str), "\n", "")
	i := 0
	for i < len(str) && isBlank(str[i]) {
		i++
	}
	if i == len(str) {
		return nil
	}
	var out []string
	start, p := 0, i
	for {
		j := p
		for j < len(str) && !isBlank(str[j]) {
			j++
		}
		k := j
		for k < len(str) && isBlank(str[k]) {
			k++
		}
		if k == len(str) {
			return append(out, str[start:])
		}
		out = append(out, str[start:k-1])
		start, p = k-1, k
	}
}

// wrapString folds a header field (name included) into lines of at most
// width columns where it can, as amavis's wrap_string with an empty prefix
// and no indent: whitespace is neither added nor removed, only moved
// between the end of a line and the start of the next. A piece that does
// not fit on a line of its own stays whole (a longer line).
func wrapString(str string, width int, structuredBody bool) string {
	var chunks []string
	if structuredBody {
		chunks = chunksStructured(str)
	} else {
		chunks = chunksUnstructured(str)
	}
	var result bytes.Buffer
	var s strings.Builder
	col := 0
	contin := false
	sBlank := true // s holds only blanks (or nothing)
	flush := func() {
		if contin {
			result.WriteByte('\n')
		} else {
			contin = true
		}
		result.WriteString(s.String())
		s.Reset()
		col, sBlank = 0, true
	}
	appendS := func(piece string, newCol int) {
		s.WriteString(piece)
		col = newCol
		sBlank = sBlank && allBlank(piece)
	}
	for i := 0; i < len(chunks); {
		chunk := chunks[i]
		last := i == len(chunks)-1
		l := displayedLength(chunk, col)
		if l <= width || (last && sBlank) {
			appendS(chunk, l)
			i++
			continue
		}
		end := len(chunk)
		for end > 0 && isBlank(chunk[end-1]) {
			end--
		}
		if end == 0 {
			// an all-blank piece (only possible as the very first one):
			// keep it with what follows
			if !last {
				chunks[i+1] = chunk + chunks[i+1]
			} else {
				appendS(chunk, l)
			}
			i++
			continue
		}
		solid, white := chunk[:end], chunk[end:]
		minLen := displayedLength(solid, col)
		if !last && (minLen <= width || sBlank) {
			appendS(solid, minLen)
			for white != "" {
				d := displayedLength(white[:1], col)
				if d > width {
					break
				}
				appendS(white[:1], d)
				white = white[1:]
			}
			if white != "" {
				chunks[i+1] = white + chunks[i+1]
			}
			i++
			continue
		}
		// nothing more fits: end the line, retry the piece on a new one
		flush()
	}
	if !sBlank {
		flush()
	}
	return result.String()
}

// truncateLines cuts lines longer than 998 bytes to 995 bytes plus "...".
func truncateLines(str string) string {
	if len(str) <= maxLineLen {
		return str
	}
	lines := strings.Split(str, "\n")
	for i, l := range lines {
		if len(l) > maxLineLen {
			lines[i] = l[:maxLineLen-len(truncMarker)] + truncMarker
		}
	}
	return strings.Join(lines, "\n")
}
