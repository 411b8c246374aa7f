package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mavis-filter/mavis/internal/check/badheader"
	"github.com/mavis-filter/mavis/internal/check/banned"
	"github.com/mavis-filter/mavis/internal/check/bounce"
	"github.com/mavis-filter/mavis/internal/check/spam"
	"github.com/mavis-filter/mavis/internal/check/virus"
	"github.com/mavis-filter/mavis/internal/config"
	"github.com/mavis-filter/mavis/internal/decode"
	"github.com/mavis-filter/mavis/internal/lookup"
	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/policy"
	"github.com/mavis-filter/mavis/internal/spamtag"
	"github.com/mavis-filter/mavis/internal/store"
)

// Checks are the checker settings of a snapshot.
type Checks struct {
	Limits      decode.Limits
	Tools       *decode.Tools
	HeaderTests badheader.Tests
	// NamepathRe is banned_namepath_re (may be nil).
	NamepathRe config.Regexps
	// AVPrimary and AVBackup are av_scanners and av_scanners_backup.
	AVPrimary, AVBackup []virus.Scanner
	AVOptions           virus.Options
	// FakesSender is viruses_that_fake_sender_maps: true when a virus of
	// that name forges its sender (no DSN is sent); nil: all do.
	FakesSender func(ctx context.Context, virusName string) bool
	// AVFailureFatal is virus_scanners_failure_is_fatal: when every scanner
	// failed, tempfail instead of passing as UNCHECKED.
	AVFailureFatal bool
	// XHeaderTag and XHeaderLine form "X-Virus-Scanned: …".
	XHeaderTag, XHeaderLine string
	// UncheckedSubjectTag is undecipherable_subject_tag ("***UNCHECKED*** ").
	UncheckedSubjectTag string
	// SpamScanners are the spam_scanners clients (spamd, rspamd).
	SpamScanners []spam.Scanner
	// SpamLevelChar is sa_spam_level_char ("*").
	SpamLevelChar string
	// SpamFailureIsFatal tempfails the message when every spam scanner
	// failed (default: pass unscored, as amavis).
	SpamFailureIsFatal bool
}

// RcptPolicy is what the settings say for one recipient (after lookups in
// the *_maps tables and policy banks).
type RcptPolicy struct {
	Local                                               bool
	BypassVirus, BypassBanned, BypassHeader, BypassSpam bool
	Lovers                                              map[policy.CCat]bool
	Destinies                                           policy.Destinies
	// BannedTables are the regexp tables selected by banned_filename_maps.
	BannedTables []config.Regexps
	// QuarantineTo is *_quarantine_to per major category ("" = none).
	QuarantineTo map[policy.CCat]string
	// Admins are the notification addresses per major category
	// (virus_admin, banned_admin, bad_header_admin, spam_admin).
	Admins map[policy.CCat][]string
	// SpamLevels are the recipient's spam_*_level_maps values.
	SpamLevels spamtag.Levels
	// SubjectTag, SubjectTag2, SubjectTag3 are spam_subject_tag_maps,
	// spam_subject_tag2_maps and spam_subject_tag3_maps ("" = none).
	SubjectTag, SubjectTag2, SubjectTag3 string
	// WhiteBlack looks the senders up in the recipient's white and black
	// lists (static maps, SQL wblist, score_sender_maps); nil: none.
	WhiteBlack func(ctx context.Context, senders []string) (lookup.WBResult, error)
	// RemoveSpamHeaders is remove_existing_spam_headers_maps.
	RemoveSpamHeaders bool
	// WarnRecip is warnvirusrecip/warnbannedrecip/warnbadhrecip: warn this
	// recipient when mail to it is blocked for the category.
	WarnRecip map[policy.CCat]bool
}

// HeaderField is a header field the pipeline adds to a passed message.
type HeaderField struct {
	Name  string `json:"name"`
	Value string `json:"value"` // unfolded value
	Raw   []byte `json:"-"`     // the complete folded field with CRLF
}

func newField(name, value string) HeaderField {
	return HeaderField{Name: name, Value: value, Raw: []byte(name + ": " + value + "\r\n")}
}

