// Package app turns a configuration snapshot into the running parts of
// mavisd: the SMTP/LMTP server options and listeners, the pipeline settings,
// the delivery client and the logger. cmd/mavisd and cmd/mavis share it, so
// the offline `mavis check` runs the same pipeline as the daemon.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mavis-filter/mavis/internal/check/dkim"
	"github.com/mavis-filter/mavis/internal/config"
	"github.com/mavis-filter/mavis/internal/decode"
	"github.com/mavis-filter/mavis/internal/deliver"
	"github.com/mavis-filter/mavis/internal/logging"
	"github.com/mavis-filter/mavis/internal/lookup"
	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/pipeline"
	"github.com/mavis-filter/mavis/internal/smtpd"
	"github.com/mavis-filter/mavis/internal/store"
	"github.com/mavis-filter/mavis/internal/version"
)

// Product is the name in banners and Received: fields (amavis: "amavis").
const Product = "mavis"

// Snapshot is everything derived from one configuration: swapped whole on
// reload.
type Snapshot struct {
	Config   *config.Config
	Settings *config.Settings // the base settings (no policy bank)
	SMTP     *smtpd.Options
	Pipeline *pipeline.Settings // the base pipeline settings
	tools    *decode.Tools
	sql      *sqlLookups
	clientIP []clientIPPolicy
	// authorBanks is author_to_policy_bank_maps (DKIM); empty: off.
	authorBanks lookup.Maps
	// LookupTXT resolves DKIM keys (DNS); tests replace it.
	LookupTXT dkim.LookupTXT
	// banks caches the pipeline settings per policy bank path.
	banks sync.Map // string -> *pipeline.Settings
	mu    sync.Mutex
}

type clientIPPolicy struct {
	maps  lookup.Maps
	banks []string
}

// Build derives a snapshot from a loaded configuration. Every policy bank
// is built once here, so that a bad bank is reported at load time rather
// than when the first message needs it.
func Build(cfg *config.Config, tools *decode.Tools) (*Snapshot, error) {
	s := cfg.Settings()
	sq, err := openSQLLookups(s)
	if err != nil {
		return nil, err
	}
	ps, err := PipelineSettings(s, tools, sq)
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{Config: cfg, Settings: s, SMTP: SMTPOptions(s), Pipeline: ps, tools: tools, sql: sq}
	for _, ip := range s.ClientIPAddrPolicy {
		m, err := Tables("client_ipaddr_policy", ip.Maps, lookup.Rules{})
		if err != nil {
			return nil, err
		}
		snap.clientIP = append(snap.clientIP, clientIPPolicy{maps: m, banks: ip.Banks})
	}
	if s.EnableDKIMVerification.Or(false) && len(s.AuthorToPolicyBankMaps) > 0 {
		if snap.authorBanks, err = Tables("author_to_policy_bank_maps", s.AuthorToPolicyBankMaps, lookup.Rules{}); err != nil {
			return nil, err
		}
	}
	for _, b := range cfg.Banks() {
		if _, err := snap.settingsFor([]string{b}); err != nil {
			return nil, fmt.Errorf("policy_bank %s: %w", b, err)
		}
	}
	return snap, nil
}

// Close releases the snapshot's lookup database connections. Call it when
// no message uses the snapshot any more.
func (snap *Snapshot) Close() error {
	if snap == nil || snap.sql == nil {
		return nil
	}
	return snap.sql.db.Close()
}

// Banks returns the policy banks that apply to a message, in loading order
// (amavis): the listening port's interface_policy bank, then the banks of
// the first client_ipaddr_policy entry matching the original client's
// address (XFORWARD ADDR; 0.0.0.0 when unknown), then MYUSERS for mail from
// a local sender when originating.
func (snap *Snapshot) Banks(m *mail.Message) []string {
	var banks []string
	s := snap.Settings
	if b, ok := s.InterfacePolicy[m.Conn.LocalPort]; ok && m.Conn.LocalPort != "" {
		banks = append(banks, b)
	} else if b, ok := s.InterfacePolicy["SOCK"]; ok && m.Conn.UnixSocket != "" {
		banks = append(banks, b)
	}
	ip := m.Client.Addr
	if ip == "" {
		ip = "0.0.0.0"
	}
	ctx := context.Background()
	for _, p := range snap.clientIP {
		if ok, _, err := p.maps.Bool(ctx, ip); err == nil && ok {
			banks = append(banks, p.banks...)
			break
		}
	}
	banks = append(banks, snap.dkimBanks(ctx, m)...)
	if snap.Config.HasBank("MYUSERS") && m.Envelope.MailFrom != "" {
		cur, _ := snap.settingsFor(banks)
		if cur != nil && cur.Originating {
			if rp, err := cur.Resolve(ctx, m.Envelope.MailFrom); err == nil && rp.Local {
				banks = append(banks, "MYUSERS")
			}
		}
	}
	return banks
}

