package config

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var testEnv = Env{Hostname: "mx.example.com", MailName: "example.com", StateDir: "/srv/mavis", IPv6: true}

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := testEnv.Parse("t.toml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%v\n--- input:\n%s", err, src)
	}
	return c
}

func parseErrs(t *testing.T, src string) []string {
	t.Helper()
	_, err := testEnv.Parse("t.toml", []byte(src))
	if err == nil {
		t.Fatalf("Parse succeeded, want errors\n--- input:\n%s", src)
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, want Errors", err)
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Error()
	}
	return out
}

func constMaps(v Value) Maps { return Maps{{Type: LookupConst, Value: v}} }

// stripPos drops positions so specs compare by content.
func stripPos(m Maps) Maps {
	out := slices.Clone(m)
	for i := range out {
		out[i].Pos = Pos{}
	}
	return out
}

func eqMaps(t *testing.T, name string, got, want Maps) {
	t.Helper()
	if !stripPos(got).Equal(want) {
		t.Errorf("%s = %s, want %s", name, renderMaps(got, false), renderMaps(want, false))
	}
}

// TestDefaultsDebian spot-checks the built-in defaults against amavis 2.13
// as Debian configures it (amavis-behaviour.md §15.3).
func TestDefaultsDebian(t *testing.T) {
	s := testEnv.Default().Settings()
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"MYHOME", s.MyHome, Some("/srv/mavis")},
		{"TEMPBASE", s.TempBase, Some("/srv/mavis/tmp")},
		{"QUARANTINEDIR", s.QuarantineDir, Some("/srv/mavis/virusmails")},
		{"quarantine_subdir_levels", s.QuarantineSubdirLevels, Some(1)},
		{"db_home", s.DBHome, Some("/srv/mavis/db")},
		{"helpers_home", s.HelpersHome, Some("/srv/mavis")},
		{"unix_socketname", s.UnixSocketname, Some("/srv/mavis/amavisd.sock")},
		{"max_servers", s.MaxServers, Some(2)},
		{"max_requests", s.MaxRequests, Some(20)},
		{"child_timeout", s.ChildTimeout, Some(480 * time.Second)},
		{"smtpd_timeout", s.SMTPDTimeout, Some(480 * time.Second)},
		{"inet_socket_port", s.InetSocketPort, []int{10024}},
		{"inet_socket_bind", s.InetSocketBind, []string{"127.0.0.1", "[::1]"}},
		{"inet_acl", s.InetACL.Raw(), []string{"127.0.0.1", "[::1]"}},
		{"mynetworks", s.Mynetworks.Raw(), []string{"127.0.0.0/8", "[::1]", "169.254.0.0/16", "[fe80::]/10", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "[fc00::]/7"}},
		{"originating", s.Originating, Some(false)},
		{"interface_policy", s.InterfacePolicy["SOCK"], "AM.PDP-SOCK"},
		{"forward_method", s.ForwardMethod.First().Raw, "smtp:[127.0.0.1]:10025"},
		{"forward_method addr", s.ForwardMethod.First().Addr(), "127.0.0.1:10025"},
		{"notify_method", s.NotifyMethod.First().Raw, "smtp:[127.0.0.1]:10025"},
		{"requeue_method", s.RequeueMethod.First().Raw, "smtp:[127.0.0.1]:25"},
		{"resend_method", len(s.ResendMethod), 0},
		{"mydomain", s.MyDomain, Some("example.com")},
		{"myhostname", s.MyHostname, Some("mx.example.com")},
		{"localhost_name", s.LocalhostName, Some("localhost")},
		{"local_domains_acl", s.LocalDomainsACL, []string{".example.com"}},
		{"smtpd_recipient_limit", s.SMTPDRecipientLimit, Some(1100)},
		{"smtpd_message_size_limit", s.SMTPDMessageSizeLimit, None[int]()},
		{"smtpd_greeting_banner", s.SMTPDGreetingBanner, Some("${helo-name} ${protocol} ${product} service ready")},
		{"smtpd_quit_banner", s.SMTPDQuitBanner, Some("${helo-name} ${product} closing transmission channel")},
		{"auth_required_release", s.AuthRequiredRelease, Some(true)},
		{"release_format", s.ReleaseFormat, Some("resend")},
		{"report_format", s.ReportFormat, Some("arf")},
		{"attachment_email_name", s.AttachmentEmailName, Some("msg-%m.eml")},
		{"smtp_connection_cache_enable", s.SMTPConnectionCacheEnable, Some(true)},
		{"final_virus_destiny", s.FinalVirusDestiny, Some(DDiscard)},
		{"final_banned_destiny", s.FinalBannedDestiny, Some(DDiscard)},
		{"final_unchecked_destiny", s.FinalUncheckedDestiny, Some(DPass)},
		{"final_spam_destiny", s.FinalSpamDestiny, Some(DPass)},
		{"final_bad_header_destiny", s.FinalBadHeaderDestiny, Some(DPass)},
		{"sa_tag_level_deflt", s.SaTagLevelDeflt, Some(2.0)},
		{"sa_tag2_level_deflt", s.SaTag2LevelDeflt, Some(6.31)},
		{"sa_tag3_level_deflt", s.SaTag3LevelDeflt, None[float64]()},
		{"sa_kill_level_deflt", s.SaKillLevelDeflt, Some(6.31)},
		{"sa_dsn_cutoff_level", s.SaDSNCutoffLevel, Some(10.0)},
		{"sa_quarantine_cutoff_level", s.SaQuarantineCutoffLevel, None[float64]()},
		{"sa_spam_subject_tag", s.SaSpamSubjectTag, Some("***SPAM*** ")},
		{"sa_spam_subject_tag1", s.SaSpamSubjectTag1, None[string]()},
		{"sa_spam_level_char", s.SaSpamLevelChar, Some("*")},
		{"sa_mail_body_size_limit", s.SaMailBodySizeLimit, Some(204800)},
		{"sa_local_tests_only", s.SaLocalTestsOnly, Some(false)},
		{"penpals_halflife", s.PenpalsHalflife, Some(604800 * time.Second)},
		{"penpals_threshold_low", s.PenpalsThresholdLow, Some(1.0)},
		{"reputation_factor", s.ReputationFactor, Some(0.2)},
		{"MAXLEVELS", s.MaxLevels, Some(14)},
		{"MAXFILES", s.MaxFiles, Some(1500)},
		{"MIN_EXPANSION_QUOTA", s.MinExpansionQuota, Some(102400)},
		{"MAX_EXPANSION_QUOTA", s.MaxExpansionQuota, Some(314572800)},
		{"MIN_EXPANSION_FACTOR", s.MinExpansionFactor, Some(5.0)},
		{"MAX_EXPANSION_FACTOR", s.MaxExpansionFactor, Some(500.0)},
		{"virus_quarantine_method", s.VirusQuarantineMethod, Some("local:virus-%m")},
		{"banned_files_quarantine_method", s.BannedFilesQuarantineMethod, Some("local:banned-%m")},
		{"spam_quarantine_method", s.SpamQuarantineMethod, Some("local:spam-%m.gz")},
		{"bad_header_quarantine_method", s.BadHeaderQuarantineMethod, Some("local:badh-%m")},
		{"clean_quarantine_method", s.CleanQuarantineMethod, None[string]()},
		{"virus_quarantine_to", s.VirusQuarantineTo, Some("virus-quarantine")},
		{"spam_quarantine_to", s.SpamQuarantineTo, Some("spam-quarantine")},
		{"spam_quarantine_bysender_to", s.SpamQuarantineBysenderTo, None[string]()},
		{"mail_id_size_bits", s.MailIDSizeBits, Some(72)},
		{"sql_quarantine_chunksize_max", s.SQLQuarantineChunksizeMax, Some(16384)},
		{"X_HEADER_TAG", s.XHeaderTag, Some("X-Virus-Scanned")},
		{"X_HEADER_LINE", s.XHeaderLine, Some("Debian amavis at example.com")},
		{"remove_existing_spam_headers", s.RemoveExistingSpamHeaders, Some(true)},
		{"hdr_encoding_qb", s.HdrEncodingQB, Some("Q")},
		{"undecipherable_subject_tag", s.UndecipherableSubjectTag, Some("***UNCHECKED*** ")},
		{"recipient_delimiter", s.RecipientDelimiter, None[string]()},
		{"virus_admin", s.VirusAdmin.Addr, Some("postmaster@example.com")},
		{"spam_admin", s.SpamAdmin.Addr, None[string]()},
		{"log_level", s.LogLevel, Some(0)},
		{"DO_SYSLOG", s.DoSyslog, Some(true)},
		{"syslog_ident", s.SyslogIdent, Some("amavis")},
		{"syslog_facility", s.SyslogFacility, Some("mail")},
		{"logline_maxlen", s.LoglineMaxlen, Some(980)},
		{"log_recip_templ", s.LogRecipTempl, None[Template]()},
		{"enable_db", s.EnableDB, Some(true)},
		{"enable_dkim_verification", s.EnableDKIMVerification, Some(false)},
		{"enable_dkim_signing", s.EnableDKIMSigning, None[bool]()},
		{"dkim_minimum_key_bits", s.DKIMMinimumKeyBits, Some(1024)},
		{"storage_redis_ttl", s.StorageRedisTTL, Some(1382400 * time.Second)},
		{"sql_store_info_for_all_msgs", s.SQLStoreInfoForAllMsgs, Some(true)},
		{"partition_tag", s.PartitionTag, IntValue(0)},
		{"lookup_maps_imply_sql_and_ldap", s.LookupMapsImplySQLAndLDAP, Some(true)},
		{"enable_ip_repu", s.EnableIPRepu, Some(true)},
		{"sql_clause sel_policy", s.SQLClause["sel_policy"], s.SQLSelectPolicy.Value()},
		{"allowed_header_tests utf8", s.AllowedHeaderTests["utf8"], false},
		{"allowed_header_tests multiple", s.AllowedHeaderTests["multiple"], true},
		{"allowed_added_header_fields x-virus-scanned", s.AllowedAddedHeaderFields["x-virus-scanned"], true},
		{"allowed_added_header_fields x-spam-report", s.AllowedAddedHeaderFields["x-spam-report"], false},
		{"signed_header_fields from", s.SignedHeaderFields["from"], 2},
		{"signed_header_fields to", s.SignedHeaderFields["to"], 0},
		{"gunzip", s.Gunzip, []string{"gzip -d"}},
		{"lha", s.Lha, []string(nil)},
		{"rpm2cpio", s.Rpm2cpio, []string{"rpm2cpio.pl", "rpm2cpio"}},
		{"av_scanners", s.AVScanners[0].Sockets, []string{"/var/run/clamav/clamd.ctl"}},
		{"av_scanners_backup", s.AVScannersBackup[0].Args, "--stdout --no-summary -r --tempdir=/srv/mavis/tmp {}"},
		{"spam_scanners", s.SpamScanners[0].Module, "SpamAssassin"},
		{"mavis.spool_threshold", s.Mavis.SpoolThreshold, Some(256 << 10)},
		{"policy bank path", s.PolicyBankPath, ""},
	}
	for _, c := range checks {
		if !equalAny(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}

	// The AM.PDP socket bank of Debian's 25-amavis_helpers.
	pdp := testEnv.Default().Settings("AM.PDP-SOCK")
	if pdp.Protocol != Some("AM.PDP") || pdp.AuthRequiredRelease != Some(false) || pdp.PolicyBankPath != "AM.PDP-SOCK" {
		t.Errorf("AM.PDP-SOCK bank: protocol %v auth_required_release %v path %q", pdp.Protocol, pdp.AuthRequiredRelease, pdp.PolicyBankPath)
	}

	// Default maps, resolved: they read the legacy variables.
	eqMaps(t, "spam_kill_level_maps", s.SpamKillLevelMaps, constMaps(FloatValue(6.31)))
	eqMaps(t, "spam_tag3_level_maps", s.SpamTag3LevelMaps, Maps{})
	eqMaps(t, "local_domains_maps", s.LocalDomainsMaps, Maps{{Type: LookupACL, ACL: []string{".example.com"}}})
	eqMaps(t, "bypass_virus_checks_maps", s.BypassVirusChecksMaps, Maps{})
	eqMaps(t, "virus_admin_maps", s.VirusAdminMaps, constMaps(StringValue("postmaster@example.com")))
	eqMaps(t, "banned_admin_maps", s.BannedAdminMaps, constMaps(StringValue("postmaster@example.com")))
	eqMaps(t, "spam_subject_tag2_maps", s.SpamSubjectTag2Maps, constMaps(StringValue("***SPAM*** ")))
	eqMaps(t, "spam_quarantine_to_maps", s.SpamQuarantineToMaps, constMaps(StringValue("spam-quarantine")))
	eqMaps(t, "mynetworks_maps", s.MynetworksMaps, Maps{{Type: LookupACL, IPACL: s.Mynetworks}})
	eqMaps(t, "client_ipaddr_policy", s.ClientIPAddrPolicy[0].Maps, Maps{{Type: LookupACL, IPACL: s.Mynetworks}})
	eqMaps(t, "final_destiny CC_VIRUS", s.FinalDestinyMapsByCcat[CC(CCVirus)], constMaps(StringValue("D_DISCARD")))
	eqMaps(t, "final_destiny CC_MTA,2", s.FinalDestinyMapsByCcat[CCMinor(CCMTA, 2)], constMaps(StringValue("D_REJECT")))
	eqMaps(t, "subject_tag CC_SPAMMY", s.SubjectTagMapsByCcat[CC(CCSpammy)], constMaps(StringValue("***SPAM*** ")))
	eqMaps(t, "subject_tag CC_CLEAN,1", s.SubjectTagMapsByCcat[CCMinor(CCClean, 1)], Maps{})
	eqMaps(t, "quarantine_method CC_SPAM", s.QuarantineMethodByCcat[CC(CCSpam)], constMaps(StringValue("local:spam-%m.gz")))
	if got := s.BannedRules["DEFAULT"]; len(got) != 1 || got[0].Type != LookupRegexp || len(got[0].Rules) != 7 {
		t.Errorf("banned_rules DEFAULT = %s", renderMaps(got, false))
	}
	if m, ok := s.SMTPReasonByCcat.Get(CCUnchecked, 3); !ok || m[0].Value.Str() != "id=%n - UNCHECKED: ambiguous content" {
		t.Errorf("smtp_reason_by_ccat CC_UNCHECKED,3 = %v", m)
	}
	if m, ok := s.SMTPReasonByCcat.Get(CCUnchecked, 9); !ok || m[0].Value.Str() != "id=%n - UNCHECKED" {
		t.Errorf("smtp_reason_by_ccat CC_UNCHECKED,9 should fall back to CC_UNCHECKED, got %v", m)
	}
	// Debian's regexps behave as in amavis.
	fake := s.VirusesThatFakeSenderMaps[0].Rules
	if !fake[0].Re.MatchString("Eicar-Test-Signature") || fake[0].Value.Truth() || !fake[1].Value.Truth() {
		t.Error("viruses_that_fake_sender_maps: EICAR must map to 0, the rest to 1")
	}
	banned := s.BannedFilenameRe
	for _, name := range []string{"invoice.pdf.exe", "x.SCR", "application/x-msdownload", ".exe-ms"} {
		if !slices.ContainsFunc(banned, func(r RegexpRule) bool { return r.Re.MatchString(name) }) {
			t.Errorf("banned_filename_re does not match %q", name)
		}
	}
	if slices.ContainsFunc(banned, func(r RegexpRule) bool { return r.Re.MatchString("report.pdf") }) {
		t.Error("banned_filename_re matches report.pdf")
	}
	keep := s.KeepDecodedOriginalMaps[0].Rules
	firstMatch := func(key string) Value {
		for _, r := range keep {
			if r.Re.MatchString(key) {
				return r.Value
			}
		}
		return Undef()
	}
	if firstMatch("ASCII cpio archive").Truth() || !firstMatch("ASCII text").Truth() || !firstMatch("MAIL-UNDECIPHERABLE").Truth() {
		t.Error("keep_decoded_original_maps does not behave like Debian's (?! cpio) rule")
	}
	if w := testEnv.Default().Warnings(); len(w) != 0 {
		t.Errorf("defaults warn: %v", w)
	}
}

