package config

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Env is what the built-in defaults take from the machine: amavis (on
// Debian) reads $mydomain from /etc/mailname and $myhostname from
// `hostname --fqdn`. Tests use a fixed Env; SystemEnv reads the machine.
type Env struct {
	// Hostname is the default myhostname.
	Hostname string
	// MailName is the default mydomain ("" = Hostname without its first
	// label, or Hostname itself when it has no dot).
	MailName string
	// StateDir is the default MYHOME.
	StateDir string
	// IPv6 tells whether [::1] can be bound: inet_socket_bind then
	// defaults to both loopback addresses, as in amavis.
	IPv6 bool
}

// SystemEnv returns the machine's Env:
//
//   - Hostname: os.Hostname (amavis/Debian: `hostname --fqdn`);
//   - MailName: the first line of /etc/mailname (Debian's 05-domain_id);
//   - StateDir (the default MYHOME): $STATE_DIRECTORY when systemd's
//     StateDirectory= set it; /var/lib/mavis when running as root (Debian's
//     layout, with /var/lib/amavis renamed); otherwise
//     $XDG_STATE_HOME/mavis (default ~/.local/state/mavis), or ./mavis-state
//     when there is no home directory. So a new user can run mavisd without
//     root and without a configuration file.
//   - IPv6: whether [::1] can be bound.
func SystemEnv() Env {
	e := Env{IPv6: haveIPv6()}
	if h, err := os.Hostname(); err == nil {
		e.Hostname = h
	}
	if b, err := os.ReadFile("/etc/mailname"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		e.MailName = strings.TrimSpace(line)
	}
	e.StateDir = defaultStateDir(os.Getenv, os.Geteuid())
	return e
}

func defaultStateDir(getenv func(string) string, euid int) string {
	if d := getenv("STATE_DIRECTORY"); d != "" {
		d, _, _ = strings.Cut(d, ":") // systemd joins several with ':'
		return d
	}
	if euid == 0 {
		return "/var/lib/mavis"
	}
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "mavis")
	}
	if h := getenv("HOME"); filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "state", "mavis")
	}
	return "mavis-state"
}

var haveIPv6 = sync.OnceValue(func() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
})

func (e Env) hostname() string {
	if e.Hostname == "" {
		return "localhost"
	}
	return e.Hostname
}

func (e Env) mydomain() string {
	if e.MailName != "" {
		return e.MailName
	}
	h := e.hostname()
	if _, dom, ok := strings.Cut(h, "."); ok && dom != "" {
		return dom
	}
	return h
}

func (e Env) stateDir() string {
	if e.StateDir == "" {
		return "mavis-state"
	}
	return e.StateDir
}

// ref is a one-table list referring to another setting (Perl's \$var).
func ref(name string) Maps { return Maps{{Type: LookupRef, Ref: name}} }

func refs(names ...string) Maps {
	var m Maps
	for _, n := range names {
		m = append(m, ref(n)...)
	}
	return m
}

func legacyTriple(base string) Maps { return refs(base, base+"_acl", base+"_re") }

func strConst(s string) Maps { return Const(StringValue(s)) }

func destConst(d Destiny) Maps { return Const(StringValue(d.String())) }

func mustRe(src string) *Regexp {
	re, err := CompileRegexp(src)
	if err != nil {
		panic(err)
	}
	return re
}

func rule(src string, v Value) RegexpRule { return RegexpRule{Re: mustRe(src), Value: v} }

func scannerRe(src string) *Regexp {
	re := mustRe("(?m)" + src)
	re.Source = src
	return re
}

func boolSet(names string, v bool, m map[string]bool) map[string]bool {
	if m == nil {
		m = map[string]bool{}
	}
	for _, n := range strings.Fields(names) {
		m[strings.ToLower(n)] = v
	}
	return m
}

// defaultSettings returns the built-in settings before derived values
// (after-defaults) are filled in: upstream amavis 2.13 overlaid with
// Debian's conf.d (10-debian_scripts, 20-debian_defaults, 05-*, 15-*,
// 25-amavis_helpers, 01-debian), except where docs/configuration.md says
// mavis differs on purpose.
func defaultSettings(env Env) Settings {
	s := staticDefaults()
	s.MyHome = Some(env.stateDir())
	s.MyDomain = Some(env.mydomain())
	s.MyHostname = Some(env.hostname())
	s.InetSocketBind = []string{"127.0.0.1"}
	if env.IPv6 {
		s.InetSocketBind = []string{"127.0.0.1", "[::1]"}
	}
	return s
}

