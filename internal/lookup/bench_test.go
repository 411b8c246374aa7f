package lookup

import (
	"context"
	"fmt"
	"testing"
)

// A local_domains-sized hash (5000 domains) and an ACL of 50 elements,
// looked up with a recipient that matches late (parent domain) and one
// that does not match at all.
func BenchmarkHashLookup(b *testing.B) {
	rules := Rules{Delimiter: "+"}
	m := make(map[string]any, 5000)
	for i := range 5000 {
		m[fmt.Sprintf("domain%d.example", i)] = int64(1)
	}
	m[".example.com"] = int64(1)
	h := NewHash(m, rules)
	ctx := context.Background()
	for _, addr := range []string{"User+Tag@Mail.Sub.Example.COM", "nobody@nowhere.test"} {
		b.Run(addr, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Lookup(ctx, addr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkACLLookup(b *testing.B) {
	rules := Rules{Delimiter: "+"}
	elems := make([]string, 0, 50)
	for i := range 49 {
		elems = append(elems, fmt.Sprintf(".domain%d.example", i))
	}
	elems = append(elems, ".example.com")
	acl := NewACL(elems, rules)
	ctx := context.Background()
	for _, addr := range []string{"User+Tag@Mail.Sub.Example.COM", "nobody@nowhere.test"} {
		b.Run(addr, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := acl.Lookup(ctx, addr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMapsLookup(b *testing.B) {
	rules := Rules{Delimiter: "+"}
	m := NewMaps("spam_lovers",
		NewHash(map[string]any{"vip@example.com": int64(1)}, rules),
		NewACL([]string{"!.spam.example", ".example.org"}, rules),
		Const{Value: int64(0)})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Lookup(ctx, "someone@mail.example.net"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIPACLLookup(b *testing.B) {
	acl, err := NewIPACL("127.0.0.0/8", "[::1]", "[fe80::]/10", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := acl.Lookup(ctx, "192.168.10.20"); err != nil {
			b.Fatal(err)
		}
	}
}
