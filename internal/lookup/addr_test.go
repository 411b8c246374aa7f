package lookup

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestHashKeys(t *testing.T) {
	plus := Rules{Delimiter: "+"}
	tests := []struct {
		name  string
		rules Rules
		addr  string
		want  []string
	}{
		{"spec §8 example", plus, "User+Foo@Sub.Example.COM", []string{
			"User+Foo@Sub.Example.COM", "user+foo@sub.example.com", "user@sub.example.com",
			"user+foo@", "user@", "sub.example.com", ".sub.example.com", ".example.com", ".com", "."}},
		{"null sender", plus, "", []string{"", "@", "."}},
		{"no delimiter: no extension keys", Rules{}, "User+Foo@Sub.Example.COM", []string{
			"User+Foo@Sub.Example.COM", "user+foo@sub.example.com", "user+foo@",
			"sub.example.com", ".sub.example.com", ".example.com", ".com", "."}},
		{"already folded: duplicates removed", plus, "user@example.com", []string{
			"user@example.com", "user@", "example.com", ".example.com", ".com", "."}},
		{"local part case sensitive", Rules{Delimiter: "+", LocalpartCaseSensitive: true}, "User+Foo@Example.COM", []string{
			"User+Foo@Example.COM", "User+Foo@example.com", "User@example.com", "User+Foo@", "User@",
			"example.com", ".example.com", ".com", "."}},
		{"address literal gets only '.'", plus, "user@[192.168.1.1]", []string{
			"user@[192.168.1.1]", "user@", "[192.168.1.1]", "."}},
		{"trailing dots dropped", plus, "user@Example.COM.", []string{
			"user@Example.COM.", "user@example.com", "user@", "example.com", ".example.com", ".com", "."}},
		{"mailer-daemon never split", Rules{Delimiter: "-"}, "Mailer-Daemon@example.com", []string{
			"Mailer-Daemon@example.com", "mailer-daemon@example.com", "mailer-daemon@", "example.com", ".example.com", ".com", "."}},
		{"only the exact reserved name is kept whole", plus, "postmaster+x@example.com", []string{
			"postmaster+x@example.com", "postmaster@example.com", "postmaster+x@", "postmaster@", "example.com", ".example.com", ".com", "."}},
		{"leading delimiter not split", plus, "+foo@example.com", []string{
			"+foo@example.com", "+foo@", "example.com", ".example.com", ".com", "."}},
		{"split at first delimiter", plus, "a+b+c@x.org", []string{
			"a+b+c@x.org", "a@x.org", "a+b+c@", "a@", "x.org", ".x.org", ".org", "."}},
		{"several delimiter characters", Rules{Delimiter: "+-"}, "user-foo@x.org", []string{
			"user-foo@x.org", "user@x.org", "user-foo@", "user@", "x.org", ".x.org", ".org", "."}},
		{"owner- not split with '-' delimiter", Rules{Delimiter: "-"}, "owner-list@x.org", []string{
			"owner-list@x.org", "owner-list@", "x.org", ".x.org", ".org", "."}},
		{"-request not split with '-' delimiter", Rules{Delimiter: "-"}, "list-request@x.org", []string{
			"list-request@x.org", "list-request@", "x.org", ".x.org", ".org", "."}},
		{"owner- split with '+' delimiter", plus, "owner-list+x@x.org", []string{
			"owner-list+x@x.org", "owner-list@x.org", "owner-list+x@", "owner-list@", "x.org", ".x.org", ".org", "."}},
		{"IDN domain to ACE", plus, "user@Bücher.DE", []string{
			"user@Bücher.DE", "user@xn--bcher-kva.de", "user@", "xn--bcher-kva.de", ".xn--bcher-kva.de", ".de", "."}},
		{"no @: domain keys empty", plus, "Eicar-Test-Signature", []string{
			"Eicar-Test-Signature", "eicar-test-signature@", "", "."}},
		{"last @ splits", plus, `"a@b"@example.com`, []string{
			`"a@b"@example.com`, `"a@b"@`, "example.com", ".example.com", ".com", "."}},
		{"@ inside address literal", plus, "u@[a@b]", []string{"u@[a@b]", "u@", "[a@b]", "."}},
		{"non-ASCII local part kept (only ASCII folded)", plus, "Jörg@X.org", []string{
			"Jörg@X.org", "jörg@x.org", "jörg@", "x.org", ".x.org", ".org", "."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.rules.HashKeys(tc.addr).List
			if !slices.Equal(got, tc.want) {
				t.Errorf("HashKeys(%q)\n got %q\nwant %q", tc.addr, got, tc.want)
			}
		})
	}
}

