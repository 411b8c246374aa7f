package testcorpus

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"

	msgdkim "github.com/emersion/go-msgauth/dkim"
)

// DKIMSign signs msg for domain with selector "s1".
func DKIMSign(key *rsa.PrivateKey, domain string, msg []byte) []byte {
	var b bytes.Buffer
	if err := msgdkim.Sign(&b, bytes.NewReader(msg), &msgdkim.SignOptions{Domain: domain, Selector: "s1", Signer: key}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// DKIMZone answers DNS TXT queries for s1._domainkey.<domain> of the given
// domains with key's public key: a test DNS zone.
func DKIMZone(key *rsa.PrivateKey, domains ...string) func(context.Context, string) ([]string, error) {
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	rec := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)
	return func(_ context.Context, name string) ([]string, error) {
		for _, d := range domains {
			if name == "s1._domainkey."+d {
				return []string{rec}, nil
			}
		}
		return nil, errors.New("no TXT record for " + name)
	}
}
