package config

import "time"

// Settings is one effective, immutable snapshot of every amavis setting,
// named as in amavis (the struct tag `amavis` is the TOML key). Get one from
// (*Config).Settings; it already has the requested policy banks merged in
// and every lookup-table reference resolved. Treat it as read-only: slices
// and maps are shared between snapshots.
//
// Scalars are Opt (undef is representable), lists are nil when undef or
// empty, *_maps settings are Maps (lookup tables for internal/lookup).
//
// Tag options: dyn = may be set in a policy bank (amavis's dynamic_confvars
// and legacy_dynamic_confvars); legacy = one of amavis's legacy variables
// that the default maps refer to; noeffect = accepted for compatibility
// (a warning says it does nothing in mavis); keys=/res= = key domain and
// result type of a lookup list; min=/max=/enum= = value checks; alias= =
// another accepted name; sec= starts a section of the reference.
type Settings struct {
	// PolicyBankPath is "A/B" when banks A then B were loaded ("" = base),
	// amavis's policy_bank_path (%p in logs, msgs.policy in SQL).
	PolicyBankPath string
	// PolicyBankName is the last bank loaded ("" = base).
	PolicyBankName string

	// ----- Paths and daemon -----
	MyHome                  Opt[string]        `amavis:"MYHOME,sec=Paths and daemon" up:"/var/amavis (Debian /var/lib/amavis)"`
	TempBase                Opt[string]        `amavis:"TEMPBASE" up:"$MYHOME (Debian $MYHOME/tmp)"`
	QuarantineDir           Opt[string]        `amavis:"QUARANTINEDIR" up:"undef (Debian $MYHOME/virusmails)"`
	QuarantineSubdirLevels  Opt[int]           `amavis:"quarantine_subdir_levels,min=0,max=2" up:"undef (Debian 1)"`
	DBHome                  Opt[string]        `amavis:"db_home" up:"$MYHOME/db"`
	HelpersHome             Opt[string]        `amavis:"helpers_home" up:"$MYHOME"`
	PIDFile                 Opt[string]        `amavis:"pid_file" up:"$MYHOME/amavisd.pid (Debian /var/run/amavis/amavisd.pid)"`
	LockFile                Opt[string]        `amavis:"lock_file,noeffect" up:"undef (Debian /var/run/amavis/amavisd.lock)"`
	DaemonUser              Opt[string]        `amavis:"daemon_user" up:"undef (Debian amavis)"`
	DaemonGroup             Opt[string]        `amavis:"daemon_group,legacy" up:"undef (Debian amavis)"`
	DaemonGroups            []string           `amavis:"daemon_groups" up:"()"`
	DaemonChrootDir         Opt[string]        `amavis:"daemon_chroot_dir" up:"undef"`
	Daemonize               Opt[bool]          `amavis:"daemonize,noeffect" up:"1"`
	MaxServers              Opt[int]           `amavis:"max_servers,min=1,max=10000" up:"2"`
	MaxRequests             Opt[int]           `amavis:"max_requests,min=0,noeffect" up:"20"`
	MinServers              Opt[int]           `amavis:"min_servers,min=0,noeffect" up:"undef"`
	MinSpareServers         Opt[int]           `amavis:"min_spare_servers,min=0,noeffect" up:"undef"`
	MaxSpareServers         Opt[int]           `amavis:"max_spare_servers,min=0,noeffect" up:"undef"`
	ChildTimeout            Opt[time.Duration] `amavis:"child_timeout,dyn,min=1" up:"480"`
	SMTPDTimeout            Opt[time.Duration] `amavis:"smtpd_timeout,dyn,min=1" up:"480"`
	AllowPreservingEvidence Opt[bool]          `amavis:"allow_preserving_evidence" up:"1"`
	Path                    Opt[string]        `amavis:"path" up:"(Debian /usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin:/usr/bin:/bin)"`
	InstanceName            Opt[string]        `amavis:"instance_name" up:"undef"`
	AdditionalPerlModules   []string           `amavis:"additional_perl_modules,noeffect" up:"()"`
	CourierfilterShutdown   Opt[bool]          `amavis:"courierfilter_shutdown,noeffect" up:"0"`
	Debug                   Opt[bool]          `amavis:"DEBUG" up:"0"`
	IKnowWhatIAmDoing       map[string]bool    `amavis:"i_know_what_i_am_doing" up:"()"`
	EnableDB                Opt[bool]          `amavis:"enable_db" up:"undef (Debian 1)"`
	EnableZMQ               Opt[bool]          `amavis:"enable_zmq" up:"undef"`
	ZMQSockets              []string           `amavis:"zmq_sockets" up:"(ipc://$MYHOME/amavisd-zmq.sock)"`
	MailIDSizeBits          Opt[int]           `amavis:"mail_id_size_bits,min=24,max=240" up:"72"`
	NannyDetailsLevel       Opt[int]           `amavis:"nanny_details_level,min=0,max=2" up:"1"`

	// ----- Listening -----
	InetSocketPort       []int             `amavis:"inet_socket_port,sec=Listening" up:"undef (Debian 10024)"`
	InetSocketBind       []string          `amavis:"inet_socket_bind,check=bind" up:"['127.0.0.1','[::1]']"`
	ListenSockets        []string          `amavis:"listen_sockets,check=socket" up:"()"`
	ListenQueueSize      Opt[int]          `amavis:"listen_queue_size,min=1" up:"undef"`
	UnixSocketname       Opt[string]       `amavis:"unix_socketname" up:"undef (Debian /var/lib/amavis/amavisd.sock)"`
	UnixSocketMode       Opt[int]          `amavis:"unix_socket_mode,min=0,max=4095" up:"undef"`
	InetACL              IPACL             `amavis:"inet_acl,dyn" up:"qw(127.0.0.1 [::1])"`
	HAProxyTargetEnabled Opt[bool]         `amavis:"haproxy_target_enabled,dyn" up:"undef"`
	Protocol             Opt[string]       `amavis:"protocol,dyn,enum=SMTP|LMTP|AM.PDP|TCP-LOOKUP" up:"undef (SMTP on TCP)"`
	InterfacePolicy      map[string]string `amavis:"interface_policy,res=bank" up:"() (Debian SOCK => 'AM.PDP-SOCK')"`
	ClientIPAddrPolicy   []IPPolicy        `amavis:"client_ipaddr_policy,dyn" up:"(\\@mynetworks => 'MYNETS')"`
	Mynetworks           IPACL             `amavis:"mynetworks,legacy" up:"qw(127.0.0.0/8 [::1] 169.254.0.0/16 [fe80::]/10 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 [fc00::]/7)"`
	MynetworksMaps       Maps              `amavis:"mynetworks_maps,dyn,keys=ip,res=bool" up:"(\\@mynetworks)"`
	Originating          Opt[bool]         `amavis:"originating,dyn" up:"0"`

	// ----- Identity -----
	MyDomain                 Opt[string] `amavis:"mydomain,sec=Identity" up:"bogus (Debian first line of /etc/mailname)"`
	MyHostname               Opt[string] `amavis:"myhostname,dyn" up:"uname (Debian hostname --fqdn)"`
	LocalhostName            Opt[string] `amavis:"localhost_name,dyn" up:"localhost"`
	MyAuthservID             Opt[string] `amavis:"myauthservid,dyn" up:"$myhostname"`
	MyProgramName            Opt[string] `amavis:"myprogram_name,dyn" up:"amavisd"`
	SNMPContact              Opt[string] `amavis:"snmp_contact,dyn" up:"''"`
	SNMPLocation             Opt[string] `amavis:"snmp_location,dyn" up:"''"`
	LocalDomainsMaps         Maps        `amavis:"local_domains_maps,dyn,keys=addr,res=bool" up:"(\\%local_domains, \\@local_domains_acl, \\$local_domains_re)"`
	LocalDomains             Hash        `amavis:"local_domains,legacy,res=bool" up:"()"`
	LocalDomainsACL          []string    `amavis:"local_domains_acl,legacy,keys=addr" up:"() (Debian (\".$mydomain\"))"`
	LocalDomainsRe           Regexps     `amavis:"local_domains_re,legacy,res=bool" up:"undef"`
	LocalpartIsCaseSensitive Opt[bool]   `amavis:"localpart_is_case_sensitive,dyn" up:"0"`
	RecipientDelimiter       Opt[string] `amavis:"recipient_delimiter,dyn" up:"undef"`
	ReplaceExistingExtension Opt[bool]   `amavis:"replace_existing_extension,dyn" up:"1"`

	// ----- SMTP server -----
	SMTPDGreetingBanner                 Opt[string] `amavis:"smtpd_greeting_banner,dyn,sec=SMTP server" up:"${helo-name} ${protocol} ${product} service ready"`
	SMTPDQuitBanner                     Opt[string] `amavis:"smtpd_quit_banner,dyn" up:"${helo-name} ${product} closing transmission channel"`
	SMTPDRecipientLimit                 Opt[int]    `amavis:"smtpd_recipient_limit,min=1" up:"1100"`
	SMTPDMessageSizeLimit               Opt[int]    `amavis:"smtpd_message_size_limit,dyn,min=0" up:"undef"`
	EnforceSMTPDMessageSizeLimit64kbMin Opt[bool]   `amavis:"enforce_smtpd_message_size_limit_64kb_min" up:"1"`
	MessageSizeLimitMaps                Maps        `amavis:"message_size_limit_maps,dyn,keys=addr,res=num" up:"()"`
	SMTPDDiscardEHLOKeywords            []string    `amavis:"smtpd_discard_ehlo_keywords,dyn" up:"()"`
	TLSSecurityLevelIn                  Opt[string] `amavis:"tls_security_level_in,dyn,enum=none|may|encrypt|verify|secure" up:"undef"`
	TLSSecurityLevelOut                 Opt[string] `amavis:"tls_security_level_out,dyn,enum=none|may|encrypt|verify|secure" up:"undef"`
	SMTPDTLSServerOptions               Table       `amavis:"smtpd_tls_server_options" up:"(SSL_verifycn_scheme => 'smtp', SSL_session_cache => 2)"`
	SMTPDTLSCertFile                    Opt[string] `amavis:"smtpd_tls_cert_file" up:"undef"`
	SMTPDTLSKeyFile                     Opt[string] `amavis:"smtpd_tls_key_file" up:"undef"`
	AuthMechAvail                       []string    `amavis:"auth_mech_avail,dyn,enum=PLAIN|LOGIN|ANONYMOUS" up:"()"`
	AuthRequiredInp                     Opt[bool]   `amavis:"auth_required_inp,dyn" up:"undef"`
	AuthRequiredOut                     Opt[bool]   `amavis:"auth_required_out,dyn" up:"undef"`
	AuthRequiredRelease                 Opt[bool]   `amavis:"auth_required_release,dyn" up:"1 (0 in Debian's AM.PDP-SOCK bank)"`
	AuthReauthenticateForwarded         Opt[bool]   `amavis:"auth_reauthenticate_forwarded,dyn" up:"undef"`
	AmavisAuthUser                      Opt[string] `amavis:"amavis_auth_user,dyn" up:"undef"`
	AmavisAuthPass                      Opt[string] `amavis:"amavis_auth_pass,dyn" up:"undef"`
	MacroTestsSanityLimit               Opt[int]    `amavis:"macro_tests_sanity_limit,min=0" up:"50"`

	// ----- Delivery -----
	ForwardMethod                 Methods     `amavis:"forward_method,dyn,sec=Delivery" up:"smtp:[127.0.0.1]:10025"`
	NotifyMethod                  Methods     `amavis:"notify_method,dyn" up:"$forward_method"`
	ResendMethod                  Methods     `amavis:"resend_method,dyn" up:"undef"`
	ReleaseMethod                 Methods     `amavis:"release_method,dyn" up:"undef"`
	RequeueMethod                 Methods     `amavis:"requeue_method,dyn" up:"smtp:[127.0.0.1]:25"`
	ForwardMethodMaps             Maps        `amavis:"forward_method_maps,dyn,keys=addr,res=method" up:"(Opaque(c('forward_method')))"`
	ForwardMethodMapsByCcat       ByCcat      `amavis:"forward_method_maps_by_ccat,dyn,keys=addr,res=method" up:"(CC_CATCHALL => ca('forward_method_maps'))"`
	ReleaseFormat                 Opt[string] `amavis:"release_format,dyn,enum=resend|attach|plain|dsn|arf" up:"resend"`
	ReportFormat                  Opt[string] `amavis:"report_format,dyn,enum=arf|attach|plain|resend|dsn" up:"arf"`
	AttachmentPassword            Opt[string] `amavis:"attachment_password,dyn" up:"''"`
	AttachmentEmailName           Opt[string] `amavis:"attachment_email_name,dyn" up:"msg-%m.eml"`
	AttachmentOuterName           Opt[string] `amavis:"attachment_outer_name,dyn" up:"msg-%m.zip"`
	PropagateDSNIfPossible        Opt[bool]   `amavis:"propagate_dsn_if_possible,dyn" up:"1"`
	TerminateDSNOnNotifySuccess   Opt[bool]   `amavis:"terminate_dsn_on_notify_success,dyn" up:"0"`
	SoftBounce                    Opt[bool]   `amavis:"soft_bounce,dyn" up:"undef"`
	AlwaysBcc                     Opt[string] `amavis:"always_bcc,dyn" up:"undef"`
	DSNBcc                        Opt[string] `amavis:"dsn_bcc,dyn" up:"undef"`
	SMTPConnectionCacheOnDemand   Opt[bool]   `amavis:"smtp_connection_cache_on_demand" up:"1"`
	SMTPConnectionCacheEnable     Opt[bool]   `amavis:"smtp_connection_cache_enable" up:"1"`
	SMTPTLSClientOptions          Table       `amavis:"smtp_tls_client_options" up:"(SSL_verifycn_scheme => 'smtp')"`
	SMTPTLSClientVerifycnNameMaps Table       `amavis:"smtp_tls_client_verifycn_name_maps" up:"()"`
	LocalClientBindAddress        Opt[string] `amavis:"local_client_bind_address,dyn,check=ip" up:"undef"`
	LocalDeliveryAliases          Table       `amavis:"local_delivery_aliases,dyn" up:"(built in)"`

	// ----- Destinies and lovers -----
	FinalVirusDestiny      Opt[Destiny] `amavis:"final_virus_destiny,dyn,sec=Destinies and lovers" up:"D_DISCARD"`
	FinalBannedDestiny     Opt[Destiny] `amavis:"final_banned_destiny,dyn" up:"D_DISCARD"`
	FinalUncheckedDestiny  Opt[Destiny] `amavis:"final_unchecked_destiny,dyn" up:"D_PASS"`
	FinalSpamDestiny       Opt[Destiny] `amavis:"final_spam_destiny,dyn" up:"D_PASS"`
	FinalBadHeaderDestiny  Opt[Destiny] `amavis:"final_bad_header_destiny,dyn" up:"D_PASS"`
	FinalDestinyMapsByCcat ByCcat       `amavis:"final_destiny_maps_by_ccat,dyn,res=destiny,alias=final_destiny_by_ccat" up:"(CC_VIRUS => c('final_virus_destiny'), ...)"`
	VirusLoversMaps        Maps         `amavis:"virus_lovers_maps,dyn,keys=addr,res=bool" up:"(\\%virus_lovers, \\@virus_lovers_acl, \\$virus_lovers_re)"`
	SpamLoversMaps         Maps         `amavis:"spam_lovers_maps,dyn,keys=addr,res=bool" up:"(\\%spam_lovers, \\@spam_lovers_acl, \\$spam_lovers_re)"`
	UncheckedLoversMaps    Maps         `amavis:"unchecked_lovers_maps,dyn,keys=addr,res=bool" up:"()"`
	BannedFilesLoversMaps  Maps         `amavis:"banned_files_lovers_maps,dyn,keys=addr,res=bool" up:"(\\%banned_files_lovers, \\@banned_files_lovers_acl, \\$banned_files_lovers_re)"`
	BadHeaderLoversMaps    Maps         `amavis:"bad_header_lovers_maps,dyn,keys=addr,res=bool" up:"(\\%bad_header_lovers, \\@bad_header_lovers_acl, \\$bad_header_lovers_re)"`
	LoversMapsByCcat       ByCcat       `amavis:"lovers_maps_by_ccat,dyn,keys=addr,res=bool" up:"(CC_VIRUS => ca('virus_lovers_maps'), ...)"`
	VirusLovers            Hash         `amavis:"virus_lovers,legacy,res=bool" up:"()"`
	VirusLoversACL         []string     `amavis:"virus_lovers_acl,legacy,keys=addr" up:"()"`
	VirusLoversRe          Regexps      `amavis:"virus_lovers_re,legacy,res=bool" up:"undef"`
	SpamLovers             Hash         `amavis:"spam_lovers,legacy,res=bool" up:"()"`
	SpamLoversACL          []string     `amavis:"spam_lovers_acl,legacy,keys=addr" up:"()"`
	SpamLoversRe           Regexps      `amavis:"spam_lovers_re,legacy,res=bool" up:"undef"`
	BannedFilesLovers      Hash         `amavis:"banned_files_lovers,legacy,res=bool" up:"()"`
	BannedFilesLoversACL   []string     `amavis:"banned_files_lovers_acl,legacy,keys=addr" up:"()"`
	BannedFilesLoversRe    Regexps      `amavis:"banned_files_lovers_re,legacy,res=bool" up:"undef"`
	BadHeaderLovers        Hash         `amavis:"bad_header_lovers,legacy,res=bool" up:"()"`
	BadHeaderLoversACL     []string     `amavis:"bad_header_lovers_acl,legacy,keys=addr" up:"()"`
	BadHeaderLoversRe      Regexps      `amavis:"bad_header_lovers_re,legacy,res=bool" up:"undef"`

	// ----- Bypassing checks -----
	BypassVirusChecksMaps  Maps      `amavis:"bypass_virus_checks_maps,dyn,keys=addr,res=bool,sec=Bypassing checks" up:"(\\%bypass_virus_checks, \\@bypass_virus_checks_acl, \\$bypass_virus_checks_re) (Debian (1))"`
	BypassSpamChecksMaps   Maps      `amavis:"bypass_spam_checks_maps,dyn,keys=addr,res=bool" up:"(\\%bypass_spam_checks, \\@bypass_spam_checks_acl, \\$bypass_spam_checks_re) (Debian (1))"`
	BypassBannedChecksMaps Maps      `amavis:"bypass_banned_checks_maps,dyn,keys=addr,res=bool" up:"(\\%bypass_banned_checks, \\@bypass_banned_checks_acl, \\$bypass_banned_checks_re)"`
	BypassHeaderChecksMaps Maps      `amavis:"bypass_header_checks_maps,dyn,keys=addr,res=bool" up:"(\\%bypass_header_checks, \\@bypass_header_checks_acl, \\$bypass_header_checks_re)"`
	BypassVirusChecks      Hash      `amavis:"bypass_virus_checks,legacy,res=bool" up:"()"`
	BypassVirusChecksACL   []string  `amavis:"bypass_virus_checks_acl,legacy,keys=addr" up:"()"`
	BypassVirusChecksRe    Regexps   `amavis:"bypass_virus_checks_re,legacy,res=bool" up:"undef"`
	BypassSpamChecks       Hash      `amavis:"bypass_spam_checks,legacy,res=bool" up:"()"`
	BypassSpamChecksACL    []string  `amavis:"bypass_spam_checks_acl,legacy,keys=addr" up:"()"`
	BypassSpamChecksRe     Regexps   `amavis:"bypass_spam_checks_re,legacy,res=bool" up:"undef"`
	BypassBannedChecks     Hash      `amavis:"bypass_banned_checks,legacy,res=bool" up:"()"`
	BypassBannedChecksACL  []string  `amavis:"bypass_banned_checks_acl,legacy,keys=addr" up:"()"`
	BypassBannedChecksRe   Regexps   `amavis:"bypass_banned_checks_re,legacy,res=bool" up:"undef"`
	BypassHeaderChecks     Hash      `amavis:"bypass_header_checks,legacy,res=bool" up:"()"`
	BypassHeaderChecksACL  []string  `amavis:"bypass_header_checks_acl,legacy,keys=addr" up:"()"`
	BypassHeaderChecksRe   Regexps   `amavis:"bypass_header_checks_re,legacy,res=bool" up:"undef"`
	BypassDecodeParts      Opt[bool] `amavis:"bypass_decode_parts,dyn" up:"undef"`

	// ----- Spam -----
	SaTagLevelDeflt                            Opt[float64]       `amavis:"sa_tag_level_deflt,legacy,sec=Spam" up:"undef (Debian 2.0)"`
	SaTag2LevelDeflt                           Opt[float64]       `amavis:"sa_tag2_level_deflt,legacy" up:"undef (Debian 6.31)"`
	SaTag3LevelDeflt                           Opt[float64]       `amavis:"sa_tag3_level_deflt,legacy" up:"undef"`
	SaKillLevelDeflt                           Opt[float64]       `amavis:"sa_kill_level_deflt,legacy" up:"undef (Debian 6.31)"`
	SaDSNCutoffLevel                           Opt[float64]       `amavis:"sa_dsn_cutoff_level,legacy" up:"undef (Debian 10)"`
	SaCrediblefromDSNCutoffLevel               Opt[float64]       `amavis:"sa_crediblefrom_dsn_cutoff_level,legacy" up:"undef"`
	SaQuarantineCutoffLevel                    Opt[float64]       `amavis:"sa_quarantine_cutoff_level,legacy" up:"undef"`
	SaSpamSubjectTag                           Opt[string]        `amavis:"sa_spam_subject_tag,legacy" up:"undef (Debian '***SPAM*** ')"`
	SaSpamSubjectTag1                          Opt[string]        `amavis:"sa_spam_subject_tag1,legacy" up:"undef"`
	SaSpamLevelChar                            Opt[string]        `amavis:"sa_spam_level_char,dyn" up:"*"`
	SaMailBodySizeLimit                        Opt[int]           `amavis:"sa_mail_body_size_limit,dyn,min=0" up:"undef (Debian 204800)"`
	SaLocalTestsOnly                           Opt[bool]          `amavis:"sa_local_tests_only" up:"0"`
	SaNumInstances                             Opt[int]           `amavis:"sa_num_instances,min=1" up:"1"`
	SaSpawned                                  Opt[bool]          `amavis:"sa_spawned" up:"0"`
	SaDebug                                    Opt[string]        `amavis:"sa_debug" up:"undef"`
	SaConfigpath                               Opt[string]        `amavis:"sa_configpath" up:"undef"`
	SaSiteconfigpath                           Opt[string]        `amavis:"sa_siteconfigpath" up:"undef"`
	SaUserprefsFile                            Opt[string]        `amavis:"sa_userprefs_file" up:"undef"`
	DSPAM                                      []string           `amavis:"dspam,legacy" up:"undef (Debian dspam)"`
	SpamScanners                               []SpamScanner      `amavis:"spam_scanners,dyn" up:"(['SpamAssassin','Amavis::SpamControl::SpamAssassin'])"`
	SpamTagLevelMaps                           Maps               `amavis:"spam_tag_level_maps,dyn,keys=addr,res=num" up:"(\\$sa_tag_level_deflt)"`
	SpamTag2LevelMaps                          Maps               `amavis:"spam_tag2_level_maps,dyn,keys=addr,res=num" up:"(\\$sa_tag2_level_deflt)"`
	SpamTag3LevelMaps                          Maps               `amavis:"spam_tag3_level_maps,dyn,keys=addr,res=num" up:"(\\$sa_tag3_level_deflt)"`
	SpamKillLevelMaps                          Maps               `amavis:"spam_kill_level_maps,dyn,keys=addr,res=num" up:"(\\$sa_kill_level_deflt)"`
	SpamDSNCutoffLevelMaps                     Maps               `amavis:"spam_dsn_cutoff_level_maps,dyn,keys=addr,res=num" up:"(\\$sa_dsn_cutoff_level)"`
	SpamDSNCutoffLevelBysenderMaps             Maps               `amavis:"spam_dsn_cutoff_level_bysender_maps,dyn,keys=addr,res=num" up:"(\\$sa_dsn_cutoff_level)"`
	SpamCrediblefromDSNCutoffLevelMaps         Maps               `amavis:"spam_crediblefrom_dsn_cutoff_level_maps,dyn,keys=addr,res=num" up:"(\\$sa_crediblefrom_dsn_cutoff_level)"`
	SpamCrediblefromDSNCutoffLevelBysenderMaps Maps               `amavis:"spam_crediblefrom_dsn_cutoff_level_bysender_maps,dyn,keys=addr,res=num" up:"(\\$sa_crediblefrom_dsn_cutoff_level)"`
	SpamQuarantineCutoffLevelMaps              Maps               `amavis:"spam_quarantine_cutoff_level_maps,dyn,keys=addr,res=num" up:"(\\$sa_quarantine_cutoff_level)"`
	SpamNotifyadminCutoffLevelMaps             Maps               `amavis:"spam_notifyadmin_cutoff_level_maps,keys=addr,res=num" up:"()"`
	SpamSubjectTagMaps                         Maps               `amavis:"spam_subject_tag_maps,dyn,keys=addr,res=str" up:"(\\$sa_spam_subject_tag1)"`
	SpamSubjectTag2Maps                        Maps               `amavis:"spam_subject_tag2_maps,dyn,keys=addr,res=str" up:"(\\$sa_spam_subject_tag)"`
	SpamSubjectTag3Maps                        Maps               `amavis:"spam_subject_tag3_maps,dyn,keys=addr,res=str" up:"()"`
	SpamModifiesSubjMaps                       Maps               `amavis:"spam_modifies_subj_maps,dyn,keys=addr,res=bool,noeffect" up:"()"`
	WhitelistSenderMaps                        Maps               `amavis:"whitelist_sender_maps,dyn,keys=addr,res=bool" up:"(\\%whitelist_sender, \\@whitelist_sender_acl, \\$whitelist_sender_re)"`
	BlacklistSenderMaps                        Maps               `amavis:"blacklist_sender_maps,dyn,keys=addr,res=bool" up:"(\\%blacklist_sender, \\@blacklist_sender_acl, \\$blacklist_sender_re)"`
	WhitelistSender                            Hash               `amavis:"whitelist_sender,legacy,res=bool" up:"()"`
	WhitelistSenderACL                         []string           `amavis:"whitelist_sender_acl,legacy,keys=addr" up:"()"`
	WhitelistSenderRe                          Regexps            `amavis:"whitelist_sender_re,legacy,res=bool" up:"undef"`
	BlacklistSender                            Hash               `amavis:"blacklist_sender,legacy,res=bool" up:"()"`
	BlacklistSenderACL                         []string           `amavis:"blacklist_sender_acl,legacy,keys=addr" up:"()"`
	BlacklistSenderRe                          Regexps            `amavis:"blacklist_sender_re,legacy,res=bool" up:"undef"`
	PerRecipWhitelistSenderLookupTables        Maps               `amavis:"per_recip_whitelist_sender_lookup_tables,dyn,keys=addr,res=maps:bool" up:"undef"`
	PerRecipBlacklistSenderLookupTables        Maps               `amavis:"per_recip_blacklist_sender_lookup_tables,dyn,keys=addr,res=maps:bool" up:"undef"`
	ScoreSenderMaps                            Maps               `amavis:"score_sender_maps,dyn,keys=addr,res=maps:num" up:"() (Debian: soft-blacklist regexps)"`
	PenpalsBonusScore                          Opt[float64]       `amavis:"penpals_bonus_score,dyn" up:"undef"`
	PenpalsHalflife                            Opt[time.Duration] `amavis:"penpals_halflife,dyn,min=1" up:"604800"`
	PenpalsThresholdLow                        Opt[float64]       `amavis:"penpals_threshold_low" up:"1.0"`
	PenpalsThresholdHigh                       Opt[float64]       `amavis:"penpals_threshold_high" up:"undef"`
	BounceKillerScore                          Opt[float64]       `amavis:"bounce_killer_score,dyn" up:"0"`
	ReputationFactor                           Opt[float64]       `amavis:"reputation_factor,dyn,min=0,max=1" up:"0.2"`
	SignerReputationMaps                       Maps               `amavis:"signer_reputation_maps,dyn,keys=name,res=num" up:"()"`
	SaUserconfMaps                             Maps               `amavis:"sa_userconf_maps,dyn,keys=addr,res=str" up:"()"`
	SaUsernameMaps                             Maps               `amavis:"sa_username_maps,dyn,keys=addr,res=str" up:"()"`
	EnableIPRepu                               Opt[bool]          `amavis:"enable_ip_repu,dyn" up:"1"`
	IPRepuScoreLimit                           Opt[float64]       `amavis:"ip_repu_score_limit,dyn" up:"undef"`
	IPRepuIgnoreNetworks                       IPACL              `amavis:"ip_repu_ignore_networks,legacy" up:"()"`
	IPRepuIgnoreMaps                           Maps               `amavis:"ip_repu_ignore_maps,dyn,keys=ip,res=bool" up:"(\\@ip_repu_ignore_networks)"`

	// ----- Virus scanning -----
	AVScanners                  []AVScanner `amavis:"av_scanners,dyn,sec=Virus scanning" up:"() (Debian: ClamAV-clamd and others)"`
	AVScannersBackup            []AVScanner `amavis:"av_scanners_backup,dyn" up:"() (Debian: ClamAV-clamscan and others)"`
	FirstInfectedStopsScan      Opt[bool]   `amavis:"first_infected_stops_scan,dyn" up:"undef"`
	VirusScannersFailureIsFatal Opt[bool]   `amavis:"virus_scanners_failure_is_fatal,dyn" up:"undef"`
	VirusesThatFakeSenderMaps   Maps        `amavis:"viruses_that_fake_sender_maps,dyn,keys=name,res=bool" up:"(\\$viruses_that_fake_sender_re, 1) (Debian: all but EICAR)"`
	VirusesThatFakeSenderRe     Regexps     `amavis:"viruses_that_fake_sender_re,legacy,res=bool" up:"undef"`
	VirusNameToSpamScoreMaps    Maps        `amavis:"virus_name_to_spam_score_maps,dyn,keys=name,res=num" up:"(built-in list)"`
	VirusNameToPolicyBankMaps   Maps        `amavis:"virus_name_to_policy_bank_maps,dyn,keys=name,res=bank" up:"()"`

	// ----- Decoding and banned files -----
	MaxLevels                  Opt[int]     `amavis:"MAXLEVELS,min=1,sec=Decoding and banned files" up:"undef (Debian 14)"`
	MaxFiles                   Opt[int]     `amavis:"MAXFILES,min=1" up:"undef (Debian 1500)"`
	MinExpansionQuota          Opt[int]     `amavis:"MIN_EXPANSION_QUOTA,min=0" up:"undef (Debian 102400)"`
	MaxExpansionQuota          Opt[int]     `amavis:"MAX_EXPANSION_QUOTA,min=0" up:"undef (Debian 314572800)"`
	MinExpansionFactor         Opt[float64] `amavis:"MIN_EXPANSION_FACTOR,min=0" up:"5"`
	MaxExpansionFactor         Opt[float64] `amavis:"MAX_EXPANSION_FACTOR,min=0" up:"500"`
	File                       Opt[string]  `amavis:"file" up:"file"`
	Decoders                   Value        `amavis:"decoders,dyn" up:"(built-in list)"`
	KeepDecodedOriginalMaps    Maps         `amavis:"keep_decoded_original_maps,keys=name,res=bool" up:"(\\$keep_decoded_original_re) (Debian: MAIL-UNDECIPHERABLE and text types)"`
	KeepDecodedOriginalRe      Regexps      `amavis:"keep_decoded_original_re,legacy,res=bool" up:"undef"`
	MapFullTypeToShortTypeMaps Maps         `amavis:"map_full_type_to_short_type_maps,keys=name,res=str" up:"(\\$map_full_type_to_short_type_re)"`
	MapFullTypeToShortTypeRe   Regexps      `amavis:"map_full_type_to_short_type_re,legacy,res=str" up:"(built-in list)"`
	BannedFilenameMaps         Maps         `amavis:"banned_filename_maps,dyn,keys=addr,res=rules" up:"('DEFAULT')"`
	BannedRules                NamedMaps    `amavis:"banned_rules,keys=name,res=str" up:"(DEFAULT => $banned_filename_re)"`
	BannedFilenameRe           Regexps      `amavis:"banned_filename_re,legacy,res=str" up:"undef (Debian: executables, CLSID, MIME types)"`
	BannedNamepathRe           Regexps      `amavis:"banned_namepath_re,dyn,res=str" up:"undef"`
	Arc                        []string     `amavis:"arc,legacy" up:"(Debian ['nomarch','arc'])"`
	Bzip2                      []string     `amavis:"bzip2,legacy" up:"(Debian bzip2)"`
	Lzop                       []string     `amavis:"lzop,legacy" up:"(Debian lzop)"`
	Lha                        []string     `amavis:"lha,legacy" up:"(Debian undef)"`
	Unarj                      []string     `amavis:"unarj,legacy" up:"(Debian ['arj','unarj'])"`
	Gzip                       []string     `amavis:"gzip,legacy" up:"(Debian gzip)"`
	Uncompress                 []string     `amavis:"uncompress,legacy" up:"(Debian ['uncompress','gzip -d','zcat'])"`
	Unfreeze                   []string     `amavis:"unfreeze,legacy" up:"(Debian undef)"`
	Unrar                      []string     `amavis:"unrar,legacy" up:"(Debian ['unrar-free'])"`
	Zoo                        []string     `amavis:"zoo,legacy" up:"(Debian zoo)"`
	Pax                        []string     `amavis:"pax,legacy" up:"(Debian pax)"`
	Cpio                       []string     `amavis:"cpio,legacy" up:"(Debian cpio)"`
	Ar                         []string     `amavis:"ar,legacy" up:"(Debian ar)"`
	Rpm2cpio                   []string     `amavis:"rpm2cpio,legacy" up:"(Debian ['rpm2cpio.pl','rpm2cpio'])"`
	Cabextract                 []string     `amavis:"cabextract,legacy" up:"(Debian cabextract)"`
	Ripole                     []string     `amavis:"ripole,legacy" up:"(Debian ripole)"`
	Tnef                       []string     `amavis:"tnef,legacy" up:"undef"`
	Gunzip                     []string     `amavis:"gunzip,legacy" up:"\"$gzip -d\""`
	Bunzip2                    []string     `amavis:"bunzip2,legacy" up:"\"$bzip2 -d\""`
	Unlzop                     []string     `amavis:"unlzop,legacy" up:"\"$lzop -d\""`
	Unstuff                    []string     `amavis:"unstuff,legacy" up:"undef"`

	// ----- Header checks and header editing -----
	AllowedHeaderTests               map[string]bool `amavis:"allowed_header_tests,dyn,lc,enum=other|mime|syntax|empty|long|control|8bit|utf8|missing|multiple,sec=Header checks and header editing" up:"all but utf8"`
	AllowedAddedHeaderFields         map[string]bool `amavis:"allowed_added_header_fields,dyn,lc" up:"(built in)"`
	PreferOurAddedHeaderFields       map[string]bool `amavis:"prefer_our_added_header_fields,dyn,lc" up:"(built in)"`
	XHeaderTag                       Opt[string]     `amavis:"X_HEADER_TAG,dyn,header" up:"X-Virus-Scanned"`
	XHeaderLine                      Opt[string]     `amavis:"X_HEADER_LINE,dyn" up:"amavis at $mydomain (Debian Debian amavis at $mydomain)"`
	RemoveExistingXScannedHeaders    Opt[bool]       `amavis:"remove_existing_x_scanned_headers,dyn" up:"0"`
	RemoveExistingSpamHeaders        Opt[bool]       `amavis:"remove_existing_spam_headers,dyn" up:"1"`
	RemoveExistingSpamHeadersMaps    Maps            `amavis:"remove_existing_spam_headers_maps,dyn,keys=addr,res=bool" up:"(\\$remove_existing_spam_headers)"`
	PrependHeaderFieldsHdridx        Opt[int]        `amavis:"prepend_header_fields_hdridx,dyn,min=0" up:"0"`
	AllowFixingImproperHeader        Opt[bool]       `amavis:"allow_fixing_improper_header,dyn" up:"1"`
	AllowFixingImproperHeaderFolding Opt[bool]       `amavis:"allow_fixing_improper_header_folding,dyn" up:"1"`
	AllowFixingLongHeaderLines       Opt[bool]       `amavis:"allow_fixing_long_header_lines,dyn" up:"1"`
	HdrEncoding                      Opt[string]     `amavis:"hdr_encoding,dyn" up:"UTF-8"`
	BdyEncoding                      Opt[string]     `amavis:"bdy_encoding,dyn" up:"UTF-8"`
	HdrEncodingQB                    Opt[string]     `amavis:"hdr_encoding_qb,dyn,enum=Q|B" up:"Q"`
	UndecipherableSubjectTag         Opt[string]     `amavis:"undecipherable_subject_tag,dyn" up:"***UNCHECKED*** "`
	SubjectTagMapsByCcat             ByCcat          `amavis:"subject_tag_maps_by_ccat,dyn,keys=addr,res=str" up:"(CC_VIRUS => '***INFECTED*** ', ...)"`
	DefangVirus                      Opt[bool]       `amavis:"defang_virus,dyn" up:"undef"`
	DefangBanned                     Opt[bool]       `amavis:"defang_banned,dyn" up:"undef"`
	DefangSpam                       Opt[bool]       `amavis:"defang_spam,dyn" up:"undef"`
	DefangBadHeader                  Opt[bool]       `amavis:"defang_bad_header,dyn" up:"undef"`
	DefangUndecipherable             Opt[bool]       `amavis:"defang_undecipherable,dyn" up:"undef"`
	DefangAll                        Opt[bool]       `amavis:"defang_all,dyn" up:"undef"`
	DefangMapsByCcat                 ByCcat          `amavis:"defang_maps_by_ccat,dyn,res=bool,alias=defang_by_ccat" up:"(CC_VIRUS => c('defang_virus'), ...)"`
	AddrExtensionVirus               Opt[string]     `amavis:"addr_extension_virus,legacy" up:"undef"`
	AddrExtensionSpam                Opt[string]     `amavis:"addr_extension_spam,legacy" up:"undef"`
	AddrExtensionBanned              Opt[string]     `amavis:"addr_extension_banned,legacy" up:"undef"`
	AddrExtensionBadHeader           Opt[string]     `amavis:"addr_extension_bad_header,legacy" up:"undef"`
	AddrExtensionVirusMaps           Maps            `amavis:"addr_extension_virus_maps,dyn,keys=addr,res=str" up:"(\\$addr_extension_virus)"`
	AddrExtensionSpamMaps            Maps            `amavis:"addr_extension_spam_maps,dyn,keys=addr,res=str" up:"(\\$addr_extension_spam)"`
	AddrExtensionBannedMaps          Maps            `amavis:"addr_extension_banned_maps,dyn,keys=addr,res=str" up:"(\\$addr_extension_banned)"`
	AddrExtensionBadHeaderMaps       Maps            `amavis:"addr_extension_bad_header_maps,dyn,keys=addr,res=str" up:"(\\$addr_extension_bad_header)"`
	AddrExtensionMapsByCcat          ByCcat          `amavis:"addr_extension_maps_by_ccat,dyn,keys=addr,res=str" up:"(CC_VIRUS => ca('addr_extension_virus_maps'), ...)"`
	AddrRewriteMapsByCcat            ByCcat          `amavis:"addr_rewrite_maps_by_ccat,dyn,keys=addr,res=str" up:"()"`
	AllowDisclaimers                 Opt[bool]       `amavis:"allow_disclaimers,dyn" up:"undef"`
	OutboundDisclaimersOnly          Opt[bool]       `amavis:"outbound_disclaimers_only,dyn" up:"undef"`
	DisclaimerOptionsBysenderMaps    Maps            `amavis:"disclaimer_options_bysender_maps,dyn,keys=addr,res=str" up:"()"`
	Altermime                        Opt[string]     `amavis:"altermime" up:"altermime"`
	AltermimeArgsDefang              []string        `amavis:"altermime_args_defang,dyn" up:"qw(--verbose --removeall)"`
	AltermimeArgsDisclaimer          []string        `amavis:"altermime_args_disclaimer,dyn" up:"qw(--disclaimer=/etc/altermime-disclaimer.txt)"`
	EnableAnomySanitizer             Opt[bool]       `amavis:"enable_anomy_sanitizer" up:"undef"`
	AnomySanitizerArgs               []string        `amavis:"anomy_sanitizer_args,dyn" up:"()"`
	SignedHeaderFields               map[string]int  `amavis:"signed_header_fields,dyn,lc,min=0,max=2" up:"(built in)"`
	SMTPReasonByCcat                 ByCcat          `amavis:"smtp_reason_by_ccat,dyn,res=str" up:"(CC_VIRUS => 'id=%n - INFECTED: %V', ...)"`

	// ----- Quarantine -----
	VirusQuarantineMethod        Opt[string] `amavis:"virus_quarantine_method,dyn,method=quarantine,sec=Quarantine" up:"local:virus-%m"`
	BannedFilesQuarantineMethod  Opt[string] `amavis:"banned_files_quarantine_method,dyn,method=quarantine" up:"local:banned-%m"`
	UncheckedQuarantineMethod    Opt[string] `amavis:"unchecked_quarantine_method,dyn,method=quarantine" up:"undef"`
	SpamQuarantineMethod         Opt[string] `amavis:"spam_quarantine_method,dyn,method=quarantine" up:"local:spam-%m.gz"`
	BadHeaderQuarantineMethod    Opt[string] `amavis:"bad_header_quarantine_method,dyn,method=quarantine" up:"local:badh-%m"`
	CleanQuarantineMethod        Opt[string] `amavis:"clean_quarantine_method,dyn,method=quarantine" up:"undef"`
	ArchiveQuarantineMethod      Opt[string] `amavis:"archive_quarantine_method,dyn,method=quarantine" up:"undef"`
	QuarantineMethodByCcat       ByCcat      `amavis:"quarantine_method_by_ccat,dyn,res=method" up:"(CC_VIRUS => c('virus_quarantine_method'), ...)"`
	VirusQuarantineTo            Opt[string] `amavis:"virus_quarantine_to,legacy" up:"virus-quarantine"`
	BannedQuarantineTo           Opt[string] `amavis:"banned_quarantine_to,legacy" up:"banned-quarantine"`
	UncheckedQuarantineTo        Opt[string] `amavis:"unchecked_quarantine_to,legacy" up:"unchecked-quarantine"`
	SpamQuarantineTo             Opt[string] `amavis:"spam_quarantine_to,legacy" up:"spam-quarantine"`
	SpamQuarantineBysenderTo     Opt[string] `amavis:"spam_quarantine_bysender_to,legacy" up:"undef"`
	BadHeaderQuarantineTo        Opt[string] `amavis:"bad_header_quarantine_to,legacy" up:"bad-header-quarantine"`
	CleanQuarantineTo            Opt[string] `amavis:"clean_quarantine_to,legacy" up:"clean-quarantine"`
	ArchiveQuarantineTo          Opt[string] `amavis:"archive_quarantine_to,legacy" up:"archive-quarantine"`
	VirusQuarantineToMaps        Maps        `amavis:"virus_quarantine_to_maps,dyn,keys=addr,res=str" up:"(\\$virus_quarantine_to)"`
	BannedQuarantineToMaps       Maps        `amavis:"banned_quarantine_to_maps,dyn,keys=addr,res=str" up:"(\\$banned_quarantine_to)"`
	UncheckedQuarantineToMaps    Maps        `amavis:"unchecked_quarantine_to_maps,dyn,keys=addr,res=str" up:"(\\$unchecked_quarantine_to)"`
	SpamQuarantineToMaps         Maps        `amavis:"spam_quarantine_to_maps,dyn,keys=addr,res=str" up:"(\\$spam_quarantine_to)"`
	SpamQuarantineBysenderToMaps Maps        `amavis:"spam_quarantine_bysender_to_maps,dyn,keys=addr,res=str" up:"(\\$spam_quarantine_bysender_to)"`
	BadHeaderQuarantineToMaps    Maps        `amavis:"bad_header_quarantine_to_maps,dyn,keys=addr,res=str" up:"(\\$bad_header_quarantine_to)"`
	CleanQuarantineToMaps        Maps        `amavis:"clean_quarantine_to_maps,dyn,keys=addr,res=str" up:"(\\$clean_quarantine_to)"`
	ArchiveQuarantineToMaps      Maps        `amavis:"archive_quarantine_to_maps,dyn,keys=addr,res=str" up:"(\\$archive_quarantine_to)"`
	QuarantineToMapsByCcat       ByCcat      `amavis:"quarantine_to_maps_by_ccat,dyn,keys=addr,res=str" up:"(CC_VIRUS => ca('virus_quarantine_to_maps'), ...)"`
	MailfromToQuarantine         Opt[string] `amavis:"mailfrom_to_quarantine,dyn" up:"undef"`
	SQLQuarantineChunksizeMax    Opt[int]    `amavis:"sql_quarantine_chunksize_max,min=1" up:"16384"`

	// ----- Notifications -----
	VirusAdmin                 AdminAddr     `amavis:"virus_admin,legacy,sec=Notifications" up:"undef (Debian \"postmaster\\@$mydomain\")"`
	SpamAdmin                  AdminAddr     `amavis:"spam_admin,legacy" up:"undef"`
	NewvirusAdmin              AdminAddr     `amavis:"newvirus_admin,legacy" up:"undef"`
	BannedAdmin                AdminAddr     `amavis:"banned_admin,legacy" up:"undef"`
	BadHeaderAdmin             AdminAddr     `amavis:"bad_header_admin,legacy" up:"undef"`
	VirusAdminMaps             Maps          `amavis:"virus_admin_maps,dyn,keys=addr,res=str" up:"(\\%virus_admin, \\$virus_admin)"`
	SpamAdminMaps              Maps          `amavis:"spam_admin_maps,dyn,keys=addr,res=str" up:"(\\%spam_admin, \\$spam_admin)"`
	NewvirusAdminMaps          Maps          `amavis:"newvirus_admin_maps,dyn,keys=addr,res=str" up:"(\\$newvirus_admin)"`
	BannedAdminMaps            Maps          `amavis:"banned_admin_maps,dyn,keys=addr,res=str" up:"(\\$banned_admin, \\%virus_admin, \\$virus_admin)"`
	BadHeaderAdminMaps         Maps          `amavis:"bad_header_admin_maps,dyn,keys=addr,res=str" up:"(\\$bad_header_admin)"`
	AdminMapsByCcat            ByCcat        `amavis:"admin_maps_by_ccat,dyn,keys=addr,res=str" up:"(CC_VIRUS => ca('virus_admin_maps'), ...)"`
	WarnVirusRecip             Opt[bool]     `amavis:"warnvirusrecip,legacy" up:"undef"`
	WarnBannedRecip            Opt[bool]     `amavis:"warnbannedrecip,legacy" up:"undef"`
	WarnBadhRecip              Opt[bool]     `amavis:"warnbadhrecip,legacy" up:"undef"`
	WarnVirusRecipMaps         Maps          `amavis:"warnvirusrecip_maps,dyn,keys=addr,res=bool" up:"(\\$warnvirusrecip)"`
	WarnBannedRecipMaps        Maps          `amavis:"warnbannedrecip_maps,dyn,keys=addr,res=bool" up:"(\\$warnbannedrecip)"`
	WarnBadhRecipMaps          Maps          `amavis:"warnbadhrecip_maps,dyn,keys=addr,res=bool" up:"(\\$warnbadhrecip)"`
	WarnrecipMapsByCcat        ByCcat        `amavis:"warnrecip_maps_by_ccat,dyn,keys=addr,res=bool" up:"(CC_VIRUS => ca('warnvirusrecip_maps'), ...)"`
	WarnOffsite                Opt[bool]     `amavis:"warn_offsite,dyn" up:"undef"`
	WarnBannedSender           Opt[bool]     `amavis:"warnbannedsender,dyn" up:"undef"`
	WarnBadhSender             Opt[bool]     `amavis:"warnbadhsender,dyn" up:"undef"`
	WarnsenderByCcat           ByCcat        `amavis:"warnsender_by_ccat,dyn,res=bool" up:"(CC_BANNED => c('warnbannedsender'), CC_BADH => c('warnbadhsender'))"`
	MailfromNotifySender       Opt[string]   `amavis:"mailfrom_notify_sender,dyn" up:"undef"`
	MailfromNotifyRecip        Opt[string]   `amavis:"mailfrom_notify_recip,dyn" up:"undef"`
	MailfromNotifyAdmin        Opt[string]   `amavis:"mailfrom_notify_admin,dyn" up:"undef"`
	MailfromNotifySpamadmin    Opt[string]   `amavis:"mailfrom_notify_spamadmin,dyn" up:"undef"`
	HdrfromNotifySender        Opt[string]   `amavis:"hdrfrom_notify_sender,dyn" up:"\"Content-filter at ${myhostname_utf8}\" <postmaster@${myhostname_ascii}>"`
	HdrfromNotifyRecip         Opt[string]   `amavis:"hdrfrom_notify_recip,dyn" up:"$hdrfrom_notify_sender or from $mailfrom_notify_recip"`
	HdrfromNotifyAdmin         Opt[string]   `amavis:"hdrfrom_notify_admin,dyn" up:"$hdrfrom_notify_sender or from $mailfrom_notify_admin"`
	HdrfromNotifySpamadmin     Opt[string]   `amavis:"hdrfrom_notify_spamadmin,dyn" up:"$hdrfrom_notify_sender or from $mailfrom_notify_spamadmin"`
	HdrfromNotifyRelease       Opt[string]   `amavis:"hdrfrom_notify_release,dyn" up:"$hdrfrom_notify_sender"`
	HdrfromNotifyReport        Opt[string]   `amavis:"hdrfrom_notify_report,dyn" up:"$hdrfrom_notify_sender"`
	MailfromNotifyAdminByCcat  ByCcat        `amavis:"mailfrom_notify_admin_by_ccat,dyn,res=str" up:"(CC_SPAM => c('mailfrom_notify_spamadmin'), CC_CATCHALL => c('mailfrom_notify_admin'))"`
	HdrfromNotifyAdminByCcat   ByCcat        `amavis:"hdrfrom_notify_admin_by_ccat,dyn,res=str" up:"(CC_SPAM => c('hdrfrom_notify_spamadmin'), CC_CATCHALL => c('hdrfrom_notify_admin'))"`
	MailfromNotifyRecipByCcat  ByCcat        `amavis:"mailfrom_notify_recip_by_ccat,dyn,res=str" up:"(CC_CATCHALL => c('mailfrom_notify_recip'))"`
	HdrfromNotifyRecipByCcat   ByCcat        `amavis:"hdrfrom_notify_recip_by_ccat,dyn,res=str" up:"(CC_CATCHALL => c('hdrfrom_notify_recip'))"`
	HdrfromNotifySenderByCcat  ByCcat        `amavis:"hdrfrom_notify_sender_by_ccat,dyn,res=str" up:"(CC_CATCHALL => c('hdrfrom_notify_sender'))"`
	HdrfromNotifyReleaseByCcat ByCcat        `amavis:"hdrfrom_notify_release_by_ccat,dyn,res=str" up:"(CC_CATCHALL => c('hdrfrom_notify_release'))"`
	HdrfromNotifyReportByCcat  ByCcat        `amavis:"hdrfrom_notify_report_by_ccat,dyn,res=str" up:"(CC_CATCHALL => c('hdrfrom_notify_report'))"`
	AlwaysBccByCcat            ByCcat        `amavis:"always_bcc_by_ccat,dyn,res=str" up:"(CC_CATCHALL => c('always_bcc'))"`
	DSNBccByCcat               ByCcat        `amavis:"dsn_bcc_by_ccat,dyn,res=str" up:"(CC_CATCHALL => c('dsn_bcc'))"`
	NotifyVirusAdminTempl      Opt[Template] `amavis:"notify_virus_admin_templ,dyn" up:"(built in)"`
	NotifySpamAdminTempl       Opt[Template] `amavis:"notify_spam_admin_templ,dyn" up:"(built in)"`
	NotifyVirusRecipsTempl     Opt[Template] `amavis:"notify_virus_recips_templ,dyn" up:"(built in)"`
	NotifySpamRecipsTempl      Opt[Template] `amavis:"notify_spam_recips_templ,dyn" up:"(built in)"`
	NotifyVirusSenderTempl     Opt[Template] `amavis:"notify_virus_sender_templ,dyn" up:"(built in)"`
	NotifySpamSenderTempl      Opt[Template] `amavis:"notify_spam_sender_templ,dyn" up:"(built in)"`
	NotifySenderTempl          Opt[Template] `amavis:"notify_sender_templ,dyn" up:"(built in)"`
	NotifyReleaseTempl         Opt[Template] `amavis:"notify_release_templ,dyn" up:"(built in)"`
	NotifyReportTempl          Opt[Template] `amavis:"notify_report_templ,dyn" up:"(built in)"`
	NotifyAutorespTempl        Opt[Template] `amavis:"notify_autoresp_templ,dyn" up:"(built in)"`
	NotifyAdminTemplByCcat     ByCcat        `amavis:"notify_admin_templ_by_ccat,dyn,res=str" up:"(CC_SPAM => cr('notify_spam_admin_templ'), CC_CATCHALL => cr('notify_virus_admin_templ'))"`
	NotifyRecipsTemplByCcat    ByCcat        `amavis:"notify_recips_templ_by_ccat,dyn,res=str" up:"(CC_SPAM => cr('notify_spam_recips_templ'), CC_CATCHALL => cr('notify_virus_recips_templ'))"`
	NotifySenderTemplByCcat    ByCcat        `amavis:"notify_sender_templ_by_ccat,dyn,res=str" up:"(CC_VIRUS, CC_BANNED => virus, CC_SPAM => spam, CC_CATCHALL => sender)"`
	NotifyAutorespTemplByCcat  ByCcat        `amavis:"notify_autoresp_templ_by_ccat,dyn,res=str" up:"(CC_CATCHALL => cr('notify_autoresp_templ'))"`
	NotifyReleaseTemplByCcat   ByCcat        `amavis:"notify_release_templ_by_ccat,dyn,res=str" up:"(CC_CATCHALL => cr('notify_release_templ'))"`
	NotifyReportTemplByCcat    ByCcat        `amavis:"notify_report_templ_by_ccat,dyn,res=str" up:"(CC_CATCHALL => cr('notify_report_templ'))"`

	// ----- Logging -----
	LogLevel                  Opt[int]      `amavis:"log_level,dyn,min=-1,max=5,sec=Logging" up:"0"`
	DoSyslog                  Opt[bool]     `amavis:"do_syslog,alias=DO_SYSLOG" up:"undef (Debian 1)"`
	Logfile                   Opt[string]   `amavis:"logfile,alias=LOGFILE" up:"undef"`
	SyslogIdent               Opt[string]   `amavis:"syslog_ident,dyn" up:"amavis"`
	SyslogFacility            Opt[string]   `amavis:"syslog_facility,dyn,enum=kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|ftp|local0|local1|local2|local3|local4|local5|local6|local7" up:"mail"`
	LoglineMaxlen             Opt[int]      `amavis:"logline_maxlen,min=50" up:"980"`
	LogTempl                  Opt[Template] `amavis:"log_templ,dyn" up:"$log_short_templ"`
	LogRecipTempl             Opt[Template] `amavis:"log_recip_templ,dyn" up:"(built in) (Debian undef)"`
	LogShortTempl             Opt[Template] `amavis:"log_short_templ" up:"(built in)"`
	LogVerboseTempl           Opt[Template] `amavis:"log_verbose_templ" up:"(built in)"`
	EnableLogCapture          Opt[bool]     `amavis:"enable_log_capture" up:"undef"`
	EnableLogCaptureDump      Opt[bool]     `amavis:"enable_log_capture_dump,dyn" up:"undef"`
	MailDigestAlgorithm       Opt[string]   `amavis:"mail_digest_algorithm,dyn,enum=MD5|SHA-1|SHA1|SHA-256|SHA256|SHA-384|SHA384|SHA-512|SHA512" up:"MD5"`
	MailPartDigestAlgorithm   Opt[string]   `amavis:"mail_part_digest_algorithm,dyn,enum=MD5|SHA-1|SHA1|SHA-256|SHA256|SHA-384|SHA384|SHA-512|SHA512" up:"SHA1"`
	DebugSenderMaps           Maps          `amavis:"debug_sender_maps,dyn,keys=addr,res=bool" up:"(\\@debug_sender_acl)"`
	DebugSenderACL            []string      `amavis:"debug_sender_acl,legacy,keys=addr" up:"()"`
	DebugRecipientMaps        Maps          `amavis:"debug_recipient_maps,dyn,keys=addr,res=bool" up:"()"`
	OSFingerprintMethod       Opt[string]   `amavis:"os_fingerprint_method,dyn" up:"undef"`
	OSFingerprintDstIPAndPort Opt[string]   `amavis:"os_fingerprint_dst_ip_and_port,dyn" up:"undef"`

	// ----- DKIM -----
	EnableDKIMVerification           Opt[bool]   `amavis:"enable_dkim_verification,dyn,sec=DKIM" up:"undef (Debian 0)"`
	EnableDKIMSigning                Opt[bool]   `amavis:"enable_dkim_signing,dyn" up:"undef"`
	DKIMSigningService               Opt[string] `amavis:"dkim_signing_service,dyn" up:"undef"`
	DKIMMinimumKeyBits               Opt[int]    `amavis:"dkim_minimum_key_bits,dyn,min=0" up:"1024"`
	DKIMSignatureOptionsBysenderMaps Maps        `amavis:"dkim_signature_options_bysender_maps,dyn,keys=addr,res=any" up:"()"`
	AuthorToPolicyBankMaps           Maps        `amavis:"author_to_policy_bank_maps,dyn,keys=addr,res=bank" up:"()"`
	DKIMKey                          []DKIMKey   `amavis:"dkim_key" up:"(dkim_key() calls)"`

	// ----- SQL, LDAP, Redis -----
	LookupSQLDSN                          []DSN              `amavis:"lookup_sql_dsn,sec=SQL; LDAP and Redis" up:"()"`
	StorageSQLDSN                         []DSN              `amavis:"storage_sql_dsn" up:"()"`
	SQLSelectPolicy                       Opt[string]        `amavis:"sql_select_policy,legacy" up:"SELECT users.*, policy.*, users.id FROM users LEFT JOIN policy ... WHERE users.email IN (%k) ..."`
	SQLSelectWhiteBlackList               Opt[string]        `amavis:"sql_select_white_black_list,legacy" up:"SELECT wb FROM wblist JOIN mailaddr ... WHERE wblist.rid=? AND mailaddr.email IN (%k) ..."`
	SQLClause                             map[string]string  `amavis:"sql_clause,dyn" up:"(built in: sel_policy, sel_wblist, ins_msg, ...)"`
	SQLStoreInfoForAllMsgs                Opt[bool]          `amavis:"sql_store_info_for_all_msgs" up:"1"`
	SQLAllow8bitAddress                   Opt[bool]          `amavis:"sql_allow_8bit_address" up:"0"`
	TimestampFmtMySQL                     Opt[bool]          `amavis:"timestamp_fmt_mysql" up:"undef"`
	PartitionTag                          Value              `amavis:"partition_tag,dyn,alias=sql_partition_tag" up:"undef (Debian 0)"`
	SQLLookupsNoAtMeansDomain             Opt[bool]          `amavis:"sql_lookups_no_at_means_domain" up:"0"`
	LDAPLookupsNoAtMeansDomain            Opt[bool]          `amavis:"ldap_lookups_no_at_means_domain" up:"0"`
	LookupMapsImplySQLAndLDAP             Opt[bool]          `amavis:"lookup_maps_imply_sql_and_ldap" up:"1"`
	DatabaseSessionsPersistent            Opt[bool]          `amavis:"database_sessions_persistent" up:"1"`
	SQLSchemaVersion                      Opt[float64]       `amavis:"sql_schema_version" up:"2.013000"`
	TrimTrailingSpaceInLookupResultFields Opt[bool]          `amavis:"trim_trailing_space_in_lookup_result_fields" up:"0"`
	EnableLDAP                            Opt[bool]          `amavis:"enable_ldap,dyn" up:"0"`
	DefaultLDAP                           Table              `amavis:"default_ldap" up:"undef"`
	StorageRedisDSN                       []Table            `amavis:"storage_redis_dsn" up:"()"`
	StorageRedisTTL                       Opt[time.Duration] `amavis:"storage_redis_ttl,min=1" up:"1382400"`
	RedisLoggingKey                       Opt[string]        `amavis:"redis_logging_key,dyn" up:"undef"`
	RedisLoggingQueueSizeLimit            Opt[int]           `amavis:"redis_logging_queue_size_limit,min=0" up:"undef"`

	// Mavis holds the mavis-only settings of the [mavis] table.
	Mavis MavisSettings `amavis:"mavis,sec=mavis-only settings"`
}