// RcptResult is the analysis for one recipient.
type RcptResult struct {
	Addr     string            `json:"recipient"`
	Local    bool              `json:"local"`
	CCat     string            `json:"content_category"`
	Destiny  string            `json:"destiny"`
	Cats     policy.Categories `json:"-"`
	Decision policy.Decision   `json:"-"`
	// Spam is the recipient's spam evaluation (nil: not checked).
	Spam      *spamtag.RcptSpam `json:"-"`
	SpamInput *spamtag.Input    `json:"-"`
	// SpamScore is the recipient's score as X-Spam-Score shows it ("" when
	// not checked).
	SpamScore string `json:"spam_score,omitempty"`
	// Drop lists header fields removed from this recipient's copy.
	Drop   []string     `json:"-"`
	Banned []banned.Hit `json:"banned,omitempty"`
	Policy *RcptPolicy  `json:"-"`
	// Add are the header fields this recipient's copy gets (prepended, in
	// order); Subject, when set, replaces the Subject field.
	Add     []HeaderField `json:"add_header_fields"`
	Subject *HeaderField  `json:"subject,omitempty"`
}

// ScannerReport is one virus scanner's answer, for `mavis check`.
type ScannerReport struct {
	Name    string   `json:"name"`
	Verdict string   `json:"verdict"`
	Viruses []string `json:"viruses,omitempty"`
	Error   string   `json:"error,omitempty"`
	Elapsed string   `json:"elapsed"`
}

// Analysis is what the checks found and what would be done, independent of
// delivery. `mavis check` prints it; Process acts on it.
type Analysis struct {
	CCat     string            `json:"content_category"`
	Category policy.Category   `json:"-"`
	MailID   string            `json:"mail_id"`
	Size     int64             `json:"size"`
	Findings []string          `json:"findings"`
	Parts    string            `json:"parts,omitempty"`
	Hold     string            `json:"hold,omitempty"`
	BadHdr   []string          `json:"bad_header,omitempty"`
	Viruses  []string          `json:"viruses,omitempty"`
	Scanners []ScannerReport   `json:"virus_scanners,omitempty"`
	Rcpts    []RcptResult      `json:"recipients"`
	MsgCats  policy.Categories `json:"-"`
	Decode   *decode.Result    `json:"-"`
	Virus    *virus.Result     `json:"-"`
	// Spam is the combined spam scanners' result (nil: not checked);
	// SpamErrs lists the scanners that failed (mail is not scored by them).
	Spam      *spam.Result     `json:"-"`
	SpamErrs  []string         `json:"spam_scanner_errors,omitempty"`
	BadHeader badheader.Result `json:"-"`
	// FakeSender: a found virus is one that forges its sender.
	FakeSender bool `json:"-"`
	// AVRan tells that a virus scan was done (X-Virus-Scanned is added).
	AVRan bool `json:"-"`
	// Bounce is the bounce killer's view of the message; bounceKilled
	// tells that it is backscatter (AM.BOUNCE is added to the score).
	Bounce       bounce.Report `json:"-"`
	bounceKilled bool
	Elapsed      time.Duration `json:"-"`
	workDir      string
	// workDirs is where workDir came from (nil: remove it when done).
	workDirs *decode.WorkDirs
}

// Close removes the analysis' private working directory (decoded parts).
func (a *Analysis) Close() error {
	if a == nil || a.workDir == "" {
		return nil
	}
	if a.workDirs != nil {
		return a.workDirs.Put(a.workDir)
	}
	return os.RemoveAll(a.workDir)
}

// checkDeadline gives a check its own deadline inside the message's
// (child_timeout): 80 % of the time left, so that deciding, quarantining and
// forwarding still have time when a scanner hangs (amavis: get_deadline).
func checkDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Until(dl)*8/10)
}

// errFatal marks a check failure that must tempfail the message; section
// names amavis's section for the reply text.
type errFatal struct {
	section string
	err     error
}

func (e *errFatal) Error() string { return e.section + " FAILED: " + e.err.Error() }
func (e *errFatal) Unwrap() error { return e.err }

