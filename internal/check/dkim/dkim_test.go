package dkim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/lookup"
	"github.com/mavis-filter/mavis/internal/testcorpus"
)

func signed(t *testing.T, key *rsa.PrivateKey, domain, from string) []byte {
	t.Helper()
	msg := "From: " + from + "\r\nTo: user@example.org\r\nSubject: hi\r\nDate: Sat, 01 Jun 2024 12:00:00 +0000\r\n\r\nhello\r\n"
	return testcorpus.DKIMSign(key, domain, []byte(msg))
}

func txtFor(key *rsa.PrivateKey, domains ...string) LookupTXT {
	return testcorpus.DKIMZone(key, domains...)
}

func TestVerifyAndBanks(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	maps := lookup.NewMaps("author_to_policy_bank_maps", lookup.NewHash(map[string]any{
		"paypal.example":                  "WHITELIST",
		"friend@example.net/@esp.example": "MILD_WHITELIST",
		"bank.example":                    "1",
	}, lookup.Rules{}))
	ctx := context.Background()
	tests := []struct {
		name, domain, from string
		dns                []string
		want               string
	}{
		{"author signature", "paypal.example", "service@paypal.example", []string{"paypal.example"}, "WHITELIST"},
		{"subdomain author", "paypal.example", "news@mail.paypal.example", []string{"paypal.example"}, "WHITELIST"},
		{"third party", "esp.example", "friend@example.net", []string{"esp.example"}, "MILD_WHITELIST"},
		{"1 means AUTHOR_APPROVED", "bank.example", "x@bank.example", []string{"bank.example"}, "AUTHOR_APPROVED"},
		{"key not published: invalid", "paypal.example", "service@paypal.example", nil, ""},
		{"unrelated signer", "spammer.example", "service@paypal.example", []string{"spammer.example"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := signed(t, key, tt.domain, tt.from)
			sigs, err := Verify(ctx, bytes.NewReader(msg), txtFor(key, tt.dns...))
			if err != nil {
				t.Fatal(err)
			}
			banks, err := AuthorBanks(ctx, sigs, []string{tt.from}, maps)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(banks, ","); got != tt.want {
				t.Errorf("banks %q want %q (sigs %+v)", got, tt.want, sigs)
			}
		})
	}
	// A modified message no longer verifies.
	msg := signed(t, key, "paypal.example", "service@paypal.example")
	msg = bytes.Replace(msg, []byte("hello"), []byte("HELLO"), 1)
	sigs, _ := Verify(ctx, bytes.NewReader(msg), txtFor(key, "paypal.example"))
	if len(sigs) != 1 || sigs[0].Valid {
		t.Errorf("tampered message verified: %+v", sigs)
	}
}
