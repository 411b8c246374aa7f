package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mavis-filter/mavis/internal/check/badheader"
	"github.com/mavis-filter/mavis/internal/check/virus"
	"github.com/mavis-filter/mavis/internal/check/virus/clamd"
	"github.com/mavis-filter/mavis/internal/config"
	"github.com/mavis-filter/mavis/internal/decode"
	"github.com/mavis-filter/mavis/internal/deliver"
	"github.com/mavis-filter/mavis/internal/lookup"
	"github.com/mavis-filter/mavis/internal/notify"
	"github.com/mavis-filter/mavis/internal/pipeline"
	"github.com/mavis-filter/mavis/internal/policy"
)

// recipientMaps are the compiled per-recipient lookup lists of a snapshot.
type recipientMaps struct {
	local                                               lookup.Maps
	bypassVirus, bypassBanned, bypassHeader, bypassSpam lookup.Maps
	lovers                                              map[policy.CCat]lookup.Maps
	bannedMaps                                          lookup.Maps
	bannedRules                                         map[string][]config.Regexps
	destinies                                           policy.Destinies
	quarantineTo                                        map[policy.CCat]lookup.Maps
	admins                                              map[policy.CCat]lookup.Maps
}

func compileRecipientMaps(s *config.Settings) (*recipientMaps, error) {
	rules := lookup.Rules{
		Delimiter:              s.RecipientDelimiter.Or(""),
		LocalpartCaseSensitive: s.LocalpartIsCaseSensitive.Or(false),
	}
	rm := &recipientMaps{lovers: map[policy.CCat]lookup.Maps{}, bannedRules: map[string][]config.Regexps{},
		quarantineTo: map[policy.CCat]lookup.Maps{}, admins: map[policy.CCat]lookup.Maps{}}
	var err error
	compile := func(dst *lookup.Maps, name string, m config.Maps) {
		if err != nil {
			return
		}
		*dst, err = Tables(name, m, rules)
	}
	compile(&rm.local, "local_domains_maps", s.LocalDomainsMaps)
	compile(&rm.bypassVirus, "bypass_virus_checks_maps", s.BypassVirusChecksMaps)
	compile(&rm.bypassBanned, "bypass_banned_checks_maps", s.BypassBannedChecksMaps)
	compile(&rm.bypassHeader, "bypass_header_checks_maps", s.BypassHeaderChecksMaps)
	compile(&rm.bypassSpam, "bypass_spam_checks_maps", s.BypassSpamChecksMaps)
	for c, m := range map[policy.CCat]config.Maps{
		policy.CCVirus: s.VirusLoversMaps, policy.CCBanned: s.BannedFilesLoversMaps,
		policy.CCUnchecked: s.UncheckedLoversMaps, policy.CCSpam: s.SpamLoversMaps,
		policy.CCBadH: s.BadHeaderLoversMaps,
	} {
		var lm lookup.Maps
		compile(&lm, "lovers", m)
		rm.lovers[c] = lm
	}
	rm.lovers[policy.CCSpammy] = rm.lovers[policy.CCSpam]
	compile(&rm.bannedMaps, "banned_filename_maps", s.BannedFilenameMaps)
	for c, m := range map[policy.CCat]config.Maps{
		policy.CCVirus: s.VirusQuarantineToMaps, policy.CCBanned: s.BannedQuarantineToMaps,
		policy.CCUnchecked: s.UncheckedQuarantineToMaps, policy.CCSpam: s.SpamQuarantineToMaps,
		policy.CCBadH: s.BadHeaderQuarantineToMaps, policy.CCClean: s.CleanQuarantineToMaps,
	} {
		var lm lookup.Maps
		compile(&lm, "quarantine_to_maps", m)
		rm.quarantineTo[c] = lm
	}
	// amavis: banned and unchecked mail notifies the virus admins too
	// (banned_admin_maps includes them); bad header and spam have their own.
	for c, m := range map[policy.CCat]config.Maps{
		policy.CCVirus: s.VirusAdminMaps, policy.CCBanned: s.BannedAdminMaps,
		policy.CCUnchecked: s.VirusAdminMaps, policy.CCSpam: s.SpamAdminMaps,
		policy.CCBadH: s.BadHeaderAdminMaps,
	} {
		var lm lookup.Maps
		compile(&lm, "admin_maps", m)
		rm.admins[c] = lm
	}
	if err != nil {
		return nil, err
	}
	for name, m := range s.BannedRules {
		for _, spec := range m {
			if spec.Type == config.LookupRegexp {
				rm.bannedRules[name] = append(rm.bannedRules[name], spec.Rules)
			}
		}
	}
	rm.destinies = policy.Destinies{
		Virus:     destiny(s.FinalVirusDestiny, policy.DDiscard),
		Banned:    destiny(s.FinalBannedDestiny, policy.DDiscard),
		Unchecked: destiny(s.FinalUncheckedDestiny, policy.DPass),
		Spam:      destiny(s.FinalSpamDestiny, policy.DPass),
		BadHeader: destiny(s.FinalBadHeaderDestiny, policy.DPass),
		Oversized: policy.DBounce,
	}
	return rm, nil
}