// Analyze runs the checks on a message and decides, per recipient, its
// content categories and destiny. It never delivers anything. The caller
// must Close the analysis.
func (p *Pipeline) Analyze(ctx context.Context, m *mail.Message, s *Settings) (*Analysis, error) {
	return p.analyze(ctx, m, s, nil)
}

// analyze is Analyze with the message's SQL log record (nil without SQL),
// which pen pals need.
func (p *Pipeline) analyze(ctx context.Context, m *mail.Message, s *Settings, sm *store.Message) (*Analysis, error) {
	start := p.now()
	a := &Analysis{MailID: m.MailID, Size: m.Size}
	// Resolve the recipients' settings first: every check below depends on
	// whether at least one recipient wants it.
	a.Rcpts = make([]RcptResult, len(m.Envelope.Rcpts))
	anyVirus, anyBanned, anyHeader := false, false, false
	for i, r := range m.Envelope.Rcpts {
		rp, err := s.resolve(ctx, r.Addr)
		if err != nil {
			return a, &errFatal{"lookup", err}
		}
		a.Rcpts[i] = RcptResult{Addr: r.Addr, Local: rp.Local, Policy: rp}
		anyVirus = anyVirus || !rp.BypassVirus
		anyBanned = anyBanned || (!rp.BypassBanned && (len(rp.BannedTables) > 0 || len(s.Checks.NamepathRe) > 0))
		anyHeader = anyHeader || !rp.BypassHeader
	}
	if m.Header != nil {
		a.Findings = append(a.Findings, headerFindings(m.Header)...)
	}

	// The spam check needs no decoding: it runs concurrently with decoding
	// and virus scanning, so a message takes as long as the slowest check.
	anySpam := false
	for i := range a.Rcpts {
		anySpam = anySpam || !a.Rcpts[i].Policy.BypassSpam
	}
	var spamDone chan struct{}
	if anySpam && len(s.Checks.SpamScanners) > 0 {
		spamDone = make(chan struct{})
		req, err := spam.NewRequest(m)
		if err != nil {
			return a, &errFatal{"spam-check", err}
		}
		req.PolicyBank = s.PolicyBank
		sctx, scancel := checkDeadline(ctx)
		go func() {
			defer close(spamDone)
			defer scancel()
			res, outs := spam.CheckAll(sctx, s.Checks.SpamScanners, req)
			a.Spam = res
			for _, o := range outs {
				if o.Err != nil {
					a.SpamErrs = append(a.SpamErrs, o.Scanner+": "+o.Err.Error())
				}
			}
		}()
		defer func() {
			if spamDone != nil {
				<-spamDone
			}
		}()
	}

	// Decode when a content check needs it.
	if anyVirus || anyBanned {
		switch {
		case p.WorkDirs != nil:
			d, err := p.WorkDirs.Get()
			if err != nil {
				return a, &errFatal{"mime_decode", err}
			}
			a.workDir, a.workDirs = d, p.WorkDirs
		case p.WorkDir != "":
			a.workDir = filepath.Join(p.WorkDir, "msg-"+m.MailID)
		default:
			d, err := os.MkdirTemp("", "mavis-check-*")
			if err != nil {
				return a, &errFatal{"mime_decode", err}
			}
			a.workDir = d
		}
		if err := os.MkdirAll(a.workDir, 0o700); err != nil {
			return a, &errFatal{"mime_decode", err}
		}
		res, err := decode.DecodeMessage(ctx, m, a.workDir, s.Checks.Limits, s.Checks.Tools)
		if err != nil {
			return a, &errFatal{"mime_decode", err}
		}
		a.Decode = res
		a.Parts = res.Tree()
		a.Hold = res.Hold
		a.Findings = append(a.Findings, fmt.Sprintf("%d parts decoded in %v", len(res.Parts), res.Elapsed.Round(time.Millisecond)))
		for _, u := range res.Unchecked {
			a.Findings = append(a.Findings, "UNCHECKED ("+decode.MinorNames[u.Minor]+"): "+u.Reason)
		}
	}

	// Bad header section.
	if anyHeader && m.Header != nil {
		var mimeErrs []string
		if a.Decode != nil {
			mimeErrs = a.Decode.MIMEErrors
		}
		a.BadHeader = badheader.Check(m.Header, m.Envelope.Params.SMTPUTF8, mimeErrs, s.Checks.HeaderTests)
		a.BadHdr = a.BadHeader.Bad
	}

	// Virus scanning (skipped when decoding was held, as amavis does).
	if anyVirus && a.Decode != nil && a.Decode.Hold == "" && len(s.Checks.AVPrimary)+len(s.Checks.AVBackup) > 0 {
		req := &virus.Request{LogID: m.LogID, Message: m.Body.Reader(), Size: m.Size, Dir: filepath.Join(a.workDir, "parts")}
		for _, pt := range a.Decode.Parts {
			if pt.File != "" {
				req.Parts = append(req.Parts, pt.File)
			}
		}
		opts := s.Checks.AVOptions
		opts.Logger = p.Logger.With("log_id", m.LogID)
		vctx, vcancel := checkDeadline(ctx)
		vr := virus.Run(vctx, s.Checks.AVPrimary, s.Checks.AVBackup, req, opts)
		vcancel()
		a.Virus = vr
		a.AVRan = true
		a.Viruses = vr.Viruses
		for _, sr := range vr.Scanners {
			rep := ScannerReport{Name: sr.Name, Verdict: sr.Verdict(), Viruses: sr.Viruses, Elapsed: sr.Elapsed.Round(time.Millisecond).String()}
			if sr.Err != nil {
				rep.Error = sr.Err.Error()
			}
			a.Scanners = append(a.Scanners, rep)
		}
		for _, v := range vr.Viruses {
			if s.Checks.FakesSender == nil || s.Checks.FakesSender(ctx, v) {
				a.FakeSender = true
			}
		}
		if vr.AllFailed && s.Checks.AVFailureFatal {
			return a, &errFatal{"virus_scan", errors.New("AV: ALL VIRUS SCANNERS FAILED")}
		}
	} else if anyVirus && len(s.Checks.AVPrimary)+len(s.Checks.AVBackup) == 0 {
		a.Findings = append(a.Findings, "no virus scanners configured (av_scanners is empty)")
	}
	if spamDone != nil {
		<-spamDone
		spamDone = nil
		for _, e := range a.SpamErrs {
			p.Logger.Warn("spam scanner failed, mail not scored by it (as amavis)", "log_id", m.LogID, "err", e)
		}
		if len(a.SpamErrs) == len(s.Checks.SpamScanners) && s.Checks.SpamFailureIsFatal {
			return a, &errFatal{"spam-check", errors.New("all spam scanners failed: " + strings.Join(a.SpamErrs, "; "))}
		}
		if a.Spam != nil {
			a.Findings = append(a.Findings, fmt.Sprintf("spam score %s (required %s), tests=[%s]",
				spam.FormatScore(a.Spam.Score), spam.FormatScore(a.Spam.Required), spam.FormatTests(a.Spam.Tests, true)))
		}
	}
	if err := ctx.Err(); err != nil {
		return a, &errFatal{"check", err}
	}

	p.bounceKiller(ctx, m, s, a, sm)

	// Per-recipient categories and decisions.
	for i := range a.Rcpts {
		r := &a.Rcpts[i]
		rp := r.Policy
		r.Cats.Add(policy.Category{Major: policy.CCClean})
		if a.Decode != nil && !(rp.BypassVirus && rp.BypassBanned) {
			for _, mn := range a.Decode.Minors() {
				r.Cats.Add(policy.Category{Major: policy.CCUnchecked, Minor: mn})
			}
		}
		if a.Virus != nil && !rp.BypassVirus {
			switch {
			case a.Virus.Infected:
				r.Cats.Add(policy.Category{Major: policy.CCVirus})
			case a.Virus.AllFailed:
				r.Cats.Add(policy.Category{Major: policy.CCUnchecked})
			}
		}
		if a.Decode != nil && !rp.BypassBanned {
			r.Banned = banned.Check(a.Decode, rp.BannedTables, s.Checks.NamepathRe)
			if len(r.Banned) > 0 {
				r.Cats.Add(policy.Category{Major: policy.CCBanned})
			}
		}
		if a.BadHeader.Found() && !rp.BypassHeader {
			r.Cats.Add(policy.Category{Major: policy.CCBadH, Minor: a.BadHeader.Minor})
		}
		if !rp.BypassSpam && (len(s.Checks.SpamScanners) > 0 || a.bounceKilled) {
			if err := p.spamFor(ctx, m, s, a, r, sm, i); err != nil {
				return a, &errFatal{"spam-wb-list", err}
			}
		}
		lover := func(c policy.CCat) bool { return rp.Lovers[c] }
		r.Decision = policy.Decide(r.Cats, rp.Destinies, lover, badhMercy(m))
		r.Destiny = r.Decision.Destiny.String()
		main := r.Cats.Main()
		if r.Decision.Blocked {
			main = r.Decision.Blocking
		}
		r.CCat = p.ccatName(main, a, r)
		for _, c := range r.Cats {
			a.MsgCats.Add(c)
		}
	}
	a.Category = a.MsgCats.Main()
	a.CCat = p.ccatName(a.Category, a, firstBanned(a.Rcpts))

	// Header fields for each recipient's copy.
	for i := range a.Rcpts {
		p.headerEdits(m, s, a, &a.Rcpts[i], start)
	}
	a.Elapsed = p.now().Sub(start)
	return a, nil
}

