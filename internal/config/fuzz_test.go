package config

import (
	"bytes"
	"os"
	"testing"
)

// FuzzParse: Parse never panics or hangs; when a file loads, its dump
// loads again, and every bank's snapshot resolves.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../../docs/mavis.toml.example"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"max_servers = 3\ninet_acl = [\"127.0.0.1\", \"!10.0.0.0/8\"]",
		"local_domains_maps = [[\".example.com\"], { type = \"hash\", entries = { a = 1 } }, { ref = \"local_domains_acl\" }, true]",
		"[policy_bank.X]\nfinal_spam_destiny = \"D_REJECT\"\nallowed_header_tests = { REPLACE = true, utf8 = true }\n[policy_bank.MYNETS]\noriginating = 1",
		"interface_policy = { \"10026\" = \"X\" }\n[policy_bank.X]\nlog_level = 2",
		"[final_destiny_maps_by_ccat]\n\"CC_UNCHECKED,3\" = [{ type = \"regexp\", rules = [['^a', \"D_PASS\"]] }]",
		"av_scanners = [[\"x\", \"ask_daemon\", [\"CONTSCAN {}\\n\", \"/s\"], '\\bOK$', '\\bFOUND$', '(.*)']]",
		"virus_lovers_maps = [{ ref = \"spam_lovers_maps\" }]\nspam_lovers_maps = [{ ref = \"virus_lovers_maps\" }]",
		"score_sender_maps = [{ type = \"hash\", entries = { \".\" = [{ type = \"regexp\", rules = ['x'] }] } }]",
		"[[dkim_key]]\ndomain = \"d\"\nselector = \"s\"\nkey = \"k\"\n[mavis]\nspool_threshold = 1",
		"max_servers = = 2",
		"a.b.c = 1\n[x]\n[[y]]\nz = [1, 'a', {b = 2}]",
	} {
		f.Add([]byte(s))
	}
	env := Env{Hostname: "h.example", StateDir: "/s"}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := env.Parse("f.toml", data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		for _, b := range c.Banks() {
			c.Settings(b)
			c.Settings(b, "", b)
		}
		var out bytes.Buffer
		if err := c.Dump(&out, false); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Parse("dump.toml", out.Bytes()); err != nil {
			t.Fatalf("dump does not load: %v\n--- input:\n%q\n--- dump:\n%s", err, data, out.String())
		}
	})
}

func BenchmarkParseExample(b *testing.B) {
	data, err := os.ReadFile("../../docs/mavis.toml.example")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := testEnv.Parse("x", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSettingsBanks measures the per-message cost of a bank snapshot:
// memoised (the common case) and computed.
func BenchmarkSettingsBanks(b *testing.B) {
	c, err := testEnv.Parse("x", []byte("[policy_bank.MYNETS]\noriginating = true\nfinal_virus_destiny = \"D_REJECT\"\n[policy_bank.B]\nlog_level = 2"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("memoised", func(b *testing.B) {
		for b.Loop() {
			c.Settings("MYNETS", "B")
		}
	})
	b.Run("computed", func(b *testing.B) {
		for b.Loop() {
			resolveSettings(*c.apply([]string{"MYNETS", "B"}), nil)
		}
	})
}