func equalAny(a, b any) bool {
	switch x := a.(type) {
	case Value:
		y, ok := b.(Value)
		return ok && x.Equal(y)
	case []string:
		y, _ := b.([]string)
		return slices.Equal(x, y)
	case []int:
		y, _ := b.([]int)
		return slices.Equal(x, y)
	}
	return a == b
}

// TestValueTypes covers each kind of value the file can hold.
func TestValueTypes(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(*Settings) bool
	}{
		{"bool true", `originating = true`, func(s *Settings) bool { return s.Originating == Some(true) }},
		{"bool as Perl 1", `allow_disclaimers = 1`, func(s *Settings) bool { return s.AllowDisclaimers == Some(true) }},
		{"bool as Perl 0", `DEBUG = 0`, func(s *Settings) bool { return s.Debug == Some(false) }},
		{"int", `max_servers = 8`, func(s *Settings) bool { return s.MaxServers == Some(8) }},
		{"number from int", `sa_tag2_level_deflt = 5`, func(s *Settings) bool { return s.SaTag2LevelDeflt == Some(5.0) }},
		{"negative number", `sa_tag_level_deflt = -999.5`, func(s *Settings) bool { return s.SaTagLevelDeflt == Some(-999.5) }},
		{"string", `X_HEADER_LINE = "scanned at example.com"`, func(s *Settings) bool { return s.XHeaderLine == Some("scanned at example.com") }},
		{"literal string regexp-ish", `smtpd_greeting_banner = '${helo-name} ESMTP'`, func(s *Settings) bool { return s.SMTPDGreetingBanner == Some("${helo-name} ESMTP") }},
		{"destiny", `final_spam_destiny = "D_BOUNCE"`, func(s *Settings) bool { return s.FinalSpamDestiny == Some(DBounce) }},
		{"destiny number", `final_virus_destiny = -4`, func(s *Settings) bool { return s.FinalVirusDestiny == Some(DTempfail) }},
		{"seconds", `child_timeout = 1200`, func(s *Settings) bool { return s.ChildTimeout == Some(20*time.Minute) }},
		{"template text", `notify_sender_templ = "Hello\n"`, func(s *Settings) bool { return s.NotifySenderTempl == Some(Template{Text: "Hello\n"}) }},
		{"template file", `notify_sender_templ = { file = "/etc/mavis/t.txt" }`, func(s *Settings) bool {
			return s.NotifySenderTempl == Some(Template{File: "/etc/mavis/t.txt"})
		}},
		{"string list from string", `inet_socket_bind = "127.0.0.1"`, func(s *Settings) bool { return slices.Equal(s.InetSocketBind, []string{"127.0.0.1"}) }},
		{"string list", `smtpd_discard_ehlo_keywords = ["8BITMIME", "DSN"]`, func(s *Settings) bool {
			return slices.Equal(s.SMTPDDiscardEHLOKeywords, []string{"8BITMIME", "DSN"})
		}},
		{"port", `inet_socket_port = 10026`, func(s *Settings) bool { return slices.Equal(s.InetSocketPort, []int{10026}) }},
		{"ports", `inet_socket_port = [10024, 10026]`, func(s *Settings) bool { return slices.Equal(s.InetSocketPort, []int{10024, 10026}) }},
		{"ip acl", `inet_acl = ["127.0.0.1", "!10.1.2.3", "10.0.0.0/255.0.0.0", "[2001:db8::]/32"]`, func(s *Settings) bool {
			return s.InetACL.Allows(netip.MustParseAddr("10.9.9.9")) && !s.InetACL.Allows(netip.MustParseAddr("10.1.2.3")) &&
				s.InetACL.Allows(netip.MustParseAddr("2001:db8::1")) && !s.InetACL.Allows(netip.MustParseAddr("192.0.2.1"))
		}},
		{"method", `forward_method = "lmtp:/var/run/dovecot/lmtp"`, func(s *Settings) bool {
			m := s.ForwardMethod.First()
			return m.Proto == "lmtp" && m.Path == "/var/run/dovecot/lmtp" && len(s.ForwardMethod) == 1
		}},
		{"method candidates", `forward_method = ["smtp:[10.0.0.1]:10025", "smtp:mx2.example.com:25"]`, func(s *Settings) bool {
			return len(s.ForwardMethod) == 2 && s.ForwardMethod[1].Host == "mx2.example.com" && s.ForwardMethod[1].Port == "25"
		}},
		{"method ipv6 wildcard port", `notify_method = "smtp:[::1]:*"`, func(s *Settings) bool {
			return s.NotifyMethod.First().Host == "::1" && s.NotifyMethod.First().Port == "*"
		}},
		{"hash", `local_domains = { "example.com" = true, ".example.net" = 1 }`, func(s *Settings) bool {
			return s.LocalDomains["example.com"].Truth() && s.LocalDomains[".example.net"].Equal(IntValue(1))
		}},
		{"regexps", `banned_filename_re = ['(?i)\.exe$', ['(?i)^\.zip$', 0]]`, func(s *Settings) bool {
			r := s.BannedFilenameRe
			return len(r) == 2 && r[0].Value.Equal(IntValue(1)) && r[1].Value.Equal(IntValue(0)) && r[0].Re.MatchString("A.EXE")
		}},
		{"regexp comment", `banned_filename_re = ['(?#BLOCKED EXE)(?i)\.exe$']`, func(s *Settings) bool {
			r := s.BannedFilenameRe[0].Re
			return r.Comment == "BLOCKED EXE" && r.MatchString("x.exe") && r.Source == `(?#BLOCKED EXE)(?i)\.exe$`
		}},
		{"by ccat merges", "[final_destiny_maps_by_ccat]\nCC_SPAM = \"D_DISCARD\"\n\"CC_UNCHECKED,3\" = \"D_REJECT\"", func(s *Settings) bool {
			b := s.FinalDestinyMapsByCcat
			return len(b[CC(CCSpam)]) == 1 && b[CC(CCSpam)][0].Value.Str() == "D_DISCARD" &&
				b[CCMinor(CCUnchecked, 3)][0].Value.Str() == "D_REJECT" &&
				b[CC(CCVirus)][0].Value.Str() == "D_DISCARD" // default entry kept
		}},
		{"by ccat numeric keys", "[defang_maps_by_ccat]\n\"9\" = true\n\"7,3\" = true", func(s *Settings) bool {
			return s.DefangMapsByCcat[CC(CCVirus)][0].Value.Truth() && s.DefangMapsByCcat[CCMinor(CCUnchecked, 3)][0].Value.Truth()
		}},
		{"bool map merges", "[allowed_header_tests]\nutf8 = true", func(s *Settings) bool {
			return s.AllowedHeaderTests["utf8"] && s.AllowedHeaderTests["mime"]
		}},
		{"bool map replace", "[allowed_header_tests]\nREPLACE = true\nmissing = true", func(s *Settings) bool {
			return len(s.AllowedHeaderTests) == 1 && s.AllowedHeaderTests["missing"]
		}},
		{"header map lower-cased", "[allowed_added_header_fields]\n\"X-Spam-Report\" = true", func(s *Settings) bool {
			return s.AllowedAddedHeaderFields["x-spam-report"]
		}},
		{"string map", "[sql_clause]\nsel_policy = \"SELECT 1\"", func(s *Settings) bool {
			return s.SQLClause["sel_policy"] == "SELECT 1" && s.SQLClause["ins_msg"] != ""
		}},
		{"ip policies", "client_ipaddr_policy = [{ maps = [[\"192.0.2.0/24\"]], banks = \"A, B\" }]\n[policy_bank.A]\n[policy_bank.B]", func(s *Settings) bool {
			p := s.ClientIPAddrPolicy
			return len(p) == 1 && slices.Equal(p[0].Banks, []string{"A", "B"}) && p[0].Maps[0].IPACL.Allows(netip.MustParseAddr("192.0.2.7"))
		}},
		{"av scanner table", `av_scanners = [{ name = "ClamAV-clamd", type = "ask_daemon", args = "CONTSCAN {}\n", sockets = "/run/clamav/clamd.ctl", clean = '\bOK$', infected = '\bFOUND$', virus_name = '^.*?: (.*) FOUND$' }]`, func(s *Settings) bool {
			a := s.AVScanners[0]
			return len(s.AVScanners) == 1 && a.Type == "ask_daemon" && a.Sockets[0] == "/run/clamav/clamd.ctl" &&
				a.Infected.Regexp.MatchString("x\n/tmp/p1: Eicar FOUND\ny") && a.VirusName.Re().FindStringSubmatch("/tmp/p1: Eicar FOUND")[1] == "Eicar"
		}},
		{"av scanner amavis array", `av_scanners_backup = [["ClamAV-clamscan", "clamscan", "--stdout {}", [0], [1], '^.*?: (.*) FOUND$']]`, func(s *Settings) bool {
			a := s.AVScannersBackup[0]
			return a.Type == "command" && a.Command[0] == "clamscan" && slices.Equal(a.Clean.Codes, []int{0}) && slices.Equal(a.Infected.Codes, []int{1})
		}},
		{"av scanner ask_daemon array", `av_scanners = [["ClamAV-clamd", "\\&ask_daemon", ["CONTSCAN {}\n", ["/a.sock", "/b.sock"]], '\bOK$', '\bFOUND$']]`, func(s *Settings) bool {
			a := s.AVScanners[0]
			return a.Type == "ask_daemon" && slices.Equal(a.Sockets, []string{"/a.sock", "/b.sock"}) && a.VirusName == nil
		}},
		{"spam scanners", `spam_scanners = [{ name = "spamd", module = "Amavis::SpamControl::SpamdClient", score_factor = 1.0, mail_body_size_limit = 65000 }, ["Rspamd", "RspamdClient", { mta_name = "mx" }]]`, func(s *Settings) bool {
			sc := s.SpamScanners
			return len(sc) == 2 && sc[0].Module == "SpamdClient" && sc[0].Options["mail_body_size_limit"].Equal(IntValue(65000)) &&
				sc[1].Module == "RspamdClient" && sc[1].Options["mta_name"].Str() == "mx"
		}},
		{"dsn triple", `lookup_sql_dsn = ["DBI:mysql:database=mail;host=127.0.0.1", "u", "p"]`, func(s *Settings) bool {
			d := s.LookupSQLDSN
			return len(d) == 1 && d[0].Driver == "mysql" && d[0].User == "u" && d[0].Password == "p"
		}},
		{"dsn list", `storage_sql_dsn = [["DBI:Pg:dbname=mail", "u", "p"], { dsn = "DBI:MariaDB:database=m", user = "x" }]`, func(s *Settings) bool {
			d := s.StorageSQLDSN
			return len(d) == 2 && d[0].Driver == "Pg" && d[1].Driver == "MariaDB" && d[1].User == "x"
		}},
		{"redis dsn", `storage_redis_dsn = { server = "127.0.0.1:6379", db_id = 1 }`, func(s *Settings) bool {
			return len(s.StorageRedisDSN) == 1 && s.StorageRedisDSN[0]["db_id"].Equal(IntValue(1))
		}},
		{"dkim key", "[[dkim_key]]\ndomain = \"example.com\"\nselector = \"s1\"\nkey = \"/etc/mavis/dkim.pem\"\nt = \"s\"", func(s *Settings) bool {
			k := s.DKIMKey
			return len(k) == 1 && k[0].Selector == "s1" && k[0].Options["t"].Str() == "s" && k[0].Pos.Line == 1
		}},
		{"partition tag string", `partition_tag = "week"`, func(s *Settings) bool { return s.PartitionTag.Str() == "week" }},
		{"admin string", `spam_admin = "spamalert@example.com"`, func(s *Settings) bool {
			return s.SpamAdmin.Addr == Some("spamalert@example.com") && s.SpamAdminMaps[0].Value.Str() == "spamalert@example.com"
		}},
		{"admin hash", `virus_admin = { "example.net" = "av@example.net" }`, func(s *Settings) bool {
			// The table replaces Debian's postmaster@ default scalar.
			m := s.VirusAdminMaps
			return len(m) == 1 && m[0].Type == LookupHash && m[0].Entries["example.net"].Str() == "av@example.net"
		}},
		{"mavis table", "[mavis]\nspool_threshold = 1048576\nmetrics_listen = \"127.0.0.1:9100\"", func(s *Settings) bool {
			return s.Mavis.SpoolThreshold == Some(1<<20) && s.Mavis.MetricsListen == Some("127.0.0.1:9100")
		}},
		{"alias DO_SYSLOG", `DO_SYSLOG = 0`, func(s *Settings) bool { return s.DoSyslog == Some(false) }},
		{"alias LOGFILE", `LOGFILE = "/var/log/mavis.log"`, func(s *Settings) bool { return s.Logfile == Some("/var/log/mavis.log") }},
		{"alias final_destiny_by_ccat", "[final_destiny_by_ccat]\nCC_BANNED = \"D_REJECT\"", func(s *Settings) bool {
			return s.FinalDestinyMapsByCcat[CC(CCBanned)][0].Value.Str() == "D_REJECT"
		}},
		{"MYHOME moves derived paths", `MYHOME = "/var/lib/amavis"`, func(s *Settings) bool {
			return s.TempBase == Some("/var/lib/amavis/tmp") && s.QuarantineDir == Some("/var/lib/amavis/virusmails") &&
				s.DBHome == Some("/var/lib/amavis/db") && s.UnixSocketname == Some("/var/lib/amavis/amavisd.sock")
		}},
		{"explicit TEMPBASE wins", "MYHOME = \"/x\"\nTEMPBASE = \"/dev/shm/mavis\"", func(s *Settings) bool {
			return s.TempBase == Some("/dev/shm/mavis") && s.QuarantineDir == Some("/x/virusmails")
		}},
		{"mydomain moves derived values", `mydomain = "example.org"`, func(s *Settings) bool {
			return s.XHeaderLine == Some("Debian amavis at example.org") && slices.Equal(s.LocalDomainsACL, []string{".example.org"}) &&
				s.VirusAdmin.Addr == Some("postmaster@example.org")
		}},
		{"warnbannedsender turns D_DISCARD into D_BOUNCE", `warnbannedsender = 1`, func(s *Settings) bool {
			return s.FinalBannedDestiny == Some(DBounce)
		}},
		{"mailfrom_notify_admin feeds hdrfrom_notify_admin", `mailfrom_notify_admin = "virusalert@example.com"`, func(s *Settings) bool {
			return s.HdrfromNotifyAdmin == Some(`"Content-filter at ${myhostname_utf8}" <virusalert@example.com>`) &&
				s.HdrfromNotifyRecip == s.HdrfromNotifySender
		}},
		{"X_HEADER_TAG allowed", `X_HEADER_TAG = "X-Scanned-By"`, func(s *Settings) bool {
			return s.AllowedAddedHeaderFields["x-scanned-by"]
		}},
		{"legacy acl feeds default maps", `spam_lovers_acl = ["postmaster@example.com"]`, func(s *Settings) bool {
			m := s.SpamLoversMaps
			return len(m) == 1 && m[0].Type == LookupACL && m[0].ACL[0] == "postmaster@example.com" &&
				s.LoversMapsByCcat[CC(CCSpammy)][0].ACL[0] == "postmaster@example.com"
		}},
		{"legacy level feeds default maps", `sa_kill_level_deflt = 9.5`, func(s *Settings) bool {
			return s.SpamKillLevelMaps[0].Value.Equal(FloatValue(9.5))
		}},
		{"legacy mynetworks feeds client_ipaddr_policy", `mynetworks = ["192.0.2.0/24"]`, func(s *Settings) bool {
			return s.ClientIPAddrPolicy[0].Maps[0].IPACL.Allows(netip.MustParseAddr("192.0.2.9")) &&
				!s.ClientIPAddrPolicy[0].Maps[0].IPACL.Allows(netip.MustParseAddr("10.0.0.1"))
		}},
		{"replaced mynetworks_maps feeds client_ipaddr_policy", `mynetworks_maps = [["198.51.100.0/24"]]`, func(s *Settings) bool {
			return s.ClientIPAddrPolicy[0].Maps[0].IPACL.Allows(netip.MustParseAddr("198.51.100.1"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, tc.src)
			if !tc.check(c.Settings()) {
				var b bytes.Buffer
				c.Dump(&b, true)
				t.Errorf("check failed for %q; settings:\n%s", tc.src, b.String())
			}
		})
	}
}