func firstBanned(rs []RcptResult) *RcptResult {
	for i := range rs {
		if len(rs[i].Banned) > 0 {
			return &rs[i]
		}
	}
	return nil
}

// ccatName is the category as the main log line shows it:
// "INFECTED (Eicar-Signature)", "BANNED (.exe,setup.exe)", "BAD-HEADER-8".
func (p *Pipeline) ccatName(c policy.Category, a *Analysis, r *RcptResult) string {
	name := c.LogName()
	switch c.Major {
	case policy.CCVirus:
		if a.Virus != nil {
			name += " (" + strings.Join(a.Virus.Viruses, ",") + ")"
		}
	case policy.CCBanned:
		if r != nil && len(r.Banned) > 0 {
			name += " (" + r.Banned[0].Reason + ")"
		}
	}
	return name
}

// badhMercy: a bounce for a bad header is not sent to the null sender or
// for bulk/list/auto mail (amavis turns it into a pass).
func badhMercy(m *mail.Message) bool {
	if m.Envelope.MailFrom == "" {
		return true
	}
	h := m.Header
	if h == nil {
		return false
	}
	for _, f := range []string{"List-Id", "List-Post", "List-Unsubscribe", "Mailing-List"} {
		if h.Get(f) != "" {
			return true
		}
	}
	switch strings.ToLower(h.Get("Precedence")) {
	case "list", "bulk", "junk":
		return true
	}
	if as := strings.ToLower(h.Get("Auto-Submitted")); as != "" && as != "no" {
		return true
	}
	return false
}

