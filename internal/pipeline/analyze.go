package pipeline

import (
	"context"
	"strconv"
	"time"

	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/policy"
)

// HeaderField is a header field the pipeline adds to a passed message.
type HeaderField struct {
	Name  string `json:"name"`
	Value string `json:"value"` // unfolded value
	Raw   []byte `json:"-"`     // the complete folded field with CRLF
}

// Analysis is what the checks found and what would be done, independent of
// delivery. `mavis check` prints it; Process acts on it.
type Analysis struct {
	Category policy.Category `json:"-"`
	CCat     string          `json:"content_category"`
	MailID   string          `json:"mail_id"`
	Size     int64           `json:"size"`
	// Findings are human-readable lines on what the checks saw.
	Findings []string `json:"findings"`
	// Add are the header fields added to every passed copy (in order, to be
	// prepended).
	Add []HeaderField `json:"add_header_fields"`
	// Elapsed is the time the analysis took.
	Elapsed time.Duration `json:"-"`
}

// Analyze runs the checks on a message and decides its content category.
// It never delivers anything.
func (p *Pipeline) Analyze(ctx context.Context, m *mail.Message, s *Settings) (*Analysis, error) {
	start := p.now()
	a := &Analysis{
		Category: policy.Category{Major: policy.CCClean},
		MailID:   m.MailID,
		Size:     m.Size,
	}
	a.CCat = a.Category.LogName()
	if m.Header != nil {
		a.Findings = append(a.Findings, headerFindings(m.Header)...)
	}
	recv := ReceivedHeader(m, s.Product, s.MyHostname, s.LocalhostName, start)
	a.Add = append(a.Add, HeaderField{Name: "Received", Value: unfold(recv), Raw: recv})
	a.Elapsed = p.now().Sub(start)
	return a, ctx.Err()
}

func headerFindings(h *mail.Header) []string {
	var out []string
	out = append(out, plural(len(h.Fields), "header field"))
	if h.Invalid > 0 {
		out = append(out, plural(h.Invalid, "header line that is not a field"))
	}
	if h.NoSeparator {
		out = append(out, "no empty line after the header section")
	}
	if h.Truncated {
		out = append(out, "header section longer than the parse limit")
	}
	return out
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func unfold(raw []byte) string {
	f := mail.Field{Raw: raw}
	return f.Value()
}
