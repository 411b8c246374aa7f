package config

import (
	"fmt"
	"slices"
	"strings"
)

// notes are the reference's remarks per setting (mavis specifics,
// deliberate differences, value syntax).
var notes = map[string]string{
	"MYHOME":                     "mavis default: `$STATE_DIRECTORY` (systemd), else `/var/lib/mavis` as root, else `$XDG_STATE_HOME/mavis` (`~/.local/state/mavis`), else `./mavis-state`. Other paths follow it unless set.",
	"lock_file":                  "mavis has no pre-forked children to serialise.",
	"daemon_user":                "Debian runs as `amavis`; mavis only drops privileges when this is set and it starts as root (run it as a service user instead).",
	"daemonize":                  "mavisd always stays in the foreground (systemd, `amavisd foreground`).",
	"max_servers":                "Messages processed at once (amavis: child processes). Match Postfix's `maxproc` for the content_filter transport.",
	"max_requests":               "No child processes to retire.",
	"child_timeout":              "Integer seconds. Postfix's `smtp_data_done_timeout` must be longer.",
	"smtpd_timeout":              "Integer seconds.",
	"inet_socket_port":           "An integer or a list.",
	"inet_socket_bind":           "A string or a list; `[::1]` only when IPv6 works on this machine.",
	"listen_sockets":             "Socket specs: `unix:/path`, `inet:host:port`, `inet6:[::1]:port`, `/path`, `port`, `host:port`.",
	"inet_acl":                   "IP ACL: `a.b.c.d[/n]`, `a.b.c.d/m.m.m.m`, `[v6]/n`, `!` negates, first match wins.",
	"interface_policy":           "Keys: `SOCK` (the Unix socket), a socket path, a port, `addr:port`; values: policy bank names (must exist).",
	"client_ipaddr_policy":       "List of `{ maps = <IP lookup list>, banks = \"BANK1, BANK2\" }`. The default follows `mynetworks_maps` when you replace it (amavis keeps the old list).",
	"mynetworks_maps":            "IP lookup list.",
	"mydomain":                   "Used by the derived defaults `local_domains_acl`, `virus_admin`, `X_HEADER_LINE`.",
	"local_domains_acl":          "Address ACL. A lookup list entry written as an inline array is an ACL too.",
	"local_domains_maps":         "Elements: constants, `[\"ACL\", \".domain\"]`, `{ type = \"hash\" | \"regexp\" | \"sql\" | \"ldap\" | \"acl\" | \"const\", ... }`, `{ ref = \"setting\" }`.",
	"protocol":                   "In a policy bank: `SMTP`, `LMTP`, `AM.PDP`.",
	"smtpd_message_size_limit":   "Bytes; announced in EHLO SIZE, raised to 65536 when smaller (see `enforce_smtpd_message_size_limit_64kb_min`).",
	"forward_method":             "`smtp:[host]:port`, `lmtp:[host]:port`, `lmtp:/socket`, `pipe:...`, `bsmtp:/file`; a list = candidates tried in random order.",
	"forward_method_maps":        "Per-recipient override; when no table answers, `forward_method` is used (amavis's default table returns it).",
	"final_virus_destiny":        "`D_PASS`, `D_DISCARD`, `D_BOUNCE`, `D_REJECT`, `D_TEMPFAIL`.",
	"final_destiny_maps_by_ccat": "Keys `CC_VIRUS`, `\"CC_UNCHECKED,3\"`, ...; values a destiny or a lookup list. Entries refer to `final_*_destiny`, so banks that change those take effect.",
	"bypass_virus_checks_maps":   "Debian's 20-package sets `(1)` (virus checks off until you edit 15-content_filter_mode); mavis checks by default.",
	"bypass_spam_checks_maps":    "Debian's 20-package sets `(1)` (spam checks off); mavis checks by default.",
	"sa_tag_level_deflt":         "Global only: in a policy bank set `spam_tag_level_maps`.",
	"sa_kill_level_deflt":        "Global only: in a policy bank set `spam_kill_level_maps`.",
	"score_sender_maps":          "Lookup list whose results are lookup lists (by sender). Debian's soft-blacklist regexps are the default.",
	"spam_scanners":              "List of `{ name, module = \"SpamAssassin\" | \"SpamdClient\" | \"RspamdClient\" | \"ExtProg\", options... }`.",
	"av_scanners":                "List of `{ name, type = \"ask_daemon\" | \"command\", command, args, sockets, clean, infected, virus_name }` or amavis's `[name, program, args, clean, infected, virus_name]`. Regexps are RE2 (no look-around): Debian's `(?!Infected Archive)` is dropped from the ClamAV entry.",
	"av_scanners_backup":         "As `av_scanners`.",
	"keep_decoded_original_maps": "Debian's `(?! cpio)` look-ahead is written as an earlier `[\"(?i)^ASCII cpio\", 0]` rule.",
	"banned_filename_maps":       "Results: rule names of `banned_rules` (\"DEFAULT, MYRULES\") or lookup lists.",
	"banned_filename_re":         "Regexp table: `\"regexp\"` (value 1) or `[\"regexp\", value]`; `(?i)` for case-insensitive; `(?#comment)` kept as the rule comment.",
	"decoders":                   "Accepted as data; mavis decodes natively.",
	"X_HEADER_LINE":              "Debian's form (`Debian amavis at ...`) so existing filters keep matching.",
	"allowed_header_tests":       "Merges into the default; `REPLACE = true` replaces the whole table.",
	"signed_header_fields":       "0, 1, or 2 (sign one extra empty instance).",
	"virus_admin":                "A string is `$virus_admin`; a table of domain = address is `%virus_admin`.",
	"spam_admin":                 "A string is `$spam_admin`; a table is `%spam_admin`.",
	"do_syslog":                  "Also accepted as `DO_SYSLOG`.",
	"logfile":                    "Also accepted as `LOGFILE`.",
	"log_level":                  "-1 .. 5.",
	"notify_virus_admin_templ":   "A string, or `{ file = \"path\" }` (amavis `read_text`). Undef = built-in template.",
	"partition_tag":              "An integer or a string. Also accepted as `sql_partition_tag`.",
	"lookup_sql_dsn":             "List of `[\"DBI:mysql:database=mail;host=127.0.0.1\", \"user\", \"password\"]` or `{ dsn, user, password }`; drivers mysql, MariaDB, Pg, SQLite.",
	"storage_redis_dsn":          "List of tables (`server`, `db_id`, `password`, ...).",
	"dkim_key":                   "`[[dkim_key]]` tables with `domain`, `selector`, `key` (PEM file) and amavis's options (`t`, `h`, `k`, `n`, `s`, `g`, `a`, `ttl`, ...); amavis's `dkim_key(...)` calls.",
	"sql_clause":                 "`sel_policy` and `sel_wblist` default to `sql_select_policy` and `sql_select_white_black_list`.",
	"smtpd_tls_server_options":   "`SSL_cert_file` and `SSL_key_file` hold the certificate and key.",
	"local_delivery_aliases":     "Quarantine mailbox names; names not listed go to `QUARANTINEDIR`.",
	"originating":                "Set by loading the MYNETS bank (only if that bank exists).",
	"myauthservid":               "Undef means `myhostname`.",
	"myprogram_name":             "Undef means the program's name.",
	"spam_modifies_subj_maps":    "Retired in amavis.",
}