func TestSQLKeys(t *testing.T) {
	plus := Rules{Delimiter: "+"}
	tests := []struct {
		name  string
		addr  string
		local bool
		noAt  bool
		want  []string
	}{
		{"spec §8 example, local", "User+Foo@Sub.Example.COM", true, false, []string{
			"User+Foo@Sub.Example.COM", "user+foo@sub.example.com", "user@sub.example.com",
			"user+foo", "user", "@sub.example.com", "@.sub.example.com", "@.example.com", "@.com", "@."}},
		{"non-local: no bare user keys", "User+Foo@Sub.Example.COM", false, false, []string{
			"User+Foo@Sub.Example.COM", "user+foo@sub.example.com", "user@sub.example.com",
			"@sub.example.com", "@.sub.example.com", "@.example.com", "@.com", "@."}},
		// seed 001 shows the query amavis sends for john@example.com
		{"seed 001", "john@example.com", true, false, []string{
			"john@example.com", "john", "@example.com", "@.example.com", "@.com", "@."}},
		{"null sender", "", true, false, []string{"", "@", "@."}},
		{"no_at_means_domain: hash-style keys", "john@example.com", true, true, []string{
			"john@example.com", "john@", "example.com", ".example.com", ".com", "."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := plus.SQLKeys(tc.addr, tc.local, tc.noAt).List
			if !slices.Equal(got, tc.want) {
				t.Errorf("SQLKeys(%q)\n got %q\nwant %q", tc.addr, got, tc.want)
			}
		})
	}
}

func TestDomainKeyLimit(t *testing.T) {
	labels := make([]string, 30)
	for i := range labels {
		labels[i] = fmt.Sprintf("l%d", i)
	}
	addr := "u@" + strings.Join(labels, ".")
	keys := Rules{}.HashKeys(addr).List
	var dot []string
	for _, k := range keys {
		if strings.HasPrefix(k, ".") {
			dot = append(dot, k)
		}
	}
	if len(dot) != maxDomainKeys {
		t.Fatalf("got %d .domain keys, want %d", len(dot), maxDomainKeys)
	}
	// the most general ones are kept
	if dot[len(dot)-1] != "." || dot[len(dot)-2] != ".l29" {
		t.Errorf("last keys %q", dot[len(dot)-2:])
	}
}

func TestRHS(t *testing.T) {
	k := Rules{Delimiter: "+"}.HashKeys("User+Foo@Sub.Example.COM")
	want := [5]string{"User+Foo@Sub.Example.COM", "User+Foo", "user", "+foo", "sub.example.com"}
	if k.RHS != want {
		t.Errorf("RHS = %q, want %q", k.RHS, want)
	}
	tests := []struct{ in, want string }{
		{"$1", "User+Foo@Sub.Example.COM"},
		{"${3}-spam@$5", "user-spam@sub.example.com"},
		{"$(4)", "+foo"},
		{"$0 $6 $", "  $"},
		{"cost $ 5", "cost $ 5"},
		{"${3", "${3"},
		{"$33", ""},
	}
	for _, tc := range tests {
		if got := substituteRHS(tc.in, k.RHS[:]); got != tc.want {
			t.Errorf("substituteRHS(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitAddress(t *testing.T) {
	tests := []struct{ in, local, domain string }{
		{"user@example.com", "user", "@example.com"},
		{"a@b@c", "a@b", "@c"},
		{"nodomain", "nodomain", ""},
		{"", "", ""},
		{"@", "", "@"},
		{"u@[1.2.3.4]", "u", "@[1.2.3.4]"},
		{"u@[a@b", "u", "@[a@b"}, // an unclosed literal runs to the end,
		{"u@[a\\]@b]", "u", "@[a\\]@b]"},
	}
	for _, tc := range tests {
		l, d := SplitAddress(tc.in)
		if l != tc.local || d != tc.domain {
			t.Errorf("SplitAddress(%q) = %q, %q; want %q, %q", tc.in, l, d, tc.local, tc.domain)
		}
	}
}
