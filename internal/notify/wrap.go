package notify

import (
	"mime"
	"strings"
)

// displayedLength is the width of s when it starts at column ind, with TABs
// advancing to the next multiple of 8.
func displayedLength(s string, ind int) int {
	for _, r := range s {
		if r == '\t' {
			ind += 8 - ind%8
		} else {
			ind++
		}
	}
	return ind
}

func isWS(c byte) bool { return c == ' ' || c == '\t' }

func allWhite(s string) bool { return strings.Trim(s, " \t") == "" }

// wrapChunks splits a plain (unstructured) text into unbreakable chunks,
// each starting with one blank (except the first) and carrying its trailing
// blanks but the last one before the next word.
func wrapChunks(s string) []string {
	var out []string
	i0 := 0
	for i0 < len(s) && isWS(s[i0]) {
		i0++
	}
	if i0 == len(s) {
		return nil
	}
	start, p := 0, i0
	for {
		j := p
		for j < len(s) && !isWS(s[j]) {
			j++
		}
		k := j
		for k < len(s) && isWS(s[k]) {
			k++
		}
		if k == len(s) {
			return append(out, s[start:k])
		}
		out = append(out, s[start:k-1])
		start, p = k-1, k
	}
}

// wrapString folds str into lines of at most maxLen display columns, as
// amavis's wrap_string: every line gets prefix; a continuation line's first
// blank is replaced by indent when indentSet; an empty indent means a plain
// text wrap (blanks at the fold are dropped). structured allows breaks only
// where str already has a newline.
func wrapString(str string, maxLen int, prefix, indent string, indentSet, structured bool) string {
	var chunks []string
	if structured {
		for strings.HasPrefix(strings.TrimLeft(str, " \t"), "\n") {
			i := strings.IndexByte(str, '\n')
			str = str[:i] + str[i+1:]
		}
		lines := strings.Split(str, "\n")
		var b strings.Builder
		for i, l := range lines {
			if i > 0 && !allWhite(l) {
				b.WriteByte('\n')
				if !isWS(l[0]) {
					b.WriteByte(' ')
				}
			}
			b.WriteString(l)
		}
		chunks = strings.Split(b.String(), "\n")
	} else {
		var b strings.Builder
		for i, l := range strings.Split(str, "\n") {
			if i > 0 && (l == "" || !isWS(l[0])) {
				b.WriteByte(' ')
			}
			b.WriteString(l)
		}
		chunks = wrapChunks(b.String())
	}
	plain := indentSet && indent == ""
	var result, cur strings.Builder // cur is the line being assembled
	curWhite := true                // cur holds only blanks
	sInd := displayedLength(prefix, 0)
	contin := false
	add := func(t string) {
		cur.WriteString(t)
		if !allWhite(t) {
			curWhite = false
		}
	}
	flush := func() {
		if contin {
			result.WriteByte('\n')
		} else {
			contin = true
		}
		line := cur.String()
		if plain {
			line = strings.TrimRight(line, " \t")
		}
		result.WriteString(prefix + line)
		cur.Reset()
		curWhite = true
		sInd = displayedLength(prefix, 0)
	}
	// pending holds a chunk (or blanks) pushed back for the next round.
	pending, havePending := "", false
	for i := 0; i < len(chunks) || havePending; {
		var chunk string
		if havePending {
			chunk, havePending = pending, false
		} else {
			chunk = chunks[i]
			i++
		}
		more := i < len(chunks)
		if indentSet && contin && cur.Len() == 0 && chunk != "" && isWS(chunk[0]) {
			chunk = indent + chunk[1:]
		}
		l := displayedLength(chunk, sInd)
		if l <= maxLen || (!more && curWhite) {
			add(chunk)
			sInd = l
			continue
		}
		end := len(chunk)
		for end > 0 && isWS(chunk[end-1]) {
			end--
		}
		solid, white := chunk[:end], chunk[end:]
		minL := displayedLength(solid, sInd)
		switch {
		case more && (minL <= maxLen || curWhite):
			add(solid)
			sInd = minL
			if !plain {
				for white != "" {
					d := displayedLength(white[:1], sInd)
					if d > maxLen {
						break
					}
					add(white[:1])
					sInd = d
					white = white[1:]
				}
				if white != "" { // carried over to the next chunk
					chunks[i] = white + chunks[i]
				}
			}
		case curWhite: // cannot happen; absorb rather than loop
			add(chunk)
			sInd = l
		default:
			flush()
			pending, havePending = chunk, true
		}
	}
	if !curWhite {
		flush()
	}
	return result.String()
}