// details are the %V/%F texts for blocked replies.
func (a *Analysis) details(r *RcptResult) policy.Details {
	var d policy.Details
	if a.Virus != nil {
		d.Viruses = a.Virus.Viruses
	}
	for _, h := range r.Banned {
		d.Banned = append(d.Banned, h.Reason)
	}
	return d
}

// headerEdits computes the fields added to one recipient's copy, in amavis's
// order: X-Amavis-Hold, X-Virus-Scanned, X-Amavis-Alert(s), then Received.
func (p *Pipeline) headerEdits(m *mail.Message, s *Settings, a *Analysis, r *RcptResult, now time.Time) {
	var add []HeaderField
	if a.Hold != "" {
		add = append(add, newField("X-Amavis-Hold", a.Hold))
	}
	if a.AVRan && !r.Policy.BypassVirus && s.Checks.XHeaderTag != "" {
		add = append(add, newField(s.Checks.XHeaderTag, s.Checks.XHeaderLine))
	}
	add = append(add, alerts(a, r)...)
	// Spam fields, only for local recipients that were spam-checked.
	if r.Local && r.Spam != nil {
		for _, f := range spamtag.HeaderFields(*r.SpamInput, r.Policy.SpamLevels, *r.Spam, s.Checks.SpamLevelChar) {
			add = append(add, HeaderField{Name: f.Name, Value: unfold(f.Raw), Raw: f.Raw})
		}
		if r.Policy.RemoveSpamHeaders {
			r.Drop = spamtag.RemovedFields()
		}
	}
	// Subject tags for local recipients (§4.4), by the first category of
	// the list that has one: CC_VIRUS, CC_UNCHECKED, CC_SPAMMY,1,
	// CC_SPAMMY, CC_CLEAN,1.
	if r.Local && m.Header != nil {
		rp := r.Policy
		tag := spamtag.ChooseTag(r.Cats, func(c policy.Category) string {
			switch {
			case c.Major == policy.CCVirus:
				return "***INFECTED*** "
			case c.Major == policy.CCUnchecked:
				return s.Checks.UncheckedSubjectTag
			case c.Major == policy.CCSpammy && c.Minor == 1:
				return rp.SubjectTag3
			case c.Major == policy.CCSpammy:
				return rp.SubjectTag2
			case c.Major == policy.CCClean && c.Minor == 1:
				return rp.SubjectTag
			}
			return ""
		})
		if tag != "" && r.Spam != nil {
			tag = spamtag.ExpandTag(tag, *r.SpamInput, rp.SpamLevels, *r.Spam,
				spamtag.TagVars{Hostname: s.MyHostname, RxTime: m.Received, LogID: m.LogID, MailID: m.MailID})
		}
		if tag != "" {
			var f mail.Field
			found := false
			for _, hf := range m.Header.Fields {
				if strings.EqualFold(hf.Name, "Subject") {
					f, found = spamtag.EditSubject(hf.Raw, tag, m.Envelope.Params.SMTPUTF8), true
					break
				}
			}
			if !found {
				f = spamtag.NewSubject(tag, m.Envelope.Params.SMTPUTF8)
			}
			hf := HeaderField{Name: "Subject", Value: unfold(f.Raw), Raw: f.Raw}
			r.Subject = &hf
		}
	}
	recv := ReceivedHeader(m, s.Product, s.MyHostname, s.LocalhostName, now)
	add = append(add, HeaderField{Name: "Received", Value: unfold(recv), Raw: recv})
	r.Add = add
}

