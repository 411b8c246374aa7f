package app

import (
	"fmt"
	"strings"
	"time"

	"github.com/mavis-filter/mavis/internal/check/spam"
	"github.com/mavis-filter/mavis/internal/check/spam/rspamd"
	"github.com/mavis-filter/mavis/internal/check/spam/spamd"
	"github.com/mavis-filter/mavis/internal/config"
)

// spamScanners builds the clients of @spam_scanners. amavis's default
// module, SpamAssassin in-process, cannot run inside a Go program: mavis
// asks spamd instead (127.0.0.1:783, then [::1]:783, like amavis's
// SpamdClient), with the REPORT command, which gives per-test scores as the
// in-process module does. Options (amavis's names where amavis has them):
// mail_body_size_limit, score_factor, timeout, url, password, mta_name
// (rspamd); mavis adds addrs/spamd_sock (spamd addresses), user (spamd
// User:), compress, command (REPORT, SYMBOLS, HEADERS), settings_id.
func spamScanners(s *config.Settings) ([]spam.Scanner, error) {
	var out []spam.Scanner
	limit := int64(s.SaMailBodySizeLimit.Or(204800))
	for _, sc := range s.SpamScanners {
		opt := func(name string) (config.Value, bool) {
			v, ok := sc.Options[name]
			return v, ok && !v.IsUndef()
		}
		str := func(name, def string) string {
			if v, ok := opt(name); ok {
				return v.Str()
			}
			return def
		}
		num := func(name string, def float64) float64 {
			if v, ok := opt(name); ok {
				if f, ok := v.Number(); ok {
					return f
				}
			}
			return def
		}
		bodyLimit := int64(num("mail_body_size_limit", float64(limit)))
		timeout := time.Duration(num("timeout", 0) * float64(time.Second))
		switch sc.Module {
		case "SpamAssassin", "SpamdClient":
			cmd := spamd.Report
			if sc.Module == "SpamdClient" {
				cmd = spamd.Symbols
			}
			if c := str("command", ""); c != "" {
				cmd = spamd.Command(strings.ToUpper(c))
			}
			var addrs []string
			if v, ok := opt("addrs"); ok {
				for _, a := range v.List() {
					addrs = append(addrs, a.Str())
				}
				if len(addrs) == 0 {
					addrs = []string{v.Str()}
				}
			} else if a := str("spamd_sock", ""); a != "" {
				addrs = []string{a}
			}
			c, err := spamd.New(spamd.Config{
				Name: sc.Name, Addrs: addrs, Command: cmd, User: str("user", ""),
				Compress:      str("compress", "") != "" && str("compress", "") != "0",
				BodySizeLimit: bodyLimit, ScoreFactor: num("score_factor", 1), Timeout: timeout,
			})
			if err != nil {
				return nil, fmt.Errorf("spam_scanners %q: %w", sc.Name, err)
			}
			out = append(out, c)
		case "RspamdClient":
			c, err := rspamd.New(rspamd.Config{
				Name: sc.Name, URL: str("url", ""), Password: str("password", ""),
				MTAName: str("mta_name", s.MyHostname.Or("")), SettingsID: str("settings_id", ""),
				BodySizeLimit: bodyLimit, ScoreFactor: num("score_factor", 1), Timeout: timeout,
			})
			if err != nil {
				return nil, fmt.Errorf("spam_scanners %q: %w", sc.Name, err)
			}
			out = append(out, c)
		default:
			return nil, fmt.Errorf("spam_scanners %q: module %s is not available in mavis", sc.Name, sc.Module)
		}
	}
	return out, nil
}
