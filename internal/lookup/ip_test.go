package lookup

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseIP(t *testing.T) {
	tests := []struct {
		in     string
		mask   bool
		prefix string // netip.Prefix form, "" = error
	}{
		{"192.168.1.2", false, "192.168.1.2/32"},
		{" 10.0.0.1 \n", false, "10.0.0.1/32"},
		{"10.0.0.0/8", true, "10.0.0.0/8"},
		{"10/8", true, "10.0.0.0/8"},
		{"172.16/12", true, "172.16.0.0/12"},
		{"172.16.3.0/255.255.255.0", true, "172.16.3.0/24"},
		{"0/0", true, "0.0.0.0/0"},
		{"010.001.000.001", false, "10.1.0.1/32"},
		{"::1", false, "::1/128"},
		{"[::1]", false, "::1/128"},
		{"[::1]/128", true, "::1/128"},
		{"IPv6:2001:db8::1", false, "2001:db8::1/128"},
		{"ipv6:2001:DB8::1", false, "2001:db8::1/128"},
		{"2001:db8::/32", true, "2001:db8::/32"},
		{"::ffff:10.1.2.3", false, "10.1.2.3/32"},
		{"::/0", true, "::/0"},
		{"fe80::1%eth0", false, "fe80::1/128"},
		{"1:2:3:4:5:6:7:8", false, "1:2:3:4:5:6:7:8/128"},
		{"::", false, "::/128"},
		// errors, as ip_to_vec dies
		{"300.1.1.1", false, ""},
		{"1.2.3", false, ""},
		{"10.0.0.0/33", true, ""},
		{"10.0.0.0/8", false, ""},
		{"1.2.3.4/255.0.255.0", true, ""},
		{"[::1]/129", true, ""},
		{"1:2:3:4:5:6:7:8:9", false, ""},
		{"1:2:3", false, ""},
		{"12345::1", false, ""},
		{"garbage", false, ""},
		{"", false, ""},
		{"1.2.3.4.5", false, ""},
	}
	for _, tc := range tests {
		n, err := ParseIP(tc.in, tc.mask)
		if tc.prefix == "" {
			if err == nil {
				t.Errorf("ParseIP(%q) = %v, want error", tc.in, n.Prefix())
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseIP(%q): %v", tc.in, err)
			continue
		}
		if got := n.Prefix().String(); got != tc.prefix {
			t.Errorf("ParseIP(%q) = %s, want %s", tc.in, got, tc.prefix)
		}
	}
}

func TestIPACL(t *testing.T) {
	ctx := context.Background()
	// the example of amavis's lookup_ip_acl documentation
	acl, err := NewIPACL("!192.168.1.12", "172.16.3.3", "!172.16.3.0/255.255.255.0",
		"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
		"!0.0.0.0/8", "!::", "127.0.0.0/8", "::1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ip           string
		found, value bool
	}{
		{"192.168.1.12", true, false},
		{"192.168.1.13", true, true},
		{"172.16.3.3", true, true},
		{"172.16.3.4", true, false},
		{"172.16.4.1", true, true},
		{"10.1.2.3", true, true},
		{"::ffff:10.1.2.3", true, true},
		{"0.0.0.0", true, false},
		{"::", true, false},
		{"127.0.0.1", true, true},
		{"::1", true, true},
		{"[::1]", true, true},
		{"IPv6:::1", true, true},
		{"8.8.8.8", false, false},
		{"2001:db8::1", false, false},
		{"not-an-ip", false, false},
	}
	for _, tc := range tests {
		r, err := acl.Lookup(ctx, tc.ip)
		if err != nil {
			t.Fatal(err)
		}
		if r.Found != tc.found || (tc.found && r.Value != tc.value) {
			t.Errorf("%s: found %v value %v (key %q), want %v %v", tc.ip, r.Found, r.Value, r.Key, tc.found, tc.value)
		}
	}

	all, _ := NewIPACL("::/0")
	if r, _ := all.Lookup(ctx, "garbage"); !r.Found || r.Value != true {
		t.Error("::/0 must match even an invalid address")
	}
	v4, _ := NewIPACL("0/0")
	if r, _ := v4.Lookup(ctx, "192.0.2.1"); !r.Found {
		t.Error("0/0 must match IPv4")
	}
	if r, _ := v4.Lookup(ctx, "2001:db8::1"); r.Found {
		t.Error("0/0 must not match IPv6")
	}
	if r, _ := v4.Lookup(ctx, "garbage"); r.Found {
		t.Error("0/0 must not match an invalid address")
	}
	if _, err := NewIPACL("10.0.0.0/8", "bogus"); err == nil {
		t.Error("bad element accepted")
	}
}

func TestIPHash(t *testing.T) {
	ctx := context.Background()
	h, err := NewIPHash(map[string]any{
		"10.1":          "ten-one",
		"192.168.1.2":   "host",
		"192.168.1":     nil, // undef: not a match
		"2001:db8::1":   "v6",
		"172.16.0.0/12": "net",
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ip    string
		value any
		key   string
	}{
		{"10.1.2.3", "ten-one", "10.1"},
		{"192.168.1.2", "host", "192.168.1.2"},
		{"192.168.1.3", nil, ""},
		{"2001:DB8:0:0::1", "v6", "2001:0db8:0000:0000:0000:0000:0000:0001"},
		{"172.20.1.1", "net", "172.16.0.0/12"},
		{"8.8.8.8", nil, ""},
		{"bogus", nil, ""},
	}
	for _, tc := range tests {
		r, err := h.Lookup(ctx, tc.ip)
		if err != nil {
			t.Fatal(err)
		}
		if r.Value != tc.value || r.Key != tc.key || r.Found != (tc.value != nil) {
			t.Errorf("%s: %+v, want value %v key %q", tc.ip, r, tc.value, tc.key)
		}
	}
}

func TestReadCIDR(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mynets.cidr")
	data := "# my networks\n" +
		"192.168.0.0/16   OK\n" +
		"   \n" +
		"!10.1.0.0/16\n" +
		"10.0.0.0/8 a long\n" +
		"  continued result\n" +
		"  # not a comment: continuation? no, a comment line\n" +
		"[2001:db8::]/32\r\n"
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	lines, err := ReadCIDRFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []CIDRLine{
		{"192.168.0.0/16", "OK"},
		{"!10.1.0.0/16", ""},
		{"10.0.0.0/8", "a long  continued result"},
		{"[2001:db8::]/32", ""},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines %+v, want %+v", len(lines), lines, want)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, lines[i], want[i])
		}
	}
	acl, err := NewIPACLFile(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for ip, w := range map[string]bool{"10.1.2.3": false, "10.2.0.1": true, "192.168.5.5": true, "2001:db8:1::1": true} {
		r, _ := acl.Lookup(ctx, ip)
		if !r.Found || r.Value != w {
			t.Errorf("%s: %+v, want %v", ip, r, w)
		}
	}
	hash, err := NewIPHashFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := hash.Lookup(ctx, "192.168.7.7"); r.Value != "OK" {
		t.Errorf("hash lookup: %+v", r)
	}
	bad := filepath.Join(dir, "bad.cidr")
	os.WriteFile(bad, []byte("10.0.0.0/40\n"), 0o600)
	if _, err := NewIPACLFile(bad); err == nil {
		t.Error("bad network accepted")
	}
	if _, err := ReadCIDRFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

func FuzzParseIP(f *testing.F) {
	for _, s := range []string{
		"192.168.1.2", "10/8", "172.16.3.0/255.255.255.0", "[::1]/128", "IPv6:2001:db8::1",
		"::ffff:10.1.2.3", "fe80::1%eth0", "1:2:3:4:5:6:7:8", "::", "0/0", "300.1.1.1", "1::2::3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseIP(s, true)
		if err == nil && (n.Bits < 0 || n.Bits > 128) {
			t.Fatalf("ParseIP(%q): prefix length %d", s, n.Bits)
		}
		// every address net/netip reads must read the same here
		if strings.ContainsAny(s, "%/ \t\r\n") {
			return
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return
		}
		n, err = ParseIP(s, false)
		if err != nil {
			t.Fatalf("ParseIP(%q): %v, netip reads %v", s, err, a)
		}
		if n.Addr != a.As16() || n.Bits != 128 {
			t.Fatalf("ParseIP(%q) = %v, netip %v", s, n.Prefix(), a)
		}
	})
}
