// Package spam holds what every spam-scanner client shares: the request (the
// message and its envelope), the result (score, tests, verdict), the Scanner
// interface, running several scanners at once and combining their results the
// way amavis does (Amavis::SpamControl: each scanner's score, multiplied by
// its score_factor, is added to the recipient's spam level; each scanner's
// test list is appended in scanner order), and rendering a test list the way
// amavis writes it into X-Spam-Status (tests=[...]).
//
// The clients live in subpackages: spamd (SpamAssassin's spamd, SPAMC/1.5)
// and rspamd (rspamd's HTTP /checkv2). Both are our own code: the Go clients
// that exist cannot be had here or are unmaintained (go-libraries.md §1 item
// 10, §2.10), and each protocol is small.
//
// Levels, header fields, subject tags, local recipients and destinies are not
// decided here; the policy stage reads a Result.
package spam

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mavis-filter/mavis/internal/mail"
)

// Request is one message to check. Message holds the whole message as
// received (header section and body, CRLF line ends), Size bytes long.
// Message must allow concurrent ReadAt calls (mail.Spool's reader does), so
// that several scanners can read it at the same time.
type Request struct {
	LogID   string
	Message io.ReaderAt
	Size    int64

	MailFrom string   // envelope sender without brackets, "" = null sender
	Rcpts    []string // envelope recipients without brackets

	ClientIP   string // original SMTP client (XFORWARD ADDR)
	ClientHelo string // its HELO (XFORWARD HELO)
	ClientName string // its reverse DNS name (XFORWARD NAME)
	QueueID    string // the MTA's queue id (XFORWARD IDENT)
	AuthUser   string // SASL login of the client (XFORWARD LOGIN), rspamd "User"

	// User selects SpamAssassin per-user preferences (amavis sa_username,
	// spamd "User:" header). Empty: the scanner's configured default.
	User string

	// PolicyBank is amavis's policy_bank_path, handed to SpamAssassin as
	// X-Amavis-PolicyBank.
	PolicyBank string
	// AVTests are the "AV.<name>=<score>" pseudo tests already given by
	// virus scanners, handed to SpamAssassin as X-Amavis-AV-Status.
	AVTests []string
}

// NewRequest builds a Request from a received message.
func NewRequest(m *mail.Message) (*Request, error) {
	if m == nil || m.Body == nil {
		return nil, errors.New("spam: message without body")
	}
	return &Request{
		LogID:      m.LogID,
		Message:    m.Body.Reader(),
		Size:       m.Body.Size(),
		MailFrom:   m.Envelope.MailFrom,
		Rcpts:      m.RecipientAddrs(),
		ClientIP:   m.Client.Addr,
		ClientHelo: m.Client.Helo,
		ClientName: m.Client.Name,
		QueueID:    m.Client.Ident,
		AuthUser:   m.Client.Login,
	}, nil
}

// Test is one rule that hit, with its score as the scanner reports it (not
// multiplied by the score factor, as in amavis).
type Test struct {
	Name  string
	Score float64
	// NoScore is set when the scanner reported the name only (spamd
	// SYMBOLS); the test is then written without "=score".
	NoScore bool
}

// Result is one scanner's verdict on one message.
type Result struct {
	Scanner string // the scanner's configured name

	// Score is the scanner's score multiplied by its score factor: what
	// amavis adds to each recipient's spam level.
	Score float64
	// Required is the scanner's own threshold (spamd required_score, rspamd
	// required_score × score factor, as amavis reports it). amavis's levels
	// do not use it.
	Required float64
	// Tests are the rules that hit, sorted by name.
	Tests []Test
	// Autolearn is SpamAssassin's AUTOLEARN tag ("no", "disabled", "ham",
	// "spam", ...) when the scanner reports it; empty otherwise (amavis then
	// writes autolearn=unavailable).
	Autolearn string
	// IsSpam is the scanner's own verdict (spamd "Spam: True", rspamd an
	// action that means spam).
	IsSpam bool
	// Action is rspamd's action ("no action", "add header", "reject", ...).
	Action string
	// Skipped is non-empty when the scanner did not look at the message (for
	// instance "too big"); Score is then 0 and Tests empty.
	Skipped string
	// Truncated is non-zero when only the first Truncated bytes of the
	// message were sent (amavis's sa_mail_body_size_limit).
	Truncated int64
	// Report is the scanner's textual report (spamd REPORT), if any.
	Report string
	// Elapsed is the wall time of the check.
	Elapsed time.Duration
}