// TestUndef: "undef" is representable for every kind and differs from
// zero.
func TestUndef(t *testing.T) {
	c := mustParse(t, `
sa_tag_level_deflt = "undef"
sa_kill_level_deflt = 0
sa_spam_subject_tag = "undef"
QUARANTINEDIR = "undef"
max_servers = "undef"
inet_socket_port = "undef"
forward_method = "undef"
bypass_banned_checks_maps = "undef"
interface_policy = "undef"
virus_admin = "undef"
final_spam_destiny = "undef"
child_timeout = "undef"
local_delivery_aliases = { "spam-quarantine" = "undef" }
[subject_tag_maps_by_ccat]
CC_VIRUS = "undef"
`)
	s := c.Settings()
	if s.SaTagLevelDeflt.IsSet() || !s.SaKillLevelDeflt.IsSet() || s.SaKillLevelDeflt.Value() != 0 {
		t.Errorf("tag %v kill %v: undef must differ from 0", s.SaTagLevelDeflt, s.SaKillLevelDeflt)
	}
	if v, ok := s.SaTagLevelDeflt.Get(); ok || v != 0 || s.SaTagLevelDeflt.Or(-999) != -999 || s.SaTagLevelDeflt.String() != "undef" {
		t.Error("Opt getters on undef")
	}
	// An undef tag level leaves spam_tag_level_maps without an answer
	// (amavis: always tag).
	eqMaps(t, "spam_tag_level_maps", s.SpamTagLevelMaps, Maps{})
	eqMaps(t, "spam_kill_level_maps", s.SpamKillLevelMaps, constMaps(FloatValue(0)))
	eqMaps(t, "spam_subject_tag2_maps", s.SpamSubjectTag2Maps, Maps{})
	if s.QuarantineDir.IsSet() || s.MaxServers.IsSet() || s.FinalSpamDestiny.IsSet() || s.ChildTimeout.IsSet() {
		t.Error("scalars not undef")
	}
	if s.InetSocketPort != nil || s.ForwardMethod != nil || s.BypassBannedChecksMaps != nil || s.InterfacePolicy != nil {
		t.Error("lists/tables not empty")
	}
	if s.VirusAdmin.Addr.IsSet() || len(s.VirusAdminMaps) != 0 {
		t.Errorf("virus_admin undef: %v %v", s.VirusAdmin, s.VirusAdminMaps)
	}
	eqMaps(t, "final_destiny CC_SPAM (undef destiny)", s.FinalDestinyMapsByCcat[CC(CCSpam)], Maps{})
	if m, ok := s.SubjectTagMapsByCcat[CC(CCVirus)]; !ok || m != nil {
		t.Errorf("by-ccat undef entry: %v %v", m, ok)
	}
	if v, ok := s.LocalDeliveryAliases["spam-quarantine"]; !ok || !v.IsUndef() {
		t.Error("table undef entry")
	}
	// Every setting accepts "undef".
	var b strings.Builder
	for _, n := range Names() {
		if strings.HasPrefix(n, "mavis.") {
			continue
		}
		b.WriteString(tomlKey(n) + " = \"undef\"\n")
	}
	b.WriteString("[mavis]\n")
	for _, n := range Names() {
		if m, ok := strings.CutPrefix(n, "mavis."); ok {
			b.WriteString(m + " = \"undef\"\n")
		}
	}
	all := mustParse(t, b.String())
	if all.Settings().MyHome.IsSet() || all.Settings().Mavis.SpoolThreshold.IsSet() {
		t.Error("MYHOME / mavis.spool_threshold should be undef")
	}
}