// wrapSMTPResp splits a reply at its newlines (and at 510 octets) into
// reply lines that all carry the code and the enhanced status code, the
// RFC 2034 way: "554-5.7.0 first", "554 5.7.0 last".
func wrapSMTPResp(resp string) []string {
	const maxLen = 510
	code, rest := resp, ""
	if len(resp) >= 3 {
		code, rest = resp[:3], resp[3:]
	}
	if strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "-") {
		rest = rest[1:]
	}
	enh := ""
	if f, tail, ok := strings.Cut(rest, " "); ok && isEnhanced(f) {
		enh, rest = f+" ", tail
	} else if isEnhanced(rest) {
		enh, rest = rest, ""
	}
	lead := len(code) + 1 + len(enh)
	var out []string
	for len(rest) > maxLen-lead || strings.Contains(rest, "\n") {
		head := rest
		if len(head) > maxLen-lead {
			head = head[:maxLen-lead]
		}
		if i := strings.IndexByte(head, '\n'); i >= 0 {
			head = head[:i+1]
		}
		rest = rest[len(head):]
		out = append(out, code+"-"+enh+strings.TrimSuffix(head, "\n"))
	}
	return append(out, code+" "+enh+rest)
}

func isEnhanced(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || parts[0][0] < '2' || parts[0][0] > '5' {
		return false
	}
	for _, p := range parts[1:] {
		if p == "" || len(p) > 3 || !isDigits(p) {
			return false
		}
	}
	return true
}

// encodedFields are the header fields whose non-ASCII text amavis encodes
// as RFC 2047 encoded-words.
func encodedField(name string) bool {
	switch strings.ToLower(name) {
	case "subject", "comments", "from", "sender", "to", "cc",
		"resent-from", "resent-sender", "resent-to", "resent-cc":
		return true
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

// headerField renders one header field as amavis's hdr(): non-ASCII text
// in Subject/From/To/Cc/... is Q-encoded (unless smtputf8), a field longer
// than 78 characters is folded at blanks (continuation lines start with
// wrapChar when set), lines are cut at 998 characters. The result ends in
// "\n".
func headerField(name, body string, wrapChar string, wrapSet, smtputf8 bool) string {
	nb := []byte(name)
	for i, c := range nb {
		if c < 0x21 || c > 0x7e || c == ':' {
			nb[i] = '?'
		}
	}
	name = string(nb)
	if !isASCII(body) && !smtputf8 && encodedField(name) {
		body = strings.ReplaceAll(strings.ReplaceAll(body, "\n ", " "), "\n\t", "\t")
		body = strings.TrimSuffix(body, "\n")
		lines := strings.Split(body, "\n")
		for i, l := range lines {
			if !isASCII(l) {
				lines[i] = mime.QEncoding.Encode("UTF-8", l)
			}
		}
		body = strings.Join(lines, "\n")
	}
	str := name + ":"
	if body != "" && !isWS(body[0]) {
		str += " "
	}
	str += body
	if len(str) > 78 {
		str = wrapString(str, 78, "", wrapChar, wrapSet, false)
	}
	if len(str) > 998 {
		lines := strings.Split(str, "\n")
		for i, l := range lines {
			if len(l) > 998 {
				lines[i] = l[:995] + "..."
			}
		}
		str = strings.Join(lines, "\n")
	}
	return strings.TrimRight(str, "\n") + "\n"
}