// Scanner is one configured spam scanner.
type Scanner interface {
	// Name is the scanner's configured name (amavis's @spam_scanners name),
	// used in logs and Result.Scanner.
	Name() string
	// Check checks one message. It returns an error when the scanner could
	// not give a verdict (connection, protocol, timeout); it never guesses.
	// It returns when ctx is done, at the latest.
	Check(ctx context.Context, req *Request) (*Result, error)
}

// Combine merges the results of several scanners as amavis does: scores
// are summed (each already multiplied by its scanner's score factor), test
// lists are concatenated in scanner order. Nil and skipped results add
// nothing. Required, Action and Autolearn come from the first result that
// has them; IsSpam is true when any scanner says spam; Elapsed is the
// longest (scanners run concurrently). Combine returns nil for no results.
func Combine(results []*Result) *Result {
	var out *Result
	var names, skipped, reports []string
	for _, r := range results {
		if r == nil {
			continue
		}
		if out == nil {
			out = &Result{}
		}
		names = append(names, r.Scanner)
		if r.Elapsed > out.Elapsed {
			out.Elapsed = r.Elapsed
		}
		if r.Skipped != "" {
			skipped = append(skipped, r.Scanner+": "+r.Skipped)
			continue
		}
		out.Score += r.Score
		out.Tests = append(out.Tests, r.Tests...)
		if out.Required == 0 {
			out.Required = r.Required
		}
		if out.Action == "" {
			out.Action = r.Action
		}
		if out.Autolearn == "" {
			out.Autolearn = r.Autolearn
		}
		if r.Truncated > out.Truncated {
			out.Truncated = r.Truncated
		}
		out.IsSpam = out.IsSpam || r.IsSpam
		if r.Report != "" {
			reports = append(reports, r.Report)
		}
	}
	if out == nil {
		return nil
	}
	out.Scanner = strings.Join(names, ",")
	if len(skipped) == len(names) {
		out.Skipped = strings.Join(skipped, "; ")
	}
	out.Report = strings.Join(reports, "\n")
	return out
}

// Outcome is one scanner's answer in CheckAll: a result or an error.
type Outcome struct {
	Scanner string
	Result  *Result
	Err     error
}

// CheckAll runs the scanners concurrently on the same request and returns
// their combined result (nil when none succeeded) and every scanner's outcome
// in scanner order. A failed scanner contributes nothing, as in amavis
// ("spam scanner failed" is logged and the message continues unscored by
// it); the caller logs the errors and decides what a failure means.
func CheckAll(ctx context.Context, scanners []Scanner, req *Request) (*Result, []Outcome) {
	outs := make([]Outcome, len(scanners))
	var wg sync.WaitGroup
	for i, s := range scanners {
		outs[i].Scanner = s.Name()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.Check(ctx, req)
			if err != nil {
				outs[i].Err = fmt.Errorf("spam scanner %s: %w", s.Name(), err)
				return
			}
			outs[i].Result = r
		}()
	}
	wg.Wait()
	results := make([]*Result, 0, len(outs))
	for _, o := range outs {
		if o.Result != nil {
			results = append(results, o.Result)
		}
	}
	return Combine(results), outs
}

// FormatScore renders a number as Perl prints it (%.15g; no trailing zeros,
// no "-0"): 1000 → "1000", -0.001 → "-0.001", 2.2 → "2.2". amavis writes test
// scores this way.
func FormatScore(v float64) string {
	if v == 0 || math.IsNaN(v) {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', 15, 64)
}

// FormatTests renders a test list as amavis writes it between the brackets
// of X-Spam-Status "tests=[...]": names (with "=score" when withScores and
// the test has a score) separated by ", " ("GTUBE=1000, NO_RECEIVED=-0.001").
// amavis with SpamAssassin in-process writes scores; with its SpamdClient
// (SYMBOLS) it has only names ("GTUBE, NO_RECEIVED"). An empty list gives "".
//
// amavis allows folding the field after each comma; FoldableTests gives the
// same list with the fold points marked.
func FormatTests(tests []Test, withScores bool) string {
	return joinTests(tests, withScores, ", ")
}

// FoldableTests is FormatTests with amavis's fold points marked: ",\n "
// between tests, the form amavis hands to its structured header wrapper
// (EditHeader::hdr with structured=1, which joins pieces up to 78 columns and
// breaks only at a "\n").
func FoldableTests(tests []Test, withScores bool) string {
	return joinTests(tests, withScores, ",\n ")
}

func joinTests(tests []Test, withScores bool, sep string) string {
	var b strings.Builder
	for i, t := range tests {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(t.Name)
		if withScores && !t.NoScore {
			b.WriteByte('=')
			b.WriteString(FormatScore(t.Score))
		}
	}
	return b.String()
}