// TestMapsSpecs covers the shapes of lookup table specs.
func TestMapsSpecs(t *testing.T) {
	c := mustParse(t, `
local_domains_maps = [
  ["example.com", ".example.net", "!bad.example.net"],
  { type = "hash", entries = { "example.org" = true }, file = "/etc/mavis/domains" },
  { type = "acl", file = "/etc/postfix/virtual_domains" },
  { type = "regexp", rules = ['\.example\.info$', ['^nope@', false]] },
  { type = "sql" },
  { type = "ldap", field = "amavisLocal" },
  true,
  "undef",
  { type = "const", value = 1 },
  { ref = "local_domains_acl" },
]
mynetworks_maps = [["!10.1.0.0/16", "10.0.0.0/8"], { type = "cidr", file = "/etc/mavis/nets", entries = ["192.0.2.0/24"] }]
spam_kill_level_maps = [{ type = "hash", entries = { "user@example.com" = 12, ".example.net" = "7.5" } }, 6.31]
final_destiny_maps_by_ccat = { CC_SPAM = [{ type = "hash", entries = { "vip@example.com" = "D_PASS" } }, "D_DISCARD"] }
score_sender_maps = [{ type = "hash", entries = { "." = [{ type = "regexp", rules = [['^spam@', 5.0]] }, [".example.com"]] } }]
banned_filename_maps = ["DEFAULT, MYRULES", { type = "hash", entries = { "kid@example.com" = [{ type = "regexp", rules = ['\.zip$'] }] } }]
banned_rules = { MYRULES = [{ type = "regexp", rules = ['(?i)\.docm$'] }] }
dkim_signature_options_bysender_maps = [{ type = "hash", entries = { "example.com" = { d = "example.com", a = "rsa-sha256" } } }, { type = "const", value = { ttl = 86400 } }]
virus_name_to_spam_score_maps = [{ type = "regexp", rules = [['^Sanesecurity\.', 0.1]] }]
bypass_virus_checks_maps = true
`)
	s := c.Settings()
	l := s.LocalDomainsMaps
	wantTypes := []LookupType{LookupACL, LookupHash, LookupACL, LookupRegexp, LookupSQL, LookupLDAP, LookupConst, LookupConst, LookupConst, LookupACL}
	if len(l) != len(wantTypes) {
		t.Fatalf("local_domains_maps has %d tables: %s", len(l), renderMaps(l, false))
	}
	for i, want := range wantTypes {
		if l[i].Type != want {
			t.Errorf("local_domains_maps[%d] is %s, want %s", i, l[i].Type, want)
		}
	}
	if !slices.Equal(l[0].ACL, []string{"example.com", ".example.net", "!bad.example.net"}) || l[0].Pos.Line != 3 {
		t.Errorf("ACL %v at %v", l[0].ACL, l[0].Pos)
	}
	if l[1].File != "/etc/mavis/domains" || !l[1].Entries["example.org"].Truth() || l[1].Pos.Line != 4 {
		t.Errorf("hash %+v", l[1])
	}
	if l[2].File != "/etc/postfix/virtual_domains" {
		t.Errorf("acl file %+v", l[2])
	}
	if r := l[3].Rules; len(r) != 2 || !r[0].Re.MatchString("a@x.example.info") || r[1].Value.Truth() {
		t.Errorf("regexp rules %+v", r)
	}
	if l[5].Field != "amavisLocal" || !l[6].Value.Truth() || !l[7].Value.IsUndef() || !l[8].Value.Equal(IntValue(1)) {
		t.Error("ldap / const specs")
	}
	if !slices.Equal(l[9].ACL, []string{".example.com"}) {
		t.Errorf("ref not resolved: %+v", l[9])
	}
	if raw := c.Raw().LocalDomainsMaps[9]; raw.Type != LookupRef || raw.Ref != "local_domains_acl" {
		t.Errorf("raw keeps the ref: %+v", raw)
	}
	n := s.MynetworksMaps
	if n[0].IPACL.Allows(netip.MustParseAddr("10.1.2.3")) || !n[0].IPACL.Allows(netip.MustParseAddr("10.2.0.1")) {
		t.Error("IP ACL negation")
	}
	if n[1].Type != LookupCIDR || n[1].File != "/etc/mavis/nets" || !n[1].IPACL.Allows(netip.MustParseAddr("192.0.2.1")) {
		t.Errorf("cidr %+v", n[1])
	}
	if v := s.SpamKillLevelMaps[0].Entries[".example.net"]; v.Kind() != KindString {
		t.Error("numeric strings are kept as written")
	} else if f, ok := v.Number(); !ok || f != 7.5 {
		t.Error("Number() of a numeric string")
	}
	if d, ok := s.FinalDestinyMapsByCcat[CC(CCSpam)][0].Entries["vip@example.com"].Destiny(); !ok || d != DPass {
		t.Error("destiny hash value")
	}
	inner := s.ScoreSenderMaps[0].Entries["."].Maps()
	if len(inner) != 2 || inner[0].Type != LookupRegexp || inner[1].Type != LookupACL {
		t.Errorf("nested maps %s", renderMaps(inner, false))
	}
	if s.BannedFilenameMaps[0].Value.Str() != "DEFAULT, MYRULES" || s.BannedFilenameMaps[1].Entries["kid@example.com"].Kind() != KindMaps {
		t.Error("banned_filename_maps")
	}
	if r := s.BannedRules; len(r) != 2 || r["MYRULES"][0].Rules[0].Re.MatchString("x.DOCM") != true || len(r["DEFAULT"]) != 1 {
		t.Error("banned_rules merge")
	}
	if opts := s.DKIMSignatureOptionsBysenderMaps; opts[0].Entries["example.com"].Table()["a"].Str() != "rsa-sha256" ||
		opts[1].Value.Table()["ttl"].Equal(IntValue(86400)) != true {
		t.Error("dkim options tables")
	}
	if !s.BypassVirusChecksMaps[0].Value.Truth() {
		t.Error("scalar shorthand")
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("unexpected warnings %v", w)
	}

	// The classic mistake draws a warning.
	c = mustParse(t, `local_domains_maps = ["example.com"]`)
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0].String(), `t.toml:1: key "local_domains_maps[0]": the constant "example.com" always matches`) {
		t.Errorf("warnings %v", w)
	}
}