// dkimBanks verifies the message's DKIM signatures and returns the banks
// author_to_policy_bank_maps gives for valid author or third-party
// signatures (amavis loads them after the message was received). DNS
// lookups are bounded; a failure only means no bank.
func (snap *Snapshot) dkimBanks(ctx context.Context, m *mail.Message) []string {
	if len(snap.authorBanks.Tables) == 0 || m.Body == nil || m.Header == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	sigs, err := dkim.Verify(ctx, m.Body.Reader(), snap.LookupTXT)
	if err != nil || len(sigs) == 0 {
		return nil
	}
	var authors []string
	for _, f := range m.Header.Values("From") {
		for _, a := range strings.Split(f, ",") {
			if ad := mail.AddrSpec(a); ad != "" {
				authors = append(authors, ad)
			}
		}
	}
	banks, err := dkim.AuthorBanks(ctx, sigs, authors, snap.authorBanks)
	if err != nil {
		return nil
	}
	var out []string
	for _, b := range banks {
		if snap.Config.HasBank(b) {
			out = append(out, b)
		}
	}
	return out
}

// ForMessage returns the pipeline settings for a message, with its policy
// banks merged in.
func (snap *Snapshot) ForMessage(m *mail.Message) *pipeline.Settings {
	if m == nil {
		return snap.Pipeline
	}
	banks := snap.Banks(m)
	if len(banks) == 0 {
		return snap.Pipeline
	}
	ps, err := snap.settingsFor(banks)
	if err != nil {
		// Every bank was built at load time; a combination failing here
		// is unexpected: use the base settings and say so.
		slog.Default().Error("policy bank combination failed, using base settings", "banks", banks, "err", err)
		return snap.Pipeline
	}
	return ps
}

func (snap *Snapshot) settingsFor(banks []string) (*pipeline.Settings, error) {
	if len(banks) == 0 {
		return snap.Pipeline, nil
	}
	key := strings.Join(banks, "/")
	if v, ok := snap.banks.Load(key); ok {
		return v.(*pipeline.Settings), nil
	}
	snap.mu.Lock()
	defer snap.mu.Unlock()
	if v, ok := snap.banks.Load(key); ok {
		return v.(*pipeline.Settings), nil
	}
	ps, err := PipelineSettings(snap.Config.Settings(banks...), snap.tools, snap.sql)
	if err != nil {
		return nil, err
	}
	snap.banks.Store(key, ps)
	return ps, nil
}

// SMTPOptions maps the settings onto the SMTP server's options.
func SMTPOptions(s *config.Settings) *smtpd.Options {
	acl := s.InetACL
	o := &smtpd.Options{
		Product:             Product,
		Version:             version.String(),
		GreetingBanner:      s.SMTPDGreetingBanner.Or(""),
		QuitBanner:          s.SMTPDQuitBanner.Or(""),
		MyHostname:          s.MyHostname.Or(""),
		RecipientLimit:      s.SMTPDRecipientLimit.Or(1100),
		MessageSizeLimit:    int64(s.SMTPDMessageSizeLimit.Or(0)),
		DiscardEHLOKeywords: s.SMTPDDiscardEHLOKeywords,
		IdleTimeout:         minDur(s.SMTPDTimeout.Or(480*time.Second), 5*time.Second),
		ChildTimeout:        s.ChildTimeout.Or(480 * time.Second),
		ACL:                 func(ip netip.Addr) bool { return acl.Allows(ip) },
		TempDir:             s.TempBase.Or(os.TempDir()),
		SpoolThreshold:      s.Mavis.SpoolThreshold.Or(0),
	}
	return o
}

func minDur(d, floor time.Duration) time.Duration {
	if d < floor {
		return floor
	}
	return d
}

// Listeners lists the sockets to listen on: every inet_socket_bind address
// with every inet_socket_port, plus unix_socketname when set explicitly
// (amavis's Debian default socket is for AM.PDP, which is not an SMTP
// listener). A port whose interface_policy bank sets protocol LMTP greets
// with LMTP.
func Listeners(cfg *config.Config, s *config.Settings) []smtpd.Listener {
	var out []smtpd.Listener
	for _, port := range s.InetSocketPort {
		lmtp := portProtocol(cfg, strconv.Itoa(port)) == "LMTP"
		for _, host := range s.InetSocketBind {
			h := strings.Trim(host, "[]")
			out = append(out, smtpd.Listener{Network: "tcp", Address: net.JoinHostPort(h, strconv.Itoa(port)), LMTP: lmtp})
		}
	}
	return out
}

