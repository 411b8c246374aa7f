package app

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/mavis-filter/mavis/internal/config"
	"github.com/mavis-filter/mavis/internal/decode"
	"github.com/mavis-filter/mavis/internal/testcorpus"
)

// Seed 002's banks, as written there, selected by DKIM-signed authors
// (@author_to_policy_bank_maps).
const seed002 = `mydomain = "example.org"
av_scanners = []
av_scanners_backup = []
enable_dkim_verification = true
author_to_policy_bank_maps = [{ type = "hash", entries = { "paypal.example" = "WHITELIST", "friend@example.net/@esp.example" = "MILD_WHITELIST", "vendor.example" = "NOVIRUSCHECK, NOBANNEDCHECK" } }]

[policy_bank.MILD_WHITELIST]
score_sender_maps = [{ type = "hash", entries = { "." = [-1.8] } }]

[policy_bank.WHITELIST]
bypass_spam_checks_maps = [true]
spam_lovers_maps = [true]

[policy_bank.NOVIRUSCHECK]
bypass_decode_parts = true
bypass_virus_checks_maps = [true]
virus_lovers_maps = [true]

[policy_bank.NOBANNEDCHECK]
bypass_banned_checks_maps = [true]
banned_files_lovers_maps = [true]
`

func TestSeed002Banks(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	env := config.Env{Hostname: "mx.example.org", StateDir: t.TempDir()}
	cfg, err := env.Parse("seed002.toml", []byte(seed002))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := Build(cfg, decode.FindTools(nil))
	if err != nil {
		t.Fatal(err)
	}
	snap.LookupTXT = testcorpus.DKIMZone(key, "paypal.example", "esp.example", "vendor.example")
	ctx := context.Background()
	msgFrom := func(signer, from string) []byte {
		raw := []byte("From: " + from + "\r\nTo: user@example.org\r\nDate: Sat, 01 Jun 2024 12:00:00 +0000\r\nSubject: s\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n")
		if signer == "" {
			return raw
		}
		return testcorpus.DKIMSign(key, signer, raw)
	}
	tests := []struct {
		name, signer, from, bank string
		check                    func(t *testing.T, m string)
	}{
		{"unsigned", "", "service@paypal.example", "", nil},
		{"WHITELIST", "paypal.example", "service@paypal.example", "WHITELIST", nil},
		{"forged signer", "esp.example", "service@paypal.example", "", nil},
		{"MILD_WHITELIST", "esp.example", "friend@example.net", "MILD_WHITELIST", nil},
		{"NOVIRUSCHECK+NOBANNEDCHECK", "vendor.example", "sales@vendor.example", "NOVIRUSCHECK/NOBANNEDCHECK", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := message(t, msgFrom(tt.signer, tt.from), "user@example.org")
			ps := snap.ForMessage(m)
			if ps.PolicyBank != tt.bank {
				t.Fatalf("bank %q want %q", ps.PolicyBank, tt.bank)
			}
			rp, err := ps.Resolve(ctx, "user@example.org")
			if err != nil {
				t.Fatal(err)
			}
			switch tt.bank {
			case "WHITELIST":
				if !rp.BypassSpam || !rp.Lovers[6] {
					t.Errorf("WHITELIST: bypass spam %v, spam lover %v", rp.BypassSpam, rp.Lovers[6])
				}
			case "MILD_WHITELIST":
				wb, err := rp.WhiteBlack(ctx, []string{tt.from})
				if err != nil || !wb.HasBoost || wb.Boost != -1.8 {
					t.Errorf("MILD_WHITELIST score_sender_maps: %+v %v", wb, err)
				}
			case "NOVIRUSCHECK/NOBANNEDCHECK":
				if !rp.BypassVirus || !rp.BypassBanned || !rp.Lovers[9] || !rp.Lovers[8] {
					t.Errorf("NOVIRUSCHECK/NOBANNEDCHECK: %+v", rp)
				}
			case "":
				if rp.BypassSpam || rp.BypassVirus {
					t.Errorf("base bank bypasses checks: %+v", rp)
				}
			}
		})
	}
}