// TestPolicyBanks covers bank merge order and amavis's loading rules.
func TestPolicyBanks(t *testing.T) {
	c := mustParse(t, `
inet_socket_port = [10024, 10026]
interface_policy = { "10026" = "ORIGINATING" }
final_virus_destiny = "D_BOUNCE"

[policy_bank.ORIGINATING]
originating = true
final_spam_destiny = "D_DISCARD"
spam_kill_level_maps = 12.5
local_domains_maps = [[".internal.example.com"]]

[policy_bank.STRICT]
final_spam_destiny = "D_REJECT"
final_virus_destiny = "D_REJECT"
allowed_header_tests = { utf8 = true }
log_level = 3

[policy_bank.LOOSE]
allowed_header_tests = { REPLACE = true, missing = true }

[policy_bank.MYNETS]
log_level = 2
`)
	base := c.Settings()
	if base.FinalSpamDestiny != Some(DPass) || base.Originating != Some(false) {
		t.Error("base changed by banks")
	}
	if !slices.Equal(c.Banks(), []string{"AM.PDP-SOCK", "LOOSE", "MYNETS", "ORIGINATING", "STRICT"}) || !c.HasBank("STRICT") || c.HasBank("strict") {
		t.Errorf("banks %v", c.Banks())
	}
	o := c.Settings("ORIGINATING")
	if o.Originating != Some(true) || o.FinalSpamDestiny != Some(DDiscard) || o.PolicyBankPath != "ORIGINATING" {
		t.Errorf("ORIGINATING: %v %v %q", o.Originating, o.FinalSpamDestiny, o.PolicyBankPath)
	}
	eqMaps(t, "bank spam_kill_level_maps", o.SpamKillLevelMaps, constMaps(FloatValue(12.5)))
	eqMaps(t, "bank local_domains_maps", o.LocalDomainsMaps, Maps{{Type: LookupACL, ACL: []string{".internal.example.com"}}})

	ab := c.Settings("ORIGINATING", "STRICT")
	ba := c.Settings("STRICT", "ORIGINATING")
	if ab.FinalSpamDestiny != Some(DReject) || ba.FinalSpamDestiny != Some(DDiscard) {
		t.Errorf("later bank must win: %v %v", ab.FinalSpamDestiny, ba.FinalSpamDestiny)
	}
	if ab.PolicyBankPath != "ORIGINATING/STRICT" || ab.PolicyBankName != "STRICT" || ba.PolicyBankPath != "STRICT/ORIGINATING" {
		t.Errorf("paths %q %q", ab.PolicyBankPath, ba.PolicyBankPath)
	}
	// Banks that change a legacy destiny reach the by-ccat table (amavis's
	// c('final_virus_destiny') is evaluated late).
	eqMaps(t, "base CC_VIRUS", base.FinalDestinyMapsByCcat[CC(CCVirus)], constMaps(StringValue("D_BOUNCE")))
	eqMaps(t, "STRICT CC_VIRUS", c.Settings("STRICT").FinalDestinyMapsByCcat[CC(CCVirus)], constMaps(StringValue("D_REJECT")))
	// Hash merge and REPLACE.
	st := c.Settings("STRICT")
	if !st.AllowedHeaderTests["utf8"] || !st.AllowedHeaderTests["mime"] || base.AllowedHeaderTests["utf8"] {
		t.Errorf("merge: %v / base %v", st.AllowedHeaderTests, base.AllowedHeaderTests)
	}
	if lo := c.Settings("STRICT", "LOOSE"); len(lo.AllowedHeaderTests) != 1 || !lo.AllowedHeaderTests["missing"] {
		t.Errorf("REPLACE: %v", lo.AllowedHeaderTests)
	}
	// Unknown banks are ignored; loading the current bank again is a no-op;
	// "" returns to the base.
	if s := c.Settings("NOPE", "STRICT", "STRICT"); s.PolicyBankPath != "STRICT" || s.LogLevel != Some(3) {
		t.Errorf("path %q", s.PolicyBankPath)
	}
	if s := c.Settings("STRICT", "LOOSE", "STRICT"); s.PolicyBankPath != "STRICT/LOOSE/STRICT" {
		t.Errorf("path %q", s.PolicyBankPath)
	}
	if s := c.Settings("STRICT", "", "ORIGINATING"); s.PolicyBankPath != "ORIGINATING" || s.LogLevel != Some(0) {
		t.Errorf("reset: path %q log_level %v", s.PolicyBankPath, s.LogLevel)
	}
	// MYNETS implies originating.
	if s := c.Settings("MYNETS"); s.Originating != Some(true) || s.LogLevel != Some(2) {
		t.Errorf("MYNETS: %v", s.Originating)
	}
	noMynets := mustParse(t, ``)
	if s := noMynets.Settings("MYNETS"); s.Originating != Some(false) || s.PolicyBankPath != "" {
		t.Error("MYNETS must not set originating when the bank does not exist")
	}
	// Snapshots are memoised and independent.
	if c.Settings("STRICT") != c.Settings("STRICT") || c.Settings() != base {
		t.Error("snapshots are not memoised")
	}
	// Removing Debian's default bank.
	if c := mustParse(t, "policy_bank.\"AM.PDP-SOCK\" = \"undef\""); c.HasBank("AM.PDP-SOCK") {
		t.Error("AM.PDP-SOCK not removed")
	}
	// Replacing it.
	if c := mustParse(t, "[policy_bank.\"AM.PDP-SOCK\"]\nprotocol = \"AM.PDP\""); c.Settings("AM.PDP-SOCK").AuthRequiredRelease != Some(true) {
		t.Error("a redefined bank replaces the default one")
	}
}