// staticDefaults are the defaults that do not depend on the machine,
// built once (compiling their regexps once). The result shares its maps
// and slices with every Config; nothing modifies them in place.
var staticDefaults = sync.OnceValue(func() Settings { return builtinSettings(Env{}) })

func builtinSettings(env Env) Settings {
	bind := []string{"127.0.0.1"}
	if env.IPv6 {
		bind = append(bind, "[::1]")
	}
	fwd, _ := ParseMethod("smtp:[127.0.0.1]:10025")
	requeue, _ := ParseMethod("smtp:[127.0.0.1]:25")
	mynets, _ := ParseIPACL("127.0.0.0/8", "[::1]", "169.254.0.0/16", "[fe80::]/10",
		"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "[fc00::]/7")
	inetACL, _ := ParseIPACL("127.0.0.1", "[::1]")
	one := IntValue(1)

	s := Settings{
		// Paths and daemon.
		MyHome:                  Some(env.stateDir()),
		QuarantineSubdirLevels:  Some(1),
		MaxServers:              Some(2),
		MaxRequests:             Some(20),
		ChildTimeout:            Some(480 * time.Second),
		SMTPDTimeout:            Some(480 * time.Second),
		AllowPreservingEvidence: Some(true),
		Path:                    Some("/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin:/usr/bin:/bin"),
		Daemonize:               Some(false),
		CourierfilterShutdown:   Some(false),
		Debug:                   Some(false),
		EnableDB:                Some(true),
		MailIDSizeBits:          Some(72),
		NannyDetailsLevel:       Some(1),

		// Listening.
		InetSocketPort:  []int{10024},
		InetSocketBind:  bind,
		InetACL:         inetACL,
		InterfacePolicy: map[string]string{"SOCK": "AM.PDP-SOCK"},
		ClientIPAddrPolicy: []IPPolicy{{
			Maps: ref("mynetworks_maps"), Banks: []string{"MYNETS"}}},
		Mynetworks:     mynets,
		MynetworksMaps: ref("mynetworks"),
		Originating:    Some(false),

		// Identity.
		MyDomain:                 Some(env.mydomain()),
		MyHostname:               Some(env.hostname()),
		LocalhostName:            Some("localhost"),
		SNMPContact:              Some(""),
		SNMPLocation:             Some(""),
		LocalDomainsMaps:         legacyTriple("local_domains"),
		LocalpartIsCaseSensitive: Some(false),
		ReplaceExistingExtension: Some(true),

		// SMTP server.
		SMTPDGreetingBanner:                 Some("${helo-name} ${protocol} ${product} service ready"),
		SMTPDQuitBanner:                     Some("${helo-name} ${product} closing transmission channel"),
		SMTPDRecipientLimit:                 Some(1100),
		EnforceSMTPDMessageSizeLimit64kbMin: Some(true),
		SMTPDTLSServerOptions:               Table{"SSL_verifycn_scheme": StringValue("smtp"), "SSL_session_cache": IntValue(2)},
		AuthRequiredRelease:                 Some(true),
		MacroTestsSanityLimit:               Some(50),

		// Delivery.
		ForwardMethod:               Methods{fwd},
		NotifyMethod:                Methods{fwd},
		RequeueMethod:               Methods{requeue},
		ForwardMethodMapsByCcat:     ByCcat{CC(CCCatchAll): ref("forward_method_maps")},
		ReleaseFormat:               Some("resend"),
		ReportFormat:                Some("arf"),
		AttachmentPassword:          Some(""),
		AttachmentEmailName:         Some("msg-%m.eml"),
		AttachmentOuterName:         Some("msg-%m.zip"),
		PropagateDSNIfPossible:      Some(true),
		TerminateDSNOnNotifySuccess: Some(false),
		SMTPConnectionCacheOnDemand: Some(true),
		SMTPConnectionCacheEnable:   Some(true),
		SMTPTLSClientOptions:        Table{"SSL_verifycn_scheme": StringValue("smtp")},

		// Destinies and lovers.
		FinalVirusDestiny:     Some(DDiscard),
		FinalBannedDestiny:    Some(DDiscard),
		FinalUncheckedDestiny: Some(DPass),
		FinalSpamDestiny:      Some(DPass),
		FinalBadHeaderDestiny: Some(DPass),
		FinalDestinyMapsByCcat: ByCcat{
			CC(CCVirus):       ref("final_virus_destiny"),
			CC(CCBanned):      ref("final_banned_destiny"),
			CC(CCUnchecked):   ref("final_unchecked_destiny"),
			CC(CCSpam):        ref("final_spam_destiny"),
			CC(CCBadH):        ref("final_bad_header_destiny"),
			CCMinor(CCMTA, 1): destConst(DTempfail),
			CCMinor(CCMTA, 2): destConst(DReject),
			CC(CCMTA):         destConst(DTempfail),
			CC(CCOversized):   destConst(DBounce),
			CC(CCCatchAll):    destConst(DPass),
		},
		VirusLoversMaps:       legacyTriple("virus_lovers"),
		SpamLoversMaps:        legacyTriple("spam_lovers"),
		BannedFilesLoversMaps: legacyTriple("banned_files_lovers"),
		BadHeaderLoversMaps:   legacyTriple("bad_header_lovers"),
		LoversMapsByCcat: ByCcat{
			CC(CCVirus):     ref("virus_lovers_maps"),
			CC(CCBanned):    ref("banned_files_lovers_maps"),
			CC(CCUnchecked): ref("unchecked_lovers_maps"),
			CC(CCSpam):      ref("spam_lovers_maps"),
			CC(CCSpammy):    ref("spam_lovers_maps"),
			CC(CCBadH):      ref("bad_header_lovers_maps"),
		},

		// Bypassing checks. Debian's 20-package bypasses virus and spam
		// checks ((1)) until the admin edits 15-content_filter_mode; mavis
		// checks by default (see docs/configuration.md).
		BypassVirusChecksMaps:  legacyTriple("bypass_virus_checks"),
		BypassSpamChecksMaps:   legacyTriple("bypass_spam_checks"),
		BypassBannedChecksMaps: legacyTriple("bypass_banned_checks"),
		BypassHeaderChecksMaps: legacyTriple("bypass_header_checks"),

		// Spam.
		SaTagLevelDeflt:                    Some(2.0),
		SaTag2LevelDeflt:                   Some(6.31),
		SaKillLevelDeflt:                   Some(6.31),
		SaDSNCutoffLevel:                   Some(10.0),
		SaSpamSubjectTag:                   Some("***SPAM*** "),
		SaSpamLevelChar:                    Some("*"),
		SaMailBodySizeLimit:                Some(200 * 1024),
		SaLocalTestsOnly:                   Some(false),
		SaNumInstances:                     Some(1),
		SaSpawned:                          Some(false),
		DSPAM:                              []string{"dspam"},
		SpamScanners:                       []SpamScanner{{Name: "SpamAssassin", Module: "SpamAssassin", Options: Table{}}},
		SpamTagLevelMaps:                   ref("sa_tag_level_deflt"),
		SpamTag2LevelMaps:                  ref("sa_tag2_level_deflt"),
		SpamTag3LevelMaps:                  ref("sa_tag3_level_deflt"),
		SpamKillLevelMaps:                  ref("sa_kill_level_deflt"),
		SpamDSNCutoffLevelMaps:             ref("sa_dsn_cutoff_level"),
		SpamDSNCutoffLevelBysenderMaps:     ref("sa_dsn_cutoff_level"),
		SpamCrediblefromDSNCutoffLevelMaps: ref("sa_crediblefrom_dsn_cutoff_level"),
		SpamCrediblefromDSNCutoffLevelBysenderMaps: ref("sa_crediblefrom_dsn_cutoff_level"),
		SpamQuarantineCutoffLevelMaps:              ref("sa_quarantine_cutoff_level"),
		SpamSubjectTagMaps:                         ref("sa_spam_subject_tag1"),
		SpamSubjectTag2Maps:                        ref("sa_spam_subject_tag"),
		WhitelistSenderMaps:                        legacyTriple("whitelist_sender"),
		BlacklistSenderMaps:                        legacyTriple("blacklist_sender"),
		ScoreSenderMaps: Maps{{Type: LookupHash, Entries: Hash{".": MapsValue(Maps{
			{Type: LookupRegexp, Rules: []RegexpRule{
				rule(`(?i)^(bulkmail|offers|cheapbenefits|earnmoney|foryou)@`, FloatValue(5)),
				rule(`(?i)^(greatcasino|investments|lose_weight_today|market\.alert)@`, FloatValue(5)),
				rule(`(?i)^(money2you|MyGreenCard|new\.tld\.registry|opt-out|opt-in)@`, FloatValue(5)),
				rule(`(?i)^(optin|saveonlsmoking2002k|specialoffer|specialoffers)@`, FloatValue(5)),
				rule(`(?i)^(stockalert|stopsnoring|wantsome|workathome|yesitsfree)@`, FloatValue(5)),
				rule(`(?i)^(your_friend|greatoffers)@`, FloatValue(5)),
				rule(`(?i)^(inkjetplanet|marketopt|MakeMoney)\d*@`, FloatValue(5)),
			}},
			{Type: LookupHash, Entries: Hash{}},
		})}}},
		PenpalsHalflife:     Some(7 * 24 * time.Hour),
		PenpalsThresholdLow: Some(1.0),
		BounceKillerScore:   Some(0.0),
		ReputationFactor:    Some(0.2),
		EnableIPRepu:        Some(true),
		IPRepuIgnoreMaps:    ref("ip_repu_ignore_networks"),

		// Virus scanning (Debian's 15-av_scanners, ClamAV entries; the
		// commercial scanners Debian lists are left out).
		AVScanners: []AVScanner{{
			Name: "ClamAV-clamd", Type: "ask_daemon", Args: "CONTSCAN {}\n",
			Sockets:   []string{"/var/run/clamav/clamd.ctl"},
			Clean:     ExitOrRegexp{Regexp: scannerRe(`\bOK$`)},
			Infected:  ExitOrRegexp{Regexp: scannerRe(`\bFOUND$`)},
			VirusName: scannerRe(`^.*?: (.*) FOUND$`),
		}},
		VirusesThatFakeSenderMaps: Maps{{Type: LookupRegexp, Rules: []RegexpRule{
			rule(`(?i)\bEICAR\b`, IntValue(0)),
			rule(`.*`, one),
		}}},

		// Decoding and banned files.
		MaxLevels:          Some(14),
		MaxFiles:           Some(1500),
		MinExpansionQuota:  Some(100 * 1024),
		MaxExpansionQuota:  Some(300 * 1024 * 1024),
		MinExpansionFactor: Some(5.0),
		MaxExpansionFactor: Some(500.0),
		File:               Some("file"),
		KeepDecodedOriginalMaps: Maps{{Type: LookupRegexp, Rules: []RegexpRule{
			rule(`^MAIL-UNDECIPHERABLE$`, one),
			// Debian: qr'^(ASCII(?! cpio)|text|...)'i; RE2 has no
			// look-ahead, so "ASCII cpio" is excluded by an earlier rule.
			rule(`(?i)^ASCII cpio`, IntValue(0)),
			rule(`(?i)^(ASCII|text|uuencoded|xxencoded|binhex)`, one),
		}}},
		MapFullTypeToShortTypeMaps: ref("map_full_type_to_short_type_re"),
		BannedFilenameMaps:         strConst("DEFAULT"),
		BannedRules:                NamedMaps{"DEFAULT": ref("banned_filename_re")},
		BannedFilenameRe: Regexps{
			rule(`(?i)\.[^./]*\.(exe|vbs|pif|scr|bat|cmd|com|cpl|dll)\.?$`, one),
			rule(`(?i)\{[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\}?$`, one),
			rule(`(?i)^application/x-msdownload$`, one),
			rule(`(?i)^application/x-msdos-program$`, one),
			rule(`(?i)^application/hta$`, one),
			rule(`(?i).\.(exe|vbs|pif|scr|bat|cmd|com|cpl)$`, one),
			rule(`^\.(exe-ms)$`, one),
		},
		Arc:        []string{"nomarch", "arc"},
		Bzip2:      []string{"bzip2"},
		Lzop:       []string{"lzop"},
		Unarj:      []string{"arj", "unarj"},
		Gzip:       []string{"gzip"},
		Uncompress: []string{"uncompress", "gzip -d", "zcat"},
		Unrar:      []string{"unrar-free"},
		Zoo:        []string{"zoo"},
		Pax:        []string{"pax"},
		Cpio:       []string{"cpio"},
		Ar:         []string{"ar"},
		Rpm2cpio:   []string{"rpm2cpio.pl", "rpm2cpio"},
		Cabextract: []string{"cabextract"},
		Ripole:     []string{"ripole"},

		// Header checks and header editing.
		AllowedHeaderTests: boolSet("utf8", false,
			boolSet("other mime syntax empty long control 8bit missing multiple", true, nil)),
		AllowedAddedHeaderFields: boolSet("X-Spam-Report X-Spam-Checker-Version X-Amavis-Category", false,
			boolSet(`Received DKIM-Signature Authentication-Results VBR-Info
				X-Quarantine-ID X-Amavis-Alert X-Amavis-Hold X-Amavis-Modified
				X-Amavis-PenPals X-Amavis-OS-Fingerprint X-Amavis-PolicyBank
				X-Spam-Status X-Spam-Level X-Spam-Flag X-Spam-Score X-Spam-Tests
				X-CRM114-Status X-CRM114-CacheID X-CRM114-Notice X-CRM114-Action
				X-DSPAM-Result X-DSPAM-Class X-DSPAM-Signature X-DSPAM-Processed
				X-DSPAM-Confidence X-DSPAM-Probability X-DSPAM-User X-DSPAM-Factors
				X-Bogosity`, true, nil)),
		PreferOurAddedHeaderFields: boolSet(`X-Spam-Status X-Spam-Level X-Spam-Flag X-Spam-Score
			X-Spam-Report X-Spam-Checker-Version X-CRM114-Status X-CRM114-CacheID
			X-DSPAM-Result X-DSPAM-Signature`, true, nil),
		XHeaderTag:                       Some("X-Virus-Scanned"),
		RemoveExistingXScannedHeaders:    Some(false),
		RemoveExistingSpamHeaders:        Some(true),
		RemoveExistingSpamHeadersMaps:    ref("remove_existing_spam_headers"),
		PrependHeaderFieldsHdridx:        Some(0),
		AllowFixingImproperHeader:        Some(true),
		AllowFixingImproperHeaderFolding: Some(true),
		AllowFixingLongHeaderLines:       Some(true),
		HdrEncoding:                      Some("UTF-8"),
		BdyEncoding:                      Some("UTF-8"),
		HdrEncodingQB:                    Some("Q"),
		UndecipherableSubjectTag:         Some("***UNCHECKED*** "),
		SubjectTagMapsByCcat: ByCcat{
			CC(CCVirus):          strConst("***INFECTED*** "),
			CC(CCBanned):         nil,
			CC(CCUnchecked):      ref("undecipherable_subject_tag"),
			CC(CCSpam):           nil,
			CCMinor(CCSpammy, 1): ref("spam_subject_tag3_maps"),
			CC(CCSpammy):         ref("spam_subject_tag2_maps"),
			CCMinor(CCClean, 1):  ref("spam_subject_tag_maps"),
		},
		DefangMapsByCcat: ByCcat{
			CC(CCVirus):     ref("defang_virus"),
			CC(CCBanned):    ref("defang_banned"),
			CC(CCUnchecked): ref("defang_undecipherable"),
			CC(CCSpam):      ref("defang_spam"),
			CC(CCSpammy):    ref("defang_spam"),
			CC(CCBadH):      ref("defang_bad_header"),
		},
		AddrExtensionVirusMaps:     ref("addr_extension_virus"),
		AddrExtensionSpamMaps:      ref("addr_extension_spam"),
		AddrExtensionBannedMaps:    ref("addr_extension_banned"),
		AddrExtensionBadHeaderMaps: ref("addr_extension_bad_header"),
		AddrExtensionMapsByCcat: ByCcat{
			CC(CCVirus):  ref("addr_extension_virus_maps"),
			CC(CCBanned): ref("addr_extension_banned_maps"),
			CC(CCSpam):   ref("addr_extension_spam_maps"),
			CC(CCSpammy): ref("addr_extension_spam_maps"),
			CC(CCBadH):   ref("addr_extension_bad_header_maps"),
		},
		Altermime:               Some("altermime"),
		AltermimeArgsDefang:     []string{"--verbose", "--removeall"},
		AltermimeArgsDisclaimer: []string{"--disclaimer=/etc/altermime-disclaimer.txt"},
		SignedHeaderFields:      signedHeaderFields(),
		SMTPReasonByCcat:        smtpReasons(),

		// Quarantine.
		VirusQuarantineMethod:       Some("local:virus-%m"),
		BannedFilesQuarantineMethod: Some("local:banned-%m"),
		SpamQuarantineMethod:        Some("local:spam-%m.gz"),
		BadHeaderQuarantineMethod:   Some("local:badh-%m"),
		QuarantineMethodByCcat: ByCcat{
			CC(CCVirus):     ref("virus_quarantine_method"),
			CC(CCBanned):    ref("banned_files_quarantine_method"),
			CC(CCUnchecked): ref("unchecked_quarantine_method"),
			CC(CCSpam):      ref("spam_quarantine_method"),
			CC(CCBadH):      ref("bad_header_quarantine_method"),
			CC(CCClean):     ref("clean_quarantine_method"),
		},
		VirusQuarantineTo:            Some("virus-quarantine"),
		BannedQuarantineTo:           Some("banned-quarantine"),
		UncheckedQuarantineTo:        Some("unchecked-quarantine"),
		SpamQuarantineTo:             Some("spam-quarantine"),
		BadHeaderQuarantineTo:        Some("bad-header-quarantine"),
		CleanQuarantineTo:            Some("clean-quarantine"),
		ArchiveQuarantineTo:          Some("archive-quarantine"),
		VirusQuarantineToMaps:        ref("virus_quarantine_to"),
		BannedQuarantineToMaps:       ref("banned_quarantine_to"),
		UncheckedQuarantineToMaps:    ref("unchecked_quarantine_to"),
		SpamQuarantineToMaps:         ref("spam_quarantine_to"),
		SpamQuarantineBysenderToMaps: ref("spam_quarantine_bysender_to"),
		BadHeaderQuarantineToMaps:    ref("bad_header_quarantine_to"),
		CleanQuarantineToMaps:        ref("clean_quarantine_to"),
		ArchiveQuarantineToMaps:      ref("archive_quarantine_to"),
		QuarantineToMapsByCcat: ByCcat{
			CC(CCVirus):     ref("virus_quarantine_to_maps"),
			CC(CCBanned):    ref("banned_quarantine_to_maps"),
			CC(CCUnchecked): ref("unchecked_quarantine_to_maps"),
			CC(CCSpam):      ref("spam_quarantine_to_maps"),
			CC(CCBadH):      ref("bad_header_quarantine_to_maps"),
			CC(CCClean):     ref("clean_quarantine_to_maps"),
		},
		SQLQuarantineChunksizeMax: Some(16384),

		// Notifications.
		VirusAdminMaps:     refs("virus_admin"),
		SpamAdminMaps:      refs("spam_admin"),
		NewvirusAdminMaps:  refs("newvirus_admin"),
		BannedAdminMaps:    refs("banned_admin", "virus_admin"),
		BadHeaderAdminMaps: refs("bad_header_admin"),
		AdminMapsByCcat: ByCcat{
			CC(CCVirus):     ref("virus_admin_maps"),
			CC(CCBanned):    ref("banned_admin_maps"),
			CC(CCUnchecked): ref("virus_admin_maps"),
			CC(CCSpam):      ref("spam_admin_maps"),
			CC(CCBadH):      ref("bad_header_admin_maps"),
		},
		WarnVirusRecipMaps:  ref("warnvirusrecip"),
		WarnBannedRecipMaps: ref("warnbannedrecip"),
		WarnBadhRecipMaps:   ref("warnbadhrecip"),
		WarnrecipMapsByCcat: ByCcat{
			CC(CCVirus):  ref("warnvirusrecip_maps"),
			CC(CCBanned): ref("warnbannedrecip_maps"),
			CC(CCSpam):   nil,
			CC(CCBadH):   ref("warnbadhrecip_maps"),
		},
		WarnsenderByCcat: ByCcat{
			CC(CCVirus):  nil,
			CC(CCBanned): ref("warnbannedsender"),
			CC(CCSpam):   nil,
			CC(CCBadH):   ref("warnbadhsender"),
		},
		HdrfromNotifySender: Some(`"Content-filter at ${myhostname_utf8}" <postmaster@${myhostname_ascii}>`),
		MailfromNotifyAdminByCcat: ByCcat{
			CC(CCSpam): ref("mailfrom_notify_spamadmin"), CC(CCCatchAll): ref("mailfrom_notify_admin")},
		HdrfromNotifyAdminByCcat: ByCcat{
			CC(CCSpam): ref("hdrfrom_notify_spamadmin"), CC(CCCatchAll): ref("hdrfrom_notify_admin")},
		MailfromNotifyRecipByCcat:  ByCcat{CC(CCCatchAll): ref("mailfrom_notify_recip")},
		HdrfromNotifyRecipByCcat:   ByCcat{CC(CCCatchAll): ref("hdrfrom_notify_recip")},
		HdrfromNotifySenderByCcat:  ByCcat{CC(CCCatchAll): ref("hdrfrom_notify_sender")},
		HdrfromNotifyReleaseByCcat: ByCcat{CC(CCCatchAll): ref("hdrfrom_notify_release")},
		HdrfromNotifyReportByCcat:  ByCcat{CC(CCCatchAll): ref("hdrfrom_notify_report")},
		AlwaysBccByCcat:            ByCcat{CC(CCCatchAll): ref("always_bcc")},
		DSNBccByCcat:               ByCcat{CC(CCCatchAll): ref("dsn_bcc")},
		NotifyAdminTemplByCcat: ByCcat{
			CC(CCSpam): ref("notify_spam_admin_templ"), CC(CCCatchAll): ref("notify_virus_admin_templ")},
		NotifyRecipsTemplByCcat: ByCcat{
			CC(CCSpam): ref("notify_spam_recips_templ"), CC(CCCatchAll): ref("notify_virus_recips_templ")},
		NotifySenderTemplByCcat: ByCcat{
			CC(CCVirus):    ref("notify_virus_sender_templ"),
			CC(CCBanned):   ref("notify_virus_sender_templ"),
			CC(CCSpam):     ref("notify_spam_sender_templ"),
			CC(CCCatchAll): ref("notify_sender_templ"),
		},
		NotifyAutorespTemplByCcat: ByCcat{CC(CCCatchAll): ref("notify_autoresp_templ")},
		NotifyReleaseTemplByCcat:  ByCcat{CC(CCCatchAll): ref("notify_release_templ")},
		NotifyReportTemplByCcat:   ByCcat{CC(CCCatchAll): ref("notify_report_templ")},

		// Logging.
		LogLevel:                Some(0),
		DoSyslog:                Some(true),
		SyslogIdent:             Some("amavis"),
		SyslogFacility:          Some("mail"),
		LoglineMaxlen:           Some(980),
		MailDigestAlgorithm:     Some("MD5"),
		MailPartDigestAlgorithm: Some("SHA1"),
		DebugSenderMaps:         ref("debug_sender_acl"),

		// DKIM.
		EnableDKIMVerification: Some(false),
		DKIMMinimumKeyBits:     Some(1024),

		// SQL, LDAP, Redis.
		SQLSelectPolicy: Some("SELECT users.*, policy.*, users.id FROM users" +
			" LEFT JOIN policy ON users.policy_id=policy.id" +
			" WHERE users.email IN (%k) ORDER BY users.priority DESC"),
		SQLSelectWhiteBlackList: Some("SELECT wb FROM wblist JOIN mailaddr ON wblist.sid=mailaddr.id" +
			" WHERE wblist.rid=? AND mailaddr.email IN (%k) ORDER BY mailaddr.priority DESC"),
		SQLClause:                             sqlClauses(),
		SQLStoreInfoForAllMsgs:                Some(true),
		SQLAllow8bitAddress:                   Some(false),
		PartitionTag:                          IntValue(0),
		SQLLookupsNoAtMeansDomain:             Some(false),
		LDAPLookupsNoAtMeansDomain:            Some(false),
		LookupMapsImplySQLAndLDAP:             Some(true),
		DatabaseSessionsPersistent:            Some(true),
		SQLSchemaVersion:                      Some(2.013),
		TrimTrailingSpaceInLookupResultFields: Some(false),
		EnableLDAP:                            Some(false),
		StorageRedisTTL:                       Some(16 * 24 * time.Hour),

		Mavis: MavisSettings{
			SpoolThreshold:     Some(256 << 10),
			MetricsListen:      Some(""),
			MilterListen:       Some(""),
			TemplatesDir:       Some(""),
			ShutdownTimeout:    Some(30 * time.Second),
			QuarantineMaxAge:   Some(0),
			SQLMaxAge:          Some(0),
			SpamFailureIsFatal: Some(false),
		},
	}
	return s
}

func signedHeaderFields() map[string]int {
	m := map[string]int{}
	for _, n := range strings.Fields(`From Sender Reply-To Subject Date Message-ID To Cc
		In-Reply-To References MIME-Version Content-Type Content-Transfer-Encoding
		Content-ID Content-Description Resent-Date Resent-From Resent-Sender
		Resent-To Resent-Cc Resent-Message-ID List-Id List-Post List-Owner
		List-Subscribe List-Unsubscribe List-Help List-Archive Received Precedence
		Original-Message-ID Message-Context PICS-Label Sensitivity Solicitation
		Content-Location Content-Features Content-Disposition Content-Language
		Content-Alternative Content-Base Content-MD5 Content-Duration Content-Class
		Accept-Language Auto-Submitted Archived-At VBR-Info
		Organization Organisation User-Agent X-Mailer`) {
		m[strings.ToLower(n)] = 1
	}
	for _, n := range strings.Fields("Sender To Cc Resent-To Resent-Cc") {
		m[strings.ToLower(n)] = 0
	}
	for _, n := range strings.Fields("From Date Subject Content-Type") {
		m[strings.ToLower(n)] = 2
	}
	return m
}

func smtpReasons() ByCcat {
	r := func(s string) Maps { return strConst("id=%n - " + s) }
	return ByCcat{
		CC(CCVirus):             r("INFECTED: %V"),
		CC(CCBanned):            r("BANNED: %F"),
		CCMinor(CCUnchecked, 1): r("UNCHECKED: encrypted"),
		CCMinor(CCUnchecked, 2): r("UNCHECKED: over limits"),
		CCMinor(CCUnchecked, 3): r("UNCHECKED: ambiguous content"),
		CC(CCUnchecked):         r("UNCHECKED"),
		CC(CCSpam):              r("spam"),
		CCMinor(CCSpammy, 1):    r("spammy (tag3)"),
		CC(CCSpammy):            r("spammy"),
		CCMinor(CCBadH, 1):      r("BAD HEADER: MIME error"),
		CCMinor(CCBadH, 2):      r("BAD HEADER: nonencoded 8-bit character"),
		CCMinor(CCBadH, 3):      r("BAD HEADER: contains invalid control character"),
		CCMinor(CCBadH, 4):      r("BAD HEADER: line made up entirely of whitespace"),
		CCMinor(CCBadH, 5):      r("BAD HEADER: line longer than RFC 5322 limit"),
		CCMinor(CCBadH, 6):      r("BAD HEADER: syntax error"),
		CCMinor(CCBadH, 7):      r("BAD HEADER: missing required header field"),
		CCMinor(CCBadH, 8):      r("BAD HEADER: duplicate header field"),
		CC(CCBadH):              r("BAD HEADER"),
		CC(CCOversized):         r("Message size exceeds recipient's size limit"),
		CCMinor(CCMTA, 1):       r("Temporary MTA failure on relaying"),
		CCMinor(CCMTA, 2):       r("Rejected by next-hop MTA on relaying"),
		CC(CCMTA):               r("Unable to relay message back to MTA"),
		CC(CCClean):             r("CLEAN"),
		CC(CCCatchAll):          r("OTHER"),
	}
}

// sqlClauses are amavis's SQL statements (%sql_clause): part of the
// contract with existing SQL schemas and quarantine front ends.
// sel_policy and sel_wblist come from $sql_select_policy and
// $sql_select_white_black_list unless given here.
func sqlClauses() map[string]string {
	return map[string]string{
		"sel_adr": "SELECT id FROM maddr WHERE partition_tag=? AND email=?",
		"ins_adr": "INSERT INTO maddr (partition_tag, email, domain) VALUES (?,?,?)",
		"ins_msg": "INSERT INTO msgs (partition_tag, mail_id, secret_id, am_id," +
			" time_num, time_iso, sid, policy, client_addr, size, host)" +
			" VALUES (?,?,?,?,?,?,?,?,?,?,?)",
		"upd_msg": "UPDATE msgs SET content=?, quar_type=?, quar_loc=?, dsn_sent=?," +
			" spam_level=?, message_id=?, from_addr=?, subject=?, client_addr=?," +
			" originating=? WHERE partition_tag=? AND mail_id=?",
		"ins_rcp": "INSERT INTO msgrcpt (partition_tag, mail_id, rseqnum, rid, is_local," +
			" content, ds, rs, bl, wl, bspam_level, smtp_resp)" +
			" VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
		"ins_quar": "INSERT INTO quarantine (partition_tag, mail_id, chunk_ind, mail_text)" +
			" VALUES (?,?,?,?)",
		"sel_msg":  "SELECT partition_tag FROM msgs WHERE mail_id=?",
		"sel_quar": "SELECT mail_text FROM quarantine WHERE partition_tag=? AND mail_id=? ORDER BY chunk_ind",
		"sel_penpals": "SELECT msgs.time_num, msgs.mail_id, subject" +
			" FROM msgs JOIN msgrcpt USING (partition_tag,mail_id)" +
			" WHERE sid=? AND rid=? AND msgs.content!='V' AND ds='P'" +
			" ORDER BY msgs.time_num DESC",
		"sel_penpals_msgid": "SELECT msgs.time_num, msgs.mail_id, subject, message_id, rid" +
			" FROM msgs JOIN msgrcpt USING (partition_tag,mail_id)" +
			" WHERE sid=? AND msgs.content!='V' AND ds='P' AND message_id IN (%m)" +
			" AND rid!=sid ORDER BY rid=? DESC, msgs.time_num DESC",
	}
}

// defaultBanks are Debian's 25-amavis_helpers bank for the AM.PDP socket.
func defaultBanks() []*policyBank {
	return []*policyBank{{name: "AM.PDP-SOCK", assigns: []assign{
		mkAssign("protocol", Some("AM.PDP")),
		mkAssign("auth_required_release", Some(false)),
	}}}
}

func mkAssign(name string, v any) assign {
	st := schema.byName[name]
	return assign{st: st, val: reflectValue(st, v)}
}

// bankAlternative names the per-recipient maps that read a global legacy
// setting by default (sa_kill_level_deflt → spam_kill_level_maps), the
// setting to use in a policy bank instead.
func bankAlternative(name string) string {
	def := staticDefaults()
	var alts []string
	for _, st := range schema.list {
		if st.kind != kMaps || !st.dyn {
			continue
		}
		for _, sp := range st.field(&def).Interface().(Maps) {
			if sp.Type == LookupRef && sp.Ref == name {
				alts = append(alts, st.name)
			}
		}
	}
	return strings.Join(alts, " or ")
}
