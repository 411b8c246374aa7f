package config

import (
	"maps"
	"path/filepath"
	"strings"
)

// derivedDoc describes, for the reference, the defaults that follow other
// settings. They are filled in after the file is read, when the file does
// not set them (amavis's supply_after_defaults, plus Debian's conf.d
// values written in terms of $MYHOME and $mydomain). Unlike Perl's
// evaluation order, changing MYHOME anywhere in the file moves them all.
var derivedDoc = map[string]string{
	"TEMPBASE":                 "$MYHOME/tmp",
	"QUARANTINEDIR":            "$MYHOME/virusmails",
	"db_home":                  "$MYHOME/db",
	"helpers_home":             "$MYHOME",
	"pid_file":                 "$MYHOME/mavisd.pid",
	"unix_socketname":          "$MYHOME/amavisd.sock",
	"zmq_sockets":              "ipc://$MYHOME/amavisd-zmq.sock",
	"X_HEADER_LINE":            "Debian amavis at $mydomain",
	"local_domains_acl":        ".$mydomain",
	"virus_admin":              "postmaster@$mydomain",
	"av_scanners_backup":       "ClamAV-clamscan with --tempdir=$TEMPBASE",
	"gunzip":                   "$gzip -d",
	"bunzip2":                  "$bzip2 -d",
	"unlzop":                   "$lzop -d",
	"hdrfrom_notify_recip":     "$hdrfrom_notify_sender, or from $mailfrom_notify_recip",
	"hdrfrom_notify_admin":     "$hdrfrom_notify_sender, or from $mailfrom_notify_admin",
	"hdrfrom_notify_spamadmin": "$hdrfrom_notify_sender, or from $mailfrom_notify_spamadmin",
	"hdrfrom_notify_release":   "$hdrfrom_notify_sender",
	"hdrfrom_notify_report":    "$hdrfrom_notify_sender",
	"MYHOME":                   "state directory (see above)",
	"mydomain":                 "/etc/mailname, else the host's domain",
	"myhostname":               "the host name",
	"inet_socket_bind":         "127.0.0.1 and [::1] (when IPv6 works)",
}

// applyDerived fills in the derived defaults for settings the file did not
// set (set holds the names set globally).
func applyDerived(s *Settings, set map[string]Pos) {
	unset := func(name string) bool { _, ok := set[name]; return !ok }
	if home, ok := s.MyHome.Get(); ok {
		under := func(name string, dst *Opt[string], rel string) {
			if unset(name) {
				*dst = Some(filepath.Join(home, rel))
			}
		}
		under("TEMPBASE", &s.TempBase, "tmp")
		under("QUARANTINEDIR", &s.QuarantineDir, "virusmails")
		under("db_home", &s.DBHome, "db")
		under("helpers_home", &s.HelpersHome, ".")
		under("pid_file", &s.PIDFile, "mavisd.pid")
		under("unix_socketname", &s.UnixSocketname, "amavisd.sock")
		if unset("zmq_sockets") {
			s.ZMQSockets = []string{"ipc://" + filepath.Join(home, "amavisd-zmq.sock")}
		}
	}
	if dom, ok := s.MyDomain.Get(); ok && dom != "" {
		if unset("X_HEADER_LINE") {
			s.XHeaderLine = Some("Debian amavis at " + dom)
		}
		if unset("local_domains_acl") {
			s.LocalDomainsACL = []string{"." + dom}
		}
		if unset("virus_admin") {
			s.VirusAdmin = AdminAddr{Addr: Some("postmaster@" + dom)}
		}
	}
	if tmp, ok := s.TempBase.Get(); ok && unset("av_scanners_backup") {
		s.AVScannersBackup = []AVScanner{{
			Name: "ClamAV-clamscan", Type: "command", Command: []string{"clamscan"},
			Args:      "--stdout --no-summary -r --tempdir=" + tmp + " {}",
			Clean:     ExitOrRegexp{Codes: []int{0}},
			Infected:  ExitOrRegexp{Regexp: scannerRe(`:.*\sFOUND$`)},
			VirusName: scannerRe(`^.*?: (.*) FOUND$`),
		}}
	}
	// notify_method follows forward_method unless set: notifications go
	// back into the MTA the same way checked mail does.
	if unset("notify_method") && !unset("forward_method") {
		s.NotifyMethod = s.ForwardMethod
	}
	dashD := func(name string, dst *[]string, from []string) {
		if unset(name) && len(*dst) == 0 && len(from) > 0 && from[0] != "" {
			*dst = []string{from[0] + " -d"}
		}
	}
	dashD("gunzip", &s.Gunzip, s.Gzip)
	dashD("bunzip2", &s.Bunzip2, s.Bzip2)
	dashD("unlzop", &s.Unlzop, s.Lzop)

	const pname = `"Content-filter at ${myhostname_utf8}"`
	sender := s.HdrfromNotifySender
	from := func(name string, dst *Opt[string], mailfrom Opt[string]) {
		if !unset(name) || dst.IsSet() {
			return
		}
		if m := mailfrom.Value(); m != "" {
			*dst = Some(pname + " <" + m + ">")
		} else {
			*dst = sender
		}
	}
	from("hdrfrom_notify_recip", &s.HdrfromNotifyRecip, s.MailfromNotifyRecip)
	from("hdrfrom_notify_admin", &s.HdrfromNotifyAdmin, s.MailfromNotifyAdmin)
	from("hdrfrom_notify_spamadmin", &s.HdrfromNotifySpamadmin, s.MailfromNotifySpamadmin)
	from("hdrfrom_notify_release", &s.HdrfromNotifyRelease, Opt[string]{})
	from("hdrfrom_notify_report", &s.HdrfromNotifyReport, Opt[string]{})

	// amavis: D_DISCARD plus $warnbannedsender / $warnbadhsender means
	// D_BOUNCE (compatibility with old configurations).
	if s.FinalBannedDestiny.Value() == DDiscard && s.FinalBannedDestiny.IsSet() && s.WarnBannedSender.Value() {
		s.FinalBannedDestiny = Some(DBounce)
	}
	if s.FinalBadHeaderDestiny.Value() == DDiscard && s.FinalBadHeaderDestiny.IsSet() && s.WarnBadhSender.Value() {
		s.FinalBadHeaderDestiny = Some(DBounce)
	}

	// The X_HEADER_TAG field may be added unless configured otherwise.
	if tag, ok := s.XHeaderTag.Get(); ok && validHeaderName(tag) {
		if _, has := s.AllowedAddedHeaderFields[strings.ToLower(tag)]; !has {
			m := maps.Clone(s.AllowedAddedHeaderFields)
			if m == nil {
				m = map[string]bool{}
			}
			m[strings.ToLower(tag)] = true
			s.AllowedAddedHeaderFields = m
		}
	}

	// %sql_clause refers to the two legacy SELECT settings.
	fill := map[string]Opt[string]{"sel_policy": s.SQLSelectPolicy, "sel_wblist": s.SQLSelectWhiteBlackList}
	for k, v := range fill {
		if _, has := s.SQLClause[k]; !has && v.IsSet() {
			m := maps.Clone(s.SQLClause)
			if m == nil {
				m = map[string]string{}
			}
			m[k] = v.Value()
			s.SQLClause = m
		}
	}
}
