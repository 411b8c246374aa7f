// Package dkim verifies a message's DKIM signatures (with
// github.com/emersion/go-msgauth) and maps valid signatures to policy banks
// as amavis's @author_to_policy_bank_maps does: a valid author-domain
// signature looks the author address up; any valid signature also looks up
// "author/@signer-domain" (third-party signatures). Results are comma
// separated bank names; "1" means the bank AUTHOR_APPROVED.
package dkim

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"github.com/mavis-filter/mavis/internal/lookup"
)

// Result is one signature's verification.
type Result struct {
	Domain     string // d=, the signing domain (SDID)
	Identifier string // i=, the agent or user identifier
	Valid      bool
	Err        error
}

// LookupTXT resolves DNS TXT records (net.Resolver.LookupTXT).
type LookupTXT func(ctx context.Context, name string) ([]string, error)

// DefaultLookupTXT uses the system resolver.
func DefaultLookupTXT(ctx context.Context, name string) ([]string, error) {
	return net.DefaultResolver.LookupTXT(ctx, name)
}

// MaxSignatures bounds how many signatures are verified per message.
const MaxSignatures = 10

// Verify checks every DKIM signature of the message read from r. DNS
// lookups are bounded by ctx.
func Verify(ctx context.Context, r io.Reader, txt LookupTXT) ([]Result, error) {
	if txt == nil {
		txt = DefaultLookupTXT
	}
	opts := &msgdkim.VerifyOptions{
		MaxVerifications: MaxSignatures,
		LookupTXT: func(name string) ([]string, error) {
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			return txt(lctx, name)
		},
	}
	vs, err := msgdkim.VerifyWithOptions(r, opts)
	if err != nil && err != msgdkim.ErrTooManySignatures {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	out := make([]Result, 0, len(vs))
	for _, v := range vs {
		out = append(out, Result{Domain: strings.ToLower(v.Domain), Identifier: v.Identifier, Valid: v.Err == nil, Err: v.Err})
	}
	return out, nil
}

// AuthorBanks returns the policy banks @author_to_policy_bank_maps gives
// for the valid signatures and the author addresses (From:), in order,
// without duplicates.
func AuthorBanks(ctx context.Context, sigs []Result, authors []string, maps lookup.Maps) ([]string, error) {
	var banks []string
	add := func(v any) {
		for _, b := range strings.FieldsFunc(lookup.FormatValue(v), func(c rune) bool { return c == ',' || c == ' ' }) {
			if b == "1" {
				b = "AUTHOR_APPROVED"
			}
			if !contains(banks, b) {
				banks = append(banks, b)
			}
		}
	}
	for _, s := range sigs {
		if !s.Valid {
			continue
		}
		for _, a := range authors {
			_, dom, ok := strings.Cut(strings.ToLower(a), "@")
			if !ok {
				continue
			}
			var keys []string
			if dom == s.Domain || strings.HasSuffix(dom, "."+s.Domain) {
				keys = append(keys, a) // author-domain signature
			}
			keys = append(keys, a+"/@"+s.Domain)
			for _, k := range keys {
				r, err := maps.Lookup(ctx, k)
				if err != nil {
					return nil, err
				}
				if r.Found && lookup.Truthy(r.Value) {
					add(r.Value)
					break
				}
			}
		}
	}
	return banks, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