func portProtocol(cfg *config.Config, port string) string {
	bank, ok := cfg.Raw().InterfacePolicy[port]
	if !ok || !cfg.HasBank(bank) {
		return ""
	}
	return strings.ToUpper(cfg.Settings(bank).Protocol.Or(""))
}

// PipelineSettings maps the settings onto the pipeline's.
func PipelineSettings(s *config.Settings, tools *decode.Tools, sq *sqlLookups) (*pipeline.Settings, error) {
	fm := s.ForwardMethod.First()
	meth, err := deliver.ParseMethod(fm.Raw)
	if err != nil {
		return nil, fmt.Errorf("forward_method: %w", err)
	}
	rm, err := compileRecipientMaps(s, sq)
	if err != nil {
		return nil, err
	}
	ch, err := checks(s, tools)
	if err != nil {
		return nil, err
	}
	act, err := actions(s)
	if err != nil {
		return nil, err
	}
	return &pipeline.Settings{
		Product:           Product,
		MyHostname:        s.MyHostname.Or("localhost"),
		LocalhostName:     s.LocalhostName.Or("localhost"),
		Forward:           meth,
		Resolve:           rm.resolve,
		Checks:            ch,
		Actions:           act,
		PartitionTag:      s.PartitionTag.Str(),
		PenPals:           penPals(s),
		BounceKillerScore: s.BounceKillerScore.Or(0),
		Originating:       s.Originating.Or(false),
		SoftBounce:        s.SoftBounce.Or(false),
		PolicyBank:        s.PolicyBankPath,
	}, nil
}

func penPals(s *config.Settings) pipeline.PenPals {
	pp := pipeline.PenPals{Bonus: s.PenpalsBonusScore.Or(0), Halflife: s.PenpalsHalflife.Or(604800 * time.Second)}
	if v, ok := s.PenpalsThresholdLow.Get(); ok {
		pp.Low = &v
	}
	if v, ok := s.PenpalsThresholdHigh.Get(); ok {
		pp.High = &v
	}
	return pp
}

// StoreOptions maps the SQL storage settings (storage_sql_dsn; the
// embedded SQLite file under MYHOME when none is configured).
func StoreOptions(s *config.Settings, lg *slog.Logger) store.Options {
	o := store.Options{
		MyHome:                   s.MyHome.Or("mavis-state"),
		Allow8bitAddress:         s.SQLAllow8bitAddress.Or(false),
		LocalpartIsCaseSensitive: s.LocalpartIsCaseSensitive.Or(false),
		TimestampFmtMySQL:        s.TimestampFmtMySQL.Or(false),
		QuarantineChunkSize:      s.SQLQuarantineChunksizeMax.Or(16384),
		Logger:                   lg,
	}
	for _, d := range s.StorageSQLDSN {
		o.DSNs = append(o.DSNs, store.DSN{DSN: d.DSN, User: d.User, Password: d.Password})
	}
	return o
}

// LoggingOptions maps the logging settings.
func LoggingOptions(s *config.Settings) logging.Options {
	return logging.Options{
		Syslog:   s.DoSyslog.Or(false),
		Facility: s.SyslogFacility.Or("mail"),
		Ident:    s.SyslogIdent.Or("amavis"),
		File:     s.Logfile.Or(""),
		Level:    s.LogLevel.Or(0),
	}
}

// DeliverTimeouts returns the outgoing SMTP timeouts.
func DeliverTimeouts() deliver.Timeouts { return deliver.DefaultTimeouts() }

// PrepareDirs creates MYHOME and TEMPBASE, and a private spool directory
// TEMPBASE/mavisd-<pid> for this process (mode 0700), which it returns.
// Spool directories of earlier runs whose process is gone (killed: their
// mail is still in the MTA's queue, it was never acknowledged) are removed,
// as Debian's amavis unit removes leftover amavis-* directories.
func PrepareDirs(s *config.Settings, lg *slog.Logger) (string, error) {
	for _, d := range []string{s.MyHome.Or(""), s.TempBase.Or(""), s.QuarantineDir.Or("")} {
		if d == "" {
			continue
		}
		if err := os.MkdirAll(d, 0o750); err != nil {
			return "", fmt.Errorf("create directory: %w", err)
		}
	}
	tb := s.TempBase.Or(os.TempDir())
	old, _ := filepath.Glob(filepath.Join(tb, "mavisd-*"))
	for _, d := range old {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "mavisd-"))
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		if err := os.RemoveAll(d); err == nil {
			lg.Info("removed leftover spool directory of an earlier run", "dir", d)
		}
	}
	own := filepath.Join(tb, fmt.Sprintf("mavisd-%d", os.Getpid()))
	if err := os.MkdirAll(own, 0o700); err != nil {
		return "", fmt.Errorf("create spool directory: %w", err)
	}
	return own, nil
}

func processAlive(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}