// TestErrors checks every kind of error with its exact file:line:key text.
func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown key", "max_servers = 2\nmax_sevrers = 3",
			[]string{`t.toml:2: key "max_sevrers": unknown setting (did you mean "max_servers"?)`}},
		{"case", `myhome = "/x"`,
			[]string{`t.toml:1: key "myhome": unknown setting (did you mean "MYHOME"?)`}},
		{"unknown without suggestion", `frobnicate = 1`,
			[]string{`t.toml:1: key "frobnicate": unknown setting`}},
		{"wrong type", "\nmax_servers = \"two\"",
			[]string{`t.toml:2: key "max_servers": want an integer, got a string`}},
		{"float for int", `max_servers = 2.0`,
			[]string{`t.toml:1: key "max_servers": want an integer, got a float (write 2)`}},
		{"below min", `max_servers = 0`,
			[]string{`t.toml:1: key "max_servers": 0 is below the minimum 1`}},
		{"above max", `reputation_factor = 1.5`,
			[]string{`t.toml:1: key "reputation_factor": 1.5 is above the maximum 1`}},
		{"port range", `inet_socket_port = [10024, 70000]`,
			[]string{`t.toml:1: key "inet_socket_port[1]": port 70000 is not 1..65535`}},
		{"bool type", `originating = "yes"`,
			[]string{`t.toml:1: key "originating": want true or false, got a string`}},
		{"enum", `hdr_encoding_qb = "X"`,
			[]string{`t.toml:1: key "hdr_encoding_qb": "X" is not one of Q, B`}},
		{"bad forward_method", `forward_method = "smtp[127.0.0.1]:10025"`,
			[]string{`t.toml:1: key "forward_method": bad method "smtp[127.0.0.1]:10025": unknown protocol "smtp[127.0.0.1]" (want smtp, lmtp, local, sql, bsmtp or pipe)`}},
		{"bad forward port", `forward_method = "smtp:[127.0.0.1]:99999"`,
			[]string{`t.toml:1: key "forward_method": bad method "smtp:[127.0.0.1]:99999": bad port "99999"`}},
		{"bad quarantine method", `spam_quarantine_method = "file:spam-%m"`,
			[]string{`t.toml:1: key "spam_quarantine_method": bad method "file:spam-%m": unknown protocol "file" (want smtp, lmtp, local, sql, bsmtp or pipe)`}},
		{"bad IP in inet_acl", "inet_acl = [\n  \"127.0.0.1\",\n  \"300.1.1.1\",\n]",
			[]string{`t.toml:3: key "inet_acl[1]": bad IP network "300.1.1.1": field "300" is not 0..255`}},
		{"bad CIDR in mynetworks", `mynetworks = ["10.0.0.0/33"]`,
			[]string{`t.toml:1: key "mynetworks[0]": bad IP network "10.0.0.0/33": prefix length must be 0..32`}},
		{"bad netmask", `mynetworks = ["10.0.0.0/255.0.255.0"]`,
			[]string{`t.toml:1: key "mynetworks[0]": bad IP network "10.0.0.0/255.0.255.0": netmask is not a CIDR mask`}},
		{"short IPv4", `inet_acl = ["10.1"]`,
			[]string{`t.toml:1: key "inet_acl[0]": bad IP network "10.1": an IPv4 address needs 4 fields (or a /length)`}},
		{"bad IP in mynetworks_maps ACL", `mynetworks_maps = [["10.0.0.0/8", "fe80::/200"]]`,
			[]string{`t.toml:1: key "mynetworks_maps[0][1]": bad IP network "fe80::/200": prefix length must be 0..128`}},
		{"unknown destiny", `final_spam_destiny = "D_DROP"`,
			[]string{`t.toml:1: key "final_spam_destiny": unknown destiny "D_DROP" (want D_PASS, D_DISCARD, D_BOUNCE, D_REJECT or D_TEMPFAIL)`}},
		{"unknown destiny in by-ccat", "[final_destiny_maps_by_ccat]\nCC_SPAM = \"DISCARD\"",
			[]string{`t.toml:2: key "final_destiny_maps_by_ccat.CC_SPAM": unknown destiny "DISCARD" (want D_PASS, D_DISCARD, D_BOUNCE, D_REJECT or D_TEMPFAIL)`}},
		{"unknown ccat", "[final_destiny_maps_by_ccat]\nCC_SPAMMISH = \"D_PASS\"",
			[]string{`t.toml:2: key "final_destiny_maps_by_ccat.CC_SPAMMISH": unknown content category "CC_SPAMMISH" (want CC_VIRUS, CC_BANNED, CC_UNCHECKED, CC_SPAM, CC_SPAMMY, CC_BADH, CC_OVERSIZED, CC_MTA, CC_CLEAN, CC_CATCHALL, optionally with ",minor")`}},
		{"bad regexp", "banned_filename_re = [\n  '(?i)\\.exe$',\n  '(?!x)\\.pif$',\n]",
			[]string{`t.toml:3: key "banned_filename_re[1]": bad regexp "(?!x)\\.pif$": error parsing regexp: invalid or unsupported Perl syntax: ` + "`(?!`" + ` (Go regexps have no look-around or back-references)`}},
		{"look-behind", `banned_filename_re = ['(?<!x)\.pif$']`,
			[]string{"t.toml:1: key \"banned_filename_re[0]\": bad regexp \"(?<!x)\\\\.pif$\": error parsing regexp: invalid named capture: `(?<!x)\\.pif$` (Go regexps have no look-around or back-references)"}},
		{"bad regexp in maps", `spam_lovers_maps = [{ type = "regexp", rules = [["(unclosed", true]] }]`,
			[]string{"t.toml:1: key \"spam_lovers_maps[0].rules[0]\": bad regexp \"(unclosed\": error parsing regexp: missing closing ): `(unclosed`"}},
		{"unknown bank in interface_policy", "interface_policy = { \"10026\" = \"ORIGINATNG\" }\n[policy_bank.ORIGINATING]\noriginating = true",
			[]string{`t.toml:1: key "interface_policy.10026": unknown policy bank "ORIGINATNG" (did you mean "ORIGINATING"?)`}},
		{"unknown bank in client_ipaddr_policy", `client_ipaddr_policy = [{ maps = [["10.0.0.0/8"]], banks = "INTERNAL" }]`,
			[]string{`t.toml:1: key "client_ipaddr_policy[0].banks": unknown policy bank "INTERNAL" (define it as [policy_bank.INTERNAL])`}},
		{"unknown bank in maps", `virus_name_to_policy_bank_maps = [{ type = "regexp", rules = [['^Phish', "PHISH"]] }]`,
			[]string{`t.toml:1: key "virus_name_to_policy_bank_maps[0].rules[0]": unknown policy bank "PHISH" (define it as [policy_bank.PHISH])`}},
		{"global key in bank", "[policy_bank.MYNETS]\noriginating = true\nsa_kill_level_deflt = 10",
			[]string{`t.toml:3: key "policy_bank.MYNETS.sa_kill_level_deflt": cannot be set in a policy bank: amavis reads it only globally (set spam_kill_level_maps in the bank instead)`}},
		{"unknown key in bank", "[policy_bank.\"AM.PDP-SOCK\"]\nprotocl = \"AM.PDP\"",
			[]string{`t.toml:2: key "policy_bank.\"AM.PDP-SOCK\".protocl": unknown setting (did you mean "protocol"?)`}},
		{"bank ACTION", "[policy_bank.X]\nACTION = \"sub {}\"",
			[]string{`t.toml:2: key "policy_bank.X.ACTION": policy bank ACTION (Perl code) is not supported`}},
		{"bank name", "[policy_bank.\"A B\"]\nlog_level = 1",
			[]string{`t.toml:1: key "policy_bank.\"A B\"": bad policy bank name (no spaces or commas)`}},
		{"unknown mavis key", "[mavis]\nspool_treshold = 1",
			[]string{`t.toml:2: key "mavis.spool_treshold": unknown setting (did you mean "spool_threshold"?)`}},
		{"read-only", `myversion = "3"`,
			[]string{`t.toml:1: key "myversion": is set by amavis itself and cannot be configured`}},
		{"read-only with hint", `dkim_signing_keys_list = []`,
			[]string{`t.toml:1: key "dkim_signing_keys_list": is set by amavis itself and cannot be configured; use [[dkim_key]] tables`}},
		{"alias twice", "DO_SYSLOG = 1\ndo_syslog = 0",
			[]string{`t.toml:2: key "do_syslog": set twice ("DO_SYSLOG" and "do_syslog" are the same setting)`}},
		{"untyped spec", `local_domains_maps = [{ file = "/x" }]`,
			[]string{`t.toml:1: key "local_domains_maps[0]": a lookup table needs type = "hash", "acl", "regexp", "cidr", "sql", "ldap" or "const" (or ref = "setting")`}},
		{"unknown spec type", `local_domains_maps = [{ type = "btree", file = "/x" }]`,
			[]string{`t.toml:1: key "local_domains_maps[0].type": unknown lookup table type "btree" (want type = "hash", "acl", "regexp", "cidr", "sql", "ldap" or "const" (or ref = "setting"))`}},
		{"unknown spec field", `local_domains_maps = [{ type = "hash", entires = {} }]`,
			[]string{`t.toml:1: key "local_domains_maps[0].entires": unknown field in a hash lookup table (want entries, file)`}},
		{"mixed ACL", `local_domains_maps = [["a.example", 1]]`,
			[]string{`t.toml:1: key "local_domains_maps[0]": an inline array is an ACL and holds only strings; use a { type = ... } table for other lookups`}},
		{"cidr for addresses", `local_domains_maps = [{ type = "cidr", file = "/x" }]`,
			[]string{`t.toml:1: key "local_domains_maps[0].type": a cidr table matches IP addresses, but this setting is looked up by mail address`}},
		{"sql for IPs", `mynetworks_maps = [{ type = "sql" }]`,
			[]string{`t.toml:1: key "mynetworks_maps[0].type": sql lookups take mail addresses, but this setting is looked up by IP address`}},
		{"non-numeric level", `spam_kill_level_maps = [{ type = "hash", entries = { "a@b" = "high" } }]`,
			[]string{`t.toml:1: key "spam_kill_level_maps[0].entries.\"a@b\"": want a number, got a string`}},
		{"unknown ref", `local_domains_maps = [{ ref = "local_domain_acl" }]`,
			[]string{`t.toml:1: key "local_domains_maps[0].ref": ref to unknown setting "local_domain_acl" (did you mean "local_domains_acl"?)`}},
		{"bad ref target", `local_domains_maps = [{ ref = "max_servers" }]`,
			[]string{}}, // an integer may be referred to (a constant); see below
		{"ref cycle", "virus_lovers_maps = [{ ref = \"spam_lovers_maps\" }]\nspam_lovers_maps = [{ ref = \"virus_lovers_maps\" }]",
			[]string{`t.toml:2: key "spam_lovers_maps": lookup refs form a cycle: virus_lovers_maps → spam_lovers_maps → virus_lovers_maps`}},
		{"ref to a table", `local_domains_maps = [{ ref = "interface_policy" }]`,
			[]string{`t.toml:1: key "local_domains_maps[0].ref": cannot refer to "interface_policy" (a table of strings) from a lookup list`}},
		{"bad av scanner", `av_scanners = [{ name = "x", type = "ask_daemon" }]`,
			[]string{`t.toml:1: key "av_scanners[0]": an ask_daemon scanner needs sockets = [...]`}},
		{"av scanner code", `av_scanners = [["x", "prog", "{}", [0], [1], "(.*)", "sub {}"]]`,
			[]string{`t.toml:1: key "av_scanners[0]": an amavis scanner entry is [name, program, args, clean, infected, virus_name]; Perl code entries are not supported`}},
		{"spam scanner module", `spam_scanners = [["x", "Amavis::SpamControl::Bogus"]]`,
			[]string{`t.toml:1: key "spam_scanners[0][1]": unknown spam scanner module "Amavis::SpamControl::Bogus" (want SpamAssassin, SpamdClient, RspamdClient, ExtProg)`}},
		{"bad DSN", `lookup_sql_dsn = [["mysql://x", "u", "p"]]`,
			[]string{`t.toml:1: key "lookup_sql_dsn[0]": bad DSN "mysql://x" (want DBI:mysql:..., DBI:MariaDB:..., DBI:Pg:... or DBI:SQLite:...)`}},
		{"dkim key incomplete", "[[dkim_key]]\ndomain = \"example.com\"",
			[]string{`t.toml:1: key "dkim_key[0]": a dkim_key needs domain, selector and key (the PEM file)`}},
		{"bad header name", `X_HEADER_TAG = "X Virus"`,
			[]string{`t.toml:1: key "X_HEADER_TAG": "X Virus" is not a valid header field name`}},
		{"unknown header test", "[allowed_header_tests]\nutf9 = true",
			[]string{`t.toml:2: key "allowed_header_tests.utf9": unknown entry "utf9" (want one of other, mime, syntax, empty, long, control, 8bit, utf8, missing, multiple)`}},
		{"date value", `partition_tag = 2024-01-01`,
			[]string{`t.toml:1: key "partition_tag": dates and times are not supported here`}},
		{"malformed TOML", "max_servers = 2\nmax_requests = = 3\n",
			[]string{`t.toml:2: TOML syntax error at column 16: unexpected character U+003D '=' at start of value`}},
		{"duplicate TOML key", "max_servers = 2\nmax_servers = 3\n",
			[]string{`t.toml:2: TOML syntax error at column 1: key max_servers is already defined`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.want) == 0 {
				mustParse(t, tc.src)
				return
			}
			got := parseErrs(t, tc.src)
			if !slices.Equal(got, tc.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestManyErrors: all problems of a file come back together, in file
// order, one per line of Error().
func TestManyErrors(t *testing.T) {
	src := `# a config with many mistakes
max_sevrers = 3
inet_acl = ["127.0.0.1", "::1/129"]
forward_method = "smtp:[127.0.0.1]"
final_spam_destiny = "D_DROP"
banned_filename_re = ['(?=x)']

[policy_bank.MYNETS]
sa_tag_level_deflt = 1
originating = "yes"

[mavis]
spool_threshold = -1
`
	_, err := testEnv.Parse("mavis.toml", []byte(src))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("want Errors, got %v", err)
	}
	want := []string{
		`mavis.toml:2: key "max_sevrers": unknown setting (did you mean "max_servers"?)`,
		`mavis.toml:3: key "inet_acl[1]": bad IP network "::1/129": prefix length must be 0..128`,
		`mavis.toml:4: key "forward_method": bad method "smtp:[127.0.0.1]": missing :port after [127.0.0.1]`,
		`mavis.toml:5: key "final_spam_destiny": unknown destiny "D_DROP" (want D_PASS, D_DISCARD, D_BOUNCE, D_REJECT or D_TEMPFAIL)`,
		"mavis.toml:6: key \"banned_filename_re[0]\": bad regexp \"(?=x)\": error parsing regexp: invalid or unsupported Perl syntax: `(?=` (Go regexps have no look-around or back-references)",
		`mavis.toml:9: key "policy_bank.MYNETS.sa_tag_level_deflt": cannot be set in a policy bank: amavis reads it only globally (set spam_tag_level_maps in the bank instead)`,
		`mavis.toml:10: key "policy_bank.MYNETS.originating": want true or false, got a string`,
		`mavis.toml:13: key "mavis.spool_threshold": -1 is below the minimum 0`,
	}
	if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}
	if len(es) != len(want) || es[0].Line != 2 || es[0].Key != "max_sevrers" || es[0].File != "mavis.toml" {
		t.Errorf("structured errors: %+v", es[0])
	}
	var one *Error
	if !errors.As(err, &one) || one.Line != 2 {
		t.Error("errors.As(*Error)")
	}
}