// MavisSettings are the few settings amavis does not have, in the [mavis]
// table of the file. They are global (not per policy bank).
type MavisSettings struct {
	// SpoolThreshold is how many bytes of a message are held in memory
	// before the rest is written to a file under TEMPBASE.
	SpoolThreshold Opt[int] `amavis:"spool_threshold,min=0" up:"(mavis only)"`
	// MetricsListen is the address of the Prometheus /metrics endpoint
	// ("" = off).
	MetricsListen Opt[string] `amavis:"metrics_listen" up:"(mavis only)"`
	// MilterListen is the milter socket ("unix:/path" or "inet:host:port";
	// "" = off).
	MilterListen Opt[string] `amavis:"milter_listen" up:"(mavis only)"`
	// TemplatesDir holds notification templates as amavis's
	// read_l10n_templates reads them ("" = built in).
	TemplatesDir Opt[string] `amavis:"templates_dir" up:"(mavis only)"`
	// ShutdownTimeout is how long a stopping daemon waits for messages in
	// flight, in seconds.
	ShutdownTimeout Opt[time.Duration] `amavis:"shutdown_timeout,min=0" up:"(mavis only)"`
	// QuarantineMaxAge is how many days quarantine files under
	// QUARANTINEDIR are kept before the sweeper removes them (0 = keep
	// forever); it replaces the cron job "find ... -ctime +N -exec rm".
	QuarantineMaxAge Opt[int] `amavis:"quarantine_max_age,min=0" up:"(mavis only) 0 = keep forever"`
	// SQLMaxAge is how many days rows in the SQL log (msgs, msgrcpt,
	// quarantine and unreferenced maddr) are kept; a built-in job deletes
	// older ones hourly (amavis documents a cron job for this). 0 keeps
	// them forever.
	SQLMaxAge Opt[int] `amavis:"sql_max_age,min=0" up:"(mavis only) 0 = keep forever"`
	// SpamFailureIsFatal: when every spam scanner fails, tempfail the
	// message (4xx) instead of passing it unscored as amavis does.
	SpamFailureIsFatal Opt[bool] `amavis:"spam_scanners_failure_is_fatal" up:"(mavis only) false, as amavis: pass unscored"`
}