func destiny(o config.Opt[config.Destiny], def policy.Destiny) policy.Destiny {
	d, ok := o.Get()
	if !ok {
		return def
	}
	return policy.Destiny(int(d))
}

// resolve looks a recipient up in every per-recipient list.
func (rm *recipientMaps) resolve(ctx context.Context, addr string) (*pipeline.RcptPolicy, error) {
	rp := &pipeline.RcptPolicy{Destinies: rm.destinies, Lovers: map[policy.CCat]bool{}}
	var err error
	get := func(m lookup.Maps) bool {
		if err != nil {
			return false
		}
		var b bool
		b, _, err = m.Bool(ctx, addr)
		return b
	}
	rp.Local = get(rm.local)
	rp.BypassVirus = get(rm.bypassVirus)
	rp.BypassBanned = get(rm.bypassBanned)
	rp.BypassHeader = get(rm.bypassHeader)
	rp.BypassSpam = get(rm.bypassSpam)
	for c, m := range rm.lovers {
		rp.Lovers[c] = get(m)
	}
	if err != nil {
		return nil, err
	}
	rp.QuarantineTo = map[policy.CCat]string{}
	for c, m := range rm.quarantineTo {
		r, err := m.Lookup(ctx, addr)
		if err != nil {
			return nil, err
		}
		if r.Found {
			rp.QuarantineTo[c] = lookup.FormatValue(r.Value)
		}
	}
	rp.Admins = map[policy.CCat][]string{}
	for c, m := range rm.admins {
		r, err := m.Lookup(ctx, addr)
		if err != nil {
			return nil, err
		}
		if r.Found && lookup.Truthy(r.Value) {
			for _, a := range strings.FieldsFunc(lookup.FormatValue(r.Value), func(c rune) bool { return c == ',' || c == ' ' }) {
				rp.Admins[c] = append(rp.Admins[c], a)
			}
		}
	}
	r, err := rm.bannedMaps.Lookup(ctx, addr)
	if err != nil {
		return nil, err
	}
	if r.Found {
		for _, name := range strings.FieldsFunc(lookup.FormatValue(r.Value), func(c rune) bool { return c == ',' || c == ' ' }) {
			rp.BannedTables = append(rp.BannedTables, rm.bannedRules[name]...)
		}
	}
	return rp, nil
}

// actions builds the quarantine and notification settings of a snapshot.
func actions(s *config.Settings) (pipeline.Actions, error) {
	host := s.MyHostname.Or("localhost")
	expand := func(v string) string {
		return strings.NewReplacer("${myhostname_utf8}", host, "${myhostname_ascii}", host, "${myhostname}", host).Replace(v)
	}
	a := pipeline.Actions{
		QuarantineDir:    s.QuarantineDir.Or(""),
		SubdirLevels:     s.QuarantineSubdirLevels.Or(1),
		QuarantineMethod: map[policy.CCat]string{},
		HdrFromAdmin:     expand(s.HdrfromNotifyAdmin.Or("")),
		MailFromAdmin:    s.MailfromNotifyAdmin.Or(""),
		HdrFromSender:    expand(s.HdrfromNotifySender.Or("")),
		DSNBcc:           s.DSNBcc.Or(""),
		Templates:        notify.DefaultTemplates(),
	}
	for c, m := range map[policy.CCat]config.Opt[string]{
		policy.CCVirus: s.VirusQuarantineMethod, policy.CCBanned: s.BannedFilesQuarantineMethod,
		policy.CCUnchecked: s.UncheckedQuarantineMethod, policy.CCSpam: s.SpamQuarantineMethod,
		policy.CCBadH: s.BadHeaderQuarantineMethod, policy.CCClean: s.CleanQuarantineMethod,
	} {
		if v := m.Or(""); v != "" {
			a.QuarantineMethod[c] = v
		}
	}
	if d := s.Mavis.TemplatesDir.Or(""); d != "" {
		t, err := notify.LoadTemplates(d)
		if err != nil {
			return a, fmt.Errorf("templates_dir: %w", err)
		}
		a.Templates = t
	}
	if v, ok := s.SaDSNCutoffLevel.Get(); ok {
		a.DSNCutoff = &v
	}
	nm := s.NotifyMethod.First()
	if nm.Raw == "" {
		nm = s.ForwardMethod.First()
	}
	meth, err := deliver.ParseMethod(nm.Raw)
	if err != nil {
		return a, fmt.Errorf("notify_method: %w", err)
	}
	a.Notify = meth
	return a, nil
}