func TestWarnings(t *testing.T) {
	c := mustParse(t, `
sa_spam_modifies_subj = 1
syslog_priority = "debug"
enable_global_cache = 1
sa_timeout = 60
min_servers = 4
max_requests = 20
client_ipaddr_policy = [{ maps = [{ ref = "mynetworks_maps" }], banks = "MYNETS" }]
`)
	var got []string
	for _, w := range c.Warnings() {
		got = append(got, w.String())
	}
	want := []string{
		`t.toml:5: key "sa_timeout": retired in amavis 2.7; changing it has no effect`,
		`t.toml:6: key "min_servers": accepted for compatibility; it has no effect in mavis`,
		`t.toml:8: key "client_ipaddr_policy[0].banks": policy bank MYNETS is not defined, so mail from these networks is not treated as originating (add [policy_bank.MYNETS] with originating = true)`,
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestIsSetAndGet(t *testing.T) {
	c := mustParse(t, "\nDO_SYSLOG = 0\n[mavis]\nspool_threshold = 1")
	if p, ok := c.IsSet("do_syslog"); !ok || p.Line != 2 || p.String() != "t.toml:2" {
		t.Errorf("IsSet(do_syslog) = %v %v", p, ok)
	}
	if _, ok := c.IsSet("DO_SYSLOG"); !ok {
		t.Error("IsSet by alias")
	}
	if _, ok := c.IsSet("max_servers"); ok {
		t.Error("IsSet(max_servers)")
	}
	if p, ok := c.IsSet("mavis.spool_threshold"); !ok || p.Line != 4 {
		t.Errorf("IsSet(mavis.spool_threshold) = %v", p)
	}
	s := c.Settings()
	if v, ok := s.Get("DO_SYSLOG"); !ok || v != Some(false) {
		t.Errorf("Get = %v", v)
	}
	if v, ok := s.Get("mavis.spool_threshold"); !ok || v != Some(1) {
		t.Errorf("Get = %v", v)
	}
	if _, ok := s.Get("mavis"); ok {
		t.Error("Get(mavis)")
	}
	if !IsDynamic("final_spam_destiny") || IsDynamic("max_servers") || IsDynamic("nope") {
		t.Error("IsDynamic")
	}
}

// TestRoundTrip: Dump writes a file that Parse reads back to the same
// settings.
func TestRoundTrip(t *testing.T) {
	example, err := os.ReadFile("../../docs/mavis.toml.example")
	if err != nil {
		t.Fatal(err)
	}
	rich := `
mynetworks = ["192.0.2.0/24", "!192.0.2.1"]
local_domains_maps = [["example.com"], { type = "hash", entries = { "a@b" = "undef", "x" = 1.5 } }, { type = "sql", field = "local" }]
spam_kill_level_maps = [{ type = "regexp", rules = [['^x@', 5.0], ['(?#comment)^y@', "7"]] }]
score_sender_maps = [{ type = "hash", entries = { "." = [{ type = "regexp", rules = [['^spam@', 5.0]] }] } }]
dkim_signature_options_bysender_maps = [{ type = "const", value = { ttl = 86400, a = "rsa-sha256" } }]
av_scanners = [["ClamAV", "clamscan", "{}", [0], '\bFOUND$', '^(.*) FOUND$']]
spam_scanners = [{ name = "spamd", module = "SpamdClient", score_factor = 1.5 }]
lookup_sql_dsn = ["DBI:Pg:dbname=mail", "u", "p"]
storage_redis_dsn = { server = "127.0.0.1:6379" }
notify_sender_templ = { file = "/etc/t" }
smtpd_greeting_banner = "tab\there \"quoted\" \u00e9 \u0001"
partition_tag = "x"
allowed_header_tests = { REPLACE = true, mime = true }
forward_method = ["smtp:[::1]:10025", "lmtp:/run/lmtp"]
interface_policy = { "10026" = "ORIG", "/run/x.sock" = "undef" }
[[dkim_key]]
domain = "example.com"
selector = "s"
key = "/k.pem"
h = "from:to"
[final_destiny_maps_by_ccat]
CC_SPAM = [{ type = "hash", entries = { "a@b" = "D_PASS" } }, "D_REJECT"]
"CC_UNCHECKED,3" = "undef"
[policy_bank.ORIG]
originating = true
inet_acl = "10.0.0.1"
local_domains_maps = "undef"
allowed_header_tests = { utf8 = true }
defang_maps_by_ccat = { REPLACE = true, CC_VIRUS = true }
[policy_bank."AM.PDP-SOCK"]
protocol = "AM.PDP"
[mavis]
spool_threshold = 0
`
	for name, src := range map[string]string{"default": "", "example": string(example), "rich": rich} {
		t.Run(name, func(t *testing.T) {
			c := mustParse(t, src)
			d1 := dumpNoComments(t, c)
			c2, err := testEnv.Parse("dump.toml", []byte(d1))
			if err != nil {
				t.Fatalf("dump does not parse: %v\n%s", err, d1)
			}
			d2 := dumpNoComments(t, c2)
			if d1 != d2 {
				t.Errorf("round trip differs:\n%s", diffLines(d1, d2))
			}
			for _, b := range c.Banks() {
				if s1, s2 := dumpSettings(c.Settings(b)), dumpSettings(c2.Settings(b)); s1 != s2 {
					t.Errorf("bank %s differs after round trip:\n%s", b, diffLines(s1, s2))
				}
			}
		})
	}
}

var commentRE = regexp.MustCompile(`(?m)(^# .*\n|  # \S+$)`)

func dumpNoComments(t *testing.T, c *Config) string {
	var b bytes.Buffer
	if err := c.Dump(&b, false); err != nil {
		t.Fatal(err)
	}
	return commentRE.ReplaceAllString(b.String(), "")
}

// dumpSettings renders an effective snapshot (resolved) for comparison.
func dumpSettings(s *Settings) string {
	var b strings.Builder
	for _, st := range schema.list {
		if st.kind == kMavis || st.kind.isMapKind() {
			continue
		}
		b.WriteString(st.name + " = " + render(st, st.field(s)) + "\n")
	}
	return b.String()
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "- "+x, "+ "+y)
		}
		if len(out) > 20 {
			break
		}
	}
	return strings.Join(out, "\n")
}

