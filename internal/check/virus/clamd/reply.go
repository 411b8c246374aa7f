package clamd

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Status is the verdict of one clamd reply.
type Status int

const (
	// Clean: clamd answered OK.
	Clean Status = iota
	// Found: clamd answered "<name> FOUND".
	Found
	// Failed: clamd answered with an error ("... ERROR", "UNKNOWN COMMAND",
	// "COMMAND READ TIMED OUT", or anything else it is not OK or FOUND).
	Failed
)

func (s Status) String() string {
	switch s {
	case Clean:
		return "clean"
	case Found:
		return "found"
	default:
		return "failed"
	}
}

// ErrSizeLimit is wrapped by errors for clamd's "INSTREAM size limit
// exceeded" answer: clamd's StreamMaxLength is lower than
// Config.StreamMaxLength.
var ErrSizeLimit = errors.New("clamd: INSTREAM size limit exceeded (clamd StreamMaxLength is lower than the client's stream_max_length)")

// ErrProtocol is wrapped by errors for replies the client cannot make sense
// of (a bad session id, a reply to a request never sent).
var ErrProtocol = errors.New("clamd: protocol error")

// Reply is one answer of clamd, for one streamed object or one scanned path.
type Reply struct {
	// Name labels what was scanned: the object's name for streams, the path
	// clamd names for path scans ("stream" when clamd gave no path).
	Name string
	// Status is the verdict.
	Status Status
	// Virus is the signature name for Found (as clamd gives it, e.g.
	// "Eicar-Signature.UNOFFICIAL").
	Virus string
	// Text is clamd's reply with the session id and the terminator removed.
	Text string
	// Truncated says the object was longer than Config.StreamMaxLength and
	// only its first StreamMaxLength bytes were streamed and scanned.
	Truncated bool
	// Size is the number of bytes streamed (streams only).
	Size int64
}

// SizeLimit reports whether the reply is clamd's "INSTREAM size limit
// exceeded. ERROR".
func (r Reply) SizeLimit() bool {
	return r.Status == Failed && strings.Contains(r.Text, "size limit exceeded")
}

// Line renders the reply as amavis logs clamd output: "<name>: <answer>".
func (r Reply) Line() string {
	switch r.Status {
	case Clean:
		return r.Name + ": OK"
	case Found:
		return r.Name + ": " + r.Virus + " FOUND"
	default:
		t := r.Text
		if p, rest, ok := cutPath(t); ok && p != "" {
			t = rest
		}
		return r.Name + ": " + t
	}
}

// maxReplyLen bounds one reply line (a path plus a signature name; clamd's
// own buffers are PATH_MAX-sized).
const maxReplyLen = 16 << 10

// ParseReply parses one clamd reply line (terminator removed or not). When
// session is true the line must carry clamd's "<id>: " prefix and its id is
// returned; otherwise id is 0.
func ParseReply(line string, session bool) (id int, r Reply, err error) {
	line = strings.TrimRight(line, "\x00\r\n")
	if len(line) > maxReplyLen {
		return 0, Reply{}, fmt.Errorf("%w: reply longer than %d bytes", ErrProtocol, maxReplyLen)
	}
	if session {
		// clamd ends a session with a bare error it cannot attribute (e.g.
		// "COMMAND READ TIMED OUT"): id 0, and never a verdict.
		num, rest, ok := strings.Cut(line, ": ")
		if !ok {
			return 0, Reply{Text: line, Status: Failed}, nil
		}
		n, convErr := strconv.Atoi(num)
		if convErr != nil || n <= 0 || num[0] == '+' {
			return 0, Reply{Text: line, Status: Failed}, nil
		}
		id, line = n, rest
	}
	return id, classify(line), nil
}

// classify turns the text of a reply into a Reply.
func classify(text string) Reply {
	r := Reply{Text: text, Status: Failed}
	path, rest, ok := cutPath(text)
	if ok {
		r.Name = path
	}
	switch {
	case ok && rest == "OK":
		r.Status = Clean
	case ok && strings.HasSuffix(rest, " FOUND"):
		name := strings.TrimSpace(strings.TrimSuffix(rest, " FOUND"))
		if name != "" {
			r.Status = Found
			r.Virus = name
		}
	}
	return r
}

// cutPath splits "<path>: <answer>" at the last ": " (paths may contain ": ",
// signature names and answers do not).
func cutPath(text string) (path, rest string, ok bool) {
	i := strings.LastIndex(text, ": ")
	if i < 0 {
		return "", text, false
	}
	return text[:i], text[i+2:], true
}
