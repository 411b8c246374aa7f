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
	"github.com/mavis-filter/mavis/internal/spamtag"
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
	warnRecip                                           map[policy.CCat]lookup.Maps
	levels                                              [6]lookup.Maps // tag, tag2, tag3, kill, dsn cutoff, quarantine cutoff
	subjectTags                                         [3]lookup.Maps
	removeSpamHeaders                                   lookup.Maps
	wb                                                  lookup.WBInput
	wbQuery                                             *lookup.Query
	policyQuery                                         *lookup.Query
}

func compileRecipientMaps(s *config.Settings, sq *sqlLookups) (rmOut *recipientMaps, errOut error) {
	rules := lookup.Rules{
		Delimiter:              s.RecipientDelimiter.Or(""),
		LocalpartCaseSensitive: s.LocalpartIsCaseSensitive.Or(false),
	}
	// With lookup_sql_dsn, amavis puts the SQL field a setting implies in
	// front of each *_maps list (lookup_maps_imply_sql_and_ldap).
	var implied map[string]lookup.Table
	if sq != nil && s.LookupMapsImplySQLAndLDAP.Or(true) {
		static, err := Tables("local_domains_maps", s.LocalDomainsMaps, rules)
		if err != nil {
			return nil, err
		}
		clause := s.SQLSelectPolicy.Or(lookup.DefaultSelectPolicy)
		pq := lookup.NewPolicyQuery(sq.db, clause, rules, static)
		implied = lookup.ImpliedTables(pq)
		wbClause := s.SQLSelectWhiteBlackList.Or(lookup.DefaultSelectWhiteBlackList)
		sqWB := lookup.NewWBListQuery(sq.db, wbClause, rules, static)
		defer func() {
			if rmOut != nil {
				rmOut.policyQuery, rmOut.wbQuery = pq, sqWB
			}
		}()
	}
	rm := &recipientMaps{lovers: map[policy.CCat]lookup.Maps{}, bannedRules: map[string][]config.Regexps{},
		quarantineTo: map[policy.CCat]lookup.Maps{}, admins: map[policy.CCat]lookup.Maps{}, warnRecip: map[policy.CCat]lookup.Maps{}}
	var err error
	compile := func(dst *lookup.Maps, name string, m config.Maps) {
		if err != nil {
			return
		}
		*dst, err = Tables(name, m, rules)
		if t, ok := implied[name]; ok && err == nil {
			dst.Tables = append([]lookup.Table{t}, dst.Tables...)
		}
	}
	compile(&rm.local, "local_domains_maps", s.LocalDomainsMaps)
	compile(&rm.bypassVirus, "bypass_virus_checks_maps", s.BypassVirusChecksMaps)
	compile(&rm.bypassBanned, "bypass_banned_checks_maps", s.BypassBannedChecksMaps)
	compile(&rm.bypassHeader, "bypass_header_checks_maps", s.BypassHeaderChecksMaps)
	compile(&rm.bypassSpam, "bypass_spam_checks_maps", s.BypassSpamChecksMaps)
	for c, nm := range map[policy.CCat]struct {
		name string
		m    config.Maps
	}{
		policy.CCVirus: {"virus_lovers_maps", s.VirusLoversMaps}, policy.CCBanned: {"banned_files_lovers_maps", s.BannedFilesLoversMaps},
		policy.CCUnchecked: {"unchecked_lovers_maps", s.UncheckedLoversMaps}, policy.CCSpam: {"spam_lovers_maps", s.SpamLoversMaps},
		policy.CCBadH: {"bad_header_lovers_maps", s.BadHeaderLoversMaps},
	} {
		var lm lookup.Maps
		compile(&lm, nm.name, nm.m)
		rm.lovers[c] = lm
	}
	rm.lovers[policy.CCSpammy] = rm.lovers[policy.CCSpam]
	compile(&rm.bannedMaps, "banned_filename_maps", s.BannedFilenameMaps)
	for i, nm := range []struct {
		name string
		m    config.Maps
	}{
		{"spam_tag_level_maps", s.SpamTagLevelMaps}, {"spam_tag2_level_maps", s.SpamTag2LevelMaps},
		{"spam_tag3_level_maps", s.SpamTag3LevelMaps}, {"spam_kill_level_maps", s.SpamKillLevelMaps},
		{"spam_dsn_cutoff_level_maps", s.SpamDSNCutoffLevelMaps}, {"spam_quarantine_cutoff_level_maps", s.SpamQuarantineCutoffLevelMaps},
	} {
		compile(&rm.levels[i], nm.name, nm.m)
	}
	compile(&rm.subjectTags[0], "spam_subject_tag_maps", s.SpamSubjectTagMaps)
	compile(&rm.subjectTags[1], "spam_subject_tag2_maps", s.SpamSubjectTag2Maps)
	compile(&rm.subjectTags[2], "spam_subject_tag3_maps", s.SpamSubjectTag3Maps)
	compile(&rm.removeSpamHeaders, "remove_existing_spam_headers_maps", s.RemoveExistingSpamHeadersMaps)
	for c, nm := range map[policy.CCat]struct {
		name string
		m    config.Maps
	}{
		policy.CCVirus: {"warnvirusrecip_maps", s.WarnVirusRecipMaps}, policy.CCBanned: {"warnbannedrecip_maps", s.WarnBannedRecipMaps},
		policy.CCBadH: {"warnbadhrecip_maps", s.WarnBadhRecipMaps},
	} {
		var lm lookup.Maps
		compile(&lm, nm.name, nm.m)
		rm.warnRecip[c] = lm
	}
	compile(&rm.wb.WhitelistSender, "whitelist_sender_maps", s.WhitelistSenderMaps)
	compile(&rm.wb.BlacklistSender, "blacklist_sender_maps", s.BlacklistSenderMaps)
	compile(&rm.wb.ScoreSender, "score_sender_maps", s.ScoreSenderMaps)
	for c, nm := range map[policy.CCat]struct {
		name string
		m    config.Maps
	}{
		policy.CCVirus: {"virus_quarantine_to_maps", s.VirusQuarantineToMaps}, policy.CCBanned: {"banned_quarantine_to_maps", s.BannedQuarantineToMaps},
		policy.CCUnchecked: {"unchecked_quarantine_to_maps", s.UncheckedQuarantineToMaps}, policy.CCSpam: {"spam_quarantine_to_maps", s.SpamQuarantineToMaps},
		policy.CCBadH: {"bad_header_quarantine_to_maps", s.BadHeaderQuarantineToMaps}, policy.CCClean: {"clean_quarantine_to_maps", s.CleanQuarantineToMaps},
	} {
		var lm lookup.Maps
		compile(&lm, nm.name, nm.m)
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
	return o.Or(def)
}

// sqlLookups is the lookup database of lookup_sql_dsn, opened once per
// configuration load.
type sqlLookups struct {
	db *lookup.DB
}

func openSQLLookups(s *config.Settings) (*sqlLookups, error) {
	if len(s.LookupSQLDSN) == 0 {
		return nil, nil
	}
	var dsns []lookup.DSN
	for _, d := range s.LookupSQLDSN {
		ld, err := lookup.ParseDSN(d.DSN, d.User, d.Password)
		if err != nil {
			return nil, fmt.Errorf("lookup_sql_dsn: %w", err)
		}
		dsns = append(dsns, ld)
	}
	db, err := lookup.OpenDB(dsns, lookup.DBOptions{})
	if err != nil {
		return nil, fmt.Errorf("lookup_sql_dsn: %w", err)
	}
	return &sqlLookups{db: db}, nil
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
	for i, lv := range []*spamtag.Level{&rp.SpamLevels.Tag, &rp.SpamLevels.Tag2, &rp.SpamLevels.Tag3,
		&rp.SpamLevels.Kill, &rp.SpamLevels.DSNCutoff, &rp.SpamLevels.QuarantineCutoff} {
		r, err := rm.levels[i].Lookup(ctx, addr)
		if err != nil {
			return nil, err
		}
		if f, ok := lookup.Number(r.Value); r.Found && ok {
			*lv = spamtag.Level{V: f, Set: true, Text: lookup.FormatValue(r.Value)}
		}
	}
	for i, dst := range []*string{&rp.SubjectTag, &rp.SubjectTag2, &rp.SubjectTag3} {
		r, err := rm.subjectTags[i].Lookup(ctx, addr)
		if err != nil {
			return nil, err
		}
		if r.Found {
			*dst = lookup.FormatValue(r.Value)
		}
	}
	rp.RemoveSpamHeaders = get(rm.removeSpamHeaders)
	rp.WarnRecip = map[policy.CCat]bool{}
	for c, m := range rm.warnRecip {
		rp.WarnRecip[c] = get(m)
	}
	if err != nil {
		return nil, err
	}
	rp.WhiteBlack = func(ctx context.Context, senders []string) (lookup.WBResult, error) {
		in := rm.wb
		in.Recipient, in.Senders, in.WBQuery = addr, senders, rm.wbQuery
		if rm.policyQuery != nil {
			ids, err := lookup.UserIDs(ctx, rm.policyQuery, addr)
			if err != nil {
				return lookup.WBResult{}, err
			}
			in.UserIDs = ids
		}
		return lookup.WhiteBlackList(ctx, in)
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
		SpamLevelChar:       s.SaSpamLevelChar.Or("*"),
		SpamFailureIsFatal:  s.Mavis.SpamFailureIsFatal.Or(false),
		AVOptions:           virus.Options{FirstInfectedStopsScan: s.FirstInfectedStopsScan.Or(false)},
	}
	fake, err := Tables("viruses_that_fake_sender_maps", s.VirusesThatFakeSenderMaps, lookup.Rules{})
	if err != nil {
		return c, err
	}
	c.FakesSender = func(ctx context.Context, name string) bool {
		b, _, err := fake.Bool(ctx, name)
		return err != nil || b // on a lookup error assume forged: no backscatter
	}
	toSpam, err := Tables("virus_name_to_spam_score_maps", s.VirusNameToSpamScoreMaps, lookup.Rules{})
	if err != nil {
		return c, err
	}
	c.AVOptions.SpamScore = func(name string) (float64, bool) {
		r, err := toSpam.Lookup(context.Background(), name)
		if err != nil || !r.Found {
			return 0, false
		}
		return lookup.Number(r.Value)
	}
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
		// options = { path_scan = true } keeps a clamd CONTSCAN/MULTISCAN
		// entry as a path scan (amavis's way; clamd must read TEMPBASE);
		// by default mavis streams to clamd instead.
		pathScan := e.Options["path_scan"].Truth()
		sc, err := virus.New(ve, virus.BuildOptions{StopOnFound: s.FirstInfectedStopsScan.Or(false), Clamd: clamd.Config{}, KeepPathScan: pathScan})
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