// alerts are the X-Amavis-Alert fields for a recipient's categories,
// folded as amavis folds them.
func alerts(a *Analysis, r *RcptResult) []HeaderField {
	var out []HeaderField
	add := func(v string) {
		f := spamtag.Fold("X-Amavis-Alert", v)
		out = append(out, HeaderField{Name: f.Name, Value: v, Raw: f.Raw})
	}
	if r.Cats.Has(policy.CCVirus) && a.Virus != nil {
		add("INFECTED, message contains virus: " + strings.Join(a.Virus.Viruses, ", "))
	}
	if len(r.Banned) > 0 {
		add("BANNED, message contains " + r.Banned[0].Reason)
	}
	if r.Cats.Has(policy.CCBadH) && len(a.BadHeader.Bad) > 0 {
		add("BAD HEADER SECTION, " + a.BadHeader.Bad[0])
	}
	return out
}

// quarantineFields are the fields amavis puts into a quarantined copy
// after X-Quarantine-ID: the alerts, the spam fields (always, in their
// quarantine form) and the Received field.
func quarantineFields(s *Settings, a *Analysis, r *RcptResult) []byte {
	var b bytes.Buffer
	for _, f := range alerts(a, r) {
		b.Write(f.Raw)
	}
	// amavis writes the spam fields of the quarantine pseudo-recipient: the
	// levels are its own (undefined: "x") unless the copy is spam, and a
	// message blocked as virus or banned was not spam-checked at all.
	in, rs, lv := spamtag.Input{Unscored: true}, spamtag.RcptSpam{}, spamtag.Levels{}
	if r.SpamInput != nil {
		in, rs = *r.SpamInput, *r.Spam
	}
	switch c := quarantineCategory(r); {
	case c == policy.CCSpam || c == policy.CCSpammy:
		lv = r.Policy.SpamLevels
	case c == policy.CCVirus || c == policy.CCBanned:
		in, rs = spamtag.Input{Unscored: true}, spamtag.RcptSpam{}
	}
	for _, f := range spamtag.QuarantineFields(in, lv, rs, s.Checks.SpamLevelChar) {
		b.Write(f.Raw)
	}
	for _, f := range r.Add {
		if f.Name == "Received" {
			b.Write(f.Raw)
		}
	}
	return b.Bytes()
}

