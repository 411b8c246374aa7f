package spamd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mavis-filter/mavis/internal/check/spam"
)

// Protocol limits for what spamd sends back.
const (
	maxReplyLine    = 8 << 10 // one status or header line
	maxReplyHeaders = 64      // header lines in the reply
)

// reply is spamd's answer: "SPAMD/1.1 0 EX_OK", headers, a body.
type reply struct {
	Version  string // "SPAMD/1.1"
	Code     int    // 0 = EX_OK
	Message  string // "EX_OK", "PONG", or an error text
	Spam     string // the "Spam:" header, "True ; 1000.0 / 5.0"
	Body     []byte
	HasSpam  bool
	IsSpam   bool
	Score    float64
	Required float64
}

var errReplyTooLarge = errors.New("spamd reply too large")

// readLine reads one line (LF or CRLF ended) of at most maxReplyLine bytes,
// without its line end. At EOF with nothing read it returns io.EOF.
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(b)+len(chunk) > maxReplyLine {
			return "", fmt.Errorf("spamd reply line longer than %d bytes", maxReplyLine)
		}
		b = append(b, chunk...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && len(b) > 0 {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return string(b), nil
}

// readReply reads and checks spamd's reply. A non-zero response code is an
// error that carries spamd's message. maxBody bounds the body.
func readReply(r *bufio.Reader, maxBody int64) (*reply, error) {
	line, err := readLine(r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("spamd closed the connection without a reply")
		}
		return nil, fmt.Errorf("reading spamd status line: %w", err)
	}
	rp := &reply{}
	if err := rp.parseStatus(line); err != nil {
		return nil, err
	}
	if rp.Code != 0 {
		return rp, fmt.Errorf("spamd failed: %s %d %s", rp.Version, rp.Code, rp.Message)
	}
	contentLength := int64(-1)
	for n := 0; ; n++ {
		if n > maxReplyHeaders {
			return nil, errors.New("spamd reply has too many header lines")
		}
		line, err := readLine(r)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break // CHECK of old protocol versions, PING: nothing more
			}
			return nil, fmt.Errorf("reading spamd reply header: %w", err)
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("bad spamd reply header line %q", trimForError(line))
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("bad spamd Content-length %q", trimForError(value))
			}
			contentLength = n
		case "spam":
			rp.Spam = value
			if err := rp.parseSpam(value); err != nil {
				return nil, err
			}
		}
	}
	if contentLength > maxBody {
		return nil, fmt.Errorf("%w: Content-length %d > %d", errReplyTooLarge, contentLength, maxBody)
	}
	if contentLength >= 0 {
		rp.Body = make([]byte, contentLength)
		if _, err := io.ReadFull(r, rp.Body); err != nil {
			return nil, fmt.Errorf("reading spamd reply body (%d bytes): %w", contentLength, err)
		}
		return rp, nil
	}
	body, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading spamd reply body: %w", err)
	}
	if int64(len(body)) > maxBody {
		return nil, fmt.Errorf("%w: more than %d bytes", errReplyTooLarge, maxBody)
	}
	rp.Body = body
	return rp, nil
}

// parseStatus parses "SPAMD/1.1 0 EX_OK".
func (rp *reply) parseStatus(line string) error {
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], "SPAMD/") {
		return fmt.Errorf("bad spamd status line %q", trimForError(line))
	}
	code, err := strconv.Atoi(f[1])
	if err != nil || code < 0 {
		return fmt.Errorf("bad spamd status line %q", trimForError(line))
	}
	rp.Version, rp.Code = f[0], code
	if len(f) > 2 {
		_, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		_, rest, _ = strings.Cut(strings.TrimSpace(rest), " ")
		rp.Message = strings.TrimSpace(rest)
	}
	return nil
}

// parseSpam parses the value of "Spam: True ; 1000.0 / 5.0".
func (rp *reply) parseSpam(v string) error {
	verdict, rest, ok := strings.Cut(v, ";")
	scores, reqd, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		return fmt.Errorf("bad spamd Spam header %q", trimForError(v))
	}
	switch strings.ToLower(strings.TrimSpace(verdict)) {
	case "true", "yes":
		rp.IsSpam = true
	case "false", "no":
	default:
		return fmt.Errorf("bad spamd Spam header %q", trimForError(v))
	}
	s, err := parseNumber(scores)
	if err != nil {
		return fmt.Errorf("bad spamd Spam header %q", trimForError(v))
	}
	r, err := parseNumber(reqd)
	if err != nil {
		return fmt.Errorf("bad spamd Spam header %q", trimForError(v))
	}
	rp.HasSpam, rp.Score, rp.Required = true, s, r
	return nil
}

// parseNumber accepts decimal numbers only (no "NaN", "Inf" or hex).
func parseNumber(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "xXpPnNiI_") {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return strconv.ParseFloat(s, 64)
}