// TestExample: the example file loads cleanly and means what it says.
func TestExample(t *testing.T) {
	c, err := testEnv.Load("../../docs/mavis.toml.example")
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	s := c.Settings()
	if s.FinalSpamDestiny != Some(DDiscard) || s.SaTagLevelDeflt != Some(1.0) || s.SaTag2LevelDeflt != Some(5.0) ||
		s.SaKillLevelDeflt != Some(6.31) || s.SaDSNCutoffLevel != Some(10.0) || !slices.Equal(s.InetSocketPort, []int{10024}) ||
		s.MyHostname != Some("mail.example.com") {
		t.Error("seed 000 values not translated")
	}
	if l := s.LocalDomainsMaps; len(l) != 1 || l[0].Type != LookupACL || l[0].File != "/etc/postfix/virtual_domains" {
		t.Errorf("local_domains_maps %s", renderMaps(l, false))
	}
	// The commented examples parse too once uncommented.
	b, _ := os.ReadFile("../../docs/mavis.toml.example")
	var un []string
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "# "); ok && looksLikeTOML(rest) {
			l = rest
		}
		un = append(un, l)
	}
	// Later duplicates of keys shown twice are dropped by keeping the
	// first occurrence per table.
	src := dedupeKeys(strings.Join(un, "\n"))
	if _, err := testEnv.Parse("uncommented.toml", []byte(src)); err != nil {
		t.Errorf("uncommented example does not load: %v\n%s", err, src)
	}
}

var tomlLineRE = regexp.MustCompile(`^(\[|[A-Za-z_"][A-Za-z0-9_."-]* = |  |\]|\{)`)

func looksLikeTOML(s string) bool { return tomlLineRE.MatchString(s) }

func dedupeKeys(src string) string {
	seen := map[string]bool{}
	table := ""
	var out []string
	skipping := false
	for _, l := range strings.Split(src, "\n") {
		if strings.HasPrefix(l, "[") {
			table = l
			skipping = seen[table]
			seen[table] = true
		} else if k, _, ok := strings.Cut(l, " = "); ok && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "#") {
			key := table + "." + k
			skipping = seen[key]
			seen[key] = true
		} else if !strings.HasPrefix(l, " ") && l != "]" {
			skipping = false
		}
		if !skipping {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestStateDir(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	tests := []struct {
		getenv func(string) string
		euid   int
		want   string
	}{
		{env("STATE_DIRECTORY", "/var/lib/mavis:/other"), 1000, "/var/lib/mavis"},
		{env(), 0, "/var/lib/mavis"},
		{env("XDG_STATE_HOME", "/home/u/.st", "HOME", "/home/u"), 1000, "/home/u/.st/mavis"},
		{env("XDG_STATE_HOME", "relative", "HOME", "/home/u"), 1000, "/home/u/.local/state/mavis"},
		{env(), 1000, "mavis-state"},
	}
	for _, tc := range tests {
		if got := defaultStateDir(tc.getenv, tc.euid); got != tc.want {
			t.Errorf("defaultStateDir = %q, want %q", got, tc.want)
		}
	}
	if d := (Env{Hostname: "host"}).mydomain(); d != "host" {
		t.Errorf("mydomain of a short host name = %q", d)
	}
	if d := (Env{Hostname: "a.b.example"}).mydomain(); d != "b.example" {
		t.Errorf("mydomain = %q", d)
	}
	if c := (Env{}).Default().Settings(); c.MyHome != Some("mavis-state") || c.MyHostname != Some("localhost") {
		t.Error("empty Env defaults")
	}
	// SystemEnv and Default work on this machine.
	if s := Default().Settings(); !s.MyHome.IsSet() || s.MyHostname.Value() == "" {
		t.Error("system defaults")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/mavis.toml"
	os.WriteFile(p, []byte("max_servers = 0\n"), 0o600)
	_, err := testEnv.Load(p)
	if err == nil || err.Error() != p+`:1: key "max_servers": 0 is below the minimum 1` {
		t.Errorf("Load error = %v", err)
	}
	if _, err := testEnv.Load(dir + "/missing.toml"); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	os.WriteFile(p, []byte("max_servers = 4\n"), 0o600)
	c, err := Load(p)
	if err != nil || c.Settings().MaxServers != Some(4) || c.File() != p {
		t.Errorf("Load: %v", err)
	}
}