// spamFor evaluates the spam result for one recipient: white and black
// lists, score assembly, levels and categories.
func (p *Pipeline) spamFor(ctx context.Context, m *mail.Message, s *Settings, a *Analysis, r *RcptResult, sm *store.Message, idx int) error {
	rp := r.Policy
	asm := spamtag.Assembly{Scanner: a.Spam}
	if a.Virus != nil && len(a.Virus.SpamTests) > 0 {
		// Virus names that are really spam (virus_name_to_spam_score_maps)
		// count as spam score, as "AV:<name>=<score>" tests.
		av := spamtag.AVSpam{}
		for _, t := range a.Virus.SpamTests {
			name, sc, _ := strings.Cut(strings.TrimPrefix(t, "AV:"), "=")
			f, _ := strconv.ParseFloat(sc, 64)
			av.Names, av.Scores = append(av.Names, name), append(av.Scores, f)
		}
		asm.AV = []spamtag.AVSpam{av}
	}
	var wb lookup.WBResult
	if rp.WhiteBlack != nil {
		senders := []string{m.Envelope.MailFrom}
		if m.Header != nil {
			for _, f := range m.Header.Values("From") {
				if ad := mail.AddrSpec(f); ad != "" {
					senders = append(senders, ad)
				}
			}
		}
		var err error
		if wb, err = rp.WhiteBlack(ctx, senders); err != nil {
			return err
		}
		if wb.HasBoost {
			asm.WBL = wb.Boost
		}
	}
	if a.bounceKilled {
		asm.BounceKilled, asm.BounceKiller = true, s.BounceKillerScore
	}
	if pp, ok := p.penPals(ctx, m, s, a, r, sm, idx); ok {
		asm.PenPals = pp
	}
	in := spamtag.Assemble(asm)
	in.Whitelisted, in.Blacklisted = wb.Whitelisted, wb.Blacklisted
	rs := spamtag.Evaluate(in, rp.SpamLevels)
	for _, c := range rs.Categories {
		r.Cats.Add(c)
	}
	r.Spam, r.SpamInput = &rs, &in
	r.SpamScore = spamtag.ScoreValue(in)
	return nil
}