// parseSymbols parses a SYMBOLS body: "GTUBE,NO_RECEIVED,NO_RELAYS".
func parseSymbols(body []byte) []spam.Test {
	var tests []spam.Test
	for name := range strings.SplitSeq(string(body), ",") {
		name = strings.TrimSpace(name)
		if name == "" || !validRuleName(name) {
			continue
		}
		tests = append(tests, spam.Test{Name: name, NoScore: true})
	}
	sortTests(tests)
	return tests
}

// summaryLine is one line of SpamAssassin's _SUMMARY_ table in a report:
// "%4.1f %-22s %s" (scores of 10 and more "%4.0f"): " 2.2 LONGWORDS  ...",
// "1000 GTUBE  BODY: ...", "-0.0 NO_RECEIVED ...". Description continuation
// lines are indented by 27 or more spaces.
var summaryLine = regexp.MustCompile(`^ {0,3}(-?[0-9]+(?:\.[0-9]+)?) +([A-Za-z0-9_]+)(?: |$)`)

// parseReport extracts the tests with their scores from a REPORT body. The
// table follows a "---- ----..." ruler in SpamAssassin's default report
// template; without a ruler every line is tried, but only upper-case rule
// names are taken (so that preview text is not mistaken for a rule). Scores
// have the report's precision (one decimal below 10, none above).
func parseReport(body []byte) []spam.Test {
	text := string(body)
	lines := strings.Split(text, "\n")
	start, strict := 0, true
	for i, l := range lines {
		if strings.HasPrefix(l, "---- ") {
			start, strict = i+1, false
			break
		}
	}
	var tests []spam.Test
	seen := map[string]bool{}
	for _, l := range lines[start:] {
		l = strings.TrimSuffix(l, "\r")
		m := summaryLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		name := m[2]
		if strict && strings.ToUpper(name) != name {
			continue
		}
		if !validRuleName(name) || seen[name] {
			continue
		}
		score, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			continue
		}
		seen[name] = true
		tests = append(tests, spam.Test{Name: name, Score: score})
	}
	sortTests(tests)
	return tests
}

// headersInfo is what HEADERS mode gets from the rewritten header section.
type headersInfo struct {
	Tests     []spam.Test
	Exact     bool // Tests carry SpamAssassin's own scores (X-Spam-Tests)
	Autolearn string
	Status    string // X-Spam-Status, unfolded
}

var (
	statusTests     = regexp.MustCompile(`(?:^|[\s,;])tests=((?:[A-Za-z0-9_]+(?:,[ \t]*)?)+)`)
	statusAutolearn = regexp.MustCompile(`(?:^|[\s,;])autolearn=([^\s,;]+)`)
)

// parseHeaders reads X-Spam-Status (tests=..., autolearn=...) from the header
// section spamd returns for HEADERS. If the site adds a field with the test
// scores (add_header all Tests _TESTSSCORES(,)_, giving X-Spam-Tests:
// "GTUBE=1000,NO_RECEIVED=-0.001"), its exact scores are used.
func parseHeaders(body []byte) headersInfo {
	var info headersInfo
	var testsField string
	for _, f := range unfoldFields(body) {
		name, value, ok := strings.Cut(f, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "x-spam-status":
			if info.Status == "" {
				info.Status = value
			}
		case "x-spam-tests":
			if testsField == "" {
				testsField = value
			}
		}
	}
	if m := statusAutolearn.FindStringSubmatch(info.Status); m != nil {
		info.Autolearn = m[1]
	}
	if testsField != "" {
		info.Tests = parseTestsScores(testsField)
		if info.Tests != nil {
			info.Exact = true
			return info
		}
	}
	if m := statusTests.FindStringSubmatch(info.Status); m != nil {
		var names []byte
		for _, c := range []byte(m[1]) {
			if c != ' ' && c != '\t' {
				names = append(names, c)
			}
		}
		if string(names) != "none" {
			info.Tests = parseSymbols(names)
		}
	}
	return info
}

// parseTestsScores parses "A=1,B=-0.001" (SpamAssassin's _TESTSSCORES(,)_).
// It returns nil when the text is not such a list (or is "none").
func parseTestsScores(v string) []spam.Test {
	var tests []spam.Test
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, score, ok := strings.Cut(item, "=")
		if !ok || !validRuleName(name) {
			return nil
		}
		s, err := parseNumber(score)
		if err != nil {
			return nil
		}
		tests = append(tests, spam.Test{Name: name, Score: s})
	}
	sortTests(tests)
	return tests
}

// unfoldFields splits a header section into unfolded fields.
func unfoldFields(b []byte) []string {
	var fields []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			fields = append(fields, cur.String())
			cur.Reset()
		}
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			flush()
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur.Len() > 0 {
				cur.WriteString(line)
			}
			continue
		}
		flush()
		cur.WriteString(line)
	}
	flush()
	return fields
}

// validRuleName accepts SpamAssassin rule names: letters, digits, '_' (and
// '.', ':' and '-' which some plugins use), no '=' or ',' which would break
// amavis's test list.
func validRuleName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '_' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

func sortTests(t []spam.Test) {
	slices.SortStableFunc(t, func(a, b spam.Test) int { return strings.Compare(a.Name, b.Name) })
}

func trimForError(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