// refEnv is the machine the reference describes.
var refEnv = Env{Hostname: "mail.example.com", MailName: "example.com", StateDir: "/var/lib/mavis", IPv6: true}

// Reference returns the settings reference in Markdown: one table per
// section with every key, its type, whether a policy bank may set it, the
// amavis default (upstream, and Debian's where different), the mavis
// default and notes. docs/configuration.md embeds it.
func Reference() string {
	var b strings.Builder
	def := refEnv.Default().Raw()
	row := func(st *setting, prefix string) {
		name := prefix + st.name
		for _, a := range st.aliases {
			name += ", " + a
		}
		var mavisDef string
		switch d, derived := derivedDoc[st.name]; {
		case derived:
			mavisDef = cell(d)
		case st.kind.isMapKind() && st.field(def).Len() == 0:
			mavisDef = "empty"
		case st.kind.isMapKind():
			mavisDef = "see `mavis config show`"
		default:
			mavisDef = "`" + cell(render(st, st.field(def))) + "`"
			if mavisDef == "`\"undef\"`" {
				mavisDef = "undef"
			}
			if len(mavisDef) > 70 {
				mavisDef = "see `mavis config show`"
			}
		}
		var note []string
		if st.noeffect {
			note = append(note, "No effect in mavis.")
		}
		if st.legacy {
			note = append(note, "Legacy amavis variable.")
		}
		if !st.dyn && prefix == "" {
			if alt := bankAlternative(st.name); alt != "" {
				note = append(note, "Global only: in a policy bank set "+alt+".")
			}
		}
		if n := notes[prefix+st.name]; n != "" {
			note = append(note, cell(n))
		}
		bank := ""
		if st.dyn {
			bank = "yes"
		}
		up := st.upstream
		if len(up) > 70 {
			up = up[:67] + "..."
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", name, st.kind.typeDoc(), bank,
			cell(up), mavisDef, strings.Join(note, " "))
	}
	header := func(sec string) {
		fmt.Fprintf(&b, "\n### %s\n\n| Key | Type | Bank | amavis default | mavis default | Notes |\n|---|---|---|---|---|---|\n", sec)
	}
	for _, st := range schema.list {
		if st.section != "" {
			header(st.section)
		}
		if st.kind == kMavis {
			for _, sst := range st.sub.list {
				row(sst, "mavis.")
			}
			continue
		}
		row(st, "")
	}
	b.WriteString("\n### Retired and ignored amavis settings\n\n")
	b.WriteString("Accepted and ignored; a warning is printed when a retired one is set to something else than amavis's initial value: ")
	var names []string
	for n := range retired {
		names = append(names, "`"+n+"`")
	}
	for n := range quietlyIgnored {
		names = append(names, "`"+n+"`")
	}
	slices.Sort(names)
	b.WriteString(strings.Join(names, ", ") + ".\n\nRejected (set by amavis itself): ")
	names = names[:0]
	for n := range readOnly {
		names = append(names, "`"+n+"`")
	}
	slices.Sort(names)
	b.WriteString(strings.Join(names, ", ") + ".\n")
	return b.String()
}

func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	return s
}
