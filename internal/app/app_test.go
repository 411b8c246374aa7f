package app

import (
	"context"
	"testing"

	"github.com/mavis-filter/mavis/internal/config"
	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/policy"
)

const banksTOML = `
mydomain = "example.org"
local_domains_acl = [".example.org", "!private.example.com", ".example.com"]
av_scanners = []
av_scanners_backup = []
interface_policy = { "10026" = "ORIGINATING" }

[policy_bank.MYNETS]
final_banned_destiny = "D_REJECT"

[policy_bank.ORIGINATING]
originating = true
bypass_banned_checks_maps = [true]
`

func TestPolicyBanks(t *testing.T) {
	env := config.Env{Hostname: "mx.example.org", StateDir: t.TempDir()}
	cfg, err := env.Parse("banks.toml", []byte(banksTOML))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := func(port, client, from string) *mail.Message {
		m := &mail.Message{}
		m.Conn.LocalPort = port
		m.Client.Addr = client
		m.Envelope.MailFrom = from
		return m
	}
	tests := []struct {
		name        string
		m           *mail.Message
		bank        string
		originating bool
		banned      policy.Destiny
		bypassBan   bool
	}{
		{"outside client", msg("10024", "203.0.113.9", "x@example.net"), "", false, policy.DDiscard, false},
		{"no XFORWARD: 0.0.0.0", msg("10024", "", "x@example.net"), "", false, policy.DDiscard, false},
		{"client in mynetworks", msg("10024", "192.168.1.5", "u@example.org"), "MYNETS", true, policy.DReject, false},
		{"submission port", msg("10026", "203.0.113.9", "u@example.org"), "ORIGINATING", true, policy.DDiscard, true},
		{"both", msg("10026", "10.1.2.3", "u@example.org"), "ORIGINATING/MYNETS", true, policy.DReject, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := snap.ForMessage(tt.m)
			if ps.PolicyBank != tt.bank || ps.Originating != tt.originating {
				t.Errorf("bank %q originating %v, want %q %v", ps.PolicyBank, ps.Originating, tt.bank, tt.originating)
			}
			rp, err := ps.Resolve(context.Background(), "user@example.org")
			if err != nil {
				t.Fatal(err)
			}
			if rp.Destinies.Banned != tt.banned || rp.BypassBanned != tt.bypassBan {
				t.Errorf("banned destiny %v bypass %v, want %v %v", rp.Destinies.Banned, rp.BypassBanned, tt.banned, tt.bypassBan)
			}
		})
	}
}

func TestLocalDomains(t *testing.T) {
	env := config.Env{Hostname: "mx.example.org", StateDir: t.TempDir()}
	cfg, err := env.Parse("banks.toml", []byte(banksTOML))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"a@example.org": true, "a@sub.example.org": true, "a@EXAMPLE.ORG": true,
		"a@private.example.com": false, "a@www.example.com": true, "a@example.net": false,
	} {
		rp, err := snap.Pipeline.Resolve(context.Background(), addr)
		if err != nil {
			t.Fatal(err)
		}
		if rp.Local != want {
			t.Errorf("local(%s) = %v, want %v", addr, rp.Local, want)
		}
	}
}