// bounceKiller recognises a DSN whose attached header names a message that
// was never sent from here (backscatter): pen pals are asked whether a
// local recipient sent the referenced Message-ID; the originating flag and a
// local Message-ID domain also rescue it (amavis's bounce killer).
func (p *Pipeline) bounceKiller(ctx context.Context, m *mail.Message, s *Settings, a *Analysis, sm *store.Message) {
	if s.BounceKillerScore <= 0 || m.Header == nil {
		return
	}
	a.Bounce = bounce.Parse(m.Envelope.MailFrom, m.Header, m.Body.Reader())
	if !a.Bounce.IsBounce && !a.Bounce.Unverifiable {
		return
	}
	in := store.BounceInput{IsBounce: a.Bounce.IsBounce, Unverifiable: a.Bounce.Unverifiable, Originating: s.Originating}
	if dom := store.MessageIDDomain(a.Bounce.MessageID); dom != "" {
		if rp, err := s.resolve(ctx, "postmaster@"+dom); err == nil && rp.Local {
			in.MsgIDDomainLocal = true
		}
	}
	in.PenPalsEnabled = p.Recorder != nil && sm != nil && s.PenPals.Bonus > 0 && s.PenPals.Halflife > 0
	if in.PenPalsEnabled && a.Bounce.MessageID != "" && sm.SenderMaddrID != 0 {
		for i := range a.Rcpts {
			if !a.Rcpts[i].Local || i >= len(sm.Recipients) || sm.Recipients[i].MaddrID == 0 {
				continue
			}
			match, err := p.Recorder.PenPalsFind(ctx, store.PenPalsQuery{SenderMaddrID: sm.SenderMaddrID,
				RecipientMaddrID: sm.Recipients[i].MaddrID, References: []string{a.Bounce.MessageID}, RxTime: sm.RxTime})
			if err == nil && match.Found && (!in.PenPals.Found || match.Age < in.PenPals.Age) {
				in.PenPals = match
			}
		}
	}
	if p.Recorder == nil {
		return
	}
	v := p.Recorder.BounceKill(in)
	switch {
	case v.Killed:
		a.bounceKilled = true
		p.Logger.Info(fmt.Sprintf("bounce killed, %s, <%s> -> %s, from: %s, message-id: %s",
			a.Bounce.Format, m.Envelope.MailFrom, strings.Join(m.RecipientAddrs(), ","), a.Bounce.From, a.Bounce.MessageID), "log_id", m.LogID)
	case a.Bounce.Unverifiable:
		p.Logger.Info(fmt.Sprintf("bounce unverifiable, <%s> -> %s", m.Envelope.MailFrom, strings.Join(m.RecipientAddrs(), ",")), "log_id", m.LogID)
	default:
		p.Logger.Info(fmt.Sprintf("bounce rescued %s, <%s> -> %s, message-id: %s",
			v.Rescued, m.Envelope.MailFrom, strings.Join(m.RecipientAddrs(), ","), a.Bounce.MessageID), "log_id", m.LogID)
	}
}

// penPals looks for earlier mail from this (local) recipient to the sender
// in the SQL log: a reply to a correspondent gets a score bonus decaying
// with age (amavis pen pals). Failures only lose the bonus.
func (p *Pipeline) penPals(ctx context.Context, m *mail.Message, s *Settings, a *Analysis, r *RcptResult, sm *store.Message, idx int) (float64, bool) {
	pp := s.PenPals
	if sm == nil || p.Recorder == nil || !r.Local || m.Envelope.MailFrom == "" || idx >= len(sm.Recipients) {
		return 0, false
	}
	score := 0.0
	if a.Spam != nil {
		score = a.Spam.Score
	}
	if why := store.PenPalsSkip(pp.Bonus, pp.Halflife, a.Virus != nil && a.Virus.Infected, score, score,
		pp.Low, pp.High, false, s.Originating, false); why != "" {
		return 0, false
	}
	if sm.SenderMaddrID == 0 || sm.Recipients[idx].MaddrID == 0 {
		return 0, false
	}
	var refs []string
	if m.Header != nil {
		for _, f := range []string{"In-Reply-To", "References"} {
			refs = append(refs, strings.Fields(m.Header.Get(f))...)
		}
	}
	match, err := p.Recorder.PenPalsFind(ctx, store.PenPalsQuery{SenderMaddrID: sm.SenderMaddrID,
		RecipientMaddrID: sm.Recipients[idx].MaddrID, References: refs, RxTime: sm.RxTime})
	if err != nil {
		p.Logger.Warn("pen pals lookup failed", "log_id", m.LogID, "err", err)
		return 0, false
	}
	if !match.Found {
		return 0, false
	}
	adj := store.PenPalsAdjustment(match.Age, pp.Bonus, pp.Halflife)
	p.Logger.Info(fmt.Sprintf("penpals: bonus %.3f, age %s (%s), <%s> replying to <%s>, mail_id %s",
		-adj, store.FormatInterval(match.Age), match.Match, m.Envelope.MailFrom, r.Addr, match.MailID), "log_id", m.LogID)
	return adj, true
}

func headerFindings(h *mail.Header) []string {
	var out []string
	out = append(out, plural(len(h.Fields)-h.Invalid, "header field"))
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