// checks builds the checker settings of a snapshot.
func checks(s *config.Settings, tools *decode.Tools) (pipeline.Checks, error) {
	c := pipeline.Checks{
		Limits: decode.Limits{
			MaxLevels:          s.MaxLevels.Or(14),
			MaxFiles:           s.MaxFiles.Or(1500),
			MinExpansionQuota:  int64(s.MinExpansionQuota.Or(100 * 1024)),
			MaxExpansionQuota:  int64(s.MaxExpansionQuota.Or(300 * 1024 * 1024)),
			MinExpansionFactor: s.MinExpansionFactor.Or(5),
			MaxExpansionFactor: s.MaxExpansionFactor.Or(500),
			Timeout:            s.ChildTimeout.Or(480*time.Second) / 2,
		},
		Tools:               tools,
		HeaderTests:         headerTests(s.AllowedHeaderTests),
		NamepathRe:          s.BannedNamepathRe,
		AVFailureFatal:      s.VirusScannersFailureIsFatal.Or(false),
		XHeaderTag:          s.XHeaderTag.Or("X-Virus-Scanned"),
		XHeaderLine:         s.XHeaderLine.Or("amavis at " + s.MyDomain.Or("localhost")),
		UncheckedSubjectTag: s.UndecipherableSubjectTag.Or("***UNCHECKED*** "),
		AVOptions:           virus.Options{FirstInfectedStopsScan: s.FirstInfectedStopsScan.Or(false)},
	}
	var err error
	if c.AVPrimary, err = scanners(s.AVScanners, s); err != nil {
		return c, err
	}
	if c.AVBackup, err = scanners(s.AVScannersBackup, s); err != nil {
		return c, err
	}
	if c.SpamScanners, err = spamScanners(s); err != nil {
		return c, err
	}
	return c, nil
}

func headerTests(m map[string]bool) badheader.Tests {
	if m == nil {
		return badheader.DefaultTests()
	}
	return badheader.Tests{Other: m["other"], MIME: m["mime"], Syntax: m["syntax"], Empty: m["empty"],
		Long: m["long"], Control: m["control"], EightBit: m["8bit"], UTF8: m["utf8"],
		Missing: m["missing"], Multiple: m["multiple"]}
}

// scanners builds the virus scanners of av_scanners entries. An entry whose
// program is not installed is left out (amavis disables it at startup).
func scanners(entries []config.AVScanner, s *config.Settings) ([]virus.Scanner, error) {
	var out []virus.Scanner
	for _, e := range entries {
		ve := virus.Entry{Name: e.Name, Programs: e.Command, Args: e.Args, Sockets: e.Sockets}
		if e.Type == "ask_daemon" || e.Type == "ask_av" && len(e.Sockets) > 0 {
			ve.Query, ve.Args = e.Args, ""
		}
		ve.Clean = match(e.Clean)
		ve.Infected = match(e.Infected)
		if e.VirusName != nil {
			ve.VirusName = &virus.NamePattern{Re: e.VirusName.Re()}
		}
		sc, err := virus.New(ve, virus.BuildOptions{StopOnFound: s.FirstInfectedStopsScan.Or(false), Clamd: clamd.Config{}})
		if err == virus.ErrProgramNotFound {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("av_scanners entry %q: %w", e.Name, err)
		}
		out = append(out, sc)
	}
	return out, nil
}

func match(e config.ExitOrRegexp) *virus.Match {
	switch {
	case e.Codes != nil:
		return virus.Codes(e.Codes...)
	case e.Regexp != nil:
		return &virus.Match{Re: e.Regexp.Re()}
	}
	return nil
}
